"""What templates see: names and links for terms, facts grouped by property, claims with provenance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rdflib import Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS

from kg.namespaces import AKG, OA, ORG, PREFIXES, WD
from kg.serve.neighbourhood import LABEL_PROPERTIES, Neighbourhood, Term, local_name

CLAIM_KINDS = (
    AKG.RelationClaim,
    AKG.StanceClaim,
    AKG.Statement,
    AKG.EventClaim,
    AKG.Membership,
    AKG.VoteRecord,
    AKG.VoteTally,
    AKG.MemberCount,
)
"""Kinds of qualified statement, most specific first (a Statement is also a Claim)."""
PROVENANCE_PROPERTIES = frozenset(
    {
        AKG.epistemicStatus,
        AKG.statedIn,
        AKG.evidence,
        AKG.claimedBy,
        AKG.reportedBy,
        AKG.date,
        AKG.earliest,
        AKG.latest,
        AKG.dateInference,
        RDFS.comment,
        PROV.wasDerivedFrom,
        PROV.wasGeneratedBy,
    }
)


def compact(iri: URIRef) -> str:
    """``prefix:local`` for IRIs in a namespace we bind (the longest match), else the IRI's tail."""
    text = str(iri)
    matches = [(len(ns), prefix) for prefix, ns in PREFIXES.items() if text.startswith(ns) and len(text) > len(ns)]
    if not matches:
        return local_name(iri)
    size, prefix = max(matches)
    return f"{prefix}:{text[size:]}"


@dataclass(frozen=True)
class Evidence:
    """A quoted span of a document."""

    iri: URIRef
    text: str
    start: int | None


@dataclass
class Claim:
    """A claim or record with what says it, how, and where in the text."""

    iri: URIRef
    kind: URIRef | None
    status: Term | None
    sources: list[Term]
    evidence: list[Evidence]
    claimed_by: list[Term]
    reported_by: list[Term]
    generated_by: list[Term]
    notes: list[str]
    when: str
    inferences: list[str]

    @property
    def position(self) -> int:
        starts = [e.start for e in self.evidence if e.start is not None]
        return min(starts) if starts else 1 << 30


@dataclass
class Fact:
    """One property of a resource: its values, each with the named graphs that state it."""

    predicate: URIRef
    values: list[tuple[Term, list[URIRef]]] = field(default_factory=list)


