"""Benchmark: our endpoint (``kg serve``) and ``oxigraph serve`` side by side, on the same data.

    python bench/run.py --triples 100000                  # generate (seeded), then measure
    python bench/run.py --data /tmp/bench-1m.nq --no-shacl

For each server, in one run: load time, time until it answers, p50/p95 latency and throughput at
1 and 8 clients for each query of a fixed mix, peak memory (RSS summed over the process tree,
sampled every 50 ms; the stores of both live in /dev/shm and their size is reported apart), and
whether a trivial ASK answers fast while a heavy query runs. Then SHACL validation time (pyshacl,
as ``kg validate`` does it) of the whole graph and of one changed document. Prints ratios (ours /
Oxigraph) and writes a Markdown report (``--out``). All traffic goes to 127.0.0.1; every
measurement is bounded by ``--seconds`` and ``--max-requests``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate
import loadgen

from kg.namespaces import PREFIXES
from kg.queries import load_queries

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROLOGUE = "".join(f"PREFIX {k}: <{v}>\n" for k, v in PREFIXES.items())
MIX: dict[str, str] = {
    "lookup": "SELECT ?p ?o WHERE { <https://w3id.org/alignkg/id/country/FRA> ?p ?o }",
    "lookup-claim": "SELECT ?p ?o WHERE { <https://w3id.org/alignkg/id/claim/syn-0000001/relation-0> ?p ?o }",
    "scan": "SELECT (COUNT(*) AS ?n) WHERE { ?claim a akg:Claim }",
    "join": "SELECT ?claim ?label WHERE { ?claim akg:epistemicStatus vocab:denied ; akg:subjectActor ?a . "
    "?a rdfs:label ?label }",
    "aggregate": "SELECT ?type (COUNT(?c) AS ?n) WHERE { ?c akg:relationType ?type } GROUP BY ?type",
    "text-filter": 'SELECT ?e WHERE { ?e oa:exact ?t FILTER CONTAINS(?t, "Belarus") }',
    "order-limit": "SELECT ?e ?start WHERE { ?e oa:start ?start } ORDER BY DESC(?start) ?e LIMIT 10",
}
KINDS = {"lookup": "lookup", "lookup-claim": "lookup", "scan": "scan", "join": "join", "aggregate": "aggregate"}
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a oa:start ?x . ?b oa:end ?y FILTER (?x < ?y) }"
TRIVIAL = "ASK {}"
READY_SECONDS = 900.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MemorySampler:
    """Peak RSS of a process and its descendants, sampled on a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                total = 0
                for process in tree:
                    with suppress(psutil.Error):
                        total += process.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@dataclass
class ServerRun:
    """What one server measured."""

    name: str
    load_seconds: float = 0.0
    ready_seconds: float = 0.0
    load_peak_rss: int = 0
    peak_rss: int = 0
    store_bytes: int = 0
    results: dict[tuple[str, int], loadgen.Measurement] = field(default_factory=dict)
    ask_under_load: list[float] = field(default_factory=list)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            client = loadgen.Client(url, timeout=5)
            status, _ = client.query(TRIVIAL)
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} not ready within {READY_SECONDS:g} s")


@contextmanager
def started(command: list[str], url: str, run: ServerRun) -> Iterator[MemorySampler]:
    """Start a server; record the time until it answers; stop it (SIGTERM, then SIGKILL) after."""
    begin = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = MemorySampler(process.pid)
    try:
        wait_ready(url, process)
        run.ready_seconds = time.perf_counter() - begin
        yield sampler
    finally:
        run.peak_rss = sampler.stop()
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(url: str, run: ServerRun, mix: dict[str, list[str]], args: argparse.Namespace) -> None:
    for name, queries in mix.items():
        for query in queries:  # warm-up: each query once
            loadgen.run(url, [query], 1, args.seconds, 1)
        for clients in (1, 8):
            run.results[(name, clients)] = loadgen.run(url, queries, clients, args.seconds, args.max_requests)
            print(f"  {run.name:8} {name:13} x{clients}: {summary(run.results[(name, clients)])}", flush=True)
    heavy = threading.Thread(target=loadgen.run, args=(url, [PROLOGUE + HEAVY], 1, 20.0, 1), daemon=True)
    heavy.start()
    time.sleep(0.5)
    probe = loadgen.Client(url)
    for _ in range(5):
        begin = time.perf_counter()
        probe.query(TRIVIAL)
        run.ask_under_load.append(time.perf_counter() - begin)
    probe.close()


