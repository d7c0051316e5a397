"""Dereferencing: every IRI we mint answers ``GET`` with an HTML page or an RDF description.

Minted IRIs live under the public base (https://w3id.org/alignkg/), which maps onto this server's
root: ``GET /id/country/UKR`` describes ``<https://w3id.org/alignkg/id/country/UKR>``. The
representation is chosen by ``Accept`` (q-values honoured; nothing acceptable -> 406) or named
explicitly with ``?format=html|ttl|jsonld|nt|rdf``; a named graph's full content is at
``?dump=ttl|jsonld|nt|rdf``. Every answer carries ``Vary: Accept``; ``Link`` names the canonical IRI
and every alternate representation (W3C "Best Practice Recipes for Publishing RDF Vocabularies").

All data comes through a :class:`QueryRunner` with standard SPARQL 1.1, so the same router works
over the local worker pool and over a remote SPARQL engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.resources import files
from types import SimpleNamespace

from fastapi import APIRouter
from rdflib import Graph
from rdflib.namespace import OWL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kg.namespaces import BASE, GRAPH, ONTOLOGY_IRI, SHAPES, sparql_prologue
from kg.serve import neighbourhood as nb
from kg.serve.neighbourhood import QueryRunner
from kg.serve.pages import INBOUND_LIMIT, build_page, render
from kg.serve.representations import BY_KEY, FORMATS, HTML, JSON_LD, RDF_FORMATS, Format, negotiate

__all__ = ["QueryRunner", "router"]

SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
"""What a path segment of a minted IRI may hold (RFC 3986 unreserved characters)."""
CSS_PATH = "static/alignkg.css"
SPARQL_PATH = "sparql"
DUMP_PARAM = "dump"
FORMAT_PARAM = "format"
PLAIN = Format("text", "text/plain", "plain text", charset=True)
CONTEXT = "context.jsonld"
JSON_LD_CONTEXT = JSON_LD
"""The JSON-LD context of our terms, below the namespace."""
SHAPES_IRI = str(SHAPES).rstrip("/")
"""The shapes document; each shape is below it."""
NAMESPACE_DOCUMENTS = ("ontology/", "shapes/")
"""Namespaces whose IRI with a slash redirects to the document without it."""


def default_server_base(request: Request) -> str:
    """This server's root URL as the client reached it (with any mount prefix), ending in ``/``."""
    return str(request.base_url)


def router(
    runner: QueryRunner,
    public_base: str = BASE,
    server_base_of: Callable[[Request], str] = default_server_base,
    shapes: QueryRunner | None = None,
) -> APIRouter:
    """Routes for ``/id/…``, ``/graph/…``, ``/vocab/…``, ``/ontology`` and ``/ontology/…``, plus the CSS;
    with ``shapes`` (a runner over the SHACL shapes, :mod:`kg.serve.shapes`) also ``/shapes`` and ``/shapes/…``.

    ``server_base_of(request)`` gives the URL that ``public_base`` maps onto (ending in ``/``).
    """
    api = APIRouter()
    resolver = _Resolver(runner, public_base, server_base_of)
    api.add_api_route(f"/ontology/{CONTEXT}", resolver.context, methods=["GET", "HEAD"], include_in_schema=False)
    for prefix in ("id", "graph", "vocab", "ontology"):
        api.add_api_route(
            f"/{prefix}/{{path:path}}",
            resolver.handler(prefix + "/"),
            methods=["GET", "HEAD"],
            include_in_schema=False,
        )
    api.add_api_route("/ontology", resolver.handler("ontology"), methods=["GET", "HEAD"], include_in_schema=False)
    if shapes is not None:
        of_shapes = _Resolver(shapes, public_base, server_base_of)
        for route, stem in (("/shapes/{path:path}", "shapes/"), ("/shapes", "shapes")):
            api.add_api_route(route, of_shapes.handler(stem), methods=["GET", "HEAD"], include_in_schema=False)
    api.add_api_route(f"/{CSS_PATH}", _stylesheet, methods=["GET", "HEAD"], include_in_schema=False)
    return api


