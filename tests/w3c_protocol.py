"""A runner for the W3C SPARQL 1.1 Protocol test manifest.

The manifest (``../shared/w3c/sparql11-protocol-manifest.ttl``) writes each test as HTTP
requests in RDF (``ht:`` terms) with the expected response (``mf:expectedStatus``,
``mf:expectedBoolean``, ``mf:expectedFormat``). This module reads those tests with rdflib
and runs them with httpx against an endpoint, mapping the manifest's ``/sparql/`` paths onto
the endpoint's query (and, if different, update) path. ``ht:connectionAuthority`` is
replaced by the base URL's authority in the same way.

Run it by hand: ``python tests/w3c_protocol.py http://127.0.0.1:8000/ [--query-path /sparql]``.
"""

from __future__ import annotations

import argparse
import base64
import io
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.namespace import RDF, RDFS
from rdflib.query import Result
from rdflib.term import Node

W3C_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "w3c"
MANIFEST = W3C_DIR / "sparql11-protocol-manifest.ttl"
MANIFEST_PREFIX = "/sparql/"
"""Every ``ht:absolutePath`` in the manifest starts with this; it stands for the endpoint."""

# The W3C test vocabularies (test-only; the project's own namespaces are in kg.namespaces).
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")

STATUS_CLASS = re.compile(r"StatusCode([1-5])xx")
UPDATE_MEDIA_TYPE = "application/sparql-update"
UPDATE_PARAMS = frozenset({"update", "using-graph-uri", "using-named-graph-uri"})

RESULT_TYPES: dict[str, str] = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
}
"""Media types of SPARQL results that can carry a boolean (ASK) result -> rdflib parser."""
TABLE_TYPES: dict[str, str] = {
    **RESULT_TYPES,
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
"""Media types of SPARQL results that can carry a table (SELECT) -> rdflib parser."""
RDF_TYPES: dict[str, str] = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/trig": "trig",
    "application/n-quads": "nquads",
}
"""Media types of the W3C RDF syntaxes -> rdflib parser (a graph in TriG / N-Quads: default graph only)."""


@dataclass(frozen=True)
class Expectation:
    """What a response must satisfy (``ht:resp`` of a request)."""

    status_classes: frozenset[int]
    """Acceptable first digits (``hts:StatusCode2xx`` -> 2)."""
    status_codes: frozenset[int]
    """Acceptable exact codes (integer literals)."""
    boolean: bool | None
    format: str | None

    def status_ok(self, code: int) -> bool:
        """True if ``code`` is one of the expected statuses."""
        return code in self.status_codes or code // 100 in self.status_classes

    def describe_status(self) -> str:
        """The expected statuses, for messages."""
        parts = [f"{c}xx" for c in sorted(self.status_classes)] + [str(c) for c in sorted(self.status_codes)]
        return " or ".join(parts)


@dataclass(frozen=True)
class Request:
    """One ``ht:Request`` of a test, with its expected response."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    expect: Expectation

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), if present."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def is_update(self) -> bool:
        """True if this request asks for a SPARQL Update operation (by media type or parameter)."""
        media_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        params = set(parse_qs(urlsplit(self.path).query))
        if media_type == "application/x-www-form-urlencoded" or media_type == "":
            params |= set(parse_qs((self.body or b"").decode("utf-8", "replace")))
        return media_type == UPDATE_MEDIA_TYPE or bool(params & UPDATE_PARAMS)


@dataclass(frozen=True)
class ProtocolTest:
    """One ``mf:ProtocolTest``: requests run in order, each with its expectation."""

    iri: str
    name: str
    title: str
    requests: tuple[Request, ...]
    graph_data: tuple[str, ...]
    """IRIs of the graphs the test needs preloaded (``ut:graphData`` labels)."""

    @property
    def needs_write(self) -> bool:
        """True if the test expects an update to succeed, so cannot pass on a read-only endpoint."""
        return any(r.is_update and r.expect.status_ok(200) for r in self.requests)


@dataclass(frozen=True)
class Endpoint:
    """Where to send the manifest's requests."""

    base_url: str
    query_path: str = "/sparql"
    update_path: str | None = None
    """Path for update requests, if the endpoint has a separate one (Oxigraph: ``/update``)."""

    def url(self, request: Request) -> str:
        """The absolute URL for ``request``: its manifest path mapped onto this endpoint."""
        if not request.path.startswith(MANIFEST_PREFIX):
            raise ValueError(f"path {request.path!r} does not start with {MANIFEST_PREFIX!r}")
        path = self.update_path if request.is_update and self.update_path else self.query_path
        rest = request.path[len(MANIFEST_PREFIX) :]
        tail = rest if rest == "" or rest.startswith("?") else "/" + rest
        return self.base_url.rstrip("/") + path.rstrip("/") + tail


@dataclass(frozen=True)
class Outcome:
    """The result of running one test."""

    test: ProtocolTest
    passed: bool
    reason: str