@dataclass
class View:
    """A page's neighbourhood plus the rules for naming and linking its terms."""

    hood: Neighbourhood
    public_base: str
    server_base: str

    def href(self, term: Term) -> str | None:
        """Where a link to ``term`` goes: this server for our IRIs, the IRI itself otherwise."""
        if not isinstance(term, URIRef):
            return None
        text = str(term)
        if text.startswith(self.public_base):
            return self.server_base + text[len(self.public_base) :]
        return text

    def name(self, term: Term) -> str:
        """A label for display."""
        if isinstance(term, URIRef) and str(term).startswith(str(WD)):
            return f"Wikidata {local_name(term)}"
        if isinstance(term, URIRef) and not self.hood.has(term):
            return compact(term)
        if isinstance(term, URIRef) and self.kind(term) is not None and self.described(term):
            return self.summary(term)
        text = self.hood.name_of(term)
        return text if text is not None else compact(term)  # type: ignore[arg-type]

    def described(self, term: Term) -> bool:
        """Whether more than the names and types of ``term`` are known."""
        return any(q.p not in LABEL_PROPERTIES for q in self.hood.about(term))

    def is_local(self, term: Term) -> bool:
        return isinstance(term, URIRef) and str(term).startswith(self.public_base)

    def objects(self, s: Term, p: URIRef) -> list[Term]:
        return self.hood.objects(s, p)

    def value(self, s: Term, p: URIRef) -> Term | None:
        return self.hood.value(s, p)

    def kind(self, term: Term) -> URIRef | None:
        """The most specific claim kind of ``term``, or None if it is not a claim or record."""
        types = self.hood.types(term)
        return next((k for k in CLAIM_KINDS if k in types), None)

    def type_name(self, term: Term) -> str:
        """The name of the resource's most telling class."""
        kind = self.kind(term)
        if kind is not None:
            return self.hood.label(kind)
        ours = sorted(t for t in self.hood.types(term) if str(t).startswith(str(AKG)))
        others = sorted(self.hood.types(term))
        chosen = ours or others
        return self.name(chosen[0]) if chosen else "Resource"

    def names(self, s: Term, p: URIRef) -> str:
        return ", ".join(self.name(o) for o in self.objects(s, p)) or "?"

    def summary(self, claim: Term) -> str:
        """One line saying what a claim or record states."""
        kind = self.kind(claim)
        n = self.names
        if kind == AKG.RelationClaim:
            return f"{n(claim, AKG.subjectActor)} — {n(claim, AKG.relationType)} — {n(claim, AKG.objectActor)}"
        if kind == AKG.StanceClaim:
            return f"{n(claim, AKG.subjectActor)}: {n(claim, AKG.stance)} ({n(claim, AKG.aboutEvent)})"
        if kind == AKG.Statement:
            quotes = self.objects(claim, AKG.quote)
            said = f"“{quotes[0]}”" if quotes else "statement"
            return f"{n(claim, AKG.speaker)}: {said}"
        if kind == AKG.EventClaim:
            return f"{n(claim, AKG.aboutEvent)} ({n(claim, AKG.epistemicStatus)})"
        if kind == AKG.Membership:
            return f"{n(claim, ORG.member)}: {n(claim, ORG.role)}, {n(claim, ORG.organization)}"
        if kind == AKG.VoteRecord:
            return f"{n(claim, AKG.voter)}: {n(claim, AKG.voteOption)} on {n(claim, AKG.resolution)}"
        if kind == AKG.VoteTally:
            return f"{n(claim, AKG['count'])} {n(claim, AKG.voteOption)} on {n(claim, AKG.resolution)}"
        if kind == AKG.MemberCount:
            return f"{n(claim, ORG.organization)}: {n(claim, AKG['count'])} members"
        return self.hood.label(claim)

    def evidence(self, iri: Term) -> Evidence:
        start = self.hood.value(iri, OA.start)
        text = self.hood.value(iri, OA.exact)
        return Evidence(
            URIRef(iri), str(text) if text is not None else local_name(iri), int(start) if start is not None else None
        )

    def claim(self, iri: Term) -> Claim:
        """The provenance of a claim or record."""
        o = self.objects
        sources = o(iri, AKG.statedIn) or o(iri, PROV.wasDerivedFrom)
        return Claim(
            iri=URIRef(iri),
            kind=self.kind(iri),
            status=self.value(iri, AKG.epistemicStatus),
            sources=sources,
            evidence=sorted((self.evidence(e) for e in o(iri, AKG.evidence)), key=lambda e: e.start or 0),
            claimed_by=o(iri, AKG.claimedBy),
            reported_by=o(iri, AKG.reportedBy),
            generated_by=o(iri, PROV.wasGeneratedBy),
            notes=[str(c) for c in o(iri, RDFS.comment)],
            when=self.when(iri),
            inferences=[str(x) for x in o(iri, AKG.dateInference)],
        )

    def claims(self, iris: list[Term]) -> list[Claim]:
        """Claims in reading order: by source, then by where their evidence starts."""
        found = [self.claim(i) for i in iris]
        return sorted(found, key=lambda c: ([str(s) for s in c.sources], c.position, str(c.iri)))

    def when(self, iri: Term) -> str:
        """A date, or the bounds a date lies between, as the data gives them."""
        dates = [str(d) for d in self.objects(iri, AKG.date)]
        if dates:
            return ", ".join(dates)
        earliest = self.value(iri, AKG.earliest)
        latest = self.value(iri, AKG.latest)
        if earliest is not None and latest is not None:
            return f"between {earliest} and {latest}"
        if earliest is not None:
            return f"not before {earliest}"
        if latest is not None:
            return f"not after {latest}"
        return ""

    def graph_source(self, graph: Term) -> Term:
        """The document a named graph was derived from, else the graph itself."""
        return self.value(graph, PROV.wasDerivedFrom) or graph

    def facts(self, iri: Term, skip: frozenset[URIRef] = frozenset()) -> list[Fact]:
        """The resource's own properties, grouped by predicate (in name order)."""
        grouped: dict[URIRef, dict[Term, list[URIRef]]] = defaultdict(dict)
        for quad in self.hood.about(iri):
            if quad.p not in skip:
                grouped[quad.p].setdefault(quad.o, []).append(quad.g)
        facts = []
        for predicate in sorted(grouped, key=lambda p: self.name(p).lower()):
            values = grouped[predicate]
            ordered = sorted(values, key=lambda t: (isinstance(t, URIRef), self.name(t).lower(), str(t)))
            facts.append(Fact(predicate, [(value, sorted(set(values[value]))) for value in ordered]))
        return facts

    @staticmethod
    def common_graphs(facts: list[Fact]) -> list[URIRef]:
        """The graphs that state every one of ``facts``, if they all come from the same graphs; else []."""
        found = {tuple(graphs) for fact in facts for _, graphs in fact.values}
        return list(found.pop()) if len(found) == 1 else []

    def links_in(self, iri: Term, skip: frozenset[URIRef] = frozenset()) -> list[tuple[Term, URIRef]]:
        """(resource, property) for everything that links to ``iri``, except through ``skip``."""
        pairs = {(q.s, q.p) for q in self.hood.pointing_at(iri) if q.p not in skip and q.p != RDF.type}
        return sorted(pairs, key=lambda pair: (self.name(pair[1]).lower(), self.name(pair[0]).lower()))

    def is_literal(self, term: Term) -> bool:
        return isinstance(term, Literal)
