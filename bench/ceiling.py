"""The ceiling of any front end: pyoxigraph alone, in process, against our endpoint and ``oxigraph serve``.

    python bench/ceiling.py --data /tmp/bench-1m.nq --out bench/RESULTS.md
    python bench/ceiling.py --data /tmp/bench-1m.nq --queries scan,aggregate --clients 8

The endpoint evaluates every query with pyoxigraph (issue 5: the embedded store is pyoxigraph), so
no front end can answer faster than pyoxigraph itself does. This measures that ceiling and where
our endpoint sits under it: the queries of ``run.py``'s mix sent, in turns (``run.take_turns``), to

- ``embedded``: ``kg serve --data FILE`` over HTTP (``run.py``'s setup);
- ``pyoxigraph``: N threads of this process calling ``Store.query(...).serialize(JSON)`` directly
  on the store our workers read, opened with ``Store.read_only`` as they open it: no HTTP, no IPC,
  no limits, no client process, and on its default graph as the workers query it (the merge of
  the named graphs, written out: ``kg.default_graph``). ``oxigraph serve`` has its own store
  (the same named graphs, compacted, no default graph written out), queried through its union
  view; it opens it for writing and may remove files of it while it starts, so it is not shared.
- ``oxigraph``: ``oxigraph serve`` over HTTP (``run.py``'s setup).

Besides throughput and p50 latency it reports CPU time per answered query: of the server's
process tree (its workers included; for ours also split into the server process, which is the
HTTP front end, and its query workers), and for pyoxigraph of the threads that ran the queries. With
both cores busy (8 clients on 2 cores), throughput goes as its inverse. ``embedded / pyoxigraph``
is what our front end and limits cost; ``pyoxigraph / oxigraph`` is what the library and the
store's layout gain or cost against the executable, on the same data and the same queries. All traffic stays on 127.0.0.1;
every turn is bounded by ``--seconds`` and ``--max-requests``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from contextlib import ExitStack
from pathlib import Path

import psutil
import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen
import run

SETUPS = ("embedded", "pyoxigraph", "oxigraph")
DEFAULT_QUERIES = "scan,join,aggregate"


class InProcess:
    """A client that asks pyoxigraph directly, as a worker does: the store's default graph, SPARQL JSON."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store

    def query(self, query: str) -> tuple[int, bytes]:
        try:
            result = self.store.query(query)
            return 200, result.serialize(format=ox.QueryResultsFormat.JSON) or b""
        except (SyntaxError, ValueError, OSError):
            return 400, b""

    def close(self) -> None:
        pass