# --- reading the manifest ---------------------------------------------------------------


def _one(graph: Graph, subject: Node, predicate: URIRef) -> Node | None:
    return next(iter(graph.objects(subject, predicate)), None)


def _body(graph: Graph, node: Node | None) -> bytes | None:
    """The bytes of a ``cnt:`` content node, encoded as its ``cnt:characterEncoding`` says."""
    if node is None:
        return None
    chars, raw = _one(graph, node, CNT.chars), _one(graph, node, CNT.bytes)
    if chars is not None:
        encoding = _one(graph, node, CNT.characterEncoding)
        return str(chars).encode(str(encoding) if encoding is not None else "utf-8")
    if raw is not None:
        return base64.b64decode(str(raw))
    raise ValueError(f"body {node} has neither cnt:chars nor cnt:bytes")


def _expectation(graph: Graph, node: Node | None) -> Expectation:
    if node is None:
        raise ValueError("request without ht:resp")
    classes: set[int] = set()
    codes: set[int] = set()
    for status in graph.objects(node, MF.expectedStatus):
        in_hts = isinstance(status, URIRef) and str(status).startswith(str(HTS))
        match = STATUS_CLASS.fullmatch(str(status)[len(HTS) :]) if in_hts else None
        if isinstance(status, Literal) and isinstance(status.toPython(), int):
            codes.add(int(status.toPython()))
        elif match:
            classes.add(int(match.group(1)))
        else:
            raise ValueError(f"unsupported mf:expectedStatus {status}")
    if not classes and not codes:
        raise ValueError(f"response {node} has no mf:expectedStatus")
    boolean, fmt = _one(graph, node, MF.expectedBoolean), _one(graph, node, MF.expectedFormat)
    return Expectation(
        status_classes=frozenset(classes),
        status_codes=frozenset(codes),
        boolean=None if not isinstance(boolean, Literal) else bool(boolean.toPython()),
        format=None if fmt is None else str(fmt),
    )


def _method(graph: Graph, node: Node) -> str:
    name = _one(graph, node, HT.methodName)
    if name is not None:
        return str(name).upper()
    method = _one(graph, node, HT.method)
    if method is None:
        raise ValueError(f"request {node} has no ht:methodName / ht:method")
    return re.split(r"[#/]", str(method))[-1].upper()


def _request(graph: Graph, node: Node) -> Request:
    path = _one(graph, node, HT.absolutePath)
    if path is None:
        raise ValueError(f"request {node} has no ht:absolutePath")
    headers_list = _one(graph, node, HT.headers)
    headers = tuple(
        (str(_one(graph, h, HT.fieldName)), str(_one(graph, h, HT.fieldValue)))
        for h in (graph.items(headers_list) if headers_list is not None else ())
    )
    return Request(
        method=_method(graph, node),
        path=str(path),
        headers=headers,
        body=_body(graph, _one(graph, node, HT.body)),
        expect=_expectation(graph, _one(graph, node, HT.resp)),
    )


def load_tests(manifest: Path = MANIFEST) -> list[ProtocolTest]:
    """Every ``mf:ProtocolTest`` of the manifest, in ``mf:entries`` order."""
    graph = Graph().parse(manifest, format="turtle", publicID=manifest.as_uri())
    entries = _one(graph, URIRef(manifest.as_uri()), MF.entries)
    if entries is None:
        raise ValueError(f"{manifest} has no mf:entries")
    tests = []
    for test in graph.items(entries):
        if (test, RDF.type, MF.ProtocolTest) not in graph:
            continue
        action = _one(graph, test, MF.action)
        requests = _one(graph, action, HT.requests) if action is not None else None
        if requests is None:
            raise ValueError(f"test {test} has no mf:action / ht:requests")
        tests.append(
            ProtocolTest(
                iri=str(test),
                name=re.split(r"[#/]", str(test))[-1],
                title=str(_one(graph, test, MF.name)),
                requests=tuple(_request(graph, r) for r in graph.items(requests)),
                graph_data=tuple(sorted(str(_one(graph, d, RDFS.label)) for d in graph.objects(test, UT.graphData))),
            )
        )
    return tests


def read_only_tests(manifest: Path = MANIFEST) -> list[ProtocolTest]:
    """The tests that apply to a read-only endpoint: all but those needing an update to succeed."""
    return [t for t in load_tests(manifest) if not t.needs_write]


# --- checking responses ------------------------------------------------------------------


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _parse_result(response: httpx.Response, types: dict[str, str], kind: str) -> Result | str:
    """The SPARQL result in ``response``, or why it is not one of ``types``."""
    media_type = _media_type(response)
    if media_type not in types:
        return f"Content-Type {media_type or '(none)'!r} is not a {kind} result type {sorted(types)}"
    try:
        return Result.parse(io.BytesIO(response.content), format=types[media_type])
    except Exception as error:
        return f"body does not parse as {media_type}: {error!r}"


