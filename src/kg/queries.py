"""The saved example queries (``queries/*.rq``): read them, publish them as RDF, run them, keep their answers.

A saved query is one ``.rq`` file whose first lines are a header::

    #+ title: The roll call on A/RES/ES-11/1
    #+ description: Counts the vote records per option ...
    #+ tags: votes, un
    #+ order: 20

(a header line without ``key:`` continues the previous value). ``order`` places the query in
every listing (``kg queries list``, ``GET /queries``, the query page's tabs): smallest first,
queries without one after all others, ties and the rest by name. Beside each query lies its
expected answer, ``<name>.srj`` (SPARQL JSON results) for SELECT and ASK, ``<name>.ttl`` for
CONSTRUCT, written by ``kg queries expected`` and reviewed by hand (see queries/README.md).

The build publishes every query in the named graph ``graph/queries`` the way public endpoints
publish their examples: a SHACL ``sh:SPARQLSelectExecutable`` (``...Ask...``,
``...Construct...``) with the query text, title, description, tags and target endpoint.

Queries that call another endpoint through ``SERVICE`` are answered, for the expected files and
the tests, by a local stand-in of that endpoint (:data:`STANDINS`), served by ``oxigraph serve``.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS
from rdflib.plugins.sparql.algebra import translateQuery, traverse
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue

from kg import default_graph
from kg.config import settings
from kg.encode.errors import SourceError
from kg.namespaces import BASE, GRAPH, ID, SCHEMA, SH, bind_all

QUERIES_GRAPH = GRAPH["queries"]
ENDPOINT = URIRef(BASE + "sparql")
"""The endpoint the saved queries are written for (their ``schema:target``)."""
HEADER_KEYS = ("title", "description", "tags", "order")
REQUIRED_KEYS = ("title", "description")
FORMS = {
    "SelectQuery": ("SELECT", SH.SPARQLSelectExecutable, SH.select, ".srj"),
    "AskQuery": ("ASK", SH.SPARQLAskExecutable, SH.ask, ".srj"),
    "ConstructQuery": ("CONSTRUCT", SH.SPARQLConstructExecutable, SH.construct, ".ttl"),
}
"""rdflib's algebra name -> (form, SHACL executable class, SHACL property, expected-file suffix)."""
STANDINS = {"https://query.wikidata.org/sparql": Path("tests", "fixtures", "wikidata-standin.ttl")}
"""SERVICE endpoint -> the data of its local stand-in, relative to the project root."""

_HEADER_LINE = re.compile(r"#\+(?P<text>.*)")
_KEY_VALUE = re.compile(r"\s*(?P<key>[a-z]+)\s*:\s?(?P<value>.*)")
_ORDER_LINE = re.compile(r"#\+\s*order\s*:")
_ORDER_TRANSPARENT = {"Project", "Distinct", "Reduced", "Slice"}


@dataclass(frozen=True)
class SavedQuery:
    """One saved query: its header, its text (without the header) and what its algebra says."""

    name: str
    title: str
    description: str
    tags: tuple[str, ...]
    order: int | None
    query: str
    form: str
    ordered: bool
    services: tuple[str, ...]
    path: Path

    @property
    def iri(self) -> URIRef:
        """The query's IRI, ``id/query/<name>``."""
        return ID[f"query/{self.name}"]

    @property
    def expected_path(self) -> Path:
        """Where its expected answer is kept: ``<name>.srj`` or ``<name>.ttl`` beside it."""
        return self.path.with_suffix(_form_info(self.form)[3])

    def with_services(self, endpoints: Mapping[str, str]) -> str:
        """The query text with each ``SERVICE <iri>`` in ``endpoints`` pointed at its replacement."""
        text = self.query
        for iri, url in endpoints.items():
            text = text.replace(f"<{iri}>", f"<{url}>")
        return text


def _form_info(form: str) -> tuple[str, URIRef, URIRef, str]:
    return next(info for info in FORMS.values() if info[0] == form)


# Reading ----------------------------------------------------------------------------------


