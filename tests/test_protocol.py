"""The SPARQL 1.1 Protocol at /sparql on a real server: methods, dataset parameters, every error status,
the service description, VoID and the OpenAPI schema."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote_to_bytes

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from kg.namespaces import GRAPH, SD, VOID
from kg.serve.protocol import percent_decode
from results import parse_results, rows
from server import RunningServer

TYPES = "SELECT ?s ?c { ?s a ?c }"
COUNT = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
GRAPHS_SEEN = "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }"
JSON = "application/sparql-results+json"
FORM = "application/x-www-form-urlencoded"


def answer(response: httpx.Response):
    assert response.status_code == 200, response.text
    return parse_results(response.content, response.headers["content-type"])


def count(response: httpx.Response) -> int:
    return int(next(iter(answer(response)))[0])


def graphs_in(response: httpx.Response) -> set[str]:
    return {str(row[0]) for row in answer(response)}


def assert_error(response: httpx.Response, status: int, *words: str) -> dict:
    """A JSON error with this status, saying these words, and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["detail"]
    for word in words:
        assert word.lower() in body["detail"].lower(), body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


# Query operations: GET, POST form, POST direct.


def test_get_answers_as_rdflib_does(sparql_url: str, reference: Dataset) -> None:
    response = httpx.get(sparql_url, params={"query": TYPES})
    assert response.headers["content-type"] == JSON
    assert rows(answer(response)) == rows(reference.query(TYPES))


def test_post_form_answers_as_get(sparql_url: str, reference: Dataset) -> None:
    response = httpx.post(sparql_url, data={"query": TYPES})
    assert rows(answer(response)) == rows(reference.query(TYPES))


def test_post_direct_answers_as_get(sparql_url: str, reference: Dataset) -> None:
    response = httpx.post(sparql_url, content=TYPES, headers={"content-type": "application/sparql-query"})
    assert rows(answer(response)) == rows(reference.query(TYPES))


def test_trailing_slash_is_the_same_endpoint(sparql_url: str, reference: Dataset) -> None:
    assert count(httpx.get(sparql_url + "/", params={"query": COUNT})) == len(reference)


@pytest.mark.parametrize("text", ["a+b", "100%", "x&y=z", "é ü 中", "%2B"])
def test_form_is_decoded_exactly_once(sparql_url: str, text: str) -> None:
    query = f'SELECT ?x {{ BIND("{text}" AS ?x) }}'
    for response in (httpx.post(sparql_url, data={"query": query}), httpx.get(sparql_url, params={"query": query})):
        assert str(next(iter(answer(response)))[0]) == text


ESCAPES = [b"%41", b"%5C", b"%5c%78%34%31", b"%C3%A9", b"%", b"%4", b"%g1", b"+", b"a", b"x41", b"\\", b"\\a", b"\\x41"]


@example(b"%41\\a")
@example(b"\\x41%zz")
@example(b"%5Cx41")
@given(st.lists(st.sampled_from(ESCAPES)).map(b"".join))
def test_percent_decoding_is_the_standard_librarys(raw: bytes) -> None:
    """The fast decoder gives what urllib.parse does, on escapes, stray % and backslashes alike."""
    assert percent_decode(raw) == unquote_to_bytes(raw)


def test_relative_iris_resolve_against_the_endpoint(sparql_url: str) -> None:
    response = httpx.post(
        sparql_url, data={"query": "CONSTRUCT { <s> <p> 1 } WHERE {}"}, headers={"accept": "text/turtle"}
    )
    assert response.status_code == 200
    graph = Graph().parse(data=response.text, format="turtle")
    assert set(graph.subjects()) == {URIRef(sparql_url.rsplit("/", 1)[0] + "/s")}


# The dataset: union by default, FROM, and the protocol's parameters (which override FROM).


def test_default_graph_is_the_union_of_named_graphs(sparql_url: str, reference: Dataset) -> None:
    assert count(httpx.get(sparql_url, params={"query": COUNT})) == len(reference)


def test_default_graph_uri_selects_graphs(sparql_url: str, reference: Dataset) -> None:
    chosen = [str(GRAPH["doc-000"]), str(GRAPH["doc-001"])]
    response = httpx.get(sparql_url, params={"query": COUNT, "default-graph-uri": chosen})
    assert count(response) == sum(len(reference.graph(URIRef(g))) for g in chosen)
    # ... and then no named graphs unless named-graph-uri says so
    assert graphs_in(httpx.get(sparql_url, params={"query": GRAPHS_SEEN, "default-graph-uri": chosen})) == set()


