"""The saved queries (``queries/*.rq``) on the built graph, in-process and through a real server.

Every query parses (rdflib and Oxigraph) with the project's prefixes only; run on the built
dataset, it gives exactly its expected answer beside it (rows as a multiset, in order when the
query has ORDER BY; graphs up to isomorphism), both with pyoxigraph in this process and over
HTTP from ``kg serve``. The federated query's SERVICE goes to a local ``oxigraph serve``
stand-in of Wikidata. The queries are published in ``graph/queries`` and listed and run at
``/queries``.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, RDFS
from rdflib.plugins.sparql import prepareQuery
from rdflib.query import Result

from kg.cli import main
from kg.encode.errors import SourceError
from kg.namespaces import PREFIXES, SCHEMA, SH
from kg.queries import (
    ENDPOINT,
    QUERIES_GRAPH,
    SavedQuery,
    answer,
    load_queries,
    queries_graph,
    read_query,
    saved_queries_as_examples,
    standins,
    store_from,
)
from kg.serve.ui import assets_installed, install_hint
from server import RunningServer, run_server

QUERIES = load_queries()
BY_NAME = {q.name: q for q in QUERIES}
JSON_RESULTS = "application/sparql-results+json"
TURTLE = "text/turtle"
PREFIX_DECLARATION = re.compile(r"^\s*PREFIX\s+([^\s:]*):\s*<([^>]*)>", re.IGNORECASE | re.MULTILINE)
EXECUTABLES = {"SELECT": (SH.SPARQLSelectExecutable, SH.select), "ASK": (SH.SPARQLAskExecutable, SH.ask)}
EXECUTABLES["CONSTRUCT"] = (SH.SPARQLConstructExecutable, SH.construct)
VOTE_OPTIONS = {"in favour", "against", "abstention", "absent"}


def by_name(saved: SavedQuery) -> str:
    return saved.name


@pytest.fixture(scope="module")
def store(dataset: Path) -> ox.Store:
    return store_from(dataset)


@pytest.fixture(scope="module")
def endpoints() -> Iterator[dict[str, str]]:
    """SERVICE endpoint -> URL of its local stand-in (``oxigraph serve`` on 127.0.0.1)."""
    with standins(QUERIES) as running:
        yield running


@pytest.fixture(scope="module")
def kg_server(dataset: Path, endpoints: dict[str, str]) -> Iterator[RunningServer]:
    """``kg serve`` on the built dataset, allowed to call the stand-ins (and nothing else)."""
    allow = [arg for url in endpoints.values() for arg in ("--allow-service", url)]
    with run_server(dataset, *allow) as running:
        yield running


# Comparing answers -----------------------------------------------------------------------


def solutions(body: str | bytes, ordered: bool) -> tuple[list[str], object]:
    """SPARQL JSON results as (variables, rows): a list if ordered, else a multiset; ASK: its boolean."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    result = Result.parse(io.BytesIO(data), format="json")
    if result.type == "ASK":
        return [], result.askAnswer
    rows = [frozenset((str(v), value) for v, value in row.items() if value is not None) for row in result.bindings]
    return [str(v) for v in result.vars], rows if ordered else Counter(rows)


def assert_same_answer(saved: SavedQuery, got: str | bytes) -> None:
    """``got`` is the query's expected answer: same rows (in order if ORDER BY), or an isomorphic graph."""
    expected = saved.expected_path.read_text("utf-8")
    if saved.form == "CONSTRUCT":
        want, have = Graph().parse(data=expected, format="turtle"), Graph().parse(data=got, format="turtle")
        assert len(want) > 0, f"{saved.expected_path.name} is empty"
        assert isomorphic(have, want), f"{saved.name}: the graph differs from {saved.expected_path.name}"
        return
    want_vars, want_rows = solutions(expected, saved.ordered)
    have_vars, have_rows = solutions(got, saved.ordered)
    assert have_vars == want_vars
    assert want_rows, f"{saved.expected_path.name} has no rows (or is false): nothing is checked"
    assert have_rows == want_rows


