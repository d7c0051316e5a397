"""JSON-LD output is compacted with our context (the one served at /ontology/context.jsonld).

On a real ``kg serve`` (embedded store, and ``--backend`` on a real ``oxigraph serve``): a term
page, a document page, a claim page and a CONSTRUCT over /sparql asked for as JSON-LD carry
``"@context": <this server>/ontology/context.jsonld``, use the context's terms (``type``, ``label``,
``subjectActor``, ...) wherever the context has one, and expand (PyLD, with a document loader that
serves the context fetched from the server and nothing else) to exactly the graph of the Turtle or
N-Triples representation of the same resource or query. The compactor itself keeps named graphs
and every literal's lexical form, and fetches no context.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyoxigraph as ox
import pytest
from pyld import jsonld
from rdflib import Dataset, Graph
from rdflib.compare import isomorphic

from kg.namespaces import AKG, BASE, GRAPH, sparql_prologue
from kg.serve.jsonld import Compactor, RemoteContextRefused, context_of
from server import RunningServer, run_server
from test_remote import Oxigraph, kg_load

CONTEXT_PATH = "/ontology/context.jsonld"
CLAIM_QUERY = f"{sparql_prologue()}SELECT ?c WHERE {{ GRAPH ?g {{ ?c a akg:StanceClaim }} }} ORDER BY ?c LIMIT 1"
CONSTRUCT = f"""{sparql_prologue()}CONSTRUCT {{ ?c ?p ?o }} WHERE {{
  GRAPH ?g {{ ?c a akg:StanceClaim ; ?p ?o }} }}"""
XSD = "http://www.w3.org/2001/XMLSchema#"


# Fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(dataset: Path) -> Iterator[RunningServer]:
    with run_server(dataset) as running:
        yield running


@pytest.fixture(scope="module")
def front(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``kg serve --backend`` on a real ``oxigraph serve`` loaded with the same data."""
    with Oxigraph.running(tmp_path_factory.mktemp("oxigraph-data")) as backend:
        assert kg_load("--to", backend.store_url, "--data", str(dataset)).returncode == 0
        with run_server(dataset, "--backend", backend.query_url) as running:
            yield running


@pytest.fixture(scope="module", params=["embedded", "front"])
def served(request: pytest.FixtureRequest) -> RunningServer:
    return request.getfixturevalue(request.param)


# Helpers ----------------------------------------------------------------------------------


def context_document(server: RunningServer) -> dict[str, Any]:
    response = httpx.get(server.base_url + CONTEXT_PATH)
    assert response.status_code == 200
    return response.json()