def test_named_graph_uri_selects_named_graphs(sparql_url: str) -> None:
    chosen = {str(GRAPH["doc-000"]), str(GRAPH["entities"])}
    response = httpx.post(sparql_url, params={"named-graph-uri": sorted(chosen)}, data={"query": GRAPHS_SEEN})
    assert graphs_in(response) == chosen
    # ... with an empty default graph
    assert count(httpx.get(sparql_url, params={"query": COUNT, "named-graph-uri": sorted(chosen)})) == 0


def test_dataset_parameters_in_a_form_body(sparql_url: str, reference: Dataset) -> None:
    graph = str(GRAPH["entities"])
    response = httpx.post(sparql_url, data={"query": COUNT, "default-graph-uri": graph})
    assert count(response) == len(reference.graph(URIRef(graph)))


def test_from_selects_graphs_without_union(sparql_url: str, reference: Dataset) -> None:
    graph = GRAPH["doc-001"]
    query = f"SELECT (COUNT(*) AS ?n) FROM <{graph}> {{ ?s ?p ?o }}"
    assert count(httpx.get(sparql_url, params={"query": query})) == len(reference.graph(graph))
    named = f"SELECT DISTINCT ?g FROM NAMED <{graph}> {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    assert graphs_in(httpx.get(sparql_url, params={"query": named})) == {str(graph)}


def test_protocol_dataset_overrides_from(sparql_url: str, reference: Dataset) -> None:
    query = f"SELECT (COUNT(*) AS ?n) FROM <{GRAPH['doc-001']}> {{ ?s ?p ?o }}"
    response = httpx.get(sparql_url, params={"query": query, "default-graph-uri": str(GRAPH["entities"])})
    assert count(response) == len(reference.graph(GRAPH["entities"]))


# Client mistakes: 4xx with a clear body, never a 500.


def test_several_queries_are_refused(sparql_url: str) -> None:
    response = httpx.get(sparql_url + "?query=ASK%20%7B%7D&query=ASK%20%7B%7D")
    assert_error(response, 400, "2 queries")
    assert_error(httpx.post(sparql_url + "?query=ASK%20%7B%7D", data={"query": "ASK {}"}), 400)


def test_wrong_media_type_is_415(sparql_url: str) -> None:
    response = httpx.post(sparql_url, content="ASK {}", headers={"content-type": "text/plain"})
    assert_error(response, 415, "text/plain", FORM, "application/sparql-query")


def test_missing_media_type_is_400(sparql_url: str) -> None:
    for body in ("ASK {}", "query=ASK%20%7B%7D"):
        assert_error(httpx.post(sparql_url, content=body), 400, "Content-Type")


def test_non_utf8_is_400(sparql_url: str) -> None:
    utf16 = {"content-type": "application/sparql-query; charset=UTF-16"}
    assert_error(httpx.post(sparql_url, content="ASK {}".encode("utf-16"), headers=utf16), 400, "UTF-8")
    latin1 = 'SELECT ("caf\xe9" AS ?x) {}'.encode("latin-1")
    direct = {"content-type": "application/sparql-query"}
    assert_error(httpx.post(sparql_url, content=latin1, headers=direct), 400, "UTF-8")
    assert_error(
        httpx.post(sparql_url, content=b"query=" + quote(latin1).encode(), headers={"content-type": FORM}), 400
    )
    assert_error(httpx.get(sparql_url + "?query=ASK%20%7B%7D%FF"), 400, "UTF-8")


def test_syntax_error_says_where(sparql_url: str) -> None:
    body = assert_error(
        httpx.get(sparql_url, params={"query": "SELECT * WHERE {\n  ?s ?p ?o .\n  FILTER(?o = ) }"}), 400
    )
    assert body["line"] == 3 and body["column"] > 0
    assert f"error at 3:{body['column']}" in body["detail"]


