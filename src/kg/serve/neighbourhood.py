"""The quads around a resource, fetched with standard SPARQL 1.1 and indexed for page building.

Every query names its graphs with ``GRAPH ?g`` so it answers the same on an engine whose default
graph is the union of the named graphs and on one whose default graph is empty, and so that each
fact keeps the named graph (the document) it comes from.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from rdflib import BNode, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS

from kg.namespaces import OA, sparql_prologue

Term = URIRef | Literal | BNode
Binding = Mapping[str, Mapping[str, str]]
"""One solution of a SELECT in the SPARQL 1.1 Query Results JSON format: variable -> term object."""

BATCH = 200
"""IRIs per VALUES block, so that no query grows without bound."""
LABEL_PROPERTIES = (RDFS.label, SKOS.prefLabel, DCTERMS.title, OA.exact, OA.start, OA.end, RDF.type)
"""What is fetched about every resource a page links to: enough to name it and to quote evidence."""
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')


class QueryRunner(Protocol):
    """What linked-data pages need from a SPARQL engine (local worker pool or remote endpoint)."""

    async def select(self, query: str) -> list[Binding]:
        """Run a SELECT query; return its solutions as SPARQL JSON bindings (``results.bindings``)."""
        ...

    async def construct(self, query: str, media_type: str) -> bytes:
        """Run a CONSTRUCT query; return the graph serialised in ``media_type``."""
        ...


def sparql_iri(iri: str) -> str:
    """``<iri>`` for a SPARQL query; refuses anything that could end the IRI early or inject text."""
    if not iri or _IRI_FORBIDDEN.search(iri):
        raise ValueError(f"not a well-formed IRI: {iri!r}")
    return f"<{iri}>"


def to_term(value: Mapping[str, str]) -> Term:
    """An rdflib term from a SPARQL JSON term object."""
    kind = value["type"]
    if kind == "uri":
        return URIRef(value["value"])
    if kind == "bnode":
        return BNode(value["value"])
    if kind in ("literal", "typed-literal"):
        datatype = value.get("datatype")
        return Literal(value["value"], lang=value.get("xml:lang"), datatype=URIRef(datatype) if datatype else None)
    raise ValueError(f"unsupported SPARQL JSON term type {kind!r}")


def terms(binding: Binding) -> dict[str, Term]:
    """A solution with rdflib terms."""
    return {name: to_term(value) for name, value in binding.items()}


@dataclass(frozen=True)
class Quad:
    """A triple and the named graph it is in."""

    s: Term
    p: URIRef
    o: Term
    g: URIRef


class Neighbourhood:
    """Quads indexed by subject and by object, with label lookup."""

    def __init__(self, quads: Iterable[Quad] = ()) -> None:
        self._quads: set[Quad] = set()
        self._by_s: dict[Term, list[Quad]] = defaultdict(list)
        self._by_o: dict[Term, list[Quad]] = defaultdict(list)
        self.add(quads)

    def add(self, quads: Iterable[Quad]) -> None:
        """Add quads (duplicates are ignored)."""
        for quad in quads:
            if quad not in self._quads:
                self._quads.add(quad)
                self._by_s[quad.s].append(quad)
                self._by_o[quad.o].append(quad)

    def about(self, s: Term, p: URIRef | None = None) -> list[Quad]:
        """Quads with subject ``s`` (and predicate ``p``)."""
        return [q for q in self._by_s.get(s, ()) if p is None or q.p == p]

    def pointing_at(self, o: Term, p: URIRef | None = None) -> list[Quad]:
        """Quads with object ``o`` (and predicate ``p``)."""
        return [q for q in self._by_o.get(o, ()) if p is None or q.p == p]

    def objects(self, s: Term, p: URIRef) -> list[Term]:
        """Distinct objects of ``s p``, sorted."""
        return sorted({q.o for q in self.about(s, p)}, key=_sort_key)

    def value(self, s: Term, p: URIRef) -> Term | None:
        """One object of ``s p`` (the first in sort order), or None."""
        values = self.objects(s, p)
        return values[0] if values else None

    def subjects(self, p: URIRef, o: Term) -> list[Term]:
        """Distinct subjects of ``? p o``, sorted."""
        return sorted({q.s for q in self.pointing_at(o, p)}, key=_sort_key)

    def types(self, s: Term) -> set[Term]:
        """The rdf:type values of ``s``."""
        return {q.o for q in self.about(s, RDF.type)}

    def subjects_of_type(self, cls: URIRef) -> list[Term]:
        """Every known subject typed ``cls``, sorted."""
        return self.subjects(RDF.type, cls)

    def has(self, s: Term) -> bool:
        """Whether any quad has ``s`` as subject."""
        return bool(self._by_s.get(s))

    def referenced(self) -> set[URIRef]:
        """Every IRI that occurs as an object, predicate or graph name."""
        found: set[URIRef] = set()
        for quad in self._quads:
            found.update((quad.p, quad.g))
            if isinstance(quad.o, URIRef):
                found.add(quad.o)
        return found

    def label(self, term: Term) -> str:
        """A human-readable name: an English or plain label, a title, the quoted text, else the IRI's tail."""
        return self.name_of(term) or local_name(term)

    def name_of(self, term: Term) -> str | None:
        """The resource's own name (see ``label``), or None if it has none; a literal is its own name."""
        if isinstance(term, Literal):
            return str(term)
        for prop in (RDFS.label, SKOS.prefLabel, DCTERMS.title, OA.exact):
            text = _preferred(self.objects(term, prop))
            if text:
                return text
        return None