def _check_graph(response: httpx.Response) -> str | None:
    """Why ``response`` is not an RDF graph in an RDF syntax, or None if it is."""
    media_type = _media_type(response)
    if media_type not in RDF_TYPES:
        return f"Content-Type {media_type or '(none)'!r} is not an RDF syntax {sorted(RDF_TYPES)}"
    dataset = Dataset()
    try:
        with warnings.catch_warnings():  # rdflib 7.6's own parsers use its deprecated default_context
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset.parse(data=response.content, format=RDF_TYPES[media_type])
    except Exception as error:
        return f"body does not parse as {media_type}: {error!r}"
    named = {str(g) for *_, g in dataset.quads() if g != DATASET_DEFAULT_GRAPH_ID}
    return f"a graph result names graphs {sorted(named)}" if named else None


def check_body(expect: Expectation, response: httpx.Response) -> str | None:
    """Why ``response``'s body fails ``expect``'s format and boolean, or None if it passes."""
    fmt = expect.format or ("boolean" if expect.boolean is not None else None)
    if fmt is None:
        return None
    if fmt == "RDF":
        return _check_graph(response)
    if fmt not in ("boolean", "tabular"):
        return f"unsupported mf:expectedFormat {fmt!r}"
    result = _parse_result(response, RESULT_TYPES if fmt == "boolean" else TABLE_TYPES, fmt)
    if isinstance(result, str):
        return result
    if result.type != ("ASK" if fmt == "boolean" else "SELECT"):
        return f"expected a {fmt} result, got a {result.type} result"
    if expect.boolean is not None and result.askAnswer is not expect.boolean:
        return f"expected boolean {str(expect.boolean).lower()}, got {result.askAnswer}"
    return None


# --- running -----------------------------------------------------------------------------


def make_client(timeout: float = 30.0) -> httpx.Client:
    """An httpx client that sends only the headers a request names (no default Accept)."""
    client = httpx.Client(timeout=timeout)
    del client.headers["accept"]
    return client


def _short(response: httpx.Response) -> str:
    text = response.content[:200].decode("utf-8", "replace").replace("\n", " ")
    return f"{response.status_code} {_media_type(response) or '(no Content-Type)'}: {text!r}"


def run_test(endpoint: Endpoint, test: ProtocolTest) -> Outcome:
    """Run ``test``'s requests in order on one connection (its ``ht:Connection``).

    Stops at the first request whose response fails its expectation.
    """
    with make_client() as client:
        return _run_requests(client, endpoint, test)


def _run_requests(client: httpx.Client, endpoint: Endpoint, test: ProtocolTest) -> Outcome:
    for index, request in enumerate(test.requests, start=1):
        where = f"request {index} ({request.method} {request.path[:60]})"
        try:
            response = client.request(
                request.method,
                endpoint.url(request),
                headers=list(request.headers),
                content=request.body,
                follow_redirects=True,
            )
        except httpx.HTTPError as error:
            return Outcome(test, False, f"{where}: {error!r}")
        first = response.history[0] if response.history else response
        if not request.expect.status_ok(first.status_code):
            return Outcome(test, False, f"{where}: expected {request.expect.describe_status()}, got {_short(first)}")
        problem = check_body(request.expect, response)
        if problem is None and response.history and not response.is_success:
            problem = f"redirect ended in {response.status_code}"
        if problem is not None:
            return Outcome(test, False, f"{where}: {problem}; response {_short(response)}")
    return Outcome(test, True, "ok")


def run_all(endpoint: Endpoint, tests: Iterable[ProtocolTest]) -> Iterator[Outcome]:
    """Run ``tests`` against ``endpoint``, in order."""
    return (run_test(endpoint, test) for test in tests)


def summary(outcomes: Iterable[Outcome]) -> str:
    """A human summary: counts, then one line per test."""
    done = list(outcomes)
    passed = sum(o.passed for o in done)
    lines = [f"W3C SPARQL 1.1 Protocol: {passed}/{len(done)} passed"]
    lines += [f"  {'PASS' if o.passed else 'FAIL'} {o.test.name}: {o.reason}" for o in done]
    return "\n".join(lines)


def print_to_terminal(config: pytest.Config, text: str) -> None:
    """Print ``text`` past pytest's output capture (for summaries printed by fixtures)."""
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if capture is None or reporter is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for line in text.splitlines():
            reporter.write_line(line)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the manifest against an endpoint and print the summary."""
    parser = argparse.ArgumentParser(description="Run the W3C SPARQL 1.1 Protocol tests on an endpoint.")
    parser.add_argument("base_url")
    parser.add_argument("--query-path", default="/sparql")
    parser.add_argument("--update-path", default=None)
    parser.add_argument("--all", action="store_true", help="include tests that need updates to succeed")
    args = parser.parse_args(argv)
    tests = load_tests() if args.all else read_only_tests()
    outcomes = list(run_all(Endpoint(args.base_url, args.query_path, args.update_path), tests))
    print(summary(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
