"""JSON-LD output compacted with the project's context (the one served at ``/ontology/context.jsonld``).

Every JSON-LD document the server sends is Oxigraph's (expanded) JSON-LD compacted by PyLD, the
JSON-LD 1.1 Compaction algorithm, with the context made from the served ontology
(:func:`kg.docs.jsonld_context`, the same function that makes the served context). Its ``"@context"``
is that context's URL on this server, so the output stays small and a client that expands it gets
exactly the data back. Compaction is lossless: typed literals keep their lexical form (no native
JSON numbers), named graphs stay ``{"@id": ..., "@graph": [...]}``.

Nothing is ever fetched: PyLD's document loader here knows our context's URL only and refuses any
other. Compaction is pure Python (about 0.2 ms per triple), so it runs where the query runs: in
the worker process (killable, within the query's time limit) or on a thread for a remote backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import pyoxigraph as ox

from kg.namespaces import GRAPH

CONTEXT_PATH = "ontology/context.jsonld"
"""Where the context is served, relative to the server's root."""
ONTOLOGY_QUERY = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH['ontology']}> {{ ?s ?p ?o }} }}"
"""The served ontology, from which the context is made."""
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def context_url(endpoint_url: str) -> str:
    """The context's URL on this server, from the endpoint's (``public_url + "sparql"``)."""
    return urljoin(endpoint_url, CONTEXT_PATH)


def context_of(ontology: Iterable[ox.Triple]) -> dict[str, Any]:
    """The value of ``"@context"`` in the served context document, made from the ontology's triples."""
    return context_of_ntriples(ox.serialize(ontology, format=ox.RdfFormat.N_TRIPLES) or b"")


def context_of_ntriples(ontology: bytes) -> dict[str, Any]:
    """:func:`context_of` for the ontology as N-Triples (what :data:`ONTOLOGY_QUERY` answers)."""
    from rdflib import Graph

    from kg.docs import jsonld_context

    return jsonld_context(Graph().parse(data=ontology, format="nt"))["@context"]


def compactor_from_ntriples(endpoint_url: str, ontology: bytes) -> Compactor:
    """The compactor for the server at ``endpoint_url``, its context made from the ontology's N-Triples."""
    return Compactor(context_url(endpoint_url), context_of_ntriples(ontology))


class RemoteContextRefused(ValueError):
    """A document named a context other than ours; it is not fetched."""


@dataclass
class Compactor:
    """Compacts JSON-LD with our context, which lives at ``url``."""

    url: str
    context: dict[str, Any]
    _options: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._options = {"documentLoader": self._load}

    def _load(self, url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        if url != self.url:
            raise RemoteContextRefused(f"only the context at {self.url} is known; {url} is not fetched")
        return {"contextUrl": None, "documentUrl": url, "document": {"@context": self.context}}

    def compact(self, expanded: Any) -> bytes:
        """A JSON-LD document (any form, no remote context) compacted, with ``"@context": url``."""
        from pyld import jsonld

        compacted = jsonld.compact(expanded, self.url, self._options)
        return json.dumps(compacted, ensure_ascii=False, indent=1).encode("utf-8")

    def serialize(self, statements: Iterable[ox.Triple | ox.Quad]) -> bytes:
        """Triples (a graph) or quads (a dataset) as compacted JSON-LD."""
        # Sorted so that Oxigraph writes one node object per subject and one entry per named graph.
        ordered = sorted(statements, key=lambda s: (str(getattr(s, "graph_name", "")), str(s.subject)))
        expanded = json.loads(ox.serialize(ordered, format=ox.RdfFormat.JSON_LD) or b"[]")
        return self.compact([_with_types(node) for node in expanded])

    def expand(self, document: Any) -> Any:
        """A document of ours expanded again (for checks): the context is resolved locally."""
        from pyld import jsonld

        return jsonld.expand(document, self._options)


def _with_types(node: dict[str, Any]) -> dict[str, Any]:
    """A node object (and those of its ``@graph``) with rdf:type as ``@type``, as JSON-LD's fromRdf writes it.

    Oxigraph writes rdf:type as a property; JSON-LD maps ``@type`` back to rdf:type, so the data is
    unchanged, and compaction then writes ``"type": "Claim"``. A literal value keeps it a property."""
    if "@graph" in node:
        node = {**node, "@graph": [_with_types(inner) for inner in node["@graph"]]}
    values = node.get(RDF_TYPE)
    if values and all(set(value) == {"@id"} for value in values):
        node = {k: v for k, v in node.items() if k != RDF_TYPE}
        node["@type"] = [value["@id"] for value in values]
    return node


PREFIXED_FORMATS = {ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.N3, ox.RdfFormat.RDF_XML}
"""Formats written with the project's prefixes."""


def serialize_graph(
    triples: list[ox.Triple], fmt: ox.RdfFormat, prefixes: dict[str, str], compactor: Callable[[], Compactor]
) -> bytes:
    """A CONSTRUCT/DESCRIBE result in ``fmt``: JSON-LD compacted, Turtle-like formats with our prefixes."""
    if fmt == ox.RdfFormat.JSON_LD:
        return compactor().serialize(triples)
    return ox.serialize(triples, format=fmt, prefixes=prefixes if fmt in PREFIXED_FORMATS else None) or b""
