"""HTML pages for the resources we mint, built from their SPARQL neighbourhood with Jinja2 templates.

``build_page`` picks the page kind from the resource's classes (actor, event, document, resolution,
ontology term, SKOS scheme or concept, named graph, anything else), gathers what the page shows and
returns the template name and context; ``render`` turns that into HTML (every text autoescaped).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from rdflib import URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS

from kg.namespaces import AKG, GRAPH, OA, ONTOLOGY_IRI, ORG, SCHEMA, SH, VOCAB
from kg.serve import neighbourhood as nb
from kg.serve.neighbourhood import Neighbourhood, Quad, QueryRunner, Term
from kg.serve.representations import RDF_FORMATS
from kg.serve.spans import Span, segments
from kg.serve.views import PROVENANCE_PROPERTIES, Claim, Evidence, View
from kg.serve.vote_chart import Bar, Cell, vote_svg

INBOUND_LIMIT = 1000
"""At most this many linking resources are gathered for one page."""
ACTOR_CLASSES = frozenset({AKG.Actor, AKG.Country, AKG.Organization, AKG.Person})
PROPERTY_CLASSES = frozenset({OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property})
VOTE_OPTIONS = (VOCAB["in-favour"], VOCAB["against"], VOCAB["abstention"], VOCAB["absent"])
"""The order in which the UN reports a vote; options outside it follow in name order."""
EVENT_ROLES = (AKG.agent, AKG.target, AKG.location)
NAME_PROPERTIES = frozenset({RDFS.label, SKOS.prefLabel, DCTERMS.title})


@dataclass
class Page:
    """A page to render: its template and what the template shows."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


