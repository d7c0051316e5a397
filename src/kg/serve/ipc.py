"""The messages between the server and its query workers, and how they travel.

One Unix socket pair per worker. A job is a frame (a 4-byte big-endian length, then the pickled
tuple of the :class:`Job`'s fields: the server pickles, the worker unpickles). A reply is a fixed
header (status, kind, truncated, message length, body length; :data:`_HEAD`), the UTF-8 message,
then the raw body: the server never unpickles what a worker sends (a worker runs whatever query
a client wrote), and the body is not copied through an encoder. A tuple pickles in about 1 us and
the header packs in well under 1 us, where pickling the dataclasses with their enums cost about
20 us per round trip; the server reads a reply with two reads (header, then message and body).
"""

from __future__ import annotations

import pickle
import socket
import struct
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # workers never import asyncio (~30 ms of their start-up)
    import asyncio

_LENGTH = struct.Struct("!I")
_HEAD = struct.Struct("!BB?IQ")
"""A reply's header: status, kind, truncated, message length (bytes), body length (bytes)."""
OPEN = b"\x01"
"""What the server sends a spawned worker once the store is loaded: open it now."""
SMALL_BODY = 64 * 1024
"""Bodies up to this size go out with their header in one ``send``."""


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


_JOB_FIELDS = tuple(spec.name for spec in fields(Job))


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


def wait_for_open(sock: socket.socket) -> bool:
    """Wait until the server says the store is ready (:data:`OPEN`); False when the server has gone."""
    return _recv_exactly(sock, len(OPEN)) == OPEN


def receive_job(sock: socket.socket) -> Job | None:
    """The next job, or None when the server has gone."""
    header = _recv_exactly(sock, _LENGTH.size)
    if header is None:
        return None
    payload = _recv_exactly(sock, _LENGTH.unpack(header)[0])
    return None if payload is None else Job(*pickle.loads(payload))


def send_reply(sock: socket.socket, head: ReplyHead, body: bytes = b"") -> None:
    message = head.message.encode("utf-8", "replace")
    header = _HEAD.pack(head.status, head.kind, head.truncated, len(message), len(body)) + message
    if len(body) <= SMALL_BODY:
        sock.sendall(header + body)
        return
    sock.sendall(header)
    sock.sendall(body)


# Server side: asyncio streams.


async def send_job(writer: asyncio.StreamWriter, job: Job) -> None:
    writer.write(frame(pickle.dumps(tuple(getattr(job, name) for name in _JOB_FIELDS))))
    await writer.drain()


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """The worker's reply; raises asyncio.IncompleteReadError if the worker died, ValueError if garbled."""
    status, kind, truncated, message_size, body_size = _HEAD.unpack(await reader.readexactly(_HEAD.size))
    message = (await reader.readexactly(message_size)).decode("utf-8") if message_size else ""
    body = await reader.readexactly(body_size) if body_size else b""
    return Reply(ReplyHead(Status(status), Kind(kind), truncated, message), body)
