"""``kg load`` into a real ``oxigraph serve``, and ``kg serve --backend`` on it: the same product.

An ``oxigraph serve --union-default-graph`` on 127.0.0.1 with its own data folder is loaded with
``kg load`` (twice: still one copy). Through ``kg serve --backend`` the saved queries give their
expected answers (the comparison of tests/test_queries.py), and the linked-data pages, VoID and
service description are those of an embedded ``kg serve`` on the same data. One difference is
documented (docs/scaling.md) and checked: without a dataset, Oxigraph's union view repeats a
triple stated in several graphs, where the embedded store's default graph holds it once. Limits still apply
(SERVICE allow-list, row cap, timeout), the engine's errors become ours, and when the backend is
killed the front end answers 502 with a clear message, then recovers when it is back.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic
from rdflib.plugins.sparql import prepareQuery

from kg.cli import main
from kg.namespaces import AKG, BASE, GRAPH, SD, VOID
from kg.queries import SavedQuery, oxigraph_command, standins
from kg.serve import stats
from server import RunningServer, free_port, run_server
from test_linked_data import path_of
from test_queries import QUERIES, assert_expected_over_http, by_name

READY_SECONDS = 30.0
BACKEND_TIMEOUT_S = 8
"""oxigraph serve's own limit: a query we gave up on stops there too."""
DEREFERENCED = [
    BASE + "id/country/UKR",
    BASE + "id/person/alexander-lukashenko",
    BASE + "id/event/belarusian-troops-in-ukraine",
    BASE + "id/document/000",
    str(AKG.RelationClaim),
]
CAPPED_TIMEOUT = 3
"""Our time limit on the capped front end: below the backend's, well above the row-cap queries' time."""
SLOW = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


