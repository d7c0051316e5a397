"""A query worker: one process holding the store read-only, evaluating a query on each of its slots.

Started by :mod:`kg.serve.workers` as ``python -m kg.serve.worker CONFIG_JSON`` with its ends of
one socket pair per slot as the file descriptors ``fds``. It opens the store once with
``Store.read_only``, runs one thread per slot (each answering the jobs of its socket, one at a
time, until the server closes it: Oxigraph evaluates without Python's lock, so the slots run
in parallel and share the store's block cache), caps its own address space (``RLIMIT_AS``: its
baseline plus ``memory_limit_mb``, for all its slots together), and says on each slot that it
is ready. It dies with the server (``PR_SET_PDEATHSIG``).

Slots run on threads with a 1 GiB stack (reserved before the memory cap): Oxigraph recurses
once per level of nesting or per term of a long ``+``/``UNION`` chain, and the 8 MiB main stack
overflows (SIGSEGV) at a few thousand. Bracket nesting beyond :data:`kg.serve.guard.NESTING_LIMIT`
is refused before parsing. Each thread runs a trivial query before the cap is set, so that the
allocator's per-thread arena (reserved address space) is part of the baseline.

Per job: the guards (:mod:`kg.serve.guard`: nesting, SERVICE), then Oxigraph evaluates and
serialises the query natively. Results are capped at ``max_rows``:

- SELECT: serialised straight into the chosen format through a writer that counts rows in each
  8 KiB chunk Oxigraph hands it (TSV: newlines, exact; XML: ``<result>``, exact; JSON and CSV:
  row openers, an upper bound as literals may contain them). Under the cap, that output is the
  answer. Over it, the writer stops the serialiser (so the evaluation stops too: it is lazy) and
  the query is run again into TSV, cut after ``max_rows`` rows exactly, and re-serialised by
  Oxigraph from those rows into the chosen format; the reply says it was truncated.
- CONSTRUCT / DESCRIBE: at most ``max_rows + 1`` triples are drawn from the lazy iterator and
  serialised by Oxigraph (with the project's prefixes for Turtle-like formats; JSON-LD compacted
  with the project's context here, within the query's time and memory bounds: :mod:`kg.serve.jsonld`).
- ASK: a boolean, never capped.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sys
import threading
from itertools import islice
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from kg.serve import guard
from kg.serve.formats import RDF_FORMAT, RESULTS_FORMAT
from kg.serve.ipc import Job, JobReader, Kind, ReplyHead, Status, send_reply
from kg.store import die_with_parent

if TYPE_CHECKING:
    from kg.serve.jsonld import Compactor

# Bytes that open a row in each results format (see the module docstring).
ROW_MARKERS: dict[str, tuple[bytes, ...]] = {
    "tsv": (b"\n",),
    "csv": (b"\n",),
    "xml": (b"<result>",),
    "json": (b"[{", b",{"),
}
HEADER_LINES = {"tsv": 1, "csv": 1, "xml": 0, "json": 0}
STACK_BYTES = 1024 * 1024 * 1024


class _Full(Exception):
    """Raised inside the serialiser's writer to stop it once the row cap is passed."""


class _RowCounter:
    """A writer for Oxigraph's serialiser that counts rows and stops past ``limit``.

    The markers of one format have one length ``n``. Counting costs ~7 us per 8 KiB chunk (a
    360 KB answer: 0.6 ms, 2 % of its query), so chunks are only counted once the output is long
    enough to hold more than ``limit`` markers (``n`` bytes each): most answers are never counted.
    A marker cut by a chunk boundary is found in the last ``n - 1`` bytes counted before
    (``tail``) followed by the first ``n - 1`` of the chunk, and nothing found there was counted
    before. No chunk is copied or concatenated."""

    def __init__(self, key: str, limit: int) -> None:
        self.markers = ROW_MARKERS[key]
        self.overlap = len(self.markers[0]) - 1
        assert all(len(m) == self.overlap + 1 for m in self.markers), "one marker length per format"
        self.limit = limit + HEADER_LINES[key]
        self.uncountable = len(self.markers[0]) * (self.limit + 1)
        """Output shorter than this cannot hold more than ``limit`` markers."""
        self.chunks: list[bytes] = []
        self.size = 0
        self.counted = 0
        """How many of ``chunks`` are counted in ``count``."""
        self.count = 0
        self.tail = b""

    def write(self, chunk: bytes) -> int:
        data = bytes(chunk)  # no copy: Oxigraph hands over bytes
        self.chunks.append(data)
        self.size += len(data)
        if self.size >= self.uncountable:
            for counted in self.chunks[self.counted :]:
                self._count(counted)
            self.counted = len(self.chunks)
            if self.count > self.limit:
                raise _Full
        return len(data)

    def _count(self, data: bytes) -> None:
        self.count += sum(data.count(m) for m in self.markers)
        if self.overlap:
            seam = self.tail + data[: self.overlap]
            self.count += sum(seam.count(m) for m in self.markers)
            self.tail = (self.tail + data[-self.overlap :])[-self.overlap :]

    def flush(self) -> None:
        pass


