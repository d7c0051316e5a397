"""Real attacks on a real ``kg serve`` process (127.0.0.1 only), beyond the unit-sized probes of
test_limits.py: SSRF through an allow-listed service that redirects, refusals that reveal nothing
about what listens, pathological queries answered in time with a lookup answering all along and
memory back near its baseline, and untrusted RDF given to ``kg validate``.

"Near its baseline": the resident memory of the server and its workers (psutil, whole process
tree) at most :data:`MEMORY_SLACK_MB` above what it was after warm-up, once killed workers have
been replaced.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx
import psutil
import pytest

from kg.namespaces import AKG, GRAPH, ID
from listener import Listener
from results import parse_results
from server import RunningServer, free_port, run_server

MINI = Path(__file__).parent / "fixtures" / "mini.trig"
TIMEOUT = 3.0
MEMORY_LIMIT_MB = 300
SLOTS = 4
ISOLATED = 2
PROCESSES = 1 + ISOLATED
"""Worker processes: the shared one (SLOTS queries at once) and the isolated ones."""
SERVER_ARGS = (
    *("--query-timeout", str(TIMEOUT), "--memory-limit-mb", str(MEMORY_LIMIT_MB)),
    *("--workers", str(SLOTS), "--isolated-workers", str(ISOLATED)),
)
GRACE = 2.0
"""Seconds past the query timeout within which every attack must be answered."""
ASK_BUDGET = 0.1
"""Slowest acceptable answer to a trivial ASK while an attack runs."""
MEMORY_SLACK_MB = 100
CHAIN = 3000
"""Links in the chain the property-path attacks walk (the closure has CHAIN² pairs)."""
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
ASK = "ASK { ?s a ?type }"
JSON = "application/sparql-results+json"


# Tools: a loopback listener, memory, a lookup probe, response checks.


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the query workers), in MiB."""
    process = psutil.Process(pid)
    total = 0
    for each in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker killed while we looked
            total += each.memory_info().rss
    return total / 2**20


def settled_rss_mb(pid: int, target: float, within: float = 10.0) -> float:
    """The tree's RSS once all workers are back and it is at most ``target`` MiB (or when time is up)."""
    deadline = time.monotonic() + within
    while True:
        workers = len(psutil.Process(pid).children(recursive=True))
        rss = tree_rss_mb(pid)
        if (workers >= PROCESSES and rss <= target) or time.monotonic() > deadline:
            return rss
        time.sleep(0.2)


def _ask_loop(url: str, ready: Event, stop: Event, results: Connection) -> None:
    """The probe's process: an ASK every 20 ms until told to stop, then (latencies, statuses) sent back."""
    latencies: list[float] = []
    statuses: list[int] = []
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get(url, params={"query": ASK}, headers={"accept": JSON})
            latencies.append(time.perf_counter() - started)
            statuses.append(response.status_code)
            ready.set()
            time.sleep(0.02)
    results.send((latencies, statuses))


@dataclass
class AskProbe:
    """A client sending a trivial ASK every 20 ms, recording each latency and status.

    It runs in its own process: a thread of the test process would time its own pauses too (the GIL
    held while the attack's 600 kB query is encoded, garbage collection of the session's objects)."""

    url: str
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def __enter__(self) -> AskProbe:
        context = multiprocessing.get_context("spawn")
        self.ready, self.stop = context.Event(), context.Event()
        self.results, theirs = context.Pipe(duplex=False)
        self.process = context.Process(target=_ask_loop, args=(self.url, self.ready, self.stop, theirs), daemon=True)
        self.process.start()
        assert self.ready.wait(60), "the ASK probe did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.results.poll(30):
            self.latencies, self.statuses = self.results.recv()
        self.process.join(10)


def assert_clean(response: httpx.Response) -> None:
    """No stack trace, no source path, no socket error in what the client sees."""
    for leak in ("Traceback", 'File "', "site-packages", "/work/", "os error", "Connection refused"):
        assert leak not in response.text, response.text


def sparql(url: str, query: str) -> httpx.Response:
    return httpx.post(
        url, content=query, headers={"content-type": "application/sparql-query", "accept": JSON}, timeout=60
    )


# SSRF: an allow-listed service that redirects, and every way to name a forbidden one.


