"""Small RDF documents about the endpoint (service description, VoID), served by negotiation.

These graphs hold a few dozen triples of metadata, so rdflib builds and serialises them; the
dataset itself never goes through rdflib.
"""

from __future__ import annotations

from rdflib import Dataset, Graph
from starlette.responses import Response

from kg.namespaces import bind_all
from kg.serve.errors import HttpError
from kg.serve.formats import GRAPH_FORMATS, TURTLE, accepts, by_name, choose
from kg.serve.representations import HTML, Format

RDFLIB_FORMAT = {
    "turtle": "turtle",
    "ntriples": "nt",
    "jsonld": "json-ld",
    "rdfxml": "xml",
    "trig": "trig",
    "nquads": "nquads",
    "n3": "n3",
}


def document_format(accept: str | None, format_param: str | None = None, html: bool = False) -> Format:
    """The format for a description: HTML only if preferred over every RDF format (when offered),
    Turtle whenever the client takes it at any q (and by default), else the best other RDF format."""
    if format_param:
        chosen = by_name(format_param, GRAPH_FORMATS)
        if chosen is None:
            raise HttpError(406, f"format={format_param} is not an RDF format this document is offered in.")
        return chosen
    if html and choose(accept, (*GRAPH_FORMATS, HTML)) is HTML:
        return HTML
    if accepts(accept, TURTLE):
        return TURTLE
    chosen = choose(accept, GRAPH_FORMATS)
    if chosen is None:
        offered = ", ".join(f.media_type for f in GRAPH_FORMATS)
        raise HttpError(406, f"This document is offered as {offered}; the Accept header takes none of them.")
    return chosen


DATASET_FORMATS = {"nquads"}
"""Formats rdflib serialises from a Dataset only (a Graph raises): the triples go in its default graph."""


def serialize(graph: Graph, fmt: Format) -> bytes:
    if fmt.key in DATASET_FORMATS:
        dataset = Dataset()
        dataset.default_graph += graph
        graph = dataset
    bind_all(graph)
    return graph.serialize(format=RDFLIB_FORMAT[fmt.key], encoding="utf-8")


def document_response(graph: Graph, fmt: Format) -> Response:
    return Response(serialize(graph, fmt), headers={"Vary": "Accept"}, media_type=fmt.content_type)