_env = Environment(
    loader=PackageLoader("kg", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(AKG=AKG, ORG=ORG, RDFS=RDFS, SKOS=SKOS, SH=SH)


def render(template: str, **context: Any) -> str:
    """Render a template from ``kg/templates``."""
    return _env.get_template(template).render(**context)


async def build_page(runner: QueryRunner, iri: str, public_base: str, server_base: str) -> Page | None:
    """The page for ``iri``, or None when the dataset says nothing about it."""
    if iri == ONTOLOGY_IRI:
        return await _ontology_page(runner, iri, public_base, server_base)
    hood = await nb.around(runner, iri, INBOUND_LIMIT)
    view = View(hood, public_base, server_base)
    node = URIRef(iri)
    if iri.startswith(str(GRAPH)):
        size = await nb.count(runner, f"GRAPH {nb.sparql_iri(iri)} {{ ?s ?p ?o }}")
        return await _graph_page(runner, view, node, size) if size or hood.has(node) else None
    if not hood.has(node) and not hood.pointing_at(node):
        return None
    if any(o == node for o in hood.objects(URIRef(ONTOLOGY_IRI), OWL.versionIRI)):
        return await _ontology_page(runner, ONTOLOGY_IRI, public_base, server_base)
    types = hood.types(node)
    truncated = len({q.s for q in hood.pointing_at(node)}) >= INBOUND_LIMIT
    page = await _page_for(runner, view, node, types)
    page.context.setdefault("truncated", truncated)
    return page


async def _page_for(runner: QueryRunner, view: View, node: URIRef, types: set[Term]) -> Page:
    if AKG.Document in types:
        return _document_page(view, node)
    if AKG.Resolution in types:
        return _resolution_page(view, node)
    if AKG.Event in types:
        return await _event_page(runner, view, node)
    if types & ACTOR_CLASSES:
        return await _actor_page(runner, view, node)
    if SKOS.ConceptScheme in types:
        return _scheme_page(view, node)
    if SKOS.Concept in types:
        return _concept_page(view, node)
    if (types & PROPERTY_CLASSES or OWL.Class in types) and str(node).startswith(str(AKG)):
        return await _term_page(runner, view, node, types)
    return _resource_page(view, node)


def _page(template: str, view: View, node: URIRef, **context: Any) -> Page:
    title = context.pop("title", None) or view.name(node)
    context.setdefault("kind", view.type_name(node))
    return Page(template, {"v": view, "node": node, "title": title, **context})


def _resource_page(view: View, node: URIRef) -> Page:
    """Any resource: its facts and what links to it; a claim also gets its provenance."""
    is_claim = view.kind(node) is not None
    skip = PROVENANCE_PROPERTIES if is_claim else frozenset()
    return _page(
        "resource.html",
        view,
        node,
        claim=view.claim(node) if is_claim else None,
        facts=view.facts(node, skip | {RDF.type}),
        links_in=view.links_in(node),
    )


# --- actors -------------------------------------------------------------------------------------


async def _actor_page(runner: QueryRunner, view: View, node: URIRef) -> Page:
    hood = view.hood
    events = sorted({q.s for q in hood.pointing_at(node) if q.p in EVENT_ROLES})
    if events:
        hood.add(await nb.inbound(runner, events))
        await nb.label_everything(runner, hood)
    shown: set[Term] = set()

    def claims(predicate: URIRef, kind: URIRef) -> list[Claim]:
        iris = [s for s in hood.subjects(predicate, node) if kind in hood.types(s)]
        shown.update(iris)
        return view.claims(iris)

    relations = claims(AKG.subjectActor, AKG.RelationClaim) + claims(AKG.objectActor, AKG.RelationClaim)
    context = {
        "identity": view.facts(node, frozenset({RDF.type, RDFS.label, SKOS.hiddenLabel})),
        "votes": claims(AKG.voter, AKG.VoteRecord),
        "relations": sorted(relations, key=lambda c: (str(c.sources[0]) if c.sources else "", c.position)),
        "stances": claims(AKG.subjectActor, AKG.StanceClaim),
        "statements": claims(AKG.speaker, AKG.Statement),
        "memberships": claims(ORG.member, AKG.Membership),
        "members": claims(ORG.organization, AKG.Membership),
        "counts": claims(ORG.organization, AKG.MemberCount),
        "events": _events_of(view, node, events),
        "attributed": view.claims(sorted({s for p in (AKG.claimedBy, AKG.reportedBy) for s in hood.subjects(p, node)})),
        "mentions": [view.evidence(e) for e in hood.subjects(AKG.refersTo, node)],
    }
    shown.update(events)
    shown.update(s for p in (AKG.claimedBy, AKG.reportedBy, AKG.refersTo) for s in hood.subjects(p, node))
    context["links_in"] = [(s, p) for s, p in view.links_in(node) if s not in shown]
    return _page("actor.html", view, node, kind=view.type_name(node), **context)


@dataclass
class EventRow:
    """An event an actor takes part in, with its role(s) and the documents that report it."""

    event: Term
    roles: list[URIRef]
    when: str
    reports: list[Claim]


def _events_of(view: View, node: URIRef, events: list[Term]) -> list[EventRow]:
    rows = []
    for event in events:
        roles = sorted({q.p for q in view.hood.about(event) if q.o == node and q.p in EVENT_ROLES})
        reports = [s for s in view.hood.subjects(AKG.aboutEvent, event) if AKG.EventClaim in view.hood.types(s)]
        rows.append(EventRow(event, roles, view.when(event), view.claims(reports)))
    return sorted(rows, key=lambda r: view.name(r.event).lower())


# --- events -------------------------------------------------------------------------------------


async def _event_page(runner: QueryRunner, view: View, node: URIRef) -> Page:
    hood = view.hood
    hood.add(await nb.outbound(runner, {q.g for q in hood.about(node)}))
    await nb.label_everything(runner, hood)
    about = hood.subjects(AKG.aboutEvent, node)
    by_kind: dict[URIRef | None, list[Term]] = defaultdict(list)
    for claim in about:
        by_kind[view.kind(claim)].append(claim)
    by_graph: dict[URIRef, list[Quad]] = defaultdict(list)
    for quad in hood.about(node):
        if quad.p not in NAME_PROPERTIES | {RDF.type}:
            by_graph[quad.g].append(quad)
    according = [
        (graph, view.graph_source(graph), sorted(qs, key=lambda q: (view.name(q.p), view.name(q.o))))
        for graph, qs in sorted(by_graph.items())
    ]
    return _page(
        "event.html",
        view,
        node,
        kind=view.type_name(node),
        according=according,
        reports=view.claims(by_kind[AKG.EventClaim]),
        statements=view.claims(by_kind[AKG.Statement]),
        stances=view.claims(by_kind[AKG.StanceClaim]),
        links_in=view.links_in(node, frozenset({AKG.aboutEvent})),
    )


# --- documents ----------------------------------------------------------------------------------


@dataclass
class SpanUse:
    """An evidence span and what cites it."""

    evidence: Evidence
    claims: list[Term]
    refers_to: list[Term]


def _document_page(view: View, node: URIRef) -> Page:
    hood = view.hood
    text = str(hood.value(node, SCHEMA.text) or "")
    spans, uses = [], []
    for ev in hood.subjects(PROV.wasQuotedFrom, node):
        evidence = view.evidence(ev)
        end = hood.value(ev, OA.end)
        citing = sorted(set(hood.subjects(AKG.evidence, ev)), key=lambda c: view.name(c).lower())
        refers = hood.objects(ev, AKG.refersTo)
        uses.append(SpanUse(evidence, citing, refers))
        if evidence.start is not None and end is not None:
            names = [view.name(c) for c in citing] + [f"mentions {view.name(r)}" for r in refers]
            spans.append(Span(evidence.start, int(end), "; ".join(names)))
    stated = hood.subjects(AKG.statedIn, node)
    groups: dict[URIRef | None, list[Term]] = defaultdict(list)
    for claim in stated:
        groups[view.kind(claim)].append(claim)
    claim_groups = [(kind, view.claims(groups[kind])) for kind in sorted(groups, key=lambda k: view.name(k))]
    derived = [s for s in hood.subjects(PROV.wasDerivedFrom, node) if s not in set(stated)]
    derived_graphs: dict[URIRef, int] = defaultdict(int)
    for item in derived:
        for quad in hood.about(item, PROV.wasDerivedFrom):
            if quad.o == node:
                derived_graphs[quad.g] += 1
    skip = frozenset({SCHEMA.text, RDF.type, AKG.evidence})
    return _page(
        "document.html",
        view,
        node,
        facts=view.facts(node, skip),
        header_evidence=[view.evidence(e) for e in hood.objects(node, AKG.evidence)],
        segments=segments(text, spans),
        uses=sorted(uses, key=lambda u: (u.evidence.start or 0, str(u.evidence.iri))),
        claim_groups=claim_groups,
        derived=sorted(derived_graphs.items()),
    )


# --- the resolution and its vote ----------------------------------------------------------------


@dataclass
class OptionGroup:
    """The states that took one option, with the tally a document states for it."""

    option: Term
    records: list[Term]
    tallies: list[Claim]


def _resolution_page(view: View, node: URIRef) -> Page:
    hood = view.hood
    linked = hood.subjects(AKG.resolution, node)
    records = [s for s in linked if AKG.VoteRecord in hood.types(s)]
    tallies = [s for s in linked if AKG.VoteTally in hood.types(s)]
    options = {hood.value(r, AKG.voteOption) for r in records + tallies} - {None}
    order = [o for o in VOTE_OPTIONS if o in options] + sorted(options - set(VOTE_OPTIONS), key=str)
    groups = []
    for option in order:
        mine = [r for r in records if hood.value(r, AKG.voteOption) == option]
        mine.sort(key=lambda r: view.name(hood.value(r, AKG.voter)).lower())
        groups.append(
            OptionGroup(option, mine, view.claims([t for t in tallies if hood.value(t, AKG.voteOption) == option]))
        )
    chart = _vote_chart(view, node, groups)
    events = [s for s in linked if AKG.Event in hood.types(s)]
    shown = set(records) | set(tallies) | set(events)
    return _page(
        "resolution.html",
        view,
        node,
        facts=view.facts(node, frozenset({RDF.type})),
        groups=groups,
        total=len(records),
        voters=len({hood.value(r, AKG.voter) for r in records}),
        chart=Markup(chart),
        events=events,
        links_in=[(s, p) for s, p in view.links_in(node) if s not in shown],
    )


def _vote_chart(view: View, node: URIRef, groups: list[OptionGroup]) -> str:
    bars, cells = [], []
    for group in groups:
        counts = [view.value(t.iri, AKG["count"]) for t in group.tallies]
        stated = [int(n) for n in counts if n is not None]
        bars.append(Bar(str(group.option), view.name(group.option), len(group.records), stated[0] if stated else None))
        for record in group.records:
            voter = view.value(record, AKG.voter)
            label = f"{view.name(voter)}: {view.name(group.option)}"
            cells.append(Cell(label, view.href(voter) or "", str(group.option)))
    return vote_svg(f"Vote on {view.name(node)}: {len(cells)} states", bars, cells)


# --- ontology, vocabularies, graphs ----------------------------------------------------------


async def _ontology_page(runner: QueryRunner, iri: str, public_base: str, server_base: str) -> Page:
    hood = Neighbourhood(await nb.graph_quads(runner, str(GRAPH["ontology"])))
    view = View(hood, public_base, server_base)
    node = URIRef(iri)

    def ours(cls: URIRef) -> list[Term]:
        return [t for t in hood.subjects_of_type(cls) if str(t).startswith(str(AKG))]

    properties = sorted({p for cls in PROPERTY_CLASSES for p in ours(cls)}, key=lambda t: view.name(t).lower())
    return _page(
        "ontology.html",
        view,
        node,
        title=str(hood.value(node, DCTERMS.title) or view.name(node)),
        facts=view.facts(node, frozenset({RDF.type, DCTERMS.title, DCTERMS.description})),
        description=hood.value(node, DCTERMS.description),
        classes=sorted(ours(OWL.Class), key=lambda t: view.name(t).lower()),
        properties=properties,
        schemes=sorted(hood.subjects_of_type(SKOS.ConceptScheme), key=lambda t: view.name(t).lower()),
    )


async def _term_page(runner: QueryRunner, view: View, node: URIRef, types: set[Term]) -> Page:
    iri = nb.sparql_iri(str(node))
    if OWL.Class in types:
        uses = await nb.count(runner, f"SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s a {iri} }} }}")
    else:
        uses = await nb.count(runner, f"GRAPH ?g {{ ?s {iri} ?o }}")
    hood = view.hood
    return _page(
        "term.html",
        view,
        node,
        kind="Class" if OWL.Class in types else "Property",
        definition=hood.objects(node, SKOS.definition),
        facts=view.facts(node, frozenset({RDF.type, SKOS.definition})),
        with_domain=hood.subjects(RDFS.domain, node),
        with_range=hood.subjects(RDFS.range, node),
        subclasses=hood.subjects(RDFS.subClassOf, node),
        uses=uses,
        links_in=view.links_in(node, frozenset({RDFS.domain, RDFS.range, RDFS.subClassOf})),
    )


def _scheme_page(view: View, node: URIRef) -> Page:
    hood = view.hood
    concepts = set(hood.subjects(SKOS.inScheme, node))
    top = [c for c in hood.objects(node, SKOS.hasTopConcept)] or [
        c for c in concepts if not hood.objects(c, SKOS.broader)
    ]
    tree = [(c, sorted(hood.subjects(SKOS.broader, c), key=lambda x: view.name(x).lower())) for c in top]
    return _page(
        "scheme.html",
        view,
        node,
        definition=hood.objects(node, SKOS.definition),
        facts=view.facts(node, frozenset({RDF.type, SKOS.definition, SKOS.hasTopConcept})),
        tree=sorted(tree, key=lambda pair: view.name(pair[0]).lower()),
    )


def _concept_page(view: View, node: URIRef) -> Page:
    hood = view.hood
    users = [(s, p) for s, p in view.links_in(node) if p not in (SKOS.broader, SKOS.hasTopConcept)]
    claims = view.claims(sorted({s for s, _ in users if view.kind(s) is not None}))
    others = [(s, p) for s, p in users if view.kind(s) is None]
    return _page(
        "concept.html",
        view,
        node,
        definition=hood.objects(node, SKOS.definition),
        facts=view.facts(node, frozenset({RDF.type, SKOS.definition})),
        narrower=hood.subjects(SKOS.broader, node),
        claims=claims,
        others=others,
    )


async def _graph_page(runner: QueryRunner, view: View, node: URIRef, size: int) -> Page:
    iri = nb.sparql_iri(str(node))
    classes = await nb.counts_by(runner, "type", f"SELECT DISTINCT ?s ?type WHERE {{ GRAPH {iri} {{ ?s a ?type }} }}")
    view.hood.add(await nb.labels(runner, classes))
    return _page(
        "graph.html",
        view,
        node,
        facts=view.facts(node, frozenset({RDF.type})),
        size=size,
        dumps=[
            {"name": f.name, "media_type": f.media_type, "href": f"{view.href(node)}?dump={f.key}"} for f in RDF_FORMATS
        ],
        classes=sorted(classes.items(), key=lambda kv: (-kv[1], view.name(kv[0]).lower())),
        links_in=view.links_in(node),
    )
