"""Loading a store whose default graph is the RDF merge of everything loaded, written out once.

Queries without FROM or a protocol dataset run on the default graph, and SPARQL 1.1 defines it
here as the merge of the named graphs: a set, where a triple stated in two documents counts once.
Oxigraph's ``use_default_graph_as_union`` is a multiset instead (verified on 0.5.13: a triple in
two graphs matches twice; 8 triples of our own data are in more than one graph). So the loader
writes every named graph's triples into the default graph as well, and the store, a set of
quads, keeps each triple there once. Queries then run on the default graph without the union
view, which is also faster: its indexes have three terms to a key, not four (1M quads, in process:
scan 13 %, aggregate 10 %, join 45 % faster; ``bench/RESULTS.md``). The cost is the copy: 37 %
more store, and every statement parsed twice: loading takes 1.2x as long at 1M quads (the second
core was idle half the time before) and about 1.8x at 10M (124 s against 66-70 s).

N-Quads, the format of ``dist/``, is copied as it streams into Oxigraph's bulk loader: each line
with a graph label is followed by the same statement without it. A line in the canonical form
(single spaces, nothing after the final dot: what Oxigraph and rdflib write) is cut by
:data:`QUAD_LINE`; any other line (comments, tabs, escaped quotes, a default-graph statement) is
parsed by Oxigraph on its own and its triple serialised by Oxigraph. Other formats with named
graphs (TriG, JSON-LD) are bulk-loaded, then read again into the default graph (Python objects,
~13 s per million quads). Triple formats load into the default graph directly.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyoxigraph as ox

_IRI = rb'<[^<>"{}|^`\\\x00-\x20]*>'
_BLANK = rb"_:[^\s<>\"#]+"
_LITERAL = rb'"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"(?:@[A-Za-z]+(?:-[A-Za-z0-9]+)*|\^\^' + _IRI + rb")?"
QUAD_LINE = re.compile(
    rb"((?:" + _IRI + rb"|" + _BLANK + rb") " + _IRI + rb" (?:" + _IRI + rb"|" + _BLANK + rb"|" + _LITERAL + rb")) "
    rb"(?:" + _IRI + rb"|" + _BLANK + rb") \.\r?\n"
)
"""A canonical N-Quads statement with a graph label; group 1 is its subject, predicate and object.

A match is exactly one statement (IRIs and blank node labels hold no space, a literal ends at its
first unescaped quote, and nothing may follow the dot), so cutting there never loses a term."""
CHUNK = 1 << 20


def triple_line(line: bytes) -> bytes:
    """The N-Triples line stating ``line``'s triple in the default graph; empty for a line stating
    nothing or already in the default graph (a comment, a blank line, a triple)."""
    canonical = QUAD_LINE.fullmatch(line)
    if canonical:
        return canonical[1] + b" .\n"
    try:
        quads = [
            q for q in ox.parse(line, format=ox.RdfFormat.N_QUADS) if not isinstance(q.graph_name, ox.DefaultGraph)
        ]
    except SyntaxError:  # the bulk loader fails on the line itself, and its error is reported
        return b""
    return ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES) if quads else b""


def with_triples(lines: list[bytes]) -> bytes:
    """N-Quads lines, each followed by its triple in the default graph (:func:`triple_line`)."""
    out: list[bytes] = []
    for line in lines:
        if not line.endswith(b"\n"):
            line += b"\n"
        out.append(line)
        out.append(triple_line(line))
    return b"".join(out)


class _Doubled(io.RawIOBase):
    """An N-Quads file read through :func:`with_triples`, as a stream for the bulk loader."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self.pending:
            lines = self.source.readlines(CHUNK)
            if not lines:
                return 0
            self.pending = memoryview(with_triples(lines))
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def bulk_load(store: ox.Store, path: Path, fmt: ox.RdfFormat) -> None:
    """Load ``path`` into ``store``, its named graphs' triples into the default graph too.

    Raises SyntaxError (with the line and column in ``path``) for a malformed file."""
    if fmt == ox.RdfFormat.N_QUADS:
        with path.open("rb") as source:
            try:
                bulk_load_nquads(store, source)
            except (SyntaxError, OSError):
                _raise_first_error(path, fmt)  # its position in the file, not in the doubled stream
                raise
        return
    store.bulk_load(path=str(path), format=fmt)
    if fmt.supports_datasets:
        store.bulk_extend(_default_copies(path, fmt))


def bulk_load_nquads(store: ox.Store, source: BinaryIO) -> None:
    """Load N-Quads from ``source`` into ``store``, each named graph's triples into the default graph too."""
    store.bulk_load(io.BufferedReader(_Doubled(source), CHUNK), format=ox.RdfFormat.N_QUADS)


def _default_copies(path: Path, fmt: ox.RdfFormat) -> Iterator[ox.Quad]:
    for quad in ox.parse(path=str(path), format=fmt):
        if not isinstance(quad.graph_name, ox.DefaultGraph):
            yield ox.Quad(quad.subject, quad.predicate, quad.object)


def _raise_first_error(path: Path, fmt: ox.RdfFormat) -> None:
    """Parse ``path`` alone, raising its first syntax error."""
    for _ in ox.parse(path=str(path), format=fmt):
        pass