def expand(document: Any, url: str, context: dict[str, Any]) -> str:
    """The N-Quads of ``document``, expanded with ``context`` standing for ``url`` (nothing fetched)."""

    def loader(asked: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        assert asked == url, f"the document names a context other than ours: {asked}"
        return {"contextUrl": None, "documentUrl": url, "document": context}

    return jsonld.to_rdf(document, {"format": "application/n-quads", "documentLoader": loader})


def nodes(document: Any) -> Iterator[dict[str, Any]]:
    """Every node object of a JSON-LD document (top level, in ``@graph``, nested as values)."""
    if isinstance(document, list):
        for item in document:
            yield from nodes(item)
    elif isinstance(document, dict):
        if "@value" not in document:
            yield document
        for key, value in document.items():
            if key != "@context":
                yield from nodes(value)


def term_iris(context: dict[str, Any]) -> dict[str, str]:
    """Each term of the context (not the prefixes) and the absolute IRI it stands for.

    Terms that coerce their values (``"@language"``, a datatype) are left out: a value that does not
    fit (a label in German) is rightly written with the property's compact IRI instead."""
    defs = context["@context"]
    prefixes = {k: v for k, v in defs.items() if isinstance(v, str) and v.endswith(("/", "#"))}

    def absolute(value: str) -> str:
        prefix, colon, local = value.partition(":")
        return prefixes[prefix] + local if colon and prefix in prefixes else value

    found = {}
    for term, value in defs.items():
        if isinstance(value, dict) and ("@language" in value or value.get("@type", "@id") != "@id"):
            continue
        iri = value.get("@id") if isinstance(value, dict) else value
        if not term.startswith("@") and term not in prefixes and isinstance(iri, str) and not iri.startswith("@"):
            found[term] = absolute(iri)
    return found


def assert_compacted(response: httpx.Response, server: RunningServer, compare_with: httpx.Response) -> set[str]:
    """The response links our context, uses its terms, and is the graph of ``compare_with``; the keys used."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ld+json"
    document = response.json()
    url = server.base_url + CONTEXT_PATH
    assert document["@context"] == url
    context = context_document(server)
    terms = term_iris(context)
    by_iri = {iri: term for term, iri in terms.items()}
    prefixes = {k: v for k, v in context["@context"].items() if isinstance(v, str) and v.endswith(("/", "#"))}
    used: set[str] = set()
    for node in nodes(document):
        types = node.get("type", [])
        for name in [*node, *(types if isinstance(types, list) else [types])]:
            if name.startswith("@"):
                continue
            prefix, colon, local = name.partition(":")
            iri = prefixes[prefix] + local if colon and prefix in prefixes else name
            assert by_iri.get(iri, name) == name, f"{name} is written in full although the context names it"
            assert not any(name.startswith(ns) for ns in prefixes.values()), f"{name}: the context has its prefix"
            used.add(name)
    assert compare_with.status_code == 200, compare_with.text
    media_type = compare_with.headers["content-type"].split(";")[0]
    expected = Graph().parse(data=compare_with.text, format={"text/turtle": "turtle"}.get(media_type, "nt"))
    got = Graph().parse(data=expand(document, url, context), format="nt")
    assert len(got) == len(expected) > 0
    assert isomorphic(got, expected)
    return used


def first_claim(server: RunningServer) -> str:
    response = httpx.get(server.base_url + "/sparql", params={"query": CLAIM_QUERY})
    return response.json()["results"]["bindings"][0]["c"]["value"]


def page(server: RunningServer, iri: str, accept: str) -> httpx.Response:
    return httpx.get(server.base_url + "/" + iri[len(BASE) :], headers={"Accept": accept}, timeout=60)


# The server -------------------------------------------------------------------------------


def test_term_page_is_compacted(served: RunningServer) -> None:
    iri = str(AKG.StanceClaim)
    used = assert_compacted(
        page(served, iri, "application/ld+json"),
        served,
        page(served, iri, "text/turtle"),
    )
    assert {"type", "label"} <= used


def test_document_page_is_compacted(served: RunningServer) -> None:
    iri = BASE + "id/document/000"
    used = assert_compacted(page(served, iri, "application/ld+json"), served, page(served, iri, "text/turtle"))
    assert {"type", "label", "Document"} <= used


def test_claim_page_is_compacted(served: RunningServer) -> None:
    iri = first_claim(served)
    used = assert_compacted(page(served, iri, "application/ld+json"), served, page(served, iri, "text/turtle"))
    assert {"type", "StanceClaim", "subjectActor", "statedIn"} <= used


def test_construct_is_compacted(served: RunningServer) -> None:
    def run(accept: str) -> httpx.Response:
        return httpx.get(served.base_url + "/sparql", params={"query": CONSTRUCT}, headers={"Accept": accept})

    used = assert_compacted(run("application/ld+json"), served, run("application/n-triples"))
    assert {"type", "StanceClaim", "subjectActor", "statedIn", "epistemicStatus"} <= used


@pytest.mark.parametrize("path", ["/sparql", "/.well-known/void"])
def test_endpoint_descriptions_are_compacted(served: RunningServer, path: str) -> None:
    def get(accept: str) -> httpx.Response:
        return httpx.get(served.base_url + path, headers={"Accept": accept})

    used = assert_compacted(get("application/ld+json"), served, get("text/turtle"))
    assert "type" in used


def test_named_graph_dump_is_compacted(embedded: RunningServer) -> None:
    url = embedded.base_url + "/graph/entities?dump="
    assert_compacted(httpx.get(url + "jsonld", timeout=60), embedded, httpx.get(url + "nt", timeout=60))


# The compactor ----------------------------------------------------------------------------


def _compactor() -> Compactor:
    ontology = Graph().parse(Path(__file__).parents[1] / "ontology" / "alignkg.ttl")
    triples = ox.parse(ontology.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    return Compactor("http://127.0.0.1:1/ontology/context.jsonld", context_of(triples))  # type: ignore[arg-type]


def test_compactor_keeps_named_graphs_and_lexical_forms() -> None:
    compactor = _compactor()
    data = f"""
    <{BASE}id/a> a <{AKG.Country}> ; <{AKG.isoNumeric}> "007" ;
        <http://www.w3.org/2000/01/rdf-schema#label> "A"@en, "Ä"@de, "plain"^^<{XSD}string> .
    GRAPH <{GRAPH["document/x"]}> {{
      <{BASE}id/a> <{AKG["count"]}> "007"^^<{XSD}integer>, "x"^^<{XSD}integer> ;
          <http://example.org/flag> "1"^^<{XSD}boolean> ; <http://example.org/d> "1.5"^^<{XSD}double> ;
          <http://example.org/b> [ a <{AKG.Claim}> ; <http://example.org/v> "2"^^<{XSD}decimal> ] .
    }}
    GRAPH <{GRAPH["document/y"]}> {{ <{BASE}id/b> a <{AKG.Claim}> . }}
    """
    quads = list(ox.parse(data.encode(), format=ox.RdfFormat.TRIG))
    document = json.loads(compactor.serialize(quads))
    assert document["@context"] == compactor.url
    named = {node["@id"]: node for node in document["@graph"] if "@graph" in node}
    assert set(named) == {"graph:document/x", "graph:document/y"}
    assert named["graph:document/y"]["@graph"] == [{"@id": "id:b", "type": "Claim"}]
    got = Dataset().parse(data=expand(document, compactor.url, {"@context": compactor.context}), format="nquads")
    expected = Dataset().parse(data=ox.serialize(quads, format=ox.RdfFormat.N_QUADS), format="nquads")
    assert {str(g.identifier) for g in got.graphs() if len(g)} == {
        str(g.identifier) for g in expected.graphs() if len(g)
    }
    for graph in expected.graphs():
        assert isomorphic(got.graph(graph.identifier), graph), graph.identifier


def test_compactor_fetches_no_other_context() -> None:
    compactor = _compactor()
    with pytest.raises(jsonld.JsonLdError) as raised:
        compactor.compact({"@context": "http://127.0.0.1:1/other.jsonld", "@id": "http://x/a", "name": "b"})
    causes = []
    error: BaseException | None = raised.value
    while error is not None:
        causes.append(error)
        error = getattr(error, "cause", None) or error.__cause__
    assert any(isinstance(c, RemoteContextRefused) for c in causes), causes
