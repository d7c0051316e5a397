"""The curated entities file (data/entities.yaml): organisations, people, groups, shared events."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS

from kg.encode.errors import SourceError
from kg.encode.registry import ACTOR_KINDS, SLUG, Registry, actor_iri, event_iri, resolution_iri
from kg.encode.vocabulary import Vocabulary
from kg.encode.yaml_source import Located, load_yaml
from kg.namespaces import AKG, GRAPH, SCHEMA, WD

ENTITIES_GRAPH = GRAPH["entities"]

ACTOR_CLASSES = {
    "organization": (AKG.Organization, SCHEMA.Organization),
    "person": (AKG.Person, SCHEMA.Person),
    "group": (AKG.Actor,),
}
SECTIONS = {"organizations": "organization", "persons": "person", "groups": "group"}


def _labels(g: Graph, node, item: Located) -> None:
    g.add((node, RDFS.label, Literal(item["label"], lang="en")))
    for alt in item.get("alt", []) or []:
        g.add((node, SKOS.altLabel, Literal(alt, lang="en")))
    for hidden in item.get("hidden", []) or []:
        g.add((node, SKOS.hiddenLabel, Literal(hidden, lang="en")))
    if item.get("comment"):
        g.add((node, RDFS.comment, Literal(item["comment"], lang="en")))
    if item.get("wikidata"):
        g.add((node, OWL.sameAs, WD[item["wikidata"]]))
    if item.get("see_also"):
        g.add((node, RDFS.seeAlso, URIRef(item["see_also"])))


def _slug(item: Located, path: Path) -> str:
    slug = item.get("id")
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise SourceError(
            path,
            item.line_of("id"),
            f"'id' must be a lower-case slug like 'un-general-assembly', got {slug!r}",
        )
    if not isinstance(item.get("label"), str):
        raise SourceError(path, item.line_of("label"), f"entity {slug!r} needs a 'label'")
    return slug


def compile_entities(path: Path, registry: Registry, vocab: Vocabulary) -> Graph:
    """Read entities.yaml into the entities named graph and register every name it defines."""
    source = load_yaml(path)
    if not isinstance(source, Located):
        raise SourceError(
            path,
            1,
            "expected a mapping with sections organizations, persons, groups, events, resolutions, countries",
        )
    g = Graph(identifier=ENTITIES_GRAPH)
    g.add((ENTITIES_GRAPH, RDF.type, PROV.Entity))
    g.add(
        (
            ENTITIES_GRAPH,
            RDFS.label,
            Literal("Curated entities: organisations, people, groups, shared events", lang="en"),
        )
    )
    g.add((ENTITIES_GRAPH, DCTERMS.source, Literal("data/entities.yaml")))
    if source.get("provenance"):
        g.add((ENTITIES_GRAPH, RDFS.comment, Literal(source["provenance"], lang="en")))

    for section, kind in SECTIONS.items():
        for item in source.get(section, []) or []:
            slug = _slug(item, path)
            if slug in registry.actors:
                raise SourceError(path, item.line, f"actor id {slug!r} is defined twice")
            node = actor_iri(kind, slug)
            registry.actors[slug] = node
            for cls in ACTOR_CLASSES[kind]:
                g.add((node, RDF.type, cls))
            _labels(g, node, item)
    assert set(ACTOR_KINDS) == set(SECTIONS.values())

    for item in source.get("resolutions", []) or []:
        slug = _slug(item, path)
        node = resolution_iri(slug)
        registry.resolutions[slug] = node
        g.add((node, RDF.type, AKG.Resolution))
        g.add((node, RDF.type, SCHEMA.Legislation))
        g.add((node, DCTERMS.identifier, Literal(item["label"])))
        _labels(g, node, item)

    for item in source.get("events", []) or []:
        slug = _slug(item, path)
        node = event_iri(slug)
        registry.events[slug] = node
        define_event(g, node, item, vocab)

    for code, item in (source.get("countries", {}) or {}).items():
        country = registry.countries.get(code)
        if country is None:
            raise SourceError(
                path,
                source["countries"].line_of(code),
                f"unknown country code {code!r} (not a UN member state)",
            )
        for alt in item.get("alt", []) or []:
            g.add((country, SKOS.altLabel, Literal(alt, lang="en")))
        for hidden in item.get("hidden", []) or []:
            g.add((country, SKOS.hiddenLabel, Literal(hidden, lang="en")))
    return g


def country_labels(path: Path) -> dict[str, str]:
    """Short labels chosen for states whose ISO name is long (``countries: RUS: label: Russia``)."""
    source = load_yaml(path)
    return {code: item["label"] for code, item in (source.get("countries", {}) or {}).items() if item.get("label")}


def define_event(g: Graph, node, item: Located, vocab: Vocabulary) -> None:
    """Add an event's type, label and links to ``g``; the type must be an event-type concept."""
    type_name = item.get("type")
    concept = vocab.lookup("event-type", type_name) if isinstance(type_name, str) else None
    if concept is None:
        raise item.error(
            f"event needs a 'type' from vocab/event-type: one of {', '.join(vocab.names('event-type'))}",
            "type",
        )
    g.add((node, RDF.type, AKG.Event))
    g.add((node, RDF.type, SCHEMA.Event))
    g.add((node, AKG.eventType, concept))
    _labels(g, node, item)
