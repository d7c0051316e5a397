"""Bounds and safety on a real server under attack: timeouts that kill, memory and row caps, size limits,
the concurrency bound, and SSRF probes (SERVICE, FROM, file:) against a loopback listener."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rdflib import Dataset

from kg import store
from kg.serve import guard
from kg.serve.settings import ServeSettings, from_sources
from kg.serve.worker import HEADER_LINES, ROW_MARKERS, _Full, _RowCounter
from listener import Listener
from results import parse_results, rows
from server import RunningServer, run_server

MINI = Path(__file__).parent / "fixtures" / "mini.trig"
TIMEOUT = 2.0
MAX_ROWS = 5
LIMITS = {
    "--query-timeout": str(TIMEOUT),
    "--max-rows": str(MAX_ROWS),
    "--workers": "2",
    "--isolated-workers": "1",
    "--max-concurrent": "3",
    "--max-query-bytes": "4000",
    "--max-body-bytes": "20000",
    "--memory-limit-mb": "300",
}
# Five-way cross join (67^5 rows) with a filter that needs every variable: CPU only, no memory.
SLOW = """SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o
  FILTER(STR(?a) = CONCAT(STR(?d), STR(?g), STR(?j), STR(?m))) } ORDER BY ?c"""
# Four-way cross join sorted: materialises 67^4 rows of 12 terms.
GREEDY = "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?c ?f ?i ?l"
ASK = "ASK { ?s a ?type }"


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


@pytest.fixture(scope="module")
def limited() -> Iterator[RunningServer]:
    args = [item for pair in LIMITS.items() for item in pair]
    with run_server(MINI, *args) as running:
        yield running


@pytest.fixture(scope="module")
def url(limited: RunningServer) -> str:
    return limited.base_url + "/sparql"


def post(url: str, query: str, accept: str = "application/sparql-results+json", **kwargs) -> httpx.Response:
    return httpx.post(url, data={"query": query}, headers={"accept": accept}, timeout=30, **kwargs)


def family_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the query workers), in MiB."""
    total = 0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(child) for child in (task / "children").read_text().split()]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def ask_latencies(url: str, count: int) -> list[float]:
    latencies = []
    with httpx.Client() as client:
        for _ in range(count):
            started = time.perf_counter()
            response = client.get(url, params={"query": ASK})
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            time.sleep(0.05)
    return latencies


# Time and memory: the work really stops.


def test_timeout_stops_the_query_while_lookups_keep_answering(limited: RunningServer, url: str) -> None:
    baseline = family_rss_mb(limited.process.pid)
    with ThreadPoolExecutor(1) as pool:
        started = time.perf_counter()
        slow = pool.submit(post, url, SLOW)
        time.sleep(0.3)
        latencies = ask_latencies(url, 10)
        response = slow.result()
        elapsed = time.perf_counter() - started
    assert response.status_code == 504, response.text
    assert response.json()["timeout_seconds"] == TIMEOUT
    assert TIMEOUT - 0.1 < elapsed < TIMEOUT + 2
    assert max(latencies) < 0.1, latencies
    time.sleep(0.5)  # the replacement worker starts
    assert family_rss_mb(limited.process.pid) < baseline + 50


def test_memory_cap_stops_a_greedy_query(limited: RunningServer, url: str) -> None:
    started = time.perf_counter()
    response = post(url, GREEDY)
    assert time.perf_counter() - started < TIMEOUT + 2
    assert response.status_code in (503, 504), response.text
    if response.status_code == 503:
        assert response.json()["memory_limit_mb"] == int(LIMITS["--memory-limit-mb"])
    time.sleep(0.5)
    assert post(url, ASK).status_code == 200