def read_header(path: Path, lines: list[str]) -> tuple[dict[str, str], int]:
    """The header's values by key, and how many lines it spans."""
    values: dict[str, str] = {}
    key: str | None = None
    count = 0
    for number, line in enumerate(lines, start=1):
        header = _HEADER_LINE.fullmatch(line.rstrip("\r\n"))
        if header is None:
            break
        count = number
        if not header["text"].strip():
            continue
        pair = _KEY_VALUE.fullmatch(header["text"])
        if pair is not None:
            key = pair["key"]
            if key not in HEADER_KEYS:
                raise SourceError(path, number, f"unknown header key {key!r} (known: {', '.join(HEADER_KEYS)})")
            if key in values:
                raise SourceError(path, number, f"header key {key!r} given twice")
            values[key] = pair["value"].strip()
        elif key is not None:
            values[key] = f"{values[key]} {header['text'].strip()}".strip()
        else:
            raise SourceError(path, number, "header line without 'key:' and nothing to continue")
    for required in REQUIRED_KEYS:
        if not values.get(required):
            raise SourceError(path, 1, f"the header needs '#+ {required}: ...'")
    return values, count


def _algebra(path: Path, body: str, offset: int) -> CompValue:
    """rdflib's algebra of the query ``body``, which starts after ``offset`` header lines."""
    try:
        return translateQuery(parseQuery(body)).algebra
    except Exception as exc:  # pyparsing and rdflib raise several error types
        line = getattr(exc, "lineno", None)
        raise SourceError(path, offset + line if line else None, f"SPARQL syntax error: {exc}") from exc


def _is_ordered(algebra: CompValue) -> bool:
    """Whether the query's solutions come in a defined order (a top-level ORDER BY)."""
    node = algebra.p
    while isinstance(node, CompValue):
        if node.name == "OrderBy":
            return True
        if node.name not in _ORDER_TRANSPARENT:
            return False
        node = node.p
    return False


def _services(algebra: CompValue) -> tuple[str, ...]:
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, CompValue) and node.name == "ServiceGraphPattern":
            found.append(str(node.term))

    traverse(algebra, visitPost=visit)
    return tuple(sorted(set(found)))


