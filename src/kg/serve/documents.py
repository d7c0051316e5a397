"""Small RDF documents about the endpoint (service description, VoID), served by negotiation.

These graphs hold a few dozen triples of metadata, so rdflib builds and serialises them; the
dataset itself never goes through rdflib. JSON-LD is compacted with the project's context
(:mod:`kg.serve.jsonld`), made once from the served ontology through the query pool.
"""

from __future__ import annotations

import asyncio

import pyoxigraph as ox
from rdflib import Dataset, Graph
from starlette.datastructures import State

from kg.namespaces import bind_all
from kg.serve.engine import PoolRunner
from kg.serve.errors import HttpError
from kg.serve.formats import GRAPH_FORMATS, JSONLD, NTRIPLES, TURTLE, accepts, by_name, choose
from kg.serve.jsonld import ONTOLOGY_QUERY, Compactor, compactor_from_ntriples
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


async def serialize_document(graph: Graph, fmt: Format, state: State, endpoint_url: str) -> bytes:
    """``graph`` in ``fmt``, off the event loop; JSON-LD compacted with the project's context."""
    compactor = await _compactor(state, endpoint_url) if fmt.key == JSONLD.key else None
    return await asyncio.to_thread(serialize, graph, fmt, compactor)


async def _compactor(state: State, endpoint_url: str) -> Compactor:
    """The context made from the served ontology (as the served context is), once per application."""
    if getattr(state, "jsonld_compactor", None) is None:
        ontology = await PoolRunner(state).construct(ONTOLOGY_QUERY, NTRIPLES.media_type)
        state.jsonld_compactor = compactor_from_ntriples(endpoint_url, ontology)
    return state.jsonld_compactor


def serialize(graph: Graph, fmt: Format, compactor: Compactor | None = None) -> bytes:
    if compactor is not None and fmt.key == JSONLD.key:
        return compactor.serialize(
            ox.parse(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
        )
    if fmt.key in DATASET_FORMATS:
        dataset = Dataset()
        dataset.default_graph += graph
        graph = dataset
    bind_all(graph)
    return graph.serialize(format=RDFLIB_FORMAT[fmt.key], encoding="utf-8")