def test_concurrency_bound_answers_503_with_retry_after(url: str) -> None:
    """Two slow queries fill the shared worker's two slots; the third waits; a fourth query is one too
    many. When the first is stopped, the shared worker drains (the second goes on there) and the third
    moves to the isolated worker: each of the three runs until its own time is up."""
    with ThreadPoolExecutor(3) as pool:
        running = [pool.submit(post, url, SLOW) for _ in range(3)]
        time.sleep(0.5)
        refused = post(url, ASK)
        outcomes = [future.result().status_code for future in running]
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["max_concurrent"] == int(LIMITS["--max-concurrent"])
    assert outcomes == [504, 504, 504]
    time.sleep(0.5)
    assert post(url, ASK).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        'SELECT ?x { BIND(REPLACE("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "^(a+)+$", "") AS ?x) }',
        'SELECT ?x { BIND(REGEX("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "^(a+)+$") AS ?x) }',
        "SELECT (" + " + ".join(["1"] * 900) + " AS ?x) {}",
        "SELECT * { ?s (<http://www.w3.org/2000/01/rdf-schema#label>|!<http://x/y>)*/(^<http://x/z>)* ?o } LIMIT 3",
    ],
)
def test_pathological_queries_are_answered_in_time(url: str, query: str) -> None:
    started = time.perf_counter()
    response = post(url, query)
    assert time.perf_counter() - started < TIMEOUT + 2
    assert response.status_code in (200, 504), response.text


def test_deep_nesting_is_refused(sparql_url: str) -> None:
    depth = guard.NESTING_LIMIT + 1
    for query in (
        "SELECT * { " + "{ " * depth + "?s ?p ?o" + " }" * depth + " }",
        "ASK { FILTER(" + "(" * depth + "true" + ")" * depth + ") }",
    ):
        response = httpx.post(sparql_url, content=query, headers={"content-type": "application/sparql-query"})
        assert response.status_code == 400, response.text
        assert str(guard.NESTING_LIMIT) in response.json()["detail"]


# Rows: cut at the cap, and said so.


ORDERED = "SELECT ?s ?c { ?s a ?c } ORDER BY ?s ?c"


@pytest.mark.parametrize(
    "accept", ["application/sparql-results+json", "application/sparql-results+xml", "text/tab-separated-values"]
)
def test_row_cap_is_signalled(url: str, accept: str) -> None:
    reference = Dataset(default_union=True).parse(MINI, format="trig")
    response = post(url, ORDERED, accept)
    assert response.headers["x-kg-truncated"] == "true"
    assert response.headers["x-kg-row-limit"] == str(MAX_ROWS)
    got = parse_results(response.content, response.headers["content-type"])
    assert len(got) == MAX_ROWS
    assert rows(got) == rows(reference.query(ORDERED + f" LIMIT {MAX_ROWS}"))


def test_row_cap_in_csv(url: str) -> None:
    response = post(url, ORDERED, "text/csv")
    assert response.headers["x-kg-truncated"] == "true"
    assert response.text.count("\r\n") == MAX_ROWS + 1


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "text/csv", "application/sparql-results+xml"])
@pytest.mark.parametrize("count", [MAX_ROWS - 1, MAX_ROWS, MAX_ROWS + 1])
def test_row_cap_is_exact_with_tricky_literals(url: str, accept: str, count: int) -> None:
    """Literals holding what opens a row in JSON (``,{``) or CSV (newlines) do not fool the count."""
    values = " ".join(f'"row {i},{{x}}[{{y}}\\nline 2"' for i in range(count))
    response = post(url, f"SELECT ?x {{ VALUES ?x {{ {values} }} }}", accept)
    assert response.status_code == 200
    assert response.headers["x-kg-truncated"] == ("true" if count > MAX_ROWS else "false")
    if accept != "text/csv":
        assert len(parse_results(response.content, accept)) == min(count, MAX_ROWS)


ROW_PIECES = [b"[{", b",{", b"<result>", b"\n", b"<res", b"ult>", b"{", b",", b"x" * 50]