def in_process(
    store: ox.Store, queries: list[str], clients: int, seconds: float, max_requests: int
) -> loadgen.Measurement:
    """``queries`` on ``clients`` threads of this process; the CPU is those threads'."""
    measured = loadgen.drive(lambda: InProcess(store), queries, clients, seconds, max_requests)
    measured.cpu_seconds = measured.client_cpu_seconds
    return measured


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of ``process``."""
    times = process.cpu_times()
    return times.user + times.system


def tree_cpu(pid: int) -> tuple[float, float]:
    """User + system CPU seconds of process ``pid`` alone, and of it with its descendants alive now."""
    root = psutil.Process(pid)
    own = run.tree_sum([root], cpu_seconds)
    return own, own + run.tree_sum(root.children(recursive=True), cpu_seconds)


def over_http(
    url: str, pid: int, queries: list[str], clients: int, seconds: float, max_requests: int
) -> loadgen.Measurement:
    """``queries`` from ``clients`` HTTP clients; the CPU is the server's process tree's (and its own process's apart)."""
    front, whole = tree_cpu(pid)
    measured = loadgen.run(url, queries, clients, seconds, max_requests)
    front_after, whole_after = tree_cpu(pid)
    measured.cpu_seconds = whole_after - whole
    measured.front_cpu_seconds = front_after - front
    return measured


def measure(
    drivers: dict[str, run.Driver], args: argparse.Namespace
) -> dict[tuple[str, int], dict[str, loadgen.Measurement]]:
    """Each query of ``--queries`` at each client count, on every setup in turns (``run.take_turns``)."""
    results: dict[tuple[str, int], dict[str, loadgen.Measurement]] = {}
    for name in args.queries:
        queries = [run.PROLOGUE + run.MIX[name]]
        rounds = run.warm_up(drivers, queries, args)
        for clients in args.clients:
            results[(name, clients)] = run.take_turns(drivers, queries, clients, rounds, args)
            shown = ", ".join(f"{s} {m.throughput:.1f} q/s" for s, m in results[(name, clients)].items())
            print(f"  {name:10} x{clients}: {shown}", flush=True)
    return results


def report(quads: int, results: dict[tuple[str, int], dict[str, loadgen.Measurement]]) -> str:
    lines = [
        f"### pyoxigraph alone against both servers, {quads:,} quads",
        "",
        "| query | clients | q/s: embedded / pyoxigraph / oxigraph | embedded / pyoxigraph | pyoxigraph / oxigraph "
        "| embedded / oxigraph | p50 (ms): embedded / pyoxigraph / oxigraph | embedded / oxigraph p50 "
        "| CPU per query (ms): embedded / pyoxigraph / oxigraph "
        "| lowest-highest turn: embedded / pyoxigraph; pyoxigraph / oxigraph; embedded / oxigraph "
        "| embedded CPU per query (ms): server process / query workers |",
        "|---" * 11 + "|",
    ]
    for (name, clients), got in results.items():
        e, p, o = (got[setup] for setup in SETUPS)
        cells = [
            " / ".join(f"{m.throughput:.1f}" for m in (e, p, o)),
            run.ratio(e.throughput, p.throughput),
            run.ratio(p.throughput, o.throughput),
            run.ratio(e.throughput, o.throughput),
            " / ".join(f"{m.percentile(50) * 1000:.2f}" for m in (e, p, o)),
            run.ratio(e.percentile(50), o.percentile(50)),
            " / ".join(f"{m.cpu_per_query * 1000:.2f}" for m in (e, p, o)),
            "; ".join(run.turn_range(a, b) for a, b in ((e, p), (p, o), (e, o))),
            f"{e.per_query(e.front_cpu_seconds) * 1000:.2f} / {e.per_query(e.cpu_seconds - e.front_cpu_seconds) * 1000:.2f}",
        ]
        errors = {setup: m.error_text() for setup, m in got.items() if m.errors}
        lines.append(f"| {name} | {clients} | " + " | ".join(cells) + " |" + (f" (errors: {errors})" if errors else ""))
    return "\n".join(lines) + "\n"


def queries_of_the_mix(text: str) -> list[str]:
    return run.picked(text, run.MIX, "query")


def counts(text: str) -> list[int]:
    try:
        chosen = [int(n) for n in text.split(",")]
    except ValueError:
        chosen = []
    if not chosen or min(chosen) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: client counts, comma-separated, each at least 1")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="an N-Quads file made by generate.py")
    parser.add_argument(
        "--queries",
        type=queries_of_the_mix,
        default=queries_of_the_mix(DEFAULT_QUERIES),
        metavar="LIST",
        help=f"queries of run.py's mix, comma-separated (default: {DEFAULT_QUERIES})",
    )
    parser.add_argument("--clients", type=counts, default=[1, 8], metavar="LIST", help="client counts (default: 1,8)")
    run.add_turn_options(parser, seconds=6.0, rounds=6, max_requests=100_000)
    parser.add_argument("--out", type=Path, help="append the Markdown report here")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"--data {args.data}: no such file")
    quads = run.count_lines(args.data)
    print(f"{run.machine()}\n{quads:,} quads in {args.data}", flush=True)
    loads = [f"start {os.getloadavg()[0]:.2f}"]
    with ExitStack() as stack:
        embedded_url, embedded = stack.enter_context(run.serving_embedded(args.data, args))
        oxigraph_url, oxigraph = stack.enter_context(run.serving_oxigraph(args.data, args))
        if embedded.store is None:
            parser.error("could not tell which /dev/shm/kg-store-* is ours (another kg serve started meanwhile)")
        loads.append(f"after starting {os.getloadavg()[0]:.2f}")
        drivers: dict[str, run.Driver] = {
            "embedded": functools.partial(over_http, embedded_url, embedded.pid),
            "pyoxigraph": functools.partial(in_process, ox.Store.read_only(str(embedded.store))),
            "oxigraph": functools.partial(over_http, oxigraph_url, oxigraph.pid),
        }
        results = measure(drivers, args)
        del drivers  # the read-only store goes with them, before kg serve removes its folder
        loads.append(f"after measuring {os.getloadavg()[0]:.2f}")
    run.publish(run.run_line(argv, loads, "bench/ceiling.py") + report(quads, results), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