def summary(m: loadgen.Measurement) -> str:
    return (
        f"p50 {m.percentile(50) * 1000:8.2f} ms  p95 {m.percentile(95) * 1000:8.2f} ms  "
        f"{m.throughput:8.1f} q/s  ({len(m.latencies)} ok, {m.errors} errors)"
    )


def bench_ours(data: Path, mix: dict[str, list[str]], args: argparse.Namespace) -> ServerRun:
    run = ServerRun("ours")
    port = free_port()
    url = f"http://127.0.0.1:{port}/sparql"
    command = [
        str(BIN / "kg"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data",
        str(data),
        "--log-level",
        "warning",
        "--max-rows",
        "1000000",
        "--query-timeout",
        str(args.timeout),
    ]
    before = set(Path("/dev/shm").glob("kg-store-*"))
    with started(command, url, run):
        stores = set(Path("/dev/shm").glob("kg-store-*")) - before
        run.store_bytes = sum(folder_bytes(s) for s in stores)
        run.load_seconds = run.ready_seconds
        measure(url, run, mix, args)
    return run


def bench_oxigraph(data: Path, mix: dict[str, list[str]], args: argparse.Namespace) -> ServerRun:
    run = ServerRun("oxigraph")
    location = Path(tempfile.mkdtemp(prefix="bench-oxigraph-", dir="/dev/shm"))
    try:
        begin = time.perf_counter()
        loader = subprocess.Popen(
            [str(BIN / "oxigraph"), "load", "--location", str(location), "--file", str(data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sampler = MemorySampler(loader.pid)
        loader.wait()
        run.load_peak_rss = sampler.stop()
        run.load_seconds = time.perf_counter() - begin
        if loader.returncode != 0:
            raise RuntimeError("oxigraph load failed")
        run.store_bytes = folder_bytes(location)
        port = free_port()
        command = [
            str(BIN / "oxigraph"),
            "serve",
            "--location",
            str(location),
            "--bind",
            f"127.0.0.1:{port}",
            "--union-default-graph",
            "--timeout-s",
            str(round(args.timeout)),
        ]
        with started(command, f"http://127.0.0.1:{port}/query", run):
            measure(f"http://127.0.0.1:{port}/query", run, mix, args)
    finally:
        shutil.rmtree(location, ignore_errors=True)
    return run


@dataclass
class Shacl:
    parse_seconds: float
    validate_seconds: float
    conforms: bool


def shacl(files: list[Path]) -> Shacl:
    """Validation as ``kg validate`` runs it, timed in two parts: reading the files, and pyshacl."""
    from kg.config import settings
    from kg.encode.dataset import SHAPES_FILE, load_ontology, parse_turtle
    from kg.rdf_input import load_rdf_files
    from kg.validate import validate_dataset

    conf = settings()
    begin = time.perf_counter()
    dataset = load_rdf_files(files)
    parsed = time.perf_counter()
    report = validate_dataset(dataset, parse_turtle(conf.ontology_dir / SHAPES_FILE), load_ontology(conf.ontology_dir))
    return Shacl(parsed - begin, time.perf_counter() - parsed, report.conforms)


def one_document(base: Path, index: int, seed: int, out: Path) -> Path:
    """The real dataset plus one (changed) synthetic document: what re-validating it needs."""
    pools = generate.load_pools(base)
    doc = generate.make_document(index, seed, pools)
    out.write_text(base.read_text("utf-8") + "".join(doc.quads), "utf-8")
    return out


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import pyoxigraph
    import pyshacl
    import rdflib

    oxigraph_version = subprocess.run([str(BIN / "oxigraph"), "--version"], capture_output=True, text=True).stdout
    return (
        f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"pyoxigraph {pyoxigraph.__version__}, {oxigraph_version.strip()}, rdflib {rdflib.__version__}, "
        f"pyshacl {pyshacl.__version__}"
    )


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def report(data: Path, quads: int, ours: ServerRun, ox: ServerRun, checks: dict[str, Shacl]) -> str:
    mb = 2**20
    lines = [
        f"### {quads:,} quads (`{data.name}`)",
        "",
        "| measure | ours | oxigraph serve | ours / oxigraph |",
        "|---|---|---|---|",
    ]
    ox_total = ox.load_seconds + ox.ready_seconds
    lines.append(
        f"| load + ready (s) | {ours.ready_seconds:.2f} | {ox.load_seconds:.2f} load + "
        f"{ox.ready_seconds:.2f} ready | {ratio(ours.ready_seconds, ox_total)} of load + ready, "
        f"{ratio(ours.ready_seconds, ox.load_seconds)} of load |"
    )
    lines.append(
        f"| peak RSS while serving, process tree (MiB) | {ours.peak_rss / mb:.0f} | {ox.peak_rss / mb:.0f} "
        f"(loader: {ox.load_peak_rss / mb:.0f}) | {ratio(ours.peak_rss, ox.peak_rss)} |"
    )
    lines.append(
        f"| store in /dev/shm (MiB) | {ours.store_bytes / mb:.0f} | {ox.store_bytes / mb:.0f} | "
        f"{ratio(ours.store_bytes, ox.store_bytes)} |"
    )
    ask_ours, ask_ox = max(ours.ask_under_load), max(ox.ask_under_load)
    lines.append(
        f"| slowest of 5 `ASK {{}}` during a heavy query (ms) | {ask_ours * 1000:.1f} | "
        f"{ask_ox * 1000:.1f} | {ratio(ask_ours, ask_ox)} |"
    )
    lines += [
        "",
        "| query | clients | ours p50 / p95 (ms) | oxigraph p50 / p95 (ms) | ours q/s | oxigraph q/s "
        "| throughput ratio | p50 ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, clients), mine in ours.results.items():
        theirs = ox.results[(name, clients)]
        lines.append(
            f"| {name} | {clients} | {mine.percentile(50) * 1000:.2f} / {mine.percentile(95) * 1000:.2f} | "
            f"{theirs.percentile(50) * 1000:.2f} / {theirs.percentile(95) * 1000:.2f} | {mine.throughput:.1f} | "
            f"{theirs.throughput:.1f} | {ratio(mine.throughput, theirs.throughput)} | "
            f"{ratio(mine.percentile(50), theirs.percentile(50))} |"
            + (f" ({mine.errors} / {theirs.errors} errors)" if mine.errors or theirs.errors else "")
        )
    if checks:
        lines += [
            "",
            "| SHACL (pyshacl, as `kg validate`) | read files (s) | validate (s) | conforms |",
            "|---|---|---|---|",
        ]
        for what, check in checks.items():
            lines.append(f"| {what} | {check.parse_seconds:.2f} | {check.validate_seconds:.2f} | {check.conforms} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="an N-Quads file made by generate.py")
    parser.add_argument("--triples", type=int, default=100_000, help="without --data: generate this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0, help="time bound per query and client count")
    parser.add_argument("--max-requests", type=int, default=3000, help="request bound per query and client count")
    parser.add_argument("--timeout", type=float, default=10.0, help="query time limit, the same on both servers")
    parser.add_argument("--no-shacl", action="store_true", help="skip the full SHACL validation")
    parser.add_argument("--out", type=Path, help="append the Markdown report here")
    args = parser.parse_args(argv)
    base = ROOT / "dist" / "alignkg.nq"
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        data = args.data
        if data is None:
            data = work / f"bench-{args.triples}.nq"
            generate.write_nquads(data, args.triples, args.seed, base)
        with data.open("rb") as counted:
            quads = sum(1 for _ in counted)
        print(f"{machine()}\n{quads:,} quads in {data}", flush=True)
        saved = [PROLOGUE + q.query if "PREFIX" not in q.query else q.query for q in load_queries() if not q.services]
        mix = {name: [PROLOGUE + q] for name, q in MIX.items()} | {"saved-queries": saved}
        ours = bench_ours(data, mix, args)
        ox = bench_oxigraph(data, mix, args)
        checks: dict[str, Shacl] = {}
        if not args.no_shacl:
            checks[f"whole graph ({quads:,} quads)"] = shacl([data])
        changed = one_document(base, 1, args.seed + 1, work / "one-document.nq")
        checks["one changed document (with the real graphs it refers to)"] = shacl([changed])
        text = report(data, quads, ours, ox, checks)
        print(text)
        if args.out:
            with args.out.open("a", encoding="utf-8") as sink:
                sink.write(text + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