async def _stylesheet() -> Response:
    css = files("kg").joinpath(CSS_PATH).read_bytes()
    return Response(css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"})


def valid_path(path: str) -> bool:
    """Whether ``path`` (below the public base) can be a minted IRI: unreserved segments, no dot-segments."""
    segments = path.split("/")
    return all(SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)


class _Resolver:
    """Answers a request for a minted IRI."""

    def __init__(self, runner: QueryRunner, public_base: str, server_base_of: Callable[[Request], str]):
        self.runner = runner
        self.public_base = public_base
        self.server_base_of = server_base_of
        self._docs: dict[str, str] = {}
        self._context: str | None = None

    def handler(self, stem: str) -> Callable[[Request], object]:
        async def handle(request: Request) -> Response:
            rest = request.path_params.get("path", "") if stem.endswith("/") else ""
            if stem in NAMESPACE_DOCUMENTS and not rest:  # the namespace IRI with its slash: the document
                target = self.server_base_of(request) + stem.rstrip("/")
                query = f"?{request.url.query}" if request.url.query else ""
                return RedirectResponse(target + query, status_code=301, headers={"Vary": "Accept"})
            return await self.answer(request, stem + rest)

        return handle

    async def answer(self, request: Request, path: str) -> Response:
        server_base = self.server_base_of(request)
        if not valid_path(path):
            site = self._site(server_base, None)
            return self._error(request, site, 404, "Not found", "No resource of ours has this address.")
        iri, url = self.public_base + path, server_base + path
        site = self._site(server_base, iri, url)
        dump = request.query_params.get(DUMP_PARAM)
        if dump is not None:
            return await self._dump(request, site, iri, dump)
        fmt = self._format(request)
        if isinstance(fmt, Response):
            return fmt
        headers = {"Link": self._links(site)}
        if FORMAT_PARAM not in request.query_params:
            headers["Content-Location"] = f"{url}?{FORMAT_PARAM}={fmt.key}"
        if fmt is HTML and await self._is_ontology(iri):  # the namespace and its versions: the documentation
            return _respond(await self._documentation(server_base), HTML, 200, headers)
        if fmt is HTML:
            page = await build_page(self.runner, iri, self.public_base, server_base)
            if page is None:
                return self._not_found(request, site, iri)
            return _respond(render(page.template, site=site, **page.context), HTML, 200, headers)
        if not await self._exists(iri):
            return self._not_found(request, site, iri)
        body = await self.runner.construct(await self._description_query(iri), fmt.media_type)
        return _respond(body, fmt, 200, headers)

    def _format(self, request: Request) -> Format | Response:
        """The representation asked for with ``?format=`` (400 if unknown), else by Accept (406 if none)."""
        key = request.query_params.get(FORMAT_PARAM)
        site = self._site(self.server_base_of(request), None)
        if key is not None:
            fmt = BY_KEY.get(key)
            if fmt is None:
                return self._error(request, site, 400, "Unknown format", f"format must be one of: {', '.join(BY_KEY)}.")
            return fmt
        fmt = negotiate(request.headers.get("accept"))
        if fmt is None:
            offered = ", ".join(f.media_type for f in FORMATS)
            return self._error(request, site, 406, "Not acceptable", f"Available as: {offered}.")
        return fmt

    async def _ontology_graph(self) -> Graph:
        graph = Graph()
        for quad in await nb.graph_quads(self.runner, str(GRAPH["ontology"])):
            graph.add((quad.s, quad.p, quad.o))
        return graph

    async def _documentation(self, server_base: str) -> str:
        """The generated ontology documentation (``kg docs``), from the served data, made once per base."""
        if server_base not in self._docs:
            from kg.docs import example_queries, render_docs

            ontology = await self._ontology_graph()
            examples, counts = example_queries(ontology)
            rows, totals = await self.runner.select(examples), await self.runner.select(counts)

            def href(iri: str) -> str:
                return server_base + iri[len(self.public_base) :] if iri.startswith(self.public_base) else iri

            self._docs[server_base] = render_docs(ontology, rows, totals, href)
        return self._docs[server_base]

    async def context(self, request: Request) -> Response:
        """The JSON-LD context of our terms, made from the served ontology."""
        if self._context is None:
            from kg.docs import context_text

            self._context = context_text(await self._ontology_graph())
        return _respond(self._context, JSON_LD_CONTEXT, 200, {"Cache-Control": "max-age=3600"})

    async def _dump(self, request: Request, site: SimpleNamespace, iri: str, key: str) -> Response:
        """A named graph's whole content, in one of the RDF formats."""
        fmt = next((f for f in RDF_FORMATS if f.key == key), None)
        if not iri.startswith(self.public_base + "graph/") or fmt is None:
            known = ", ".join(f.key for f in RDF_FORMATS)
            message = f"dump applies to named graphs only, with one of: {known}."
            return self._error(request, site, 400, "Bad dump request", message)
        if not await nb.count(self.runner, f"GRAPH {nb.sparql_iri(iri)} {{ ?s ?p ?o }}"):
            return self._not_found(request, site, iri)
        query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {nb.sparql_iri(iri)} {{ ?s ?p ?o }} }}"
        body = await self.runner.construct(query, fmt.media_type)
        url = site.alternates[0].href.split("?")[0]
        links = ", ".join(f'<{url}?{DUMP_PARAM}={f.key}>; rel="alternate"; type="{f.media_type}"' for f in RDF_FORMATS)
        return _respond(body, fmt, 200, {"Link": links})

    async def _exists(self, iri: str) -> bool:
        node = nb.sparql_iri(iri)
        where = (
            f"{{ GRAPH ?g {{ {node} ?p ?o }} }} UNION {{ GRAPH ?g {{ ?s ?p {node} }} }} "
            f"UNION {{ GRAPH {node} {{ ?s ?p ?o }} }}"
        )
        rows = await self.runner.select(f"SELECT * WHERE {{ {where} }} LIMIT 1")
        return bool(rows)

    async def _is_ontology(self, iri: str) -> bool:
        """Whether ``iri`` is the ontology or one of its version IRIs (both answer with the whole ontology)."""
        if iri == ONTOLOGY_IRI:
            return True
        query = f"SELECT ?o WHERE {{ GRAPH ?g {{ {nb.sparql_iri(ONTOLOGY_IRI)} <{OWL.versionIRI}> {nb.sparql_iri(iri)} }} }}"
        return iri.startswith(ONTOLOGY_IRI + "/") and bool(await self.runner.select(query))

    async def _description_query(self, iri: str) -> str:
        """CONSTRUCT of what we say about ``iri``: its triples, links to it (but rdf:type), the labels of
        both ends, the evidence spans quoted from it; for a named graph also its size and dumps; for the
        ontology, the whole ontology graph."""
        node = nb.sparql_iri(iri)
        if await self._is_ontology(iri):
            return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {nb.sparql_iri(str(GRAPH['ontology']))} {{ ?s ?p ?o }} }}"
        if iri == SHAPES_IRI:
            return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {nb.sparql_iri(str(GRAPH['shapes']))} {{ ?s ?p ?o }} }}"
        if iri.startswith(str(SHAPES)):  # a shape with its property shapes, lists and SPARQL (its CBD)
            return f"DESCRIBE {node}"
        extra_template, extra_pattern = "", ""
        if iri.startswith(str(GRAPH)):
            dumps = ", ".join(nb.sparql_iri(f"{iri}?{DUMP_PARAM}={f.key}") for f in RDF_FORMATS)
            extra_template = f"{node} void:triples ?size ; void:dataDump {dumps} ."
            extra_pattern = f"UNION {{ SELECT (COUNT(*) AS ?size) WHERE {{ GRAPH {node} {{ ?gs ?gp ?go }} }} }}"
        return f"""{sparql_prologue()}CONSTRUCT {{
  {node} ?p ?o . ?o rdfs:label ?olabel .
  ?s ?q {node} . ?s rdfs:label ?slabel .
  ?span ?sp ?so .
  {extra_template}
}} WHERE {{
  {{ GRAPH ?g {{ {node} ?p ?o }} OPTIONAL {{ GRAPH ?lg {{ ?o rdfs:label ?olabel }} }} }}
  UNION {{ GRAPH ?g {{ ?s ?q {node} }} FILTER(?q != rdf:type) OPTIONAL {{ GRAPH ?lg {{ ?s rdfs:label ?slabel }} }} }}
  UNION {{ GRAPH ?g {{ ?span prov:wasQuotedFrom {node} }} GRAPH ?sg {{ ?span ?sp ?so }} }}
  {extra_pattern}
}}"""

    def _site(self, server_base: str, iri: str | None, url: str | None = None) -> SimpleNamespace:
        alternates = [
            SimpleNamespace(name=f.name, media_type=f.media_type, key=f.key, href=f"{url}?{FORMAT_PARAM}={f.key}")
            for f in FORMATS
        ]
        return SimpleNamespace(
            canonical=iri,
            alternates=alternates if url else [],
            home=server_base,
            css=server_base + CSS_PATH,
            ontology=server_base + "ontology",
            sparql=server_base + SPARQL_PATH,
            inbound_limit=INBOUND_LIMIT,
        )

    @staticmethod
    def _links(site: SimpleNamespace) -> str:
        links = [f'<{site.canonical}>; rel="canonical"']
        links += [f'<{a.href}>; rel="alternate"; type="{a.media_type}"' for a in site.alternates]
        return ", ".join(links)

    def _not_found(self, request: Request, site: SimpleNamespace, iri: str) -> Response:
        message = "The dataset says nothing about this IRI."
        return self._error(request, site, 404, "Not found", message, iri)

    def _error(
        self, request: Request, site: SimpleNamespace, status: int, title: str, message: str, iri: str | None = None
    ) -> Response:
        """An error in HTML if the client takes HTML, else in plain text; with ``Vary: Accept``."""
        if negotiate(request.headers.get("accept"), (HTML, PLAIN)) is HTML:
            body = render(
                "error.html",
                site=SimpleNamespace(**{**vars(site), "alternates": [], "canonical": None}),
                title=title,
                message=message,
                iri=iri,
            )
            return _respond(body, HTML, status, {})
        return _respond(f"{title}: {message}\n", PLAIN, status, {})


def _respond(body: str | bytes, fmt: Format, status: int, headers: dict[str, str]) -> Response:
    return Response(body, status_code=status, media_type=fmt.content_type, headers={**headers, "Vary": "Accept"})
