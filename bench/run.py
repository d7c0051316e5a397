"""Benchmark: our endpoint (``kg serve``) and ``oxigraph serve`` side by side, on the same data.

    python bench/run.py --triples 100000                  # generate (seeded), then measure
    python bench/run.py --data /tmp/bench-1m.nq --no-shacl
    python bench/run.py --data /tmp/bench-1m.nq --backend all   # also kg serve --backend

``--backend`` picks the setups, started one after the other and then measured in turns (see
:func:`measure`): ``embedded`` (``kg serve --data``, its own store), ``remote`` (``kg serve
--backend`` in front of a fresh ``oxigraph serve``, loaded with ``kg load --to``) and ``oxigraph``
(``oxigraph serve`` alone, on a store made offline by ``oxigraph load`` and ``oxigraph optimize``).
For each, in one run: load time, time until it answers, p50/p95 latency and throughput at
1 and 8 clients for each query of a fixed mix, peak memory of the process tree (RSS, and PSS,
which splits shared pages between the processes mapping them; see :class:`MemorySampler`; the
stores live in /dev/shm and their size is reported apart), and
whether a trivial ASK answers fast while a heavy query runs. Then SHACL validation time (pyshacl-turbo,
as ``kg validate`` does it; pyshacl too with --pyshacl) of the whole graph and of one changed document. Prints ratios (embedded /
oxigraph, remote / embedded) and writes a Markdown report (``--out``). All traffic goes to 127.0.0.1; every
measurement is bounded by ``--seconds`` and ``--max-requests``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

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


@dataclass
class Peak:
    """Peak memory of a process tree, in bytes: RSS and PSS, each summed over the tree."""

    rss: int = 0
    pss: int = 0

    def __add__(self, other: Peak) -> Peak:
        return Peak(self.rss + other.rss, self.pss + other.pss)


class MemorySampler:
    """Peak RSS and PSS of a process and its descendants, sampled on a thread.

    RSS counts a page mapped by several processes once per process: our worker processes all map
    the same RocksDB store in /dev/shm and the same libraries, so the tree's RSS sum overstates
    what it takes. PSS (Linux: /proc/PID/smaps_rollup) charges each process its share of a shared
    page, so the sum is the tree's real footprint: the fair figure. RSS is read every
    ``interval``; PSS (dearer: ~0.5 ms a process) every ``pss_every``-th time, and whenever the
    RSS reaches a new peak (so a short-lived loader's peak is not missed).
    """

    def __init__(self, pid: int, interval: float = 0.05, pss_every: int = 4) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.pss_every = pss_every
        self.peak = Peak()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        tick = 0
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            rss = tree_sum(tree, lambda p: p.memory_info().rss)
            if tick % self.pss_every == 0 or rss > self.peak.rss:
                pss = tree_sum(tree, lambda p: p.memory_full_info().pss)
                with self._lock:
                    self.peak.pss = max(self.peak.pss, pss)
            with self._lock:
                self.peak.rss = max(self.peak.rss, rss)
            tick += 1
            time.sleep(self.interval)

    def reset(self) -> Peak:
        """The peak so far; sampling goes on from zero."""
        with self._lock:
            peak, self.peak = self.peak, Peak()
        return peak

    def stop(self) -> Peak:
        self._stop.set()
        self._thread.join()
        return self.peak


Number = TypeVar("Number", int, float)


def tree_sum(tree: list[psutil.Process], measure: Callable[[psutil.Process], Number]) -> Number:
    """``measure`` summed over the processes still alive."""
    total: Number = 0
    for process in tree:
        with suppress(psutil.Error):
            total += measure(process)
    return total


@dataclass
class ServerRun:
    """What one server measured."""

    name: str
    load_seconds: float = 0.0
    ready_seconds: float = 0.0
    load_peak: Peak = field(default_factory=Peak)
    """The loader's process tree (``oxigraph load``, ``kg load``); ours loads its store while starting."""
    peak: Peak = field(default_factory=Peak)
    """While serving (ours: loading its store included)."""
    store_bytes: int = 0
    engine: ServerRun | None = None
    """remote: the ``oxigraph serve`` behind ``kg serve --backend`` (its ``load_peak``: during ``kg load``)."""
    results: dict[tuple[str, int], loadgen.Measurement] = field(default_factory=dict)
    ask_under_load: list[float] = field(default_factory=list)
    pid: int = 0
    """The server process, while it runs."""
    store: Path | None = None
    """embedded: the store folder its workers read, while it runs (None if another ``kg serve`` made one meanwhile)."""

    @property
    def serving_peak(self) -> Peak:
        """Memory while serving, the engine's included."""
        return self.peak + self.engine.peak if self.engine else self.peak


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
    run.pid = process.pid
    try:
        wait_ready(url, process)
        run.ready_seconds = time.perf_counter() - begin
        yield sampler
    finally:
        run.peak = sampler.stop()
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(servers: dict[str, tuple[str, ServerRun]], mix: dict[str, list[str]], args: argparse.Namespace) -> None:
    """Every query of the mix at 1 and 8 clients on every server, interleaved: ``--rounds`` turns,
    each server measured in turn for its share of ``--seconds`` (the order alternating), so a drift
    in the machine's speed (a shared host: 10-25 % over minutes) falls on all servers alike. A
    query slower than a turn's share is measured in one turn. Then, per server, ``ASK {}`` while a
    heavy query runs."""
    drivers = {setup: functools.partial(loadgen.run, url) for setup, (url, _) in servers.items()}
    for name, queries in mix.items():
        rounds = warm_up(drivers, queries, args)
        for clients in (1, 8):
            measured = take_turns(drivers, queries, clients, rounds, args)
            for setup, (_, run) in servers.items():
                run.results[(name, clients)] = measured[setup]
                print(f"  {setup:8} {name:13} x{clients}: {summary(measured[setup])}", flush=True)
    for url, run in servers.values():
        ask_while_busy(url, run)


Driver = Callable[[list[str], int, float, int], loadgen.Measurement]
"""Sends (queries, clients, seconds, max_requests) to one setup: :func:`loadgen.run` on its URL, say."""


def warm_up(drivers: dict[str, Driver], queries: list[str], args: argparse.Namespace) -> int:
    """Each query once on every setup; then how many turns to take: ``args.rounds``, or 1 when a
    query takes more than a quarter of a turn's share of ``args.seconds``."""
    began = time.perf_counter()
    for drive in drivers.values():
        for query in queries:
            drive([query], 1, args.seconds, 1)
    per_setup = (time.perf_counter() - began) / len(drivers)
    return args.rounds if per_setup * 4 <= args.seconds / args.rounds else 1


def take_turns(
    drivers: dict[str, Driver], queries: list[str], clients: int, rounds: int, args: argparse.Namespace
) -> dict[str, loadgen.Measurement]:
    """``queries`` at ``clients`` clients on every setup in ``rounds`` turns (the order alternating),
    each turn ``args.seconds / rounds`` long, pooled per setup."""
    parts: dict[str, list[loadgen.Measurement]] = {setup: [] for setup in drivers}
    for turn in range(rounds):
        order = list(drivers) if turn % 2 == 0 else list(reversed(drivers))
        for setup in order:
            parts[setup].append(drivers[setup](queries, clients, args.seconds / rounds, args.max_requests // rounds))
    return {setup: loadgen.Measurement.combine(shares) for setup, shares in parts.items()}


def ask_while_busy(url: str, run: ServerRun) -> None:
    """The slowest of five ``ASK {}`` sent while a heavy query runs."""
    heavy = threading.Thread(target=loadgen.run, args=(url, [PROLOGUE + HEAVY], 1, 20.0, 1), daemon=True)
    heavy.start()
    time.sleep(0.5)
    probe = loadgen.Client(url)
    for _ in range(5):
        begin = time.perf_counter()
        probe.query(TRIVIAL)
        run.ask_under_load.append(time.perf_counter() - begin)
    probe.close()
    heavy.join()


def summary(m: loadgen.Measurement) -> str:
    return (
        f"p50 {m.percentile(50) * 1000:8.2f} ms  p95 {m.percentile(95) * 1000:8.2f} ms  "
        f"{m.throughput:8.1f} q/s  ({len(m.latencies)} ok, {m.error_text()})"
    )


def kg_serve(port: int, args: argparse.Namespace, *source: str) -> list[str]:
    """``kg serve`` on 127.0.0.1:``port`` with ``source`` (``--data FILE``, ``--backend URL``)."""
    return [
        str(BIN / "kg"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *source,
        "--log-level",
        "warning",
        "--max-rows",
        "1000000",
        "--query-timeout",
        str(args.timeout),
    ]


def oxigraph_serve(location: Path, port: int, args: argparse.Namespace) -> list[str]:
    """``oxigraph serve`` on ``location`` with the union default graph and our time limit."""
    return [
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


@contextmanager
def shm_folder(prefix: str) -> Iterator[Path]:
    """An empty folder in /dev/shm, removed after."""
    location = Path(tempfile.mkdtemp(prefix=prefix, dir="/dev/shm"))
    try:
        yield location
    finally:
        shutil.rmtree(location, ignore_errors=True)


def timed_load(commands: list[list[str]], run: ServerRun) -> None:
    """Run loaders one after the other to their end; their time and peak memory go to ``run``."""
    begin = time.perf_counter()
    for command in commands:
        loader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sampler = MemorySampler(loader.pid)
        _, errors = loader.communicate()
        peak = sampler.stop()
        run.load_peak = Peak(max(run.load_peak.rss, peak.rss), max(run.load_peak.pss, peak.pss))
        if loader.returncode != 0:
            raise RuntimeError(f"{' '.join(command[1:3])} failed: {errors.decode(errors='replace')[-2000:]}")
    run.load_seconds = time.perf_counter() - begin


@contextmanager
def serving_embedded(data: Path, args: argparse.Namespace) -> Iterator[tuple[str, ServerRun]]:
    """``kg serve --data``: it loads its own store (in /dev/shm) while starting."""
    run = ServerRun("embedded")
    port = free_port()
    url = f"http://127.0.0.1:{port}/sparql"
    before = set(Path("/dev/shm").glob("kg-store-*"))
    with started(kg_serve(port, args, "--data", str(data)), url, run):
        stores = set(Path("/dev/shm").glob("kg-store-*")) - before
        run.store_bytes = sum(folder_bytes(s) for s in stores)
        run.store = next(iter(stores)) if len(stores) == 1 else None
        run.load_seconds = run.ready_seconds
        yield url, run


@contextmanager
def serving_remote(data: Path, args: argparse.Namespace) -> Iterator[tuple[str, ServerRun]]:
    """``kg serve --backend`` in front of a fresh ``oxigraph serve``, loaded with ``kg load --to``."""
    run = ServerRun("remote", engine=ServerRun("engine"))
    assert run.engine is not None
    with shm_folder("bench-remote-") as location:
        engine = f"http://127.0.0.1:{free_port()}"
        command = oxigraph_serve(location, int(engine.rsplit(":", 1)[1]), args)
        with started(command, engine + "/query", run.engine) as engine_memory:
            timed_load([[str(BIN / "kg"), "load", "--to", engine + "/store", "--data", str(data)]], run)
            run.engine.load_peak = engine_memory.reset()
            run.store_bytes = folder_bytes(location)
            port = free_port()
            url = f"http://127.0.0.1:{port}/sparql"
            with started(kg_serve(port, args, "--data", str(data), "--backend", engine + "/query"), url, run):
                yield url, run


@contextmanager
def serving_oxigraph(data: Path, args: argparse.Namespace) -> Iterator[tuple[str, ServerRun]]:
    """``oxigraph serve`` alone, on a store made offline by ``oxigraph load`` then ``oxigraph optimize``
    (what Oxigraph advises for a read-only endpoint under load, and what ``kg serve`` does after
    its load; without it ``oxigraph serve`` compacts the store in the background while measured)."""
    run = ServerRun("oxigraph")
    with shm_folder("bench-oxigraph-") as location:
        oxigraph = str(BIN / "oxigraph")
        load = [oxigraph, "load", "--location", str(location), "--file", str(data)]
        timed_load([load, [oxigraph, "optimize", "--location", str(location)]], run)
        run.store_bytes = folder_bytes(location)
        port = free_port()
        url = f"http://127.0.0.1:{port}/query"
        with started(oxigraph_serve(location, port, args), url, run):
            yield url, run


SETUPS: dict[str, Callable[[Path, argparse.Namespace], AbstractContextManager[tuple[str, ServerRun]]]] = {
    "embedded": serving_embedded,
    "remote": serving_remote,
    "oxigraph": serving_oxigraph,
}
"""Every setup, in the order they start."""


@dataclass
class Shacl:
    parse_seconds: float
    validate_seconds: float
    conforms: bool


def shacl(files: list[Path], engine: str = "fast") -> Shacl:
    """Validation as ``kg validate --engine ENGINE`` runs it, timed in two parts: reading the files
    (with the ontology), and validating them (and tracing results to their source files)."""
    from kg.config import settings
    from kg.encode.dataset import SHAPES_FILE, load_ontology, parse_turtle
    from kg.validate import validate_dataset

    conf = settings()
    shapes = parse_turtle(conf.ontology_dir / SHAPES_FILE)
    begin = time.perf_counter()
    if engine == "fast":
        from kg.validate_fast import read_files, validate_text

        text = read_files(files, conf.ontology_dir)
        parsed = time.perf_counter()
        report = validate_text(text, shapes)
    else:
        from kg.rdf_input import load_rdf_files

        dataset, ontology = load_rdf_files(files), load_ontology(conf.ontology_dir)
        parsed = time.perf_counter()
        report = validate_dataset(dataset, shapes, ontology, "pyshacl")
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
        f"pyshacl {pyshacl.__version__}, pyshacl-turbo {importlib.metadata.version('pyshacl-turbo')}"
    )


def ratio(a: float, b: float) -> str:
    """``a / b``, or n/a when ``b`` is 0 or either is NaN (no answer to take a percentile of)."""
    return "n/a" if not b or math.isnan(a) or math.isnan(b) else f"{a / b:.2f}x"


def turn_range(a: loadgen.Measurement, b: loadgen.Measurement) -> str:
    """The lowest and highest throughput ratio ``a / b`` of single turns (turn i of ``a`` against turn i
    of ``b``: taken one right after the other, so the host's drift falls on both), e.g. ``0.87-0.95x``;
    ``one turn`` when the query was measured in one, n/a when a turn of ``b`` had no answer."""
    if len(a.turns) < 2 or len(a.turns) != len(b.turns):
        return "one turn"
    if not all(y.throughput for y in b.turns):
        return "n/a"
    ratios = [x.throughput / y.throughput for x, y in zip(a.turns, b.turns, strict=True)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}x"


RATIOS = (("embedded", "oxigraph"), ("remote", "embedded"))
"""The ratios printed, each when both setups ran."""


def mib(peak: Peak) -> str:
    return f"{peak.rss / 2**20:.0f} / {peak.pss / 2**20:.0f}"


def load_cell(run: ServerRun) -> tuple[str, float]:
    """Load and start: what it took until the setup answered, and the total."""
    if run.name == "embedded":
        return f"{run.ready_seconds:.2f} (store load at start)", run.ready_seconds
    if run.engine is not None:
        total = run.engine.ready_seconds + run.load_seconds + run.ready_seconds
        return (
            f"{run.engine.ready_seconds:.2f} engine ready + {run.load_seconds:.2f} `kg load` + "
            f"{run.ready_seconds:.2f} ready",
            total,
        )
    return f"{run.load_seconds:.2f} load + {run.ready_seconds:.2f} ready", run.load_seconds + run.ready_seconds


def memory_cell(run: ServerRun) -> tuple[str, float]:
    if run.engine is not None:
        text = f"{mib(run.serving_peak)} ({mib(run.peak)} + engine {mib(run.engine.peak)})"
        return text, run.serving_peak.pss
    return mib(run.peak), run.peak.pss


def loader_cell(run: ServerRun) -> tuple[str, float]:
    if run.name == "embedded":
        return "(in the line above)", 0.0
    if run.engine is not None:
        return f"`kg load` {mib(run.load_peak)}, engine {mib(run.engine.load_peak)}", 0.0
    return mib(run.load_peak), run.load_peak.pss


def row(label: str, runs: dict[str, ServerRun], cell: Callable[[ServerRun], tuple[str, float]], ratios: bool) -> str:
    cells = {name: cell(run) for name, run in runs.items()}
    shown = [ratio(cells[a][1], cells[b][1]) if ratios else "" for a, b in RATIOS if a in runs and b in runs]
    return "| " + " | ".join([label, *(text for text, _ in cells.values()), *shown]) + " |"


def report(data: Path, quads: int, runs: dict[str, ServerRun], checks: dict[str, Shacl]) -> str:
    pairs = [(a, b) for a, b in RATIOS if a in runs and b in runs]
    names = list(runs)
    lines = [
        f"### {quads:,} quads (`{data.name}`)",
        "",
        "| measure | " + " | ".join(names) + "".join(f" | {a} / {b}" for a, b in pairs) + " |",
        "|---" * (1 + len(names) + len(pairs)) + "|",
        row("load + ready (s)", runs, load_cell, True),
        row("peak memory while serving, RSS / PSS (MiB; ratio of PSS)", runs, memory_cell, True),
        row("peak memory of the loader, RSS / PSS (MiB)", runs, loader_cell, False),
        row("store in /dev/shm (MiB)", runs, lambda r: (f"{r.store_bytes / 2**20:.0f}", r.store_bytes), True),
        row(
            "slowest of 5 `ASK {}` during a heavy query (ms)",
            runs,
            lambda r: (f"{max(r.ask_under_load) * 1000:.1f}", max(r.ask_under_load)),
            True,
        ),
        "",
        "| query | clients | "
        + " | ".join(f"{n} p50 / p95 (ms)" for n in names)
        + " | "
        + " | ".join(f"{n} q/s" for n in names)
        + "".join(f" | {a} / {b} q/s | {a} / {b} p50 | {a} / {b} q/s, lowest-highest turn" for a, b in pairs)
        + " |",
        "|---" * (2 + 2 * len(names) + 3 * len(pairs)) + "|",
    ]
    for name, clients in runs[names[0]].results:
        got = {n: run.results[(name, clients)] for n, run in runs.items()}
        cells = [f"{m.percentile(50) * 1000:.2f} / {m.percentile(95) * 1000:.2f}" for m in got.values()]
        cells += [f"{m.throughput:.1f}" for m in got.values()]
        for a, b in pairs:
            cells += [
                ratio(got[a].throughput, got[b].throughput),
                ratio(got[a].percentile(50), got[b].percentile(50)),
                turn_range(got[a], got[b]),
            ]
        errors = {n: m.error_text() for n, m in got.items() if m.errors}
        lines.append(f"| {name} | {clients} | " + " | ".join(cells) + " |" + (f" (errors: {errors})" if errors else ""))
    if checks:
        lines += [
            "",
            "| SHACL (as `kg validate --engine ...`) | read files (s) | validate (s) | conforms |",
            "|---|---|---|---|",
        ]
        for what, check in checks.items():
            lines.append(f"| {what} | {check.parse_seconds:.2f} | {check.validate_seconds:.2f} | {check.conforms} |")
    return "\n".join(lines) + "\n"


DEFAULT_SETUPS = "embedded,oxigraph"


def picked(text: str, known: Iterable[str], what: str) -> list[str]:
    """A comma-separated list of names (an argparse type), in its order; each must be one of ``known``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none)'}; pick from {', '.join(known)}"
        )
    return names


def setups(text: str) -> list[str]:
    """``--backend``: known setup names, in the order they run."""
    names = list(SETUPS) if text.strip() == "all" else picked(text, SETUPS, "setup")
    return [n for n in SETUPS if n in names]


def count_lines(path: Path) -> int:
    """The number of lines in ``path`` (quads, in an N-Quads file)."""
    with path.open("rb") as counted:
        return sum(1 for _ in counted)


def publish(text: str, out: Path | None) -> None:
    """Print a report, and append it to ``out`` if given."""
    print(text)
    if out:
        with out.open("a", encoding="utf-8") as sink:
            sink.write(text + "\n")


def add_turn_options(parser: argparse.ArgumentParser, seconds: float, rounds: int, max_requests: int) -> None:
    """The options :func:`warm_up`, :func:`take_turns` and the servers read, with these defaults."""
    parser.add_argument("--seconds", type=float, default=seconds, help="time per query, client count and setup")
    parser.add_argument(
        "--rounds", type=int, default=rounds, help="turns each setup takes per query and client count (interleaved)"
    )
    parser.add_argument(
        "--max-requests", type=int, default=max_requests, help="request bound per query and client count"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="query time limit, the same on every server")


def run_line(argv: list[str] | None, loads: list[str], script: str = "bench/run.py") -> str:
    """When, how and on what the figures were taken (the machine may be shared: the load average says how busy)."""
    command = " ".join([f"python {script}", *(sys.argv[1:] if argv is None else argv)])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"`{command}`, {when}; {machine()}; load average (1 min): {', '.join(loads)}\n\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="an N-Quads file made by generate.py")
    parser.add_argument("--triples", type=int, default=100_000, help="without --data: generate this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--base",
        type=Path,
        default=ROOT / "dist" / "alignkg.nq",
        help="the real dataset the synthetic documents join (default: dist/alignkg.nq, made by kg build)",
    )
    add_turn_options(parser, seconds=3.0, rounds=5, max_requests=3000)
    parser.add_argument(
        "--backend",
        type=setups,
        default=setups(DEFAULT_SETUPS),
        metavar="LIST",
        help=f"the setups to measure, comma-separated, of {', '.join(SETUPS)}; or all (default: {DEFAULT_SETUPS})",
    )
    parser.add_argument("--no-shacl", action="store_true", help="skip the full SHACL validation")
    parser.add_argument(
        "--pyshacl", action="store_true", help="also time the reference engine, pyshacl (~1 min at 100k, ~8 at 1M)"
    )
    parser.add_argument("--out", type=Path, help="append the Markdown report here")
    args = parser.parse_args(argv)
    base = args.base
    if not base.is_file():
        parser.error(f"--base {base}: no such file (run kg build first)")
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        data = args.data
        if data is None:
            data = work / f"bench-{args.triples}.nq"
            generate.write_nquads(data, args.triples, args.seed, base)
        quads = count_lines(data)
        print(f"{machine()}\n{quads:,} quads in {data}", flush=True)
        saved = [PROLOGUE + q.query if "PREFIX" not in q.query else q.query for q in load_queries() if not q.services]
        mix = {name: [PROLOGUE + q] for name, q in MIX.items()} | {"saved-queries": saved}
        loads = [f"start {os.getloadavg()[0]:.2f}"]
        runs: dict[str, ServerRun] = {}
        with ExitStack() as stack:
            servers = {}
            for name in args.backend:  # started one after the other; each idle while the next loads
                servers[name] = stack.enter_context(SETUPS[name](data, args))
                runs[name] = servers[name][1]
                loads.append(f"after starting {name} {os.getloadavg()[0]:.2f}")
            measure(servers, mix, args)
            loads.append(f"after measuring {os.getloadavg()[0]:.2f}")
        checks: dict[str, Shacl] = {}
        engines = ["fast", "pyshacl"] if args.pyshacl else ["fast"]
        changed = one_document(base, 1, args.seed + 1, work / "one-document.nq")
        for engine in engines:
            if not args.no_shacl:
                checks[f"whole graph ({quads:,} quads), {engine}"] = shacl([data], engine)
            checks[f"one changed document (with the real graphs it refers to), {engine}"] = shacl([changed], engine)
        publish(run_line(argv, loads) + report(data, quads, runs, checks), args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