def _cut_tsv(data: bytes, rows: int) -> bytes:
    """The header line and the first ``rows`` rows of TSV results."""
    end = -1
    for _ in range(rows + 1):
        end = data.index(b"\n", end + 1)
    return data[: end + 1]


class Evaluator:
    """Runs jobs on one read-only store."""

    def __init__(
        self, store: ox.Store, base_iri: str, allow_service: tuple[str, ...], prefixes: dict[str, str]
    ) -> None:
        self.store = store
        self.base_iri = base_iri
        self.allow_service = allow_service
        self.prefixes = prefixes
        self._compactor: Compactor | None = None
        self._compactor_lock = threading.Lock()

    def compactor(self) -> Compactor:
        """JSON-LD compaction with the context made from the store's ontology graph (made once, by one slot)."""
        with self._compactor_lock:
            return self._make_compactor()

    def _make_compactor(self) -> Compactor:
        if self._compactor is None:
            from kg.namespaces import GRAPH
            from kg.serve.jsonld import Compactor, context_of, context_url

            ontology = self.store.quads_for_pattern(None, None, None, ox.NamedNode(str(GRAPH["ontology"])))
            self._compactor = Compactor(context_url(self.base_iri), context_of(q.triple for q in ontology))
        return self._compactor

    def run(self, job: Job) -> tuple[ReplyHead, bytes]:
        if guard.too_deep(job.query):
            return ReplyHead(
                Status.INVALID, message=f"The query nests (), {{}} or [] deeper than {guard.NESTING_LIMIT} levels."
            ), b""
        facts = guard.inspect(job.query, self.base_iri)
        refused = guard.refusal(facts, self.allow_service)
        if refused:
            return ReplyHead(Status.FORBIDDEN, message=refused), b""
        try:
            result = self._query(job)
            return self._serialise(job, result)
        except SyntaxError as exc:
            return ReplyHead(Status.SYNTAX, message=str(exc)), b""
        except MemoryError:
            return ReplyHead(Status.MEMORY), b""
        except ValueError as exc:
            return ReplyHead(Status.INVALID, message=str(exc)), b""
        except OSError as exc:
            return ReplyHead(Status.UPSTREAM if facts.services else Status.FAILED, message=_upstream(exc)), b""
        except Exception as exc:  # anything else Oxigraph raises: report it, keep serving
            return ReplyHead(Status.FAILED, message=f"{type(exc).__name__}: {exc}"), b""

    def _query(self, job: Job) -> Any:
        """Oxigraph's lazy result, on the dataset: the protocol's, else FROM's, else the store's default
        graph (the merge of all graphs: :mod:`kg.default_graph`).

        Relative IRIs resolve against the endpoint's URL (the protocol's "service-defined BASE")."""
        dataset: dict[str, Any] = {}
        if job.has_protocol_dataset:
            dataset = {
                "default_graph": [ox.NamedNode(g) for g in job.default_graphs],
                "named_graphs": [ox.NamedNode(g) for g in job.named_graphs],
            }
        return self.store.query(job.query, base_iri=self.base_iri, **dataset)

    def _serialise(self, job: Job, result: Any) -> tuple[ReplyHead, bytes]:
        if isinstance(result, ox.QueryBoolean):
            if job.ask_format is None:
                return ReplyHead(Status.NOT_ACCEPTABLE, Kind.BOOLEAN), b""
            return ReplyHead(Status.OK, Kind.BOOLEAN), result.serialize(format=RESULTS_FORMAT[job.ask_format])
        if isinstance(result, ox.QuerySolutions):
            if job.select_format is None:
                return ReplyHead(Status.NOT_ACCEPTABLE, Kind.SOLUTIONS), b""
            body, truncated = self._solutions(job, result)
            return ReplyHead(Status.OK, Kind.SOLUTIONS, truncated), body
        if job.graph_format is None:
            return ReplyHead(Status.NOT_ACCEPTABLE, Kind.GRAPH), b""
        from kg.serve.jsonld import serialize_graph  # on first use: it brings rdflib (+0.1 s, 10 MB per worker)

        triples = list(islice(result, job.max_rows + 1))
        body = serialize_graph(triples[: job.max_rows], RDF_FORMAT[job.graph_format], self.prefixes, self.compactor)
        return ReplyHead(Status.OK, Kind.GRAPH, len(triples) > job.max_rows), body

    def _solutions(self, job: Job, result: ox.QuerySolutions) -> tuple[bytes, bool]:
        key = job.select_format or "json"
        counter = _RowCounter(key, job.max_rows)
        try:
            result.serialize(counter, format=RESULTS_FORMAT[key])
        except _Full:
            pass
        else:
            return b"".join(counter.chunks), False
        if key == "tsv":
            return _cut_tsv(b"".join(counter.chunks), job.max_rows), True
        # Over the cap (or possibly so): rows again, exactly, as TSV; then the chosen format.
        again = self._query(job)
        exact = _RowCounter("tsv", job.max_rows)
        try:
            again.serialize(exact, format=ox.QueryResultsFormat.TSV)
            truncated = False
        except _Full:  # more than max_rows rows, exactly: a TSV row is a line
            truncated = True
        data = b"".join(exact.chunks)
        if truncated:
            data = _cut_tsv(data, job.max_rows)
        rows = ox.parse_query_results(data, format=ox.QueryResultsFormat.TSV)
        return rows.serialize(format=RESULTS_FORMAT[key]) or b"", truncated