class Oxigraph:
    """An ``oxigraph serve`` process on a fixed port and data folder, which can be killed and restarted."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.base = f"http://127.0.0.1:{free_port()}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def query_url(self) -> str:
        return self.base + "/query"

    @property
    def store_url(self) -> str:
        return self.base + "/store"

    def start(self) -> None:
        command = [oxigraph_command(), "serve", "--location", str(self.folder), "--union-default-graph"]
        command += ["--bind", self.base.removeprefix("http://"), "--timeout-s", str(BACKEND_TIMEOUT_S)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if httpx.post(self.query_url, data={"query": "ASK {}"}).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"oxigraph serve did not answer within {READY_SECONDS:g} s")
            time.sleep(0.05)

    @classmethod
    @contextmanager
    def running(cls, folder: Path) -> Iterator[Oxigraph]:
        """A started server on ``folder``, killed on exit."""
        server = cls(folder)
        server.start()
        try:
            yield server
        finally:
            server.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def counts(self) -> dict[str, int]:
        """Triples per named graph on the server."""
        query = "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        rows = httpx.post(self.query_url, data={"query": query}, headers={"Accept": "application/sparql-results+json"})
        rows.raise_for_status()
        return {row["g"]["value"]: int(row["n"]["value"]) for row in rows.json()["results"]["bindings"]}


@dataclass(frozen=True)
class Loaded:
    """What a ``kg load`` run returned and printed."""

    returncode: int
    stderr: str


def kg_load(*args: str) -> Loaded:
    """``kg load ARGS`` (the command's entry point, in this process: no interpreter start per load)."""
    printed = io.StringIO()
    with redirect_stderr(printed):
        code = main(["load", *args])
    return Loaded(code, printed.getvalue())


def local_counts(dataset: Path) -> dict[str, int]:
    """Triples per named graph in the dataset file."""
    return dict(Counter(q.graph_name.value for q in ox.parse(path=str(dataset), format=ox.RdfFormat.N_QUADS)))


def default_graph_sizes(dataset: Path) -> dict[str, int]:
    """The default graph's size, by server: the embedded store's is the merge of the named graphs
    (each triple once); ``oxigraph serve --union-default-graph`` repeats a triple stated in several."""
    quads = list(ox.parse(path=str(dataset), format=ox.RdfFormat.N_QUADS))
    sizes = {"embedded": len({q.triple for q in quads}), "front": len(quads)}
    assert sizes["embedded"] < sizes["front"], "the data states no triple in two graphs: nothing is checked"
    return sizes


# Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oxigraph]:
    with Oxigraph.running(tmp_path_factory.mktemp("oxigraph-data")) as server:
        yield server


@pytest.fixture(scope="module")
def loads(backend: Oxigraph, dataset: Path) -> list[Loaded]:
    """``kg load`` run twice into the backend."""
    return [kg_load("--to", backend.store_url, "--data", str(dataset)) for _ in range(2)]


@pytest.fixture(scope="module")
def endpoints() -> Iterator[dict[str, str]]:
    with standins(QUERIES) as running:
        yield running


def _allow(endpoints: dict[str, str]) -> list[str]:
    return [arg for url in endpoints.values() for arg in ("--allow-service", url)]


@pytest.fixture(scope="module")
def front(backend: Oxigraph, loads: list[Loaded], dataset: Path, endpoints: dict[str, str]) -> Iterator[RunningServer]:
    """``kg serve --backend`` on the loaded oxigraph serve."""
    with run_server(dataset, "--backend", backend.query_url, *_allow(endpoints)) as running:
        yield running


@pytest.fixture(scope="module")
def capped(backend: Oxigraph, loads: list[Loaded], dataset: Path) -> Iterator[RunningServer]:
    """``kg serve --backend`` with a row cap of 5 and a time limit of CAPPED_TIMEOUT s."""
    limits = ("--max-rows", "5", "--query-timeout", str(CAPPED_TIMEOUT))
    with run_server(dataset, "--backend", backend.query_url, *limits) as running:
        yield running


@pytest.fixture(scope="module")
def embedded(dataset: Path, endpoints: dict[str, str]) -> Iterator[RunningServer]:
    """``kg serve`` on the same data with its embedded store: what the front end must equal."""
    with run_server(dataset, *_allow(endpoints)) as running:
        yield running


# kg load ----------------------------------------------------------------------------------


def test_loading_twice_leaves_one_copy(loads: list[Loaded], backend: Oxigraph, dataset: Path) -> None:
    first, second = loads
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    want = local_counts(dataset)
    assert backend.counts() == want
    for name, count in want.items():
        assert f"<{name}>: {count} triples loaded" in first.stderr
        assert f"<{name}>: already there ({count} triples), skipped" in second.stderr


def test_update_mode_replaces_graphs_in_chunks_and_keeps_one_copy(
    tmp_path: Path, dataset: Path, loads: list[Loaded]
) -> None:
    with Oxigraph.running(tmp_path / "data") as server:
        args = ["--to", server.base + "/update", "--update", "--query", server.query_url, "--data", str(dataset)]
        for extra in (["--chunk", "100"], ["--replace"]):
            done = kg_load(*args, *extra)
            assert done.returncode == 0, done.stderr
        assert "skipped" not in done.stderr  # --replace loads every graph again
        assert f"({len(local_counts(dataset))} loaded, 0 already there)" in done.stderr
        assert server.counts() == local_counts(dataset)


def test_load_resumes_after_a_partial_load(tmp_path: Path, dataset: Path, loads: list[Loaded]) -> None:
    """A graph missing or cut short on the server is loaded again; complete ones are skipped."""
    with Oxigraph.running(tmp_path / "data") as server:
        assert kg_load("--to", server.store_url, "--data", str(dataset)).returncode == 0
        want = local_counts(dataset)
        missing, cut = sorted(want)[:2]
        httpx.delete(server.store_url, params={"graph": missing}).raise_for_status()
        update = (
            f"DELETE {{ GRAPH <{cut}> {{ ?s ?p ?o }} }} WHERE {{ GRAPH <{cut}> {{ ?s ?p ?o }} FILTER(isLiteral(?o)) }}"
        )
        httpx.post(server.base + "/update", data={"update": update}).raise_for_status()
        again = kg_load("--to", server.store_url, "--data", str(dataset))
        assert again.returncode == 0, again.stderr
        assert f"<{missing}>: {want[missing]} triples loaded" in again.stderr
        assert f"<{cut}>: {want[cut]} triples loaded" in again.stderr
        assert again.stderr.count("skipped") == len(want) - 2
        assert server.counts() == want


def test_load_errors_say_what_to_do(tmp_path: Path, dataset: Path) -> None:
    refused = kg_load("--to", f"http://127.0.0.1:{free_port()}/store", "--data", str(dataset))
    assert refused.returncode == 1
    assert "cannot connect" in refused.stderr and "is the server running?" in refused.stderr
    assert "0 of " in refused.stderr and "run the same command again to resume" in refused.stderr
    missing = kg_load("--to", "http://127.0.0.1:1/store", "--data", str(tmp_path / "none.nq"))
    assert missing.returncode == 2 and "kg build" in missing.stderr


# kg serve --backend: the same answers --------------------------------------------------------


@pytest.mark.parametrize("saved", QUERIES, ids=by_name)
def test_saved_query_through_the_backend_is_the_expected_one(
    saved: SavedQuery, front: RunningServer, endpoints: dict[str, str]
) -> None:
    assert_expected_over_http(front, saved, endpoints)


def _same_text(response: httpx.Response, server: RunningServer) -> str:
    return response.text.replace(server.base_url, "http://SERVER")


@pytest.mark.parametrize("iri", DEREFERENCED)
@pytest.mark.parametrize("media_type", ["text/html", "text/turtle"])
def test_dereferencing_matches_the_embedded_store(
    iri: str, media_type: str, front: RunningServer, embedded: RunningServer
) -> None:
    path = path_of(iri)
    got = {}
    for server in (front, embedded):
        response = httpx.get(server.base_url + path, headers={"Accept": media_type}, timeout=30)
        assert response.status_code == 200, response.text
        got[server is front] = _same_text(response, server)
    if media_type == "text/turtle":
        assert isomorphic(
            Graph().parse(data=got[True], format="turtle"), Graph().parse(data=got[False], format="turtle")
        )
    else:
        assert got[True] == got[False]


@pytest.mark.parametrize("path", ["/.well-known/void", "/sparql", "/queries", "/graph/document/000?dump=nt"])
def test_descriptions_match_the_embedded_store(
    path: str, front: RunningServer, embedded: RunningServer, dataset: Path
) -> None:
    """Alike but for the default graph's size in the service description, which is each engine's own."""
    got = {}
    for server in (front, embedded):
        response = httpx.get(server.base_url + path, headers={"Accept": "text/turtle, application/json"}, timeout=30)
        assert response.status_code == 200, response.text
        got[server is front] = (response.headers["content-type"], _same_text(response, server))
    assert got[True][0] == got[False][0]
    if got[True][0].startswith("text/turtle"):
        graphs = {is_front: Graph().parse(data=text, format="turtle") for is_front, (_, text) in got.items()}
        if path == "/sparql":
            sizes = default_graph_sizes(dataset)
            for is_front, graph in graphs.items():
                (default_graph,) = graph.objects(None, SD.defaultGraph)
                (size,) = graph.objects(default_graph, VOID.triples)
                assert size.toPython() == sizes["front" if is_front else "embedded"]
                graph.remove((default_graph, VOID.triples, size))
        assert isomorphic(graphs[True], graphs[False])
    else:
        assert got[True][1] == got[False][1]


def test_protocol_dataset_is_passed_to_the_backend(
    front: RunningServer, embedded: RunningServer, dataset: Path
) -> None:
    graph = sorted(local_counts(dataset))[0]
    query = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    for params in ({"default-graph-uri": graph}, {"named-graph-uri": graph}):
        answers = [
            httpx.get(s.base_url + "/sparql", params={"query": query, **params}, headers={"Accept": "text/csv"}).text
            for s in (front, embedded)
        ]
        assert answers[0] == answers[1], params
    one = httpx.get(
        front.base_url + "/sparql", params={"query": query, "default-graph-uri": graph}, headers={"Accept": "text/csv"}
    )
    assert one.text.split()[1] == str(local_counts(dataset)[graph])
    sizes = default_graph_sizes(dataset)  # without a protocol dataset: each engine's default graph
    for name, server in (("front", front), ("embedded", embedded)):
        answer = httpx.get(server.base_url + "/sparql", params={"query": query}, headers={"Accept": "text/csv"})
        assert answer.text.split()[1] == str(sizes[name]), name


# Limits and errors ------------------------------------------------------------------------


ORDERED = f"SELECT ?s ?p ?o {{ GRAPH <{GRAPH}entities> {{ ?s ?p ?o }} }} ORDER BY ?s ?p ?o"


@pytest.mark.parametrize(
    "media_type",
    ["application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/tab-separated-values"],
)
def test_row_cap_applies_to_every_select_format(media_type: str, capped: RunningServer, front: RunningServer) -> None:
    """The first five rows of the full answer, in the asked format, flagged as cut."""
    answers = [
        httpx.post(s.base_url + "/sparql", data={"query": ORDERED}, headers={"Accept": media_type}, timeout=30)
        for s in (capped, front)
    ]
    cut, full = answers
    assert cut.status_code == 200, cut.text
    assert cut.headers["content-type"].startswith(media_type)
    assert (cut.headers["x-kg-row-limit"], cut.headers["x-kg-truncated"]) == ("5", "true")
    assert full.headers["x-kg-truncated"] == "false"
    if media_type == "text/csv":  # pyoxigraph reads no CSV results: compare the lines
        assert cut.text.splitlines() == full.text.splitlines()[:6]
        return
    fmt = ox.QueryResultsFormat.from_media_type(media_type)
    rows = [rows_of(ox.parse_query_results(a.content, format=fmt)) for a in answers]
    assert len(rows[1]) > 5 and rows[0] == rows[1][:5]


def rows_of(result: ox.QuerySolutions) -> list[tuple[str, ...]]:
    return [tuple(str(term) for term in row) for row in result]


def test_row_cap_applies_to_graphs(capped: RunningServer) -> None:
    response = httpx.post(
        capped.base_url + "/sparql",
        data={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
        headers={"Accept": "application/n-triples"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-kg-truncated"] == "true"
    assert len(Graph().parse(data=response.text, format="nt")) == 5


def test_under_the_cap_nothing_is_cut(capped: RunningServer) -> None:
    query = "SELECT ?n { VALUES ?n { 1 2 3 4 5 } }"
    response = httpx.post(capped.base_url + "/sparql", data={"query": query}, headers={"Accept": "text/csv"})
    assert response.headers["x-kg-truncated"] == "false"
    assert response.text.split() == ["n", "1", "2", "3", "4", "5"]


def test_timeout_is_ours_and_answers_504(capped: RunningServer) -> None:
    started = time.monotonic()
    response = httpx.post(capped.base_url + "/sparql", data={"query": SLOW}, timeout=30)
    assert response.status_code == 504, response.text
    assert f"time limit of {CAPPED_TIMEOUT} s" in response.json()["detail"]
    assert time.monotonic() - started < CAPPED_TIMEOUT + 2


def test_syntax_errors_are_400_with_their_position(front: RunningServer, embedded: RunningServer) -> None:
    bodies = [httpx.post(s.base_url + "/sparql", data={"query": "SELECT * {\n ?s ?p }"}) for s in (front, embedded)]
    assert [b.status_code for b in bodies] == [400, 400]
    assert (bodies[0].json()["line"], bodies[0].json()["column"]) == (
        bodies[1].json()["line"],
        bodies[1].json()["column"],
    )


def test_service_allow_list_still_applies(front: RunningServer) -> None:
    query = "SELECT * { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    response = httpx.post(front.base_url + "/sparql", data={"query": query})
    assert response.status_code == 403
    assert "not allowed" in response.json()["detail"]


def test_backend_down_is_502_and_the_front_end_recovers(tmp_path: Path, dataset: Path) -> None:
    server = Oxigraph(tmp_path / "data")
    server.start()
    try:
        assert kg_load("--to", server.store_url, "--data", str(dataset)).returncode == 0
        query = {"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}
        with run_server(dataset, "--backend", server.query_url) as running:
            url = running.base_url + "/sparql"
            assert httpx.post(url, data=query).status_code == 200
            server.kill()
            down = httpx.post(url, data=query, headers={"Accept": "text/plain"})
            assert down.status_code == 502, down.text
            assert f"The SPARQL backend at {server.query_url} cannot be reached" in down.text
            assert down.headers["retry-after"] == "5"
            page = httpx.get(running.base_url + "/id/country/UKR", headers={"Accept": "text/html"})
            assert page.status_code == 502
            server.start()
            back = httpx.post(url, data=query, headers={"Accept": "text/csv"})
            assert back.status_code == 200, back.text
            assert back.text.split()[1] == str(sum(local_counts(dataset).values()))
    finally:
        server.kill()


def test_statistics_queries_are_standard_sparql() -> None:
    """What VoID and the service description are built from runs on any SPARQL 1.1 engine."""
    for query in (stats.TOTALS, stats.GRAPHS, stats.TERMS, stats.SAMPLES):
        prepareQuery(query)  # rdflib's SPARQL 1.1 parser: raises on any engine extension