@example(key="json", pieces=[b"[{", b",{", b",{"], chunk=1, above=True)  # markers only: just long enough to count
@example(key="xml", pieces=[b"<result>"] * 3, chunk=3, above=True)
@example(key="tsv", pieces=[b"\n"] * 4, chunk=2, above=True)
@given(
    key=st.sampled_from(sorted(ROW_MARKERS)),
    pieces=st.lists(st.sampled_from(ROW_PIECES)),
    chunk=st.integers(min_value=1, max_value=64),
    above=st.booleans(),
)
def test_the_row_counter_stops_exactly_past_the_cap(key: str, pieces: list[bytes], chunk: int, above: bool) -> None:
    """However Oxigraph's output is cut into chunks (markers split across chunks included), and whether
    or not it is long enough to be counted at all, the writer stops when, and only when, more markers
    than the cap were written: checked with the cap one below and at the number written."""
    output = b"".join(pieces)
    markers = sum(output.count(marker) for marker in ROW_MARKERS[key])
    counter = _RowCounter(key, max(0, markers - HEADER_LINES[key] - (1 if above else 0)))
    stopped = False
    for start in range(0, len(output), chunk):
        try:
            counter.write(output[start : start + chunk])
        except _Full:
            stopped = True
            break
    assert stopped == (markers > counter.limit)


def test_graph_results_are_capped_too(url: str) -> None:
    response = post(url, "CONSTRUCT WHERE { ?s ?p ?o }", "application/n-triples")
    assert response.headers["x-kg-truncated"] == "true"
    assert len(response.text.strip().splitlines()) == MAX_ROWS
    small = post(url, "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 2", "text/turtle")
    assert small.headers["x-kg-truncated"] == "false"
    assert "x-kg-truncated" not in post(url, ASK).headers


# Sizes: 413 before any work.


def test_long_queries_get_413(url: str) -> None:
    long_query = "SELECT * { VALUES ?x { " + " ".join(f'"{i}"' for i in range(800)) + " } }"
    assert len(long_query) > 4000
    direct = httpx.post(url, content=long_query, headers={"content-type": "application/sparql-query"})
    assert direct.status_code == 413
    assert direct.json()["max_query_bytes"] == 4000
    assert httpx.get(url, params={"query": long_query}).status_code == 413
    assert httpx.post(url, data={"query": long_query}).status_code == 413