def _upstream(exc: OSError) -> str:
    """What a failed SERVICE call tells the client: Oxigraph's message, except where a redirect led.

    Oxigraph follows no redirect (verified on 0.5.13) but names its target; a client could learn
    from it what an allowed service points at inside its network, so the target is left out."""
    message = str(exc)
    if "redirect" in message.lower():
        return "a SERVICE answered with a redirect; redirects are not followed."
    return message


def _address_space() -> int:
    """This process's current virtual memory size in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _cap_memory(limit_mb: int) -> None:
    limit = _address_space() + limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    die_with_parent(config["parent"])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops us; Ctrl-C is for it
    slots = [(sock, JobReader(sock)) for sock in (socket.socket(fileno=fd) for fd in config["fds"])]
    if not all(jobs.wait_for_open() for _, jobs in slots):  # started while the store loads: imports done
        return 0
    store = ox.Store.read_only(config["store"])
    evaluator = Evaluator(store, config["base_iri"], tuple(config["allow_service"]), config["prefixes"])
    # Deep recursion (long expression or UNION chains) overflows the 8 MiB main stack and kills
    # the process; jobs run on threads with a large stack, reserved before memory is capped.
    threading.stack_size(STACK_BYTES)
    warmed = threading.Barrier(len(slots) + 1)
    capped = threading.Barrier(len(slots) + 1)
    runners = [
        threading.Thread(target=_serve, args=(sock, jobs, evaluator, warmed, capped), name=f"slot-{i}")
        for i, (sock, jobs) in enumerate(slots)
    ]
    for runner in runners:
        runner.start()
    warmed.wait()
    _cap_memory(config["memory_limit_mb"])
    capped.wait()
    for runner in runners:
        runner.join()
    return 0


def _serve(
    sock: socket.socket, jobs: JobReader, evaluator: Evaluator, warmed: threading.Barrier, capped: threading.Barrier
) -> None:
    evaluator.store.query("ASK {}").serialize(format=ox.QueryResultsFormat.JSON)  # this thread's arena, before the cap
    warmed.wait()
    capped.wait()
    send_reply(sock, ReplyHead(Status.OK, message=str(os.getpid())))
    while (job := jobs.next_job()) is not None:
        head, body = evaluator.run(job)
        send_reply(sock, head, body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
