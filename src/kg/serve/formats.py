"""The formats query results are served in, and how a request picks one (Accept or ``format=``).

Accept headers are read by :mod:`kg.serve.representations` (shared with the linked-data pages) (q-values, wildcards, ``q=0``, the most
specific range deciding; 406 when nothing fits). rdflib-endpoint 0.6.3, by contrast, sorts Accept
entries by q but ignores wildcards and ``q=0``, has no TSV, answers DESCRIBE in RDF/XML whatever
was asked, and never says 406.

The ``format`` (or ``output``) parameter, as SPARQLWrapper and others send it, overrides Accept:
a short name (``json``, ``xml``, ``csv``, ``tsv``, ``turtle``, ``n3``, ``rdf``, ``json-ld``, ...)
or a media type. Its meaning depends on the query form: ``xml`` is SPARQL XML for SELECT and
RDF/XML for CONSTRUCT; ``json`` is SPARQL JSON or JSON-LD.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pyoxigraph as ox

from kg.serve.representations import Format, negotiate, parse_accept, quality

FORMATS_NS = "http://www.w3.org/ns/formats/"


@dataclass(frozen=True)
class ResultFormat(Format):
    """A format query results are served in."""

    names: tuple[str, ...] = ()
    """Values of the ``format`` parameter that mean this format."""
    iri: str = ""
    """Its IRI in https://www.w3.org/ns/formats/ (for the service description)."""


def _format(
    key: str, media_type: str, name: str, aliases: tuple[str, ...], names: tuple[str, ...], iri: str
) -> ResultFormat:
    text = media_type.startswith("text/")
    return ResultFormat(key, media_type, name, aliases, text, names, FORMATS_NS + iri)


# Tabular results (SELECT; ASK takes JSON and XML only: CSV and TSV define no boolean).
JSON = _format(
    "json",
    "application/sparql-results+json",
    "SPARQL JSON",
    ("application/json", "text/json"),
    ("json", "srj"),
    "SPARQL_Results_JSON",
)
XML = _format(
    "xml",
    "application/sparql-results+xml",
    "SPARQL XML",
    ("application/xml", "text/xml"),
    ("xml", "srx"),
    "SPARQL_Results_XML",
)
CSV = _format("csv", "text/csv", "CSV", (), ("csv",), "SPARQL_Results_CSV")
TSV = _format("tsv", "text/tab-separated-values", "TSV", (), ("tsv",), "SPARQL_Results_TSV")

# RDF graphs (CONSTRUCT, DESCRIBE; also the service description and VoID).
TURTLE = _format("turtle", "text/turtle", "Turtle", ("application/x-turtle",), ("turtle", "ttl"), "Turtle")
NTRIPLES = _format(
    "ntriples", "application/n-triples", "N-Triples", ("text/plain",), ("nt", "ntriples", "n-triples"), "N-Triples"
)
JSONLD = _format(
    "jsonld", "application/ld+json", "JSON-LD", ("application/json",), ("json-ld", "jsonld", "json"), "JSON-LD"
)
RDFXML = _format(
    "rdfxml",
    "application/rdf+xml",
    "RDF/XML",
    ("application/xml", "text/xml"),
    ("rdf", "rdf+xml", "rdfxml", "xml"),
    "RDF_XML",
)
TRIG = _format("trig", "application/trig", "TriG", (), ("trig",), "TriG")
NQUADS = _format("nquads", "application/n-quads", "N-Quads", (), ("nq", "nquads", "n-quads"), "N-Quads")
N3 = _format("n3", "text/n3", "N3", ("text/rdf+n3",), ("n3",), "N3")

SELECT_FORMATS = (JSON, XML, CSV, TSV)
ASK_FORMATS = (JSON, XML)
GRAPH_FORMATS = (TURTLE, NTRIPLES, JSONLD, RDFXML, TRIG, NQUADS, N3)

RESULTS_FORMAT = {JSON.key: ox.QueryResultsFormat.JSON, XML.key: ox.QueryResultsFormat.XML,
                  CSV.key: ox.QueryResultsFormat.CSV, TSV.key: ox.QueryResultsFormat.TSV}  # fmt: skip
RDF_FORMAT = {TURTLE.key: ox.RdfFormat.TURTLE, NTRIPLES.key: ox.RdfFormat.N_TRIPLES, JSONLD.key: ox.RdfFormat.JSON_LD,
              RDFXML.key: ox.RdfFormat.RDF_XML, TRIG.key: ox.RdfFormat.TRIG, NQUADS.key: ox.RdfFormat.N_QUADS,
              N3.key: ox.RdfFormat.N3}  # fmt: skip


@lru_cache(maxsize=1024)
def choose(accept: str | None, offers: tuple[Format, ...]) -> Format | None:
    """The offer the Accept header prefers (the first without one); None if it takes none."""
    return negotiate(accept, offers)


def accepts(accept: str | None, fmt: Format) -> bool:
    """Whether the client takes ``fmt`` at any q above 0 (wildcards included; no header: yes)."""
    ranges = parse_accept(accept) if accept else []
    return not ranges or quality(ranges, fmt)[0] > 0


def by_name(value: str, offers: tuple[ResultFormat, ...]) -> ResultFormat | None:
    """The offer a ``format=`` value names (a short name or a media type), or None."""
    value = value.strip().lower()
    if "/" in value:
        return choose(value, offers)  # type: ignore[return-value]
    return next((fmt for fmt in offers if value in fmt.names), None)


@dataclass(frozen=True)
class Choice:
    """The format for each query form, None where nothing acceptable is offered."""

    select: ResultFormat | None
    ask: ResultFormat | None
    graph: ResultFormat | None

    @property
    def any(self) -> bool:
        return bool(self.select or self.ask or self.graph)


@lru_cache(maxsize=1024)
def for_query(accept: str | None, format_param: str | None) -> Choice:
    """The response format for each query form: from ``format=`` if given, else from Accept."""
    offers = (SELECT_FORMATS, ASK_FORMATS, GRAPH_FORMATS)
    if format_param:
        return Choice(*(by_name(format_param, formats) for formats in offers))
    return Choice(*(choose(accept, formats) for formats in offers))  # type: ignore[arg-type]