def test_large_bodies_get_413(url: str) -> None:
    response = httpx.post(url, data={"query": "ASK {}", "padding": "x" * 30000})
    assert response.status_code == 413
    assert response.json()["max_body_bytes"] == 20000
    ten_mb = b"query=" + b"A" * 10_000_000
    started = time.perf_counter()
    response = httpx.post(url, content=ten_mb, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert time.perf_counter() - started < 2
    assert post(url, ASK).status_code == 200


# SSRF: nothing leaves the server unless allowed.


SERVICE_PROBES = [
    "SELECT * {{ SERVICE <{url}sparql> {{ ?s ?p ?o }} }}",
    "select * {{ service silent <{url}> {{ ?s ?p ?o }} }}",
    "PREFIX x: <{url}> SELECT * {{ SERVICE x:sparql {{ ?s ?p ?o }} }}",
    "BASE <{url}> SELECT * {{ SERVICE <sparql> {{ ?s ?p ?o }} }}",
    "SELECT * {{ ?s ?p ?o OPTIONAL {{ SELECT * {{ SERVICE <{url}> {{ ?a ?b ?c }} }} }} }}",
    "# a comment\nSELECT * {{ ?s ?p 'SERVICE' . SERVICE\n<{url}> {{ ?a ?b ?c }} }}",
    "SELECT * {{ BIND(<{url}> AS ?endpoint) SERVICE ?endpoint {{ ?s ?p ?o }} }}",
    "SELECT * {{ SERVICE <file:///etc/passwd> {{ ?s ?p ?o }} }}",
]


@pytest.mark.parametrize("probe", SERVICE_PROBES)
def test_service_is_refused_and_nothing_is_sent(url: str, listener: Listener, probe: str) -> None:
    response = post(url, probe.format(url=listener.url))
    assert response.status_code == 403, response.text
    assert "SERVICE" in response.json()["detail"]
    time.sleep(0.1)
    assert listener.received == []


@pytest.mark.parametrize(
    "probe",
    [
        "SELECT * FROM <{url}data.ttl> {{ ?s ?p ?o }}",
        "SELECT * FROM NAMED <{url}data.ttl> {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        "SELECT * FROM <file:///etc/passwd> {{ ?s ?p ?o }}",
        "SELECT * FROM NAMED <file:///etc/hostname> {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    ],
)
def test_from_never_fetches(url: str, listener: Listener, probe: str) -> None:
    response = post(url, probe.format(url=listener.url))
    assert response.status_code == 200, response.text
    assert len(parse_results(response.content, response.headers["content-type"])) == 0
    time.sleep(0.1)
    assert listener.received == []


def test_default_graph_uri_never_fetches(url: str, listener: Listener) -> None:
    response = httpx.get(url, params={"query": "SELECT * { ?s ?p ?o }", "default-graph-uri": listener.url})
    assert response.status_code == 200
    assert listener.received == []


def test_allowed_service_is_called_and_nothing_else() -> None:
    allowed, other = Listener(), Listener()
    try:
        with run_server(MINI, "--allow-service", allowed.url) as running:
            url = running.base_url + "/sparql"
            response = post(url, f"SELECT ?x {{ SERVICE <{allowed.url}sparql> {{ ?x ?y ?z }} }}")
            assert response.status_code == 200, response.text
            assert [str(row[0]) for row in parse_results(response.content, response.headers["content-type"])] == [
                "remote"
            ]
            assert len(allowed.received) == 1 and allowed.received[0].startswith(b"POST /sparql")
            prefix_trick = f"http://127.0.0.1:{allowed.port}0/"
            for target in (other.url, prefix_trick):
                assert post(url, f"SELECT * {{ SERVICE <{target}> {{ ?s ?p ?o }} }}").status_code == 403
            assert other.received == []
            description = httpx.get(url, headers={"accept": "text/turtle"}).text
            assert "sd:BasicFederatedQuery" in description
            temporary_store = f"{store.TEMPORARY_PREFIX}{running.process.pid}-*"
            assert list(store.SHARED_MEMORY.glob(temporary_store))
        assert not list(store.SHARED_MEMORY.glob(temporary_store))  # removed when the server stops
    finally:
        allowed.close()
        other.close()


# The guard and the settings, as units.


@pytest.mark.parametrize(
    ("query", "targets"),
    [
        ("SELECT * { ?s ?p ?o }", ()),
        ('SELECT * { ?s ?p "SERVICE <http://a/>" }', ()),
        ("SELECT * { ?s ?p ?o } # SERVICE <http://a/>", ()),
        ("SELECT * { ?s <http://a/SERVICE> ?service }", ()),
        ('SELECT * { ?s ?p """x"" SERVICE <http://a/> """ }', ()),
        ("SELECT * { ?s ex:a\\'b ?o . SERVICE <http://a/> {} } '", ("http://a/",)),
        ("SELECT * {FILTER(?a<?b)SERVICE<http://b/>{}}", ("http://b/",)),
        ("PREFIX : <http://c/> SELECT * { SERVICE :x {} }", ("http://c/x",)),
        ("SELECT * { SERVICE <relative> {} }", ("http://endpoint/relative",)),
        ("SELECT * { SERVICE unknown:x {} }", (None,)),
        ("SELECT * { SERVICE <http://d/\\u0041> {} }", ("http://d/A",)),
        ("\\u0053ERVICE <http://e/>", ("http://e/",)),
    ],
)
def test_guard_finds_service_targets(query: str, targets: tuple) -> None:
    assert guard.inspect(query, "http://endpoint/").services == targets


def test_guard_prefixes_match_at_boundaries() -> None:
    assert guard.allowed("https://query.wikidata.org/sparql", ["https://query.wikidata.org/sparql"])
    assert guard.allowed("https://query.wikidata.org/sparql?x=1", ["https://query.wikidata.org/sparql"])
    assert not guard.allowed("https://query.wikidata.org/sparql.evil.example/", ["https://query.wikidata.org/sparql"])
    assert not guard.allowed(None, ["http://"])
    assert guard.refusal(guard.inspect("SELECT * { SERVICE ?s {} }"), ["http://a/"])


def test_settings_come_from_flags_then_environment_then_defaults() -> None:
    environment = {"KG_QUERY_TIMEOUT": "7.5", "KG_ALLOW_SERVICE": "http://a/ 'http://b/ c'", "KG_MAX_ROWS": "9"}
    settings = from_sources(None, environment)
    assert settings.query_timeout == 7.5 and settings.max_rows == 9
    assert settings.allow_service == ("http://a/", "http://b/ c")
    assert settings.workers == ServeSettings().workers
    with pytest.raises(ValueError, match="KG_MAX_ROWS"):
        from_sources(None, {"KG_MAX_ROWS": "-1"})


def test_huge_request_line_is_refused(limited: RunningServer) -> None:
    """A GET far beyond any query limit is cut off while its head is read: 400, never buffered whole."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", limited.port), timeout=5) as connection:
        head = b"GET /sparql?query=ASK%20%7B%7D&padding=" + b"x" * 2_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        with contextlib.suppress(OSError):  # the server may close before reading it all
            connection.sendall(head)
        answer = connection.recv(1024)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    assert time.perf_counter() - started < 2
    assert post(limited.base_url + "/sparql", ASK).status_code == 200


# Loading: untrusted files fetch nothing, bad files stop the server with a clear message.


def test_loading_fetches_nothing(tmp_path: Path, listener: Listener) -> None:
    remote_context = tmp_path / "context.jsonld"
    remote_context.write_text(f'{{"@context": "{listener.url}context.jsonld", "@id": "http://x/a", "name": "b"}}')
    external_entity = tmp_path / "entity.rdf"
    external_entity.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY e SYSTEM "{listener.url}entity">]>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:x="http://x/">'
        '<rdf:Description rdf:about="http://x/a"><x:p>&e;</x:p></rdf:Description></rdf:RDF>'
    )
    for path in (remote_context, external_entity):
        with pytest.raises(store.LoadError, match=path.name):
            store.load(tmp_path / ("store-" + path.stem), [path])
    time.sleep(0.1)
    assert listener.received == []


def test_serve_refuses_a_malformed_file_with_its_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text('@prefix x: <http://x/> .\nx:a x:b "never closed .\n')
    result = subprocess.run(
        [sys.executable, "-m", "kg.cli", "serve", "--data", str(bad), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "bad.ttl" in result.stderr and "line 2" in result.stderr
    assert "Traceback" not in result.stderr


def loaded(folder: Path, files: list[Path]) -> bool:
    """Open ``folder`` as a kept store of ``files`` (as ``kg serve --store`` does); True if it loaded."""
    with store.loading_store(files, folder) as loading:
        loading.wait()
        return loading.process is not None


def test_a_kept_store_is_reused_until_its_files_change(tmp_path: Path) -> None:
    data = tmp_path / "data.trig"
    data.write_bytes(MINI.read_bytes())
    folder = tmp_path / "store"
    assert loaded(folder, [data]) is True
    assert loaded(folder, [data]) is False
    data.write_bytes(MINI.read_bytes() + b"\n<http://x/g> { <http://x/s> <http://x/p> 1 . }\n")
    assert loaded(folder, [data]) is True
    other = tmp_path / "not-a-store"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(store.LoadError, match="not touching it"):
        loaded(other, [data])
    assert (other / "precious.txt").read_text() == "keep me"