def _order(path: Path, value: str | None, header: list[str]) -> int | None:
    """The header's ``order`` as an integer (``None`` if absent); :class:`SourceError` if it is not one."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        line = next((n for n, text in enumerate(header, start=1) if _ORDER_LINE.match(text)), None)
        raise SourceError(path, line, f"the header's order must be an integer, not {value!r}") from None


def listing_key(saved: SavedQuery) -> tuple[bool, int, str]:
    """Where a query comes in listings: by ``order`` (those without one last), then by name."""
    return (saved.order is None, saved.order or 0, saved.name)


def read_query(path: Path) -> SavedQuery:
    """Read one ``.rq`` file; :class:`SourceError` (with the file and line) if it is malformed."""
    lines = path.read_text("utf-8").splitlines(keepends=True)
    header, count = read_header(path, lines)
    body = "".join(lines[count:])
    algebra = _algebra(path, body, count)
    text = body.strip() + "\n"
    if algebra.name not in FORMS:
        raise SourceError(path, None, f"{algebra.name}: saved queries are SELECT, ASK or CONSTRUCT")
    tags = tuple(tag.strip() for tag in header.get("tags", "").split(",") if tag.strip())
    order = _order(path, header.get("order"), lines[:count])
    return SavedQuery(
        name=path.stem,
        title=header["title"],
        description=header["description"],
        tags=tags,
        order=order,
        query=text,
        form=FORMS[algebra.name][0],
        ordered=_is_ordered(algebra),
        services=_services(algebra),
        path=path,
    )


def load_queries(folder: Path | None = None) -> list[SavedQuery]:
    """Every saved query in ``folder`` (default: the project's ``queries/``), in listing order."""
    folder = folder or settings().queries_dir
    return sorted((read_query(path) for path in folder.glob("*.rq")), key=listing_key)


@cache
def _cached(folder: Path, stamp: tuple[tuple[str, int], ...]) -> tuple[SavedQuery, ...]:
    return tuple(load_queries(folder))


def saved_queries(folder: Path | None = None) -> tuple[SavedQuery, ...]:
    """Like :func:`load_queries`, but read again only when a file changed (for the server)."""
    folder = folder or settings().queries_dir
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.rq")))
    return _cached(folder, stamp)


def saved_queries_as_examples() -> list[dict[str, str]]:
    """The saved queries as the query page's example tabs: name, title and query text."""
    return [{"name": q.name, "title": q.title, "query": q.query} for q in saved_queries()]


# Publishing -------------------------------------------------------------------------------


def queries_graph(queries: Iterable[SavedQuery] | None = None) -> Graph:
    """The named graph ``graph/queries``: every saved query as a SHACL SPARQL executable."""
    graph = Graph(identifier=QUERIES_GRAPH)
    bind_all(graph)
    graph.add((QUERIES_GRAPH, RDF.type, PROV.Entity))
    graph.add((QUERIES_GRAPH, RDFS.label, Literal("Saved example queries", lang="en")))
    graph.add((QUERIES_GRAPH, DCTERMS.source, Literal("queries/")))
    graph.add(
        (
            QUERIES_GRAPH,
            RDFS.comment,
            Literal("The example queries of queries/*.rq, published as SHACL SPARQL executables.", lang="en"),
        )
    )
    for saved in load_queries() if queries is None else queries:
        _, kind, text_property, _ = _form_info(saved.form)
        graph.add((saved.iri, RDF.type, kind))
        graph.add((saved.iri, RDFS.label, Literal(saved.title, lang="en")))
        graph.add((saved.iri, RDFS.comment, Literal(saved.description, lang="en")))
        graph.add((saved.iri, text_property, Literal(saved.query)))
        graph.add((saved.iri, SCHEMA.target, ENDPOINT))
        for tag in saved.tags:
            graph.add((saved.iri, SCHEMA.keywords, Literal(tag)))
    return graph


# Running ----------------------------------------------------------------------------------


def store_from(nquads: Path) -> ox.Store:
    """An in-memory Oxigraph store holding an N-Quads file (default graph: the merge of its graphs)."""
    store = ox.Store()
    default_graph.bulk_load(store, nquads, ox.RdfFormat.N_QUADS)
    return store


def compiled_store() -> ox.Store:
    """An in-memory store holding the dataset compiled from the project's sources (no dist/ needed),
    laid out as the endpoint's (default graph: the merge of the named graphs)."""
    from kg.dist import sorted_nquads
    from kg.encode.dataset import Sources, compile_dataset

    conf = settings()
    dataset = compile_dataset(Sources(conf.data_dir, conf.ontology_dir))
    store = ox.Store()
    default_graph.bulk_load_nquads(store, io.BytesIO(sorted_nquads(dataset).encode("utf-8")))
    return store


def answer(store: ox.Store, saved: SavedQuery, endpoints: Mapping[str, str] | None = None) -> str:
    """The query's answer on ``store`` (made by :func:`store_from` or :func:`compiled_store`), as file text.

    SELECT and ASK give SPARQL JSON results with sorted keys (rows sorted too unless the query
    orders them); CONSTRUCT gives Turtle. ``endpoints`` redirects SERVICE calls.
    """
    result = store.query(saved.with_services(endpoints or {}))
    if isinstance(result, ox.QueryTriples):
        graph = Graph()
        bind_all(graph)
        graph.parse(data=result.serialize(format=ox.RdfFormat.N_TRIPLES), format="nt")
        return graph.serialize(format="turtle")
    data = json.loads(result.serialize(format=ox.QueryResultsFormat.JSON))
    if "results" in data and not saved.ordered:
        data["results"]["bindings"].sort(key=lambda row: json.dumps(row, sort_keys=True))
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# Stand-ins for remote endpoints -------------------------------------------------------------


def oxigraph_command() -> str:
    """The ``oxigraph`` CLI (PyPI package ``oxigraph``, in the test extra): beside Python first."""
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.is_file() else shutil.which("oxigraph")
    if found is None:
        raise RuntimeError("the oxigraph CLI is missing: pip install -e '.[test]' (package 'oxigraph')")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def standin_endpoint(data: Path, ready_seconds: float = 30.0) -> Iterator[str]:
    """An ``oxigraph serve`` on 127.0.0.1 holding the Turtle file ``data``; yields its query URL."""
    import httpx

    base = f"http://127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [oxigraph_command(), "serve", "--bind", base.removeprefix("http://")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + ready_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"oxigraph serve exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                loaded = httpx.post(
                    base + "/store?default", content=data.read_bytes(), headers={"Content-Type": "text/turtle"}
                )
                loaded.raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield base + "/query"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def standins(queries: Iterable[SavedQuery], root: Path | None = None) -> Iterator[dict[str, str]]:
    """Stand-ins for every SERVICE endpoint the queries call: endpoint IRI -> stand-in URL."""
    root = root or settings().root
    needed = sorted({iri for q in queries for iri in q.services})
    unknown = [iri for iri in needed if iri not in STANDINS]
    if unknown:
        raise RuntimeError(f"no stand-in for SERVICE <{unknown[0]}>: add one to kg.queries.STANDINS")
    with ExitStack() as stack:
        yield {iri: stack.enter_context(standin_endpoint(root / STANDINS[iri])) for iri in needed}


