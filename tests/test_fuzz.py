"""Fuzzing a real ``kg serve`` process: schemathesis over its OpenAPI schema (every operation, both
POST bodies, random Accept headers), and hypothesis-generated SPARQL-like text and raw bytes sent as
GET queries and POST bodies of random content types. Whatever arrives: never a 5xx, never a stack
trace, and the server still answers afterwards. Example counts are bounded so the file runs in well
under a minute.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kg.serve.formats import ASK_FORMATS, GRAPH_FORMATS, SELECT_FORMATS
from server import RunningServer, run_server

MINI = Path(__file__).parent / "fixtures" / "mini.trig"
SERVER_ARGS = ("--query-timeout", "3", "--max-rows", "50", "--max-body-bytes", "200000", "--max-query-bytes", "50000")
ACCEPTS = sorted(
    {f.media_type for f in (*SELECT_FORMATS, *ASK_FORMATS, *GRAPH_FORMATS)}
    | {"*/*", "text/html", "text/plain", "image/png", "application/json;q=0.1, text/*", "", "garbage;;q=x"}
)
CONTENT_TYPES = [
    "application/sparql-query",
    "application/x-www-form-urlencoded",
    "application/sparql-update",
    "multipart/form-data; boundary=x",
    "text/plain",
    "application/json",
    "application/sparql-query; charset=latin-1",
    "",
    'x/y; charset="unterminated',
    "*/*",
]
# schemathesis knows no application/sparql-query and would never send that body: it is text, so it is sent
# like text/plain (the query text, UTF-8).
schemathesis.serializer.alias("application/sparql-query", "text/plain")

FUZZ = settings(
    max_examples=500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[RunningServer]:
    with run_server(MINI, *SERVER_ARGS) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(fuzzed: RunningServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fuzzed.base_url + "/openapi.json")


def assert_survived(response: httpx.Response) -> None:
    """A client's input never gets a 5xx or a stack trace."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text and 'File "' not in response.text


def assert_alive(server: RunningServer) -> None:
    assert server.process.poll() is None
    response = httpx.get(server.base_url + "/sparql", params={"query": "ASK {}"}, timeout=10)
    assert response.status_code == 200


def _operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in api_schema.get_all_operations()]


# schemathesis's pytest integration (from_fixture) breaks on pytest 9 (it sets Function._nodeid), so the
# cases come from its hypothesis strategies, one operation at a time.
def test_schemathesis_finds_no_server_error(api_schema: schemathesis.BaseSchema) -> None:
    """Every documented operation, fuzzed from the schema: responses conform to it and are never 5xx."""
    operations = _operations(api_schema)
    assert {(op.method.upper(), op.path) for op in operations} >= {("GET", "/sparql"), ("POST", "/sparql")}
    bodies: set[str] = set()
    for operation in operations:
        for media_type in [body.media_type for body in operation.body] or [None]:  # every body, each fuzzed
            _fuzz_operation(operation, media_type, bodies)
    assert bodies >= {"application/x-www-form-urlencoded", "application/sparql-query"}  # both POST bodies sent


def _fuzz_operation(operation: schemathesis.APIOperation, media_type: str | None, bodies: set[str]) -> None:
    # /sparql is described in full by kg.serve.openapi, so its answers must conform; the other routes'
    # schemas are FastAPI's defaults (no 404/406 listed), so for them only "no 5xx" is checked.
    checks = (
        [status_code_conformance, content_type_conformance, response_schema_conformance]
        if operation.path == "/sparql"
        else []
    )

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(media_type=media_type), accept=st.sampled_from(ACCEPTS))
    def fuzz(case: schemathesis.Case, accept: str) -> None:
        if case.media_type:
            bodies.add(case.media_type)
        response = case.call(headers={"accept": accept}, timeout=30)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
        assert "Traceback" not in response.text
        if checks:
            case.validate_response(response, checks=checks)

    fuzz()


def test_server_survived_schemathesis(fuzzed: RunningServer, api_schema: schemathesis.BaseSchema) -> None:
    assert_alive(fuzzed)


SPARQL_WORDS = [
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "(", ")", "[", "]", "?s", "?p", "?o", "$x",
    "*", ".", ";", ",", "a", "<http://x/>", "<>", "<", ">", "ex:a", "PREFIX", "ex:", "BASE", "FILTER",
    "OPTIONAL", "UNION", "MINUS", "GRAPH", "SERVICE", "FROM", "NAMED", "VALUES", "UNDEF", "BIND", "AS",
    "REGEX", "STR", "COUNT", "GROUP", "BY", "ORDER", "LIMIT", "OFFSET", "1", "-1.5e3", '"x"', "'''",
    '"\\u00e9"', "@en", "^^", "|", "/", "^", "+", "?", "!", "&&", "||", "=", "!=", "#", "\n", "INSERT",
    "DATA", "DELETE", "LOAD", "CLEAR", "DROP", "\\u0053ERVICE", "\x00", "\ud7ff", "\U0001f600",
]  # fmt: skip
sparqlish = st.lists(st.sampled_from(SPARQL_WORDS), max_size=40).map(" ".join)
text_or_sparqlish = st.one_of(sparqlish, st.text(max_size=200))
raw_bytes = st.binary(max_size=2000)


@pytest.fixture(scope="module")
def client(fuzzed: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzzed.base_url, timeout=30) as session:
        yield session


@FUZZ
@given(
    query=text_or_sparqlish,
    accept=st.sampled_from(ACCEPTS),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
)
def test_get_with_random_queries(client: httpx.Client, query: str, accept: str, extra: dict[str, str]) -> None:
    params = {**extra, "query": query}
    assert_survived(client.get("/sparql", params=params, headers={"accept": accept}))


@FUZZ
@given(body=st.one_of(raw_bytes, text_or_sparqlish.map(lambda s: s.encode("utf-8", "surrogatepass"))),
       content_type=st.sampled_from(CONTENT_TYPES), accept=st.sampled_from(ACCEPTS))  # fmt: skip
def test_post_with_random_bodies(client: httpx.Client, body: bytes, content_type: str, accept: str) -> None:
    headers = {"content-type": content_type, "accept": accept}
    assert_survived(client.post("/sparql", content=body, headers=headers))


@FUZZ
@given(query=text_or_sparqlish, accept=st.sampled_from(ACCEPTS))
def test_post_form_with_random_queries(client: httpx.Client, query: str, accept: str) -> None:
    assert_survived(client.post("/sparql", data={"query": query}, headers={"accept": accept}))


def raw_request(port: int, head: bytes) -> bytes:
    """Send ``head`` as-is on a fresh connection; the status line that comes back (b"" if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head)
        return connection.makefile("rb").readline()


@FUZZ
@given(target=st.binary(min_size=1, max_size=300), method=st.sampled_from([b"GET", b"POST", b"HEAD", b"OPTIONS"]))
def test_raw_request_lines(fuzzed: RunningServer, target: bytes, method: bytes) -> None:
    """Arbitrary bytes as the request target, below any HTTP client's checks: never a 5xx."""
    head = method + b" /sparql?query=" + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status_line = raw_request(fuzzed.port, head)
    if status_line:  # the server may also just close a connection it cannot parse
        assert status_line.startswith(b"HTTP/1.1 "), status_line
        assert int(status_line.split()[1]) < 500, status_line


def test_server_survived_the_fuzzing(fuzzed: RunningServer, client: httpx.Client) -> None:
    assert_alive(fuzzed)
    assert "Traceback" not in fuzzed.log()