def local_name(term: Term) -> str:
    """The part of an IRI after its last ``#`` or ``/``."""
    text = str(term)
    for sep in ("#", "/"):
        _, found, tail = text.rpartition(sep)
        if found and tail:
            return tail
    return text


def _preferred(labels: list[Term]) -> str | None:
    literals = [x for x in labels if isinstance(x, Literal)]
    for wanted in ("en", None):
        for literal in literals:
            if literal.language == wanted:
                return str(literal)
    return str(literals[0]) if literals else None


def _sort_key(term: Term) -> tuple[int, object, str]:
    if isinstance(term, Literal):
        value = term.toPython()
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        return (0, number if number is not None else 0, str(term))
    return (1, 0, str(term))


def _values(name: str, iris: Iterable[str]) -> str:
    return f"VALUES ?{name} {{ {' '.join(sparql_iri(i) for i in iris)} }}"


def _batches(iris: Iterable[Term]) -> list[list[str]]:
    ordered = sorted({str(i) for i in iris if isinstance(i, URIRef)})
    return [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)]


async def _quads(runner: QueryRunner, where: str) -> list[Quad]:
    query = f"{sparql_prologue()}SELECT ?s ?p ?o ?g WHERE {{\n{where}\n}}"
    rows = [terms(b) for b in await runner.select(query)]
    return [Quad(r["s"], r["p"], r["o"], r["g"]) for r in rows]  # type: ignore[arg-type]


async def outbound(runner: QueryRunner, iris: Iterable[Term]) -> list[Quad]:
    """Every quad whose subject is one of ``iris``."""
    found: list[Quad] = []
    for batch in _batches(iris):
        found += await _quads(runner, f"{_values('s', batch)}\nGRAPH ?g {{ ?s ?p ?o }}")
    return found


async def inbound(runner: QueryRunner, iris: Iterable[Term], limit: int | None = None) -> list[Quad]:
    """Every quad about the resources that link to one of ``iris`` (rdf:type links excepted).

    ``limit`` caps the number of linking resources (per batch of ``iris``).
    """
    cap = f" LIMIT {int(limit)}" if limit else ""
    found: list[Quad] = []
    for batch in _batches(iris):
        inner = (
            f"SELECT DISTINCT ?s WHERE {{ {_values('t', batch)} GRAPH ?via {{ ?s ?link ?t }} "
            f"FILTER(?link != rdf:type) }} ORDER BY ?s{cap}"
        )
        found += await _quads(runner, f"{{ {inner} }}\nGRAPH ?g {{ ?s ?p ?o }}")
    return found


async def labels(runner: QueryRunner, iris: Iterable[Term]) -> list[Quad]:
    """The names, types and quoted text of ``iris`` (see LABEL_PROPERTIES)."""
    found: list[Quad] = []
    props = _values("p", LABEL_PROPERTIES)
    for batch in _batches(iris):
        found += await _quads(runner, f"{_values('s', batch)}\n{props}\nGRAPH ?g {{ ?s ?p ?o }}")
    return found


async def graph_quads(runner: QueryRunner, graph: str) -> list[Quad]:
    """Every quad of one named graph."""
    return await _quads(runner, f"GRAPH {sparql_iri(graph)} {{ ?s ?p ?o }} BIND({sparql_iri(graph)} AS ?g)")


async def count(runner: QueryRunner, where: str) -> int:
    """``COUNT(*)`` of a graph pattern."""
    rows = await runner.select(f"{sparql_prologue()}SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}")
    return int(rows[0]["n"]["value"]) if rows else 0


async def counts_by(runner: QueryRunner, var: str, where: str) -> dict[Term, int]:
    """``COUNT(*)`` of a graph pattern, grouped by ``?var``."""
    query = f"{sparql_prologue()}SELECT ?{var} (COUNT(*) AS ?n) WHERE {{ {where} }} GROUP BY ?{var}"
    rows = [terms(b) for b in await runner.select(query)]
    return {row[var]: int(row["n"]) for row in rows if var in row}


async def label_everything(runner: QueryRunner, hood: Neighbourhood) -> None:
    """Add labels for every IRI the neighbourhood links to but does not describe."""
    hood.add(await labels(runner, {i for i in hood.referenced() if not hood.has(i)}))


async def around(runner: QueryRunner, iri: str, inbound_limit: int | None = None) -> Neighbourhood:
    """A resource's own quads, the quads of everything that links to it, and labels for all of it."""
    hood = Neighbourhood(await outbound(runner, [URIRef(iri)]))
    hood.add(await inbound(runner, [URIRef(iri)], inbound_limit))
    await label_everything(runner, hood)
    return hood
