"""The messages between the server and its query workers (kg.serve.ipc): a reply is rebuilt from any
chunking of its bytes, and jobs cross a real socket pair intact."""

from __future__ import annotations

import socket
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kg.serve.ipc import OPEN, Job, JobReader, Kind, ReplyAssembler, ReplyHead, Status, job_frame, reply_header

heads = st.builds(ReplyHead, st.sampled_from(Status), st.sampled_from(Kind), st.booleans(), st.text(max_size=30))


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


@given(head=heads, body=st.binary(max_size=3000), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_a_reply_is_rebuilt_from_any_chunking(head: ReplyHead, body: bytes, cuts: list[int]) -> None:
    assembler = ReplyAssembler()
    wire = reply_header(head, len(body)) + body
    for _ in range(2):  # the assembler takes one reply after another
        *first, last = chunked(wire, cuts)
        assert all(assembler.feed(chunk) is None for chunk in first)
        reply = assembler.feed(last)
        assert reply is not None
        assert reply.head == head and reply.body == body


def test_bytes_beyond_a_reply_are_refused() -> None:
    wire = reply_header(ReplyHead(Status.OK, Kind.BOOLEAN), 4) + b"true"
    with pytest.raises(ValueError, match="more than one reply"):
        ReplyAssembler().feed(wire + b"x")


def test_a_garbled_header_is_refused() -> None:
    wire = bytearray(reply_header(ReplyHead(Status.OK), 0))
    wire[0] = 200  # no such status
    with pytest.raises(ValueError):
        ReplyAssembler().feed(bytes(wire))


def test_jobs_cross_a_socket_pair_intact() -> None:
    jobs = [
        Job("SELECT * { ?s ?p ?o }", "json", "json", None),
        Job("ASK { <é> ?p ?o }" + " " * 100_000, None, "xml", "turtle", ("http://g/1",), ("http://g/2",), 7),
    ]
    server, worker = socket.socketpair()
    with server, worker:
        reader = JobReader(worker)
        server.sendall(OPEN + b"".join(job_frame(job) for job in jobs))
        server.shutdown(socket.SHUT_WR)
        assert reader.wait_for_open()
        assert [reader.next_job(), reader.next_job()] == jobs
        assert reader.next_job() is None  # the server has gone
