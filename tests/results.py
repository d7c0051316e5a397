"""Test helpers: SPARQL results read with rdflib's parsers, and rdflib's own answer to compare with.

The endpoint evaluates with Oxigraph; rdflib (a separate engine and separate parsers) on the same
fixture files says what the answer should be, so no test hard-codes an answer.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from rdflib import Dataset, Graph
from rdflib.query import Result
from rdflib.term import Node

Row = frozenset[tuple[str, Node]]
RDFLIB_RESULTS = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
RDFLIB_GRAPHS = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
    "application/trig": "trig",
    "application/n-quads": "nquads",
    "text/n3": "n3",
}


def reference(*files: Path) -> Dataset:
    """The fixture files in an rdflib Dataset whose default graph is the union, like the endpoint's."""
    dataset = Dataset(default_union=True)
    for path in files:
        dataset.parse(path, format="trig" if path.suffix == ".trig" else None)
    return dataset


def rows(result: Result) -> Counter[Row]:
    """A SELECT result as a multiset of rows (variable name -> term, unbound left out)."""
    return Counter(
        frozenset((str(var), value) for var, value in binding.items() if value is not None)
        for binding in result.bindings
    )


def as_text(counted: Counter[Row]) -> Counter[frozenset[tuple[str, str]]]:
    """Rows with terms as their plain string (what CSV keeps)."""
    return Counter({frozenset((var, str(value)) for var, value in row): n for row, n in counted.items()})


def parse_results(body: bytes, content_type: str) -> Result:
    """SPARQL results in any of the four result formats, read by rdflib."""
    media = content_type.split(";")[0].strip()
    return Result.parse(io.BytesIO(body), format=RDFLIB_RESULTS[media])


def parse_graph(body: bytes, content_type: str) -> set[tuple[Node, Node, Node]]:
    """The triples of an RDF response (all graphs merged), read by rdflib."""
    media = content_type.split(";")[0].strip()
    dataset = Dataset()
    dataset.parse(data=body, format=RDFLIB_GRAPHS[media])
    return {(s, p, o) for s, p, o, _ in dataset.quads((None, None, None, None))}


def triples(graph: Graph | Iterable[tuple[Node, Node, Node]]) -> set[tuple[Node, Node, Node]]:
    return set(graph)