def test_update_is_refused_with_403(sparql_url: str) -> None:
    assert_error(httpx.get(sparql_url, params={"update": "CLEAR ALL"}), 403, "read-only")
    assert_error(httpx.post(sparql_url, data={"update": "CLEAR ALL"}), 403, "read-only")
    update = {"content-type": "application/sparql-update"}
    assert_error(httpx.post(sparql_url, content="CLEAR ALL", headers=update), 403, "read-only")
    assert_error(httpx.get(sparql_url, params={"query": "ASK {}", "update": "CLEAR ALL"}), 400)
    # an update sent as a query is not a query
    assert_error(httpx.get(sparql_url, params={"query": "CLEAR ALL"}), 400, "syntax")
    assert count(httpx.get(sparql_url, params={"query": COUNT})) > 0


@pytest.mark.parametrize(
    ("request_args", "status", "words"),
    [
        ({"method": "POST", "data": {"format": "json"}}, 400, ["no query"]),
        ({"method": "GET", "params": {"query": "   "}}, 400, ["empty"]),
        ({"method": "GET", "params": {"query": "ASK {}", "default-graph-uri": "not an iri"}}, 400, ["IRI"]),
        ({"method": "GET", "params": {"query": "ASK {}", "named-graph-uri": "<x>"}}, 400, ["IRI"]),
    ],
)
def test_other_client_mistakes(sparql_url: str, request_args: dict, status: int, words: list[str]) -> None:
    method = request_args.pop("method")
    assert_error(httpx.request(method, sparql_url, **request_args), status, *words)


def test_other_methods_are_refused(sparql_url: str) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = httpx.request(method, sparql_url, params={"query": "ASK {}"})
        assert response.status_code == 405
        assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]