@dataclass
class Federation:
    """A server allowing SERVICE to ``redirector`` only; the redirector points at ``internal``."""

    url: str
    redirector: Listener
    internal: Listener


@pytest.fixture(scope="module")
def federation() -> Iterator[Federation]:
    internal = Listener()
    redirector = Listener(redirect_to=internal.url + "sparql")
    try:
        with run_server(MINI, "--allow-service", redirector.url) as running:
            yield Federation(running.base_url + "/sparql", redirector, internal)
    finally:
        redirector.close()
        internal.close()


def test_an_allowed_service_that_redirects_is_not_followed(federation: Federation) -> None:
    before = federation.redirector.connections
    response = sparql(federation.url, f"SELECT * {{ SERVICE <{federation.redirector.url}sparql> {{ ?s ?p ?o }} }}")
    assert response.status_code == 502, response.text
    assert "redirect" in response.json()["detail"]
    assert str(federation.internal.port) not in response.text  # where it pointed is not told
    assert_clean(response)
    time.sleep(0.2)
    assert federation.redirector.connections == before + 1
    assert federation.internal.connections == 0


SSRF_PROBES = {
    "mixed case": "SELECT * {{ SeRvIcE <{internal}> {{ ?s ?p ?o }} }}",
    "lower case silent": "select * {{ service silent <{internal}sparql> {{ ?s ?p ?o }} }}",
    "prefixed name": "PREFIX in: <{internal}> SELECT * {{ SERVICE in:sparql {{ ?s ?p ?o }} }}",
    "relative to BASE": "BASE <{internal}x/> SELECT * {{ SERVICE <../sparql> {{ ?s ?p ?o }} }}",
    "network path from allowed BASE": "BASE <{allowed}> SELECT * {{ SERVICE <//127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "user info after allowed host": "SELECT * {{ SERVICE <{allowed_bare}@127.0.0.1:{port}/> {{ ?s ?p ?o }} }}",
    "escaped": "SELECT * {{ SERVICE <http://127.0.0.1:{port}/\\u0073parql> {{ ?s ?p ?o }} }}",
    "variable": "SELECT * {{ VALUES ?e {{ <{internal}> }} SERVICE ?e {{ ?s ?p ?o }} }}",
    "inside allowed": "SELECT * {{ SERVICE <{allowed}> {{ SERVICE <{internal}> {{ ?s ?p ?o }} }} }}",
    "nested groups": "SELECT * {{ GRAPH ?g {{ {{ SELECT * {{ {{ ?s ?p ?o }} UNION {{ {{ SERVICE <{internal}> {{ ?s ?p ?o }} }} }} }} }} }} }}",
    "filter exists": "ASK {{ FILTER EXISTS {{ SERVICE <{internal}> {{ ?s ?p ?o }} }} }}",
    "minus": "SELECT * {{ ?s ?p ?o MINUS {{ SERVICE SILENT <{internal}> {{ ?s ?p ?o }} }} }}",
    "file": "SELECT * {{ SERVICE <file:///etc/passwd> {{ ?s ?p ?o }} }}",
    "file relative to file BASE": "BASE <file:///etc/> SELECT * {{ SERVICE <passwd> {{ ?s ?p ?o }} }}",
}
DATASET_PROBES = {
    "FROM internal": "SELECT * FROM <{internal}data.ttl> {{ ?s ?p ?o }}",
    "FROM NAMED internal": "SELECT * FROM NAMED <{internal}data.ttl> {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "FROM allowed service": "SELECT * FROM <{allowed}data.ttl> {{ ?s ?p ?o }}",
    "FROM NAMED allowed service": "SELECT * FROM NAMED <{allowed}sparql> {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "FROM file": "SELECT * FROM <file:///etc/passwd> FROM NAMED <file:///etc/hostname> {{ ?s ?p ?o }}",
}


def _probe(federation: Federation, template: str) -> str:
    allowed = federation.redirector.url
    return template.format(
        internal=federation.internal.url,
        allowed=allowed,
        allowed_bare=allowed.rstrip("/"),
        port=federation.internal.port,
    )


@pytest.mark.parametrize("template", SSRF_PROBES.values(), ids=SSRF_PROBES.keys())
def test_service_probes_reach_nothing(federation: Federation, template: str) -> None:
    before = federation.redirector.connections
    response = sparql(federation.url, _probe(federation, template))
    assert response.status_code == 403, response.text
    assert "not allowed" in response.json()["detail"]
    assert_clean(response)
    time.sleep(0.1)
    assert federation.internal.connections == 0
    assert federation.redirector.connections == before


