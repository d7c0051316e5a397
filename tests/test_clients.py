"""Real SPARQL clients against a real server: SPARQLWrapper (GET and POST, JSON and XML) and rdflib's
SPARQLStore. Each answer is checked against rdflib's own evaluation of the same query on the same files."""

from __future__ import annotations

from collections import Counter

import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import GET, JSON, POST, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from results import rows

SELECT = """PREFIX akg: <https://w3id.org/alignkg/ontology/>
SELECT ?claim ?actor ?quote WHERE { ?claim akg:subjectActor ?actor ; akg:quote ?quote } ORDER BY ?claim"""
CONSTRUCT = "CONSTRUCT WHERE { ?s a <https://w3id.org/alignkg/ontology/Country> ; ?p ?o }"


def wrapper_rows(answer: object, fmt: str) -> Counter:
    """SPARQLWrapper's converted result (JSON dict or XML DOM) as rows of rdflib terms."""
    found: Counter = Counter()
    if fmt == JSON:
        for binding in answer["results"]["bindings"]:  # type: ignore[index]
            found[frozenset((var, _term(value)) for var, value in binding.items())] += 1
        return found
    for result in answer.getElementsByTagName("result"):  # type: ignore[attr-defined]
        row = []
        for binding in result.getElementsByTagName("binding"):
            node = next(n for n in binding.childNodes if n.nodeType == n.ELEMENT_NODE)
            text = node.firstChild.data if node.firstChild else ""
            value = {"type": "uri" if node.tagName == "uri" else "literal", "value": text}
            if node.getAttribute("xml:lang"):
                value["xml:lang"] = node.getAttribute("xml:lang")
            if node.getAttribute("datatype"):
                value["datatype"] = node.getAttribute("datatype")
            row.append((binding.getAttribute("name"), _term(value)))
        found[frozenset(row)] += 1
    return found


def _term(value: dict) -> URIRef | Literal:
    if value["type"] == "uri":
        return URIRef(value["value"])
    return Literal(value["value"], lang=value.get("xml:lang"), datatype=value.get("datatype"))


@pytest.mark.parametrize("method", [GET, POST])
@pytest.mark.parametrize("fmt", [JSON, XML])
def test_sparqlwrapper_select(sparql_url: str, reference: Dataset, method: str, fmt: str) -> None:
    client = SPARQLWrapper(sparql_url)
    client.setMethod(method)
    client.setReturnFormat(fmt)
    client.setQuery(SELECT)
    assert wrapper_rows(client.query().convert(), fmt) == rows(reference.query(SELECT))


@pytest.mark.parametrize("method", [GET, POST])
def test_sparqlwrapper_ask_and_construct(sparql_url: str, reference: Dataset, method: str) -> None:
    client = SPARQLWrapper(sparql_url)
    client.setMethod(method)
    client.setReturnFormat(JSON)
    client.setQuery("ASK { ?s a <https://w3id.org/alignkg/ontology/Resolution> }")
    assert client.query().convert()["boolean"] is True
    client.setReturnFormat(TURTLE)
    client.setQuery(CONSTRUCT)
    graph = Graph().parse(data=client.query().convert(), format="turtle")
    assert set(graph) == set(reference.query(CONSTRUCT).graph)


def test_sparqlwrapper_sees_a_bad_query_as_such(sparql_url: str) -> None:
    client = SPARQLWrapper(sparql_url)
    client.setQuery("SELECT * WHERE { ?s ?p }")
    with pytest.raises(QueryBadFormed):
        client.query()


def test_rdflib_sparqlstore(sparql_url: str, reference: Dataset) -> None:
    graph = Graph(store=SPARQLStore(sparql_url, returnFormat="xml"))
    assert rows(graph.query(SELECT)) == rows(reference.query(SELECT))
    assert graph.query("ASK { ?s ?p ?o }").askAnswer is True
    assert set(graph.query(CONSTRUCT).graph) == set(reference.query(CONSTRUCT).graph)


def test_rdflib_sparqlstore_in_json_with_post(sparql_url: str, reference: Dataset) -> None:
    store = SPARQLStore(sparql_url, returnFormat="json", method="POST")
    assert rows(Graph(store=store).query(SELECT)) == rows(reference.query(SELECT))