def test_errors_in_plain_text_for_clients_that_prefer_it(sparql_url: str) -> None:
    response = httpx.get(sparql_url, params={"query": "ASK {"}, headers={"accept": "text/plain"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text.startswith("400 Bad Request: Syntax error")


# Cross-origin requests: the same CORS headers on the query path as everywhere else.

ORIGIN = {"origin": "https://example.org"}
EXPOSED = {"x-kg-row-limit", "x-kg-truncated", "retry-after"}


@pytest.mark.parametrize(
    "request_args",
    [
        {"method": "GET", "url": "/sparql", "params": {"query": "ASK {}"}},
        {"method": "POST", "url": "/sparql/", "data": {"query": "SELECT * {} LIMIT 1"}},
        {"method": "GET", "url": "/sparql", "params": {"query": "ASK {"}},  # an error
        {"method": "GET", "url": "/.well-known/void"},  # not a query: the application's middleware
    ],
)
def test_cross_origin_requests_may_read_the_answer(server: RunningServer, request_args: dict) -> None:
    args = {**request_args, "url": server.base_url + request_args["url"]}
    response = httpx.request(**args, headers=ORIGIN)
    assert response.headers["access-control-allow-origin"] == "*"
    exposed = {name.strip().lower() for name in response.headers["access-control-expose-headers"].split(",")}
    assert exposed == EXPOSED
    assert {"accept", "origin"} <= {v.strip().lower() for v in response.headers["vary"].split(",")}
    without = httpx.request(**args)
    assert "access-control-allow-origin" not in without.headers
    assert "origin" in without.headers["vary"].lower()  # caches keep the two apart
    assert without.content == response.content


def test_cross_origin_preflight_allows_get_and_post(sparql_url: str) -> None:
    headers = {**ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    response = httpx.options(sparql_url, headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert {m.strip() for m in response.headers["access-control-allow-methods"].split(",")} == {"GET", "POST"}


# Descriptions: the service description at /sparql, VoID at /.well-known/void, the dumps.


def service_description(server: RunningServer, accept: str | None) -> tuple[Graph, httpx.Response]:
    headers = {"accept": accept} if accept else {}
    response = httpx.get(server.base_url + "/sparql", headers=headers)
    assert response.status_code == 200, response.text
    fmt = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml"}
    graph = Graph().parse(data=response.content, format=fmt[response.headers["content-type"].split(";")[0]])
    return graph, response


@pytest.mark.parametrize(
    "accept", [None, "*/*", "text/turtle", "application/rdf+xml;q=0.9, text/turtle;q=0.1", "text/*;q=0.5"]
)
def test_service_description_is_turtle_when_accepted(server: RunningServer, accept: str | None) -> None:
    _, response = service_description(server, accept)
    assert response.headers["content-type"] == "text/turtle; charset=utf-8"
    assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize("accept", ["application/ld+json", "application/rdf+xml"])
def test_service_description_in_other_formats(server: RunningServer, accept: str) -> None:
    graph, response = service_description(server, accept)
    assert response.headers["content-type"] == accept
    assert (None, SD.endpoint, URIRef(server.base_url + "/sparql")) in graph


def test_service_description_says_what_is_served(server: RunningServer, reference: Dataset) -> None:
    graph, _ = service_description(server, "text/turtle")
    service = graph.value(None, SD.endpoint, URIRef(server.base_url + "/sparql"))
    assert service is not None
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    assert (service, SD.feature, SD.BasicFederatedQuery) not in graph  # no --allow-service
    assert not list(graph.objects(service, SD.inputFormat))  # read-only
    formats = {str(o) for o in graph.objects(service, SD.resultFormat)}
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                 "Turtle", "N-Triples", "JSON-LD", "RDF_XML", "TriG", "N-Quads"):  # fmt: skip
        assert "http://www.w3.org/ns/formats/" + name in formats
    sizes = {
        graph.value(named, SD.name): graph.value(graph.value(named, SD.graph), VOID.triples).toPython()
        for named in graph.subjects(RDF.type, SD.NamedGraph)
    }
    assert sizes == {g.identifier: len(g) for g in reference.graphs() if len(g)}


def test_the_query_page_for_browsers(server: RunningServer) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = httpx.get(server.base_url + "/sparql", headers={"accept": browser})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Accept" in response.headers["vary"]


def test_void_describes_the_dataset(server: RunningServer, reference: Dataset) -> None:
    response = httpx.get(server.base_url + "/.well-known/void")
    assert response.headers["content-type"] == "text/turtle; charset=utf-8"
    void = Graph().parse(data=response.text, format="turtle")
    dataset = void.value(None, VOID.sparqlEndpoint, URIRef(server.base_url + "/sparql"))
    assert dataset is not None
    assert (dataset, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in void
    assert void.value(dataset, VOID.triples) == Literal(len(reference))
    subsets = {s: void.value(s, VOID.triples).toPython() for s in void.objects(dataset, VOID.subset)}
    assert subsets == {g.identifier: len(g) for g in reference.graphs() if len(g)}
    vocabularies = {str(v) for v in void.objects(dataset, VOID.vocabulary)}
    assert {"https://w3id.org/alignkg/ontology/", str(RDF)} <= vocabularies
    examples = set(void.objects(dataset, VOID.exampleResource))
    assert examples and all((e, RDF.type, None) in reference for e in examples)
    dumps = list(void.objects(dataset, VOID.dataDump))
    assert len(dumps) == 2
    served = Dataset()
    for dump in dumps:
        download = httpx.get(str(dump))
        assert download.status_code == 200
        served.parse(data=download.content, format="trig")
    assert len(served) == len(reference)


def test_void_negotiates_and_refuses_what_it_cannot_give(server: RunningServer) -> None:
    jsonld = httpx.get(server.base_url + "/.well-known/void", headers={"accept": "application/ld+json"})
    assert jsonld.headers["content-type"] == "application/ld+json"
    assert len(Graph().parse(data=jsonld.text, format="json-ld")) > 10
    assert_error(httpx.get(server.base_url + "/.well-known/void", headers={"accept": "image/png"}), 406)
    assert httpx.get(server.base_url + "/dumps/nothing.nq").status_code == 404


# The OpenAPI schema describes every way to call /sparql.


def test_openapi_describes_get_post_and_formats(server: RunningServer) -> None:
    schema = httpx.get(server.base_url + "/openapi.json").json()
    operations = schema["paths"]["/sparql"]
    get_params = {p["name"] for p in operations["get"]["parameters"]}
    assert {"query", "default-graph-uri", "named-graph-uri", "format"} <= get_params
    bodies = operations["post"]["requestBody"]["content"]
    assert set(bodies) == {FORM, "application/sparql-query"}
    assert "query" in bodies[FORM]["schema"]["properties"]
    ok = set(operations["get"]["responses"]["200"]["content"])
    assert {JSON, "application/sparql-results+xml", "text/csv", "text/tab-separated-values", "text/turtle",
            "application/ld+json", "application/n-triples", "application/rdf+xml", "text/html"} <= ok  # fmt: skip
    for status in ("400", "403", "406", "413", "503", "504"):
        assert status in operations["get"]["responses"]
    assert "415" in operations["post"]["responses"]
    json.dumps(schema)  # serialisable as a whole
