"""The SPARQL 1.1 endpoint at ``/sparql``: rdflib-endpoint's router with our handlers and engine.

:class:`SparqlEndpoint` subclasses rdflib-endpoint 0.6.3's ``SparqlRouter`` and keeps its
service-description code (``prepare_sd_graph``), but replaces what falls short:

- the request handlers: rdflib-endpoint evaluates every query with rdflib's Python engine on
  the event loop (one slow query stalls all; 0.00-0.06x the throughput of ``oxigraph serve``).
  Ours read the request per the protocol (:mod:`kg.serve.protocol`), negotiate the format
  (:mod:`kg.serve.formats`), and hand the query string to a worker process where Oxigraph
  evaluates and serialises it on a thread of its own (:mod:`kg.serve.workers`), bounded in
  time, memory and rows;
- the service description: rdflib-endpoint answers Turtle only for ``Accept: text/turtle``
  exactly (RDF/XML otherwise), always claims ``sd:BasicFederatedQuery``, lists update input
  formats on a read-only endpoint, and omits TSV, N-Triples, JSON-LD, TriG and N-Quads. Ours is
  negotiated (Turtle whenever accepted, and by default; HTML goes to the query page), claims
  federation only when ``--allow-service`` is set, and lists the formats actually served. Its
  named graphs and their sizes come from Oxigraph (the router's rdflib Dataset is an empty
  stand-in that answers that one question from our statistics);
- the YASGUI page: served by :mod:`kg.serve.ui` from local assets, not from a CDN.

Row cap: a SELECT or CONSTRUCT result holds at most ``--max-rows`` rows (triples). Every such
response says ``X-KG-Row-Limit: N`` and ``X-KG-Truncated: true`` or ``false``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from rdflib import Dataset, Graph, Literal, URIRef, Variable
from rdflib.namespace import RDFS
from rdflib.query import ResultRow
from rdflib_endpoint import SparqlRouter
from starlette.requests import Request
from starlette.responses import Response

from kg import __version__
from kg.namespaces import SD
from kg.serve.documents import document_format, serialize_document
from kg.serve.engine import OFFERS, offered, raise_for_reply
from kg.serve.errors import HttpError, error_response
from kg.serve.formats import GRAPH_FORMATS, SELECT_FORMATS, Choice, for_query
from kg.serve.ipc import Job, Kind, Reply
from kg.serve.protocol import Limits, read_query_request
from kg.serve.representations import HTML, Format
from kg.serve.settings import ServeSettings
from kg.serve.stats import DatasetStats

PATH = "/sparql"
TITLE = "alignkg SPARQL endpoint"
DESCRIPTION = (
    "A knowledge graph of international alignment around Russia's invasion of Ukraine (2022), "
    "built from news documents: events, stances, statements, votes and memberships, each claim "
    "with its source document and evidence."
)
OTHER_METHODS = ["PUT", "DELETE", "PATCH", "OPTIONS"]
ROW_LIMIT_HEADER = "X-KG-Row-Limit"
TRUNCATED_HEADER = "X-KG-Truncated"


class _GraphSizes(Dataset):
    """An empty rdflib Dataset answering rdflib-endpoint's one SD query (triples per named graph)."""

    def __init__(self, sizes: dict[str, int]) -> None:
        super().__init__(default_union=True)
        self._sizes = sizes

    def query(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        g, count = Variable("g"), Variable("count")
        return [ResultRow({g: URIRef(name), count: Literal(n)}, [g, count]) for name, n in self._sizes.items()]


def _key(fmt: Format | None) -> str | None:
    return fmt.key if fmt else None


class SparqlEndpoint(SparqlRouter):
    """``/sparql`` (and ``/sparql/``): queries, the service description and the query page."""

    def __init__(self, settings: ServeSettings, path: str = PATH) -> None:
        self.settings = settings
        self.limits = Limits(settings.max_query_bytes, settings.max_body_bytes)
        self.stats: DatasetStats | None = None
        self._documents: dict[str, bytes] = {}
        super().__init__(
            path=path,
            title=TITLE,
            description=DESCRIPTION,
            version=__version__,
            graph=_GraphSizes({}),
            public_url=settings.endpoint_url,
            enable_update=False,
        )
        # Drop rdflib-endpoint's handlers and its generic response docs; ours follow.
        self.routes.clear()
        self.responses = {}
        # Plain Starlette routes: FastAPI's dependency solving would cost ~0.12 ms per query for a
        # handler that only takes the Request. The OpenAPI schema gets their description from
        # kg.serve.openapi instead (see kg.serve.app).
        for route_path in (path, path + "/"):
            self.add_route(route_path, self.on_get, methods=["GET"], name="sparql-get", include_in_schema=False)
            self.add_route(route_path, self.on_post, methods=["POST"], name="sparql-post", include_in_schema=False)
            self.add_route(route_path, self.not_allowed, methods=OTHER_METHODS, include_in_schema=False)

    # The service description: rdflib-endpoint's, corrected.

    def prepare_sd_graph(self) -> None:
        super().prepare_sd_graph()
        sd = self.service_description
        service = next(sd.subjects(SD.endpoint, None))
        if not self.settings.allow_service:
            sd.remove((service, SD.feature, SD.BasicFederatedQuery))
        sd.remove((service, SD.inputFormat, None))  # read-only: nothing is loaded through us
        for fmt in (*SELECT_FORMATS, *GRAPH_FORMATS):
            sd.add((service, SD.resultFormat, URIRef(fmt.iri)))
        dataset = sd.value(service, SD.defaultDataset)
        default_graph = sd.value(dataset, SD.defaultGraph)
        if self.stats is not None and default_graph is not None:
            sd.add((default_graph, URIRef("http://rdfs.org/ns/void#triples"), Literal(self.stats.default_triples)))
            listed = (
                f"the {len(self.stats.graphs)} largest are listed"
                if self.stats.graph_count > len(self.stats.graphs)
                else "all listed"
            )
            note = f"The merge of all {self.stats.graph_count} named graphs ({listed})."
            sd.add((default_graph, RDFS.comment, Literal(note, lang="en")))
        sd.add((dataset, RDFS.seeAlso, URIRef(self.settings.public_url + ".well-known/void")))

    def describe(self, stats: DatasetStats) -> None:
        """Rebuild the service description with the dataset's named graphs and sizes."""
        self.stats = stats
        self.graph = _GraphSizes(stats.graphs)
        self.service_description = Graph()
        self._documents.clear()
        self.prepare_sd_graph()

    async def service_description_bytes(self, request: Request, fmt: Format) -> bytes:
        stats = await request.app.state.stats.get()
        if self.stats is not stats:
            self.describe(stats)
        if fmt.key not in self._documents:
            self._documents[fmt.key] = await serialize_document(
                self.service_description, fmt, request.app.state, self.settings.endpoint_url
            )
        return self._documents[fmt.key]

    # Handlers.

    async def on_get(self, request: Request) -> Response:
        return await self.answer(request)

    async def on_post(self, request: Request) -> Response:
        return await self.answer(request)

    async def not_allowed(self, request: Request) -> Response:
        allowed = "GET, POST"
        error = HttpError(
            405, f"{request.method} is not a SPARQL protocol operation; use {allowed}.", {"Allow": allowed}
        )
        return error_response(error, request)

    async def answer(self, request: Request) -> Response:
        try:
            parsed = await read_query_request(request, self.limits)
            if parsed is None:
                return await self.describe_or_page(request)
            choice = for_query(request.headers.get("accept"), parsed.format)
            if not choice.any:
                asked = f"format={parsed.format}" if parsed.format else f"Accept: {request.headers.get('accept')}"
                offers = "; ".join(offered(kind) for kind in OFFERS)
                raise HttpError(406, f"Nothing matches {asked}. {offers}.")
            job = Job(
                parsed.query,
                _key(choice.select),
                _key(choice.ask),
                _key(choice.graph),
                parsed.default_graphs,
                parsed.named_graphs,
                self.settings.max_rows,
            )
            return self.respond(await request.app.state.pool.execute(job), choice)
        except HttpError as error:
            return error_response(error, request)

    def respond(self, reply: Reply, choice: Choice) -> Response:
        """The result in the chosen format, with the row-cap headers; raises HttpError for the rest."""
        head = reply.head
        raise_for_reply(head)
        fmt = {Kind.BOOLEAN: choice.ask, Kind.SOLUTIONS: choice.select, Kind.GRAPH: choice.graph}[head.kind]
        assert fmt is not None, "the worker answers NOT_ACCEPTABLE when no format was chosen"
        headers = {"Vary": "Accept"}
        if head.kind != Kind.BOOLEAN:
            headers[ROW_LIMIT_HEADER] = str(self.settings.max_rows)
            headers[TRUNCATED_HEADER] = "true" if head.truncated else "false"
        return Response(reply.body, 200, headers, media_type=fmt.content_type)

    async def describe_or_page(self, request: Request) -> Response:
        """GET without a query: the query page for browsers, else the service description."""
        fmt = document_format(request.headers.get("accept"), html=True)
        if fmt is HTML:
            from kg.serve import ui

            endpoint = "./" if request.url.path.endswith("/") else request.url.path.rsplit("/", 1)[-1]
            page = ui.yasgui_response(TITLE, endpoint, request.app.state.example_queries())
            page.headers["Vary"] = "Accept"
            return page
        body = await self.service_description_bytes(request, fmt)
        return Response(body, headers={"Vary": "Accept"}, media_type=fmt.content_type)


def routes(app: FastAPI) -> SparqlEndpoint:
    """The ``/sparql`` router."""
    return SparqlEndpoint(app.state.settings)
