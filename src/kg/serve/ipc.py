"""The messages between the server and its query workers, and how they travel.

One Unix socket pair per worker; every message is a frame: a 4-byte big-endian length, then the
bytes. A job is one pickled :class:`Job`; a reply is a pickled :class:`ReplyHead` frame followed
by a raw body frame (results are not copied through pickle). Pickling a few strings costs
microseconds, which keeps a lookup's round trip well under a millisecond.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from dataclasses import dataclass
from enum import IntEnum

_LENGTH = struct.Struct("!I")


class Status(IntEnum):
    """How a job ended in the worker."""

    OK = 0
    SYNTAX = 1
    FORBIDDEN = 2
    NOT_ACCEPTABLE = 3
    INVALID = 4
    UPSTREAM = 5
    MEMORY = 6
    FAILED = 7


class Kind(IntEnum):
    """The query form a result came from."""

    NONE = 0
    BOOLEAN = 1
    SOLUTIONS = 2
    GRAPH = 3


@dataclass(frozen=True)
class Job:
    """One query to evaluate, with the formats chosen for each possible query form."""

    query: str
    select_format: str | None
    ask_format: str | None
    graph_format: str | None
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    max_rows: int = 10_000

    @property
    def has_protocol_dataset(self) -> bool:
        """Whether default-graph-uri or named-graph-uri chose the dataset (overriding FROM)."""
        return bool(self.default_graphs or self.named_graphs)


@dataclass(frozen=True)
class ReplyHead:
    """What the worker says about a job; the body follows in its own frame."""

    status: Status
    kind: Kind = Kind.NONE
    truncated: bool = False
    message: str = ""


@dataclass(frozen=True)
class Reply:
    head: ReplyHead
    body: bytes


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


# Worker side: blocking sockets.


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        count = sock.recv_into(view[received:])
        if count == 0:
            return None
        received += count
    return bytes(buffer)


def receive_job(sock: socket.socket) -> Job | None:
    """The next job, or None when the server has gone."""
    header = _recv_exactly(sock, _LENGTH.size)
    if header is None:
        return None
    payload = _recv_exactly(sock, _LENGTH.unpack(header)[0])
    return None if payload is None else pickle.loads(payload)


def send_reply(sock: socket.socket, head: ReplyHead, body: bytes = b"") -> None:
    sock.sendall(frame(pickle.dumps(head)) + _LENGTH.pack(len(body)))
    if body:
        sock.sendall(body)


# Server side: asyncio streams.


async def send_job(writer: asyncio.StreamWriter, job: Job) -> None:
    writer.write(frame(pickle.dumps(job)))
    await writer.drain()


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """The worker's reply; raises asyncio.IncompleteReadError if the worker died."""
    head_size = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))[0]
    head: ReplyHead = pickle.loads(await reader.readexactly(head_size))
    body_size = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))[0]
    body = await reader.readexactly(body_size) if body_size else b""
    return Reply(head, body)