@pytest.mark.parametrize("template", DATASET_PROBES.values(), ids=DATASET_PROBES.keys())
def test_dataset_clauses_fetch_nothing(federation: Federation, template: str) -> None:
    before = federation.redirector.connections
    response = sparql(federation.url, _probe(federation, template))
    assert response.status_code == 200, response.text
    assert len(parse_results(response.content, response.headers["content-type"])) == 0
    time.sleep(0.1)
    assert federation.internal.connections == 0
    assert federation.redirector.connections == before


def test_refusals_do_not_tell_which_ports_listen(federation: Federation) -> None:
    """A SERVICE to a listening port and to a closed one get the same answer, the IRI aside."""
    answers = []
    for url in (federation.internal.url, f"http://127.0.0.1:{free_port()}/"):
        response = sparql(federation.url, f"SELECT * {{ SERVICE <{url}> {{ ?s ?p ?o }} }}")
        answers.append((response.status_code, response.json()["detail"].replace(url, "IRI")))
    assert answers[0] == answers[1]
    assert federation.internal.connections == 0


# Pathological queries: answered in time, lookups unaffected, memory given back.


def _chain_nquads() -> str:
    """A chain of CHAIN links, and labels for the regex attack: runs of 'a' with and without a '!'."""
    graph = f"<{GRAPH['attack-chain']}>"
    lines = [f"<{ID[f'chain/{i}']}> <{AKG.next}> <{ID[f'chain/{i + 1}']}> {graph} ." for i in range(CHAIN)]
    lines += [f'<{ID[f"chain/{i}"]}> <{LABEL}> "{label}" {graph} .' for i, label in REGEX_LABELS.items()]
    return "\n".join(lines) + "\n"


REGEX_LABELS = {0: "a" * 40 + "!", 1: "a" * 48, 2: "a" * 64 + "b", 3: "b" + "a" * 45}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    chain = tmp_path_factory.mktemp("attack") / "chain.nq"
    chain.write_text(_chain_nquads())
    with run_server(MINI, "--data", str(chain), *SERVER_ARGS) as running:
        for _ in range(3 * SLOTS):  # warm the shared worker up before measuring the baseline
            assert sparql(running.base_url + "/sparql", "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }").status_code == 200
        yield running


@pytest.fixture(scope="module")
def baseline_mb(attacked: RunningServer) -> float:
    return tree_rss_mb(attacked.process.pid)


def _count(response: httpx.Response) -> int:
    return int(next(iter(parse_results(response.content, response.headers["content-type"])))[0])


def _regex_matches(response: httpx.Response) -> None:
    found = {str(row[0]) for row in parse_results(response.content, response.headers["content-type"])}
    assert found == {str(ID[f"chain/{i}"]) for i, label in REGEX_LABELS.items() if set(label) == {"a"}}


def _nested(depth: int) -> str:
    return "SELECT (COUNT(*) AS ?n) { " + "{ " * depth + "?s ?p ?o" + " }" * depth + " }"


HUGE_VALUES = 100_000
NEXT = f"<{AKG.next}>"


@dataclass(frozen=True)
class Attack:
    query: str
    statuses: frozenset[int]
    check: Callable[[httpx.Response], None] | None = None


