"""Content negotiation at /sparql on a real server: every result format, q-values, format=, 406."""

from __future__ import annotations

import httpx
import pytest
from rdflib import Dataset

from results import as_text, parse_graph, parse_results, rows

SELECT = "SELECT ?s ?label { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }"
ASK = "ASK { ?s a <https://w3id.org/alignkg/ontology/Country> }"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s a <https://w3id.org/alignkg/ontology/StanceClaim> ; ?p ?o }"
DESCRIBE = "DESCRIBE <https://w3id.org/alignkg/id/claim-001-1>"

SELECT_TYPES = {
    "application/sparql-results+json": "application/sparql-results+json",
    "application/sparql-results+xml": "application/sparql-results+xml",
    "text/csv": "text/csv; charset=utf-8",
    "text/tab-separated-values": "text/tab-separated-values; charset=utf-8",
}
GRAPH_TYPES = {
    "text/turtle": "text/turtle; charset=utf-8",
    "application/n-triples": "application/n-triples",
    "application/ld+json": "application/ld+json",
    "application/rdf+xml": "application/rdf+xml",
    "application/trig": "application/trig",
    "application/n-quads": "application/n-quads",
    "text/n3": "text/n3; charset=utf-8",
}


def ask(url: str, query: str, accept: str | None = None, **params: str) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    response = httpx.get(url, params={"query": query, **params}, headers=headers)
    assert "Accept" in response.headers.get("vary", ""), response.headers
    return response


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0]


@pytest.mark.parametrize("accept", SELECT_TYPES)
def test_select_in_each_format(sparql_url: str, reference: Dataset, accept: str) -> None:
    response = ask(sparql_url, SELECT, accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == SELECT_TYPES[accept]
    got = rows(parse_results(response.content, accept))
    expected = rows(reference.query(SELECT))
    assert (as_text(got) == as_text(expected)) if accept == "text/csv" else (got == expected)


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "application/sparql-results+xml"])
def test_ask_in_each_format(sparql_url: str, reference: Dataset, accept: str) -> None:
    response = ask(sparql_url, ASK, accept)
    assert response.headers["content-type"] == SELECT_TYPES[accept]
    assert parse_results(response.content, accept).askAnswer is reference.query(ASK).askAnswer is True


@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE])
@pytest.mark.parametrize("accept", GRAPH_TYPES)
def test_graphs_in_each_format(sparql_url: str, reference: Dataset, query: str, accept: str) -> None:
    response = ask(sparql_url, query, accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == GRAPH_TYPES[accept]
    assert parse_graph(response.content, accept) == set(reference.query(query).graph)


@pytest.mark.parametrize(
    ("query", "value", "expected"),
    [
        (SELECT, "json", "application/sparql-results+json"),
        (SELECT, "xml", "application/sparql-results+xml"),
        (SELECT, "csv", "text/csv"),
        (SELECT, "tsv", "text/tab-separated-values"),
        (SELECT, "application/sparql-results+xml", "application/sparql-results+xml"),
        (ASK, "json", "application/sparql-results+json"),
        (ASK, "xml", "application/sparql-results+xml"),
        (CONSTRUCT, "turtle", "text/turtle"),
        (CONSTRUCT, "n3", "text/n3"),
        (CONSTRUCT, "nt", "application/n-triples"),
        (CONSTRUCT, "json-ld", "application/ld+json"),
        (CONSTRUCT, "json", "application/ld+json"),
        (CONSTRUCT, "rdf", "application/rdf+xml"),
        (CONSTRUCT, "xml", "application/rdf+xml"),
        (CONSTRUCT, "trig", "application/trig"),
        (DESCRIBE, "nq", "application/n-quads"),
    ],
)
def test_format_parameter_overrides_accept(sparql_url: str, query: str, value: str, expected: str) -> None:
    response = ask(sparql_url, query, "application/x-nothing", format=value)
    assert response.status_code == 200, response.text
    assert media(response) == expected


def test_format_parameter_in_a_form(sparql_url: str) -> None:
    response = httpx.post(sparql_url, data={"query": SELECT, "format": "tsv"})
    assert media(response) == "text/tab-separated-values"


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        (SELECT, None, "application/sparql-results+json"),
        (SELECT, "*/*", "application/sparql-results+json"),
        (
            SELECT,
            "application/sparql-results+xml;q=0.5, application/sparql-results+json;q=0.9",
            "application/sparql-results+json",
        ),
        (SELECT, "application/sparql-results+json;q=0.2, text/csv;q=0.8", "text/csv"),
        (SELECT, "text/tab-separated-values, */*;q=0.1", "text/tab-separated-values"),
        (SELECT, "application/sparql-results+json;q=0, */*", "application/sparql-results+xml"),
        (SELECT, "application/xml", "application/sparql-results+xml"),
        (SELECT, "application/json", "application/sparql-results+json"),
        (ASK, "text/csv;q=1, application/sparql-results+xml;q=0.1", "application/sparql-results+xml"),
        (CONSTRUCT, None, "text/turtle"),
        (CONSTRUCT, "application/json", "application/ld+json"),
        (CONSTRUCT, "application/xml", "application/rdf+xml"),
        (CONSTRUCT, "text/plain", "application/n-triples"),
        (CONSTRUCT, "application/rdf+xml;q=0.3, application/n-triples;q=0.7", "application/n-triples"),
        (DESCRIBE, "text/turtle", "text/turtle"),
        (DESCRIBE, "application/ld+json, text/turtle;q=0.5", "application/ld+json"),
    ],
)
def test_q_values_and_wildcards(sparql_url: str, query: str, accept: str | None, expected: str) -> None:
    response = ask(sparql_url, query, accept)
    assert response.status_code == 200, response.text
    assert media(response) == expected


@pytest.mark.parametrize(
    ("query", "accept", "params"),
    [
        (SELECT, "image/png", {}),
        (SELECT, "text/turtle", {}),
        (SELECT, "application/sparql-results+json;q=0", {}),
        (ASK, "text/csv", {}),
        (CONSTRUCT, "application/sparql-results+json", {}),
        (DESCRIBE, "text/csv", {}),
        (SELECT, None, {"format": "pdf"}),
        (CONSTRUCT, None, {"format": "csv"}),
    ],
)
def test_unsatisfiable_requests_get_406(sparql_url: str, query: str, accept: str | None, params: dict) -> None:
    response = ask(sparql_url, query, accept, **params)
    assert response.status_code == 406, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert "offered as" in detail and "Traceback" not in detail
