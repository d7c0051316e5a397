"""The dataset's VoID + DCAT description at ``/.well-known/void``, and its dumps at ``/dumps/``.

rdflib-endpoint has no dataset description. This one says what is served and how to get it:
triples per named graph (``void:subset``), the vocabularies used, example resources, the licence
(CC BY 4.0), the SPARQL endpoint (``void:sparqlEndpoint``, a ``dcat:DataService``) and the dump
files (``void:dataDump``, ``dcat:Distribution``), all at the server's public URL.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from fastapi import APIRouter, FastAPI
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, XSD
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from kg.namespaces import BASE, DCAT, VOID
from kg.serve.documents import document_format, serialize_document
from kg.serve.errors import HttpError, error_response
from kg.serve.formats import GRAPH_FORMATS, ResultFormat
from kg.serve.settings import ServeSettings
from kg.serve.stats import DatasetStats
from kg.store import sources

VOID_PATH = "/.well-known/void"
DUMPS_PATH = "/dumps"
LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
SPARQL_PROTOCOL = URIRef("https://www.w3.org/TR/sparql11-protocol/")
IANA = "https://www.iana.org/assignments/media-types/"
TITLE = "alignkg: international alignment around Russia's invasion of Ukraine (2022)"


def dump_format(path: Path) -> ResultFormat | None:
    """Our description of a dump file's format, from its extension."""
    found = ox.RdfFormat.from_extension(path.suffix.lstrip(".").lower())
    return next((f for f in GRAPH_FORMATS if found and f.media_type == found.media_type), None)


def dataset_iri(settings: ServeSettings) -> URIRef:
    return URIRef(settings.public_url + VOID_PATH.lstrip("/") + "#dataset")


def void_graph(settings: ServeSettings, stats: DatasetStats, dumps: dict[str, Path]) -> Graph:
    """The VoID + DCAT description of the served dataset."""
    graph = Graph()
    dataset = dataset_iri(settings)
    document = URIRef(settings.public_url + VOID_PATH.lstrip("/"))
    endpoint = URIRef(settings.endpoint_url)
    graph.add((document, RDF.type, VOID.DatasetDescription))
    graph.add((document, FOAF.primaryTopic, dataset))
    for kind in (VOID.Dataset, DCAT.Dataset):
        graph.add((dataset, RDF.type, kind))
    graph.add((dataset, DCTERMS.title, Literal(TITLE, lang="en")))
    graph.add((dataset, DCTERMS.license, LICENSE))
    graph.add((dataset, VOID.uriSpace, Literal(BASE)))
    graph.add((dataset, VOID.triples, Literal(stats.triples)))
    graph.add((dataset, VOID.sparqlEndpoint, endpoint))
    for namespace in stats.vocabularies:
        graph.add((dataset, VOID.vocabulary, URIRef(namespace)))
    for example in stats.examples:
        graph.add((dataset, VOID.exampleResource, URIRef(example)))
    for name, size in stats.graphs.items():
        subset = URIRef(name)
        graph.add((dataset, VOID.subset, subset))
        graph.add((subset, RDF.type, VOID.Dataset))
        graph.add((subset, VOID.triples, Literal(size)))
    graph.add((endpoint, RDF.type, DCAT.DataService))
    graph.add((endpoint, DCAT.endpointURL, endpoint))
    graph.add((endpoint, DCAT.servesDataset, dataset))
    graph.add((endpoint, DCTERMS.conformsTo, SPARQL_PROTOCOL))
    service_distribution = BNode()
    graph.add((dataset, DCAT.distribution, service_distribution))
    graph.add((service_distribution, RDF.type, DCAT.Distribution))
    graph.add((service_distribution, DCAT.accessURL, endpoint))
    graph.add((service_distribution, DCAT.accessService, endpoint))
    for name, path in dumps.items():
        url = URIRef(settings.public_url + DUMPS_PATH.lstrip("/") + "/" + name)
        fmt = dump_format(path)
        distribution = BNode()
        graph.add((dataset, VOID.dataDump, url))
        graph.add((dataset, DCAT.distribution, distribution))
        graph.add((distribution, RDF.type, DCAT.Distribution))
        graph.add((distribution, DCAT.downloadURL, url))
        graph.add((distribution, DCTERMS.license, LICENSE))
        graph.add((distribution, DCAT.byteSize, Literal(path.stat().st_size, datatype=XSD.nonNegativeInteger)))
        if fmt is not None:
            graph.add((distribution, DCAT.mediaType, URIRef(IANA + fmt.media_type)))
            graph.add((distribution, DCTERMS.format, URIRef(fmt.iri)))
    return graph


def routes(app: FastAPI) -> APIRouter:
    """``/.well-known/void`` and ``/dumps/<file>``."""
    settings: ServeSettings = app.state.settings
    router = APIRouter()
    dumps = {path.name: path for path in sources(settings.data).dumps} if settings.data else {}
    cache: dict[str, bytes] = {}

    rdf = {f.media_type: {"schema": {"type": "string"}} for f in GRAPH_FORMATS}
    described = {
        200: {"description": "The description", "content": rdf},
        406: {"description": "No RDF format accepted"},
    }

    @router.get(VOID_PATH, summary="VoID + DCAT description of the dataset (Turtle by default)", responses=described)
    async def describe(request: Request) -> Response:
        try:
            fmt = document_format(request.headers.get("accept"), request.query_params.get("format"))
        except HttpError as error:
            return error_response(error, request)
        if fmt.key not in cache:
            stats = await request.app.state.stats.get()
            graph = void_graph(settings, stats, dumps)
            cache[fmt.key] = await serialize_document(graph, fmt, request.app.state, settings.endpoint_url)
        return Response(cache[fmt.key], headers={"Vary": "Accept"}, media_type=fmt.content_type)

    downloads = {f.media_type: {"schema": {"type": "string"}} for f in filter(None, map(dump_format, dumps.values()))}
    dumped = {200: {"description": "The file", "content": downloads}, 404: {"description": "No such dump"}}

    @router.get(DUMPS_PATH + "/{name}", summary="Download the dataset as a file", responses=dumped)
    async def dump(name: str, request: Request) -> Response:
        path = dumps.get(name)
        if path is None:
            offered = ", ".join(sorted(dumps)) or "none"
            return error_response(HttpError(404, f"No dump named {name!r}; dumps: {offered}."), request)
        fmt = dump_format(path)
        return FileResponse(path, media_type=fmt.content_type if fmt else "application/octet-stream", filename=name)

    return router