def accept(saved: SavedQuery) -> str:
    return TURTLE if saved.form == "CONSTRUCT" else JSON_RESULTS


# The files --------------------------------------------------------------------------------


@pytest.mark.parametrize("saved", QUERIES, ids=by_name)
def test_query_parses_with_rdflib_and_oxigraph(saved: SavedQuery) -> None:
    prepareQuery(saved.query)
    ox.Store().query(saved.query)  # raises SyntaxError; a SELECT or CONSTRUCT is not evaluated until read


@pytest.mark.parametrize("saved", QUERIES, ids=by_name)
def test_query_declares_only_the_projects_prefixes(saved: SavedQuery) -> None:
    declared = PREFIX_DECLARATION.findall(saved.query)
    assert declared, "the query declares no prefixes"
    for prefix, iri in declared:
        assert PREFIXES.get(prefix) == iri, f"PREFIX {prefix}: <{iri}> is not kg.namespaces.PREFIXES[{prefix!r}]"


@pytest.mark.parametrize("saved", QUERIES, ids=by_name)
def test_query_has_a_header_and_teaching_comments(saved: SavedQuery) -> None:
    assert saved.title and saved.description and saved.tags
    comments = [line for line in saved.query.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 3, "explain the query: which classes and properties, and why"


def test_header_values_continue_over_lines_and_tags_split(tmp_path: Path) -> None:
    path = tmp_path / "example.rq"
    path.write_text("#+ title: A title\n#+ description: Starts here\n#+   and goes on.\n#+ tags: a, b c ,d\n"
                    "\nASK {}\n")  # fmt: skip
    saved = read_query(path)
    assert (saved.name, saved.title, saved.description) == ("example", "A title", "Starts here and goes on.")
    assert (saved.tags, saved.form, saved.query) == (("a", "b c", "d"), "ASK", "ASK {}\n")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("#+ description: no title\nASK {}\n", 1, "title"),
        ("#+ title: t\n#+ description: d\n#+ author: me\nASK {}\n", 3, "unknown header key"),
        ("#+ title: t\n#+ description: d\nSELECT ?x WHERE {\n  ?x ?y\n}\n", 4, "SPARQL syntax error"),
        ("#+ title: t\n#+ description: d\nDESCRIBE <x:y>\n", None, "SELECT, ASK or CONSTRUCT"),
        ("#+ title: t\n#+ description: d\n#+ order: first\nASK {}\n", 3, "order must be an integer"),
    ],
)
def test_malformed_query_file_is_reported_with_its_place(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    path = tmp_path / "broken.rq"
    path.write_text(text)
    with pytest.raises(SourceError) as raised:
        read_query(path)
    assert raised.value.path == path and message in raised.value.message
    if line is not None:
        assert raised.value.line == line


def test_saved_queries_come_in_their_order_with_the_headline_question_first() -> None:
    """Every shipped query places itself (``#+ order:``, no two alike); the CSTO vote comes first."""
    orders = [q.order for q in QUERIES]
    assert None not in orders, "give every query in queries/ a '#+ order:' header"
    assert len(set(orders)) == len(orders), "two queries share an order"
    assert orders == sorted(orders)  # type: ignore[type-var]
    assert QUERIES[0].name == "csto-votes"


def test_order_header_sorts_and_queries_without_one_come_last_by_name(tmp_path: Path) -> None:
    for name, order in [("b", "2"), ("d", None), ("c", "1"), ("a", None), ("e", "-5")]:
        header = f"#+ title: {name}\n#+ description: {name}\n" + (f"#+ order: {order}\n" if order else "")
        (tmp_path / f"{name}.rq").write_text(header + "ASK {}\n")
    assert [(q.name, q.order) for q in load_queries(tmp_path)] == [
        ("e", -5), ("c", 1), ("b", 2), ("a", None), ("d", None)
    ]  # fmt: skip


def test_kg_queries_list_prints_the_queries_in_their_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queries", "list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [q.name for q in QUERIES]


def test_vote_tally_shows_each_option_counted_beside_its_stated_tally() -> None:
    """The issue names this query and its variables: ?option (the four labels) and ?count."""
    saved = BY_NAME["vote-tally"]
    variables, rows = solutions(saved.expected_path.read_text("utf-8"), ordered=True)
    assert variables[:2] == ["option", "count"] and "stated" in variables
    values = [dict(row) for row in rows]  # type: ignore[union-attr]
    assert {str(row["option"]) for row in values} == VOTE_OPTIONS
    stated = [row for row in values if "stated" in row]
    assert stated, "no stated tally beside the counts"
    assert all(row["count"] == row["stated"] for row in stated)


# Expected answers -------------------------------------------------------------------------


@pytest.mark.parametrize("saved", QUERIES, ids=by_name)
def test_expected_file_is_what_kg_queries_expected_writes(
    saved: SavedQuery, store: ox.Store, endpoints: dict[str, str]
) -> None:
    """The committed answer is the command's output on the built graph (regenerate, then review)."""
    assert saved.expected_path.is_file(), f"run `kg queries expected {saved.name}` and review the result"
    assert answer(store, saved, endpoints) == saved.expected_path.read_text("utf-8"), (
        f"{saved.expected_path.name} is stale: run `kg queries expected {saved.name}` and review the diff"
    )


@pytest.mark.parametrize("saved", QUERIES, ids=by_name)
def test_in_process_answer_is_the_expected_one(saved: SavedQuery, store: ox.Store, endpoints: dict[str, str]) -> None:
    result = store.query(saved.with_services(endpoints))
    if isinstance(result, ox.QueryTriples):
        got = result.serialize(format=ox.RdfFormat.TURTLE)
    else:
        got = result.serialize(format=ox.QueryResultsFormat.JSON)
    assert_same_answer(saved, got)


@pytest.mark.parametrize("saved", QUERIES, ids=by_name)
def test_answer_over_http_is_the_expected_one(
    saved: SavedQuery, kg_server: RunningServer, endpoints: dict[str, str]
) -> None:
    assert_expected_over_http(kg_server, saved, endpoints)


def assert_expected_over_http(server: RunningServer, saved: SavedQuery, endpoints: dict[str, str]) -> None:
    """POST ``saved`` to ``server``'s /sparql and check the answer is its expected one."""
    response = httpx.post(
        server.base_url + "/sparql",
        data={"query": saved.with_services(endpoints)},
        headers={"Accept": accept(saved)},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert_same_answer(saved, response.content)


def test_federated_answer_comes_from_the_standin(store: ox.Store, endpoints: dict[str, str]) -> None:
    """Our graph holds no capitals (Wikidata's P36): every capital in the answer came through SERVICE."""
    saved = BY_NAME["wikidata-capitals"]
    assert not store.query("ASK { GRAPH ?g { ?s <http://www.wikidata.org/prop/direct/P36> ?o } }")
    rows = json.loads(answer(store, saved, endpoints))["results"]["bindings"]
    assert rows and all("capital" in row and "capitalName" in row for row in rows)


# Queries as data --------------------------------------------------------------------------


def test_queries_graph_describes_every_saved_query() -> None:
    graph = queries_graph(QUERIES)
    for saved in QUERIES:
        kind, text = EXECUTABLES[saved.form]
        assert (saved.iri, RDF.type, kind) in graph
        assert graph.value(saved.iri, text) == Literal(saved.query)
        assert graph.value(saved.iri, RDFS.label) == Literal(saved.title, lang="en")
        assert graph.value(saved.iri, RDFS.comment) == Literal(saved.description, lang="en")
        assert set(graph.objects(saved.iri, SCHEMA.keywords)) == {Literal(t) for t in saved.tags}
        assert graph.value(saved.iri, SCHEMA.target) == ENDPOINT
    assert set(graph.subjects(SCHEMA.target, ENDPOINT)) == {q.iri for q in QUERIES}


def test_built_dataset_holds_the_queries_graph(store: ox.Store) -> None:
    quads = store.quads_for_pattern(None, None, None, ox.NamedNode(str(QUERIES_GRAPH)))
    triples = ox.serialize([quad.triple for quad in quads], format=ox.RdfFormat.N_TRIPLES)
    assert isomorphic(Graph().parse(data=triples, format="nt"), queries_graph(QUERIES))


def test_published_query_text_gives_the_same_answer(store: ox.Store, endpoints: dict[str, str]) -> None:
    """A researcher can take a query's text from the graph and run it."""
    saved = BY_NAME["vote-tally"]
    rows = store.query(f"SELECT ?text WHERE {{ GRAPH <{QUERIES_GRAPH}> {{ <{saved.iri}> <{SH.select}> ?text }} }}")
    (text,) = [row["text"].value for row in rows]
    result = store.query(text)
    assert_same_answer(saved, result.serialize(format=ox.QueryResultsFormat.JSON))


def test_examples_for_the_query_page_are_the_saved_queries() -> None:
    examples = saved_queries_as_examples()
    assert [e["name"] for e in examples] == [q.name for q in QUERIES]
    assert all(
        e == {"name": q.name, "title": q.title, "query": q.query} for e, q in zip(examples, QUERIES, strict=True)
    )


def test_query_page_has_a_tab_per_saved_query_in_their_order(kg_server: RunningServer) -> None:
    """The YASGUI page's configuration lists the saved queries in order, so the headline is the first tab."""
    if not assets_installed():
        pytest.fail(install_hint())
    response = httpx.get(kg_server.base_url + "/sparql", headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    config = re.search(r'<script id="kg-config" type="application/json">(.*?)</script>', response.text, re.DOTALL)
    assert config is not None, "the page holds no YASGUI configuration"
    tabs = json.loads(config.group(1))["examples"]
    assert [(tab["name"], tab["title"]) for tab in tabs] == [(q.name, q.title) for q in QUERIES]
    assert tabs[0]["name"] == "csto-votes"


# /queries ---------------------------------------------------------------------------------


def test_get_queries_lists_every_saved_query(kg_server: RunningServer) -> None:
    response = httpx.get(kg_server.base_url + "/queries")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert [item["name"] for item in response.json()] == [q.name for q in QUERIES], "not in the queries' order"
    listed = {item["name"]: item for item in response.json()}
    for name, saved in BY_NAME.items():
        item = listed[name]
        assert (item["title"], item["description"], item["query"]) == (saved.title, saved.description, saved.query)
        assert item["tags"] == list(saved.tags)


@pytest.mark.parametrize("name", ["vote-tally", "alignment-network", "vote-tally-matches"])
def test_get_query_by_name_runs_it_through_sparql(name: str, kg_server: RunningServer) -> None:
    saved = BY_NAME[name]
    response = httpx.get(
        kg_server.base_url + f"/queries/{name}", headers={"Accept": accept(saved)}, follow_redirects=True
    )
    assert response.status_code == 200, response.text
    assert response.url.path == "/sparql"
    assert response.headers["content-type"].startswith(accept(saved))
    assert_same_answer(saved, response.content)


def test_get_query_by_name_negotiates_and_passes_format_on(kg_server: RunningServer) -> None:
    url = kg_server.base_url + "/queries/csto-votes"
    csv = httpx.get(url, headers={"Accept": "text/csv"}, follow_redirects=True)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    expected = json.loads(BY_NAME["csto-votes"].expected_path.read_text("utf-8"))
    assert len(csv.text.strip().splitlines()) == 1 + len(expected["results"]["bindings"])
    tsv = httpx.get(url, params={"format": "tsv"}, follow_redirects=True)
    assert tsv.status_code == 200 and tsv.headers["content-type"].startswith("text/tab-separated-values")


def test_get_unknown_query_is_404(kg_server: RunningServer) -> None:
    response = httpx.get(kg_server.base_url + "/queries/no-such-query")
    assert response.status_code == 404
    assert "no-such-query" in response.json()["detail"]


def test_saved_query_iris_are_under_id_query() -> None:
    assert all(q.iri == URIRef(f"https://w3id.org/alignkg/id/query/{q.name}") for q in QUERIES)