def write_expected(queries: list[SavedQuery], store: ox.Store) -> list[Path]:
    """Write each query's expected answer beside it (SERVICE calls go to stand-ins); the paths written."""
    written = []
    with standins(queries) as endpoints:
        for saved in queries:
            saved.expected_path.write_text(answer(store, saved, endpoints), encoding="utf-8")
            written.append(saved.expected_path)
    return written


# The ``kg queries`` command ------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommands of ``kg queries``: list, run, expected."""
    sub = parser.add_subparsers(dest="queries_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="list the saved queries in their order (name, form, title)")
    run = sub.add_parser("run", help="run one saved query and print its answer (SPARQL JSON or Turtle)")
    run.add_argument("name", help="the query's name (its file name without .rq)")
    run.add_argument("--standin", action="store_true", help="send SERVICE calls to the local stand-ins")
    expected = sub.add_parser(
        "expected",
        help="write the expected answers (<name>.srj / <name>.ttl) beside the queries",
        description="Run every saved query (or those named) on the dataset and write its answer beside "
        "it; SERVICE calls go to local stand-ins. Review the changes by hand (git diff) before committing.",
    )
    expected.add_argument("names", nargs="*", help="only these queries (default: all)")
    for command in (run, expected):
        command.add_argument(
            "--dataset",
            type=Path,
            default=None,
            help="an N-Quads file to query, e.g. dist/alignkg.nq (default: compile the sources in memory)",
        )


def run(args: argparse.Namespace) -> int:
    """Carry out ``kg queries ACTION``; 1 with a message on a bad name or a broken query."""
    try:
        queries = load_queries()
        if args.queries_command == "list":
            for saved in queries:
                print(f"{saved.name:32} {saved.form:9} {saved.title}")
            return 0
        chosen = _chosen(queries, [args.name] if args.queries_command == "run" else args.names)
        store = store_from(args.dataset) if args.dataset else compiled_store()
        if args.queries_command == "run":
            with standins(chosen) if args.standin else _no_standins() as endpoints:
                sys.stdout.write(answer(store, chosen[0], endpoints))
            return 0
        for path in write_expected(chosen, store):
            print(f"kg queries: wrote {path}")
        return 0
    except (SourceError, LookupError, RuntimeError, OSError, SyntaxError) as exc:
        print(f"kg queries: {exc}", file=sys.stderr)
        return 1


def _chosen(queries: list[SavedQuery], names: list[str]) -> list[SavedQuery]:
    by_name = {q.name: q for q in queries}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise LookupError(f"no saved query named {missing[0]!r} (see `kg queries list`)")
    return [by_name[name] for name in names] if names else queries


@contextmanager
def _no_standins() -> Iterator[dict[str, str]]:
    yield {}