ATTACKS = {
    "cross join sorted (memory)": Attack(
        "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?c ?f ?i ?l", frozenset({503, 504})
    ),
    "cross join filtered and sorted (CPU)": Attack(
        "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(STR(?a) = CONCAT(STR(?d), STR(?g))) } ORDER BY ?c",
        frozenset({504}),
    ),
    "path closure over a long chain": Attack(
        f"SELECT (COUNT(*) AS ?n) {{ ?a ({NEXT}|^{NEXT})* ?b }}", frozenset({503, 504})
    ),
    "nested paths over a long chain": Attack(
        f"SELECT (COUNT(*) AS ?n) {{ ?a (({NEXT}|^{NEXT})*/({NEXT}|^{NEXT})+)* ?b }}", frozenset({503, 504})
    ),
    "catastrophic regex on the data": Attack(
        f'SELECT ?s {{ ?s <{LABEL}> ?label FILTER REGEX(?label, "^(a+)+$") }}', frozenset({200}), _regex_matches
    ),
    "huge VALUES": Attack(
        "SELECT (COUNT(*) AS ?n) { VALUES ?x { " + " ".join(map(str, range(HUGE_VALUES))) + " } }",
        frozenset({200}),
        lambda response: None if _count(response) == HUGE_VALUES else pytest.fail(response.text),
    ),
    "huge VALUES joined and sorted": Attack(
        "SELECT * { VALUES ?x { " + " ".join(map(str, range(HUGE_VALUES))) + " } ?s ?p ?o } ORDER BY DESC(?x) ?o",
        frozenset({503, 504}),
    ),
    "deep nesting within the limit": Attack(
        _nested(900), frozenset({200}), lambda response: None if _count(response) > CHAIN else pytest.fail()
    ),
    "deep nesting beyond the limit": Attack(_nested(5000), frozenset({400})),
    "10 MB query": Attack("ASK { " + "?s ?p ?o . " * 1_000_000 + "}", frozenset({413})),
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_pathological_query_is_answered_in_time(attacked: RunningServer, baseline_mb: float, attack: Attack) -> None:
    url = attacked.base_url + "/sparql"
    with AskProbe(url) as probe:
        time.sleep(0.1)
        started = time.perf_counter()
        response = sparql(url, attack.query)
        elapsed = time.perf_counter() - started
        time.sleep(0.3)  # the killed worker is replaced while lookups go on
    assert response.status_code in attack.statuses, response.text[:500]
    assert elapsed < TIMEOUT + GRACE, elapsed
    assert_clean(response)
    if response.status_code != 200:
        assert response.json()["detail"]
    if attack.check:
        attack.check(response)
    assert set(probe.statuses) == {200}
    assert len(probe.latencies) >= 5
    assert max(probe.latencies) < ASK_BUDGET, f"slowest ASK {max(probe.latencies) * 1000:.0f} ms"
    settled = settled_rss_mb(attacked.process.pid, baseline_mb + MEMORY_SLACK_MB)
    print(f"{response.status_code} in {elapsed:.2f} s; slowest ASK {max(probe.latencies) * 1000:.1f} ms; "
          f"RSS {baseline_mb:.0f} -> {settled:.0f} MiB")  # fmt: skip
    assert settled <= baseline_mb + MEMORY_SLACK_MB


# Untrusted RDF given to ``kg validate``: nothing fetched, nothing read, a clear failure.


def _validate(*files: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kg.cli", "validate", *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_validate_refuses_a_remote_jsonld_context(tmp_path: Path) -> None:
    listener = Listener()
    try:
        document = tmp_path / "remote-context.jsonld"
        document.write_text(f'{{"@context": "{listener.url}context.jsonld", "@id": "{ID.x}", "name": "x"}}')
        result = _validate(document)
        time.sleep(0.2)
        assert listener.connections == 0
    finally:
        listener.close()
    assert result.returncode != 0
    assert document.name in result.stderr and "remote JSON-LD contexts are not fetched" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_reads_no_external_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    listener = Listener()
    documents = []
    try:
        for name, system in (("local", secret.as_uri()), ("remote", listener.url + "entity")):
            document = tmp_path / f"entity-{name}.rdf"
            document.write_text(
                f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY e SYSTEM "{system}">]>\n'
                '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                f'xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"><rdf:Description rdf:about="{ID.x}">'
                "<rdfs:label>&e;</rdfs:label></rdf:Description></rdf:RDF>\n"
            )
            documents.append(_validate(document))
        time.sleep(0.2)
        assert listener.connections == 0
    finally:
        listener.close()
    for result in documents:
        output = result.stdout + result.stderr
        assert "TOP-SECRET-CONTENT" not in output
        assert "Traceback" not in output


def test_validate_stops_an_entity_expansion_bomb(tmp_path: Path) -> None:
    entities = ['<!ENTITY e0 "lol">'] + [f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)]
    bomb = tmp_path / "bomb.rdf"
    bomb.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [{"".join(entities)}]>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        f'xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"><rdf:Description rdf:about="{ID.x}">'
        "<rdfs:label>&e9;</rdfs:label></rdf:Description></rdf:RDF>\n"
    )
    result = _validate(bomb, timeout=20)
    assert result.returncode != 0
    assert bomb.name in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
