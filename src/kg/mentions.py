"""Find the known actors a text names, with character offsets, for ``kg add``.

The gazetteer is built from the graph's own labels: ``rdfs:label``, ``skos:altLabel`` and
``skos:hiddenLabel`` (metonyms, demonyms) of every actor in the compiled reference and entities
graphs, plus the forms of pycountry's comma names ("Korea, Republic of" -> "Korea",
"Republic of Korea"). Matching is case-sensitive on whole words (a possessive "'s"/"’s" ends a
word), leftmost-longest. A name is ambiguous when it names several actors ("Korea") or when a
country's name is also a part of another country's name ("Congo" in "Democratic Republic of the
Congo", "Guinea" in "Papua New Guinea"; one-word names only, as longer ones are specific): such a mention is reported with its candidates and never
linked to one of them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pycountry
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS, SKOS

from kg.encode.dataset import ENTITIES_FILE, load_ontology
from kg.encode.entities import compile_entities, country_labels
from kg.encode.reference_data import UN_MEMBERS_CSV, load_member_states, reference_graph
from kg.encode.registry import Registry
from kg.encode.vocabulary import Vocabulary
from kg.namespaces import AKG

ACTOR_CLASSES = (AKG.Country, AKG.Organization, AKG.Person, AKG.Actor)
LABELS = (RDFS.label, SKOS.altLabel, SKOS.hiddenLabel)
APOSTROPHES = "'\u2019"


@dataclass(frozen=True)
class Mention:
    """A name found in the text: ``text[start:end]``, and the actor(s) it may name."""

    start: int
    end: int
    text: str
    candidates: tuple[str, ...]
    """Actor names as authoring files use them (alpha-3 code or entity id), sorted."""

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def actor_name(iri: URIRef) -> str:
    """The name an authoring file uses for an actor IRI (``id/country/RUS`` -> ``RUS``)."""
    return str(iri).rstrip("/").rsplit("/", 1)[-1]


def actor_graph(data_dir: Path, ontology_dir: Path) -> tuple[Graph, Registry]:
    """The compiled reference and entities graphs (as one graph) and the registry of actor names."""
    vocab = Vocabulary.from_ontology(load_ontology(ontology_dir))
    csv_path = data_dir / "reference" / UN_MEMBERS_CSV
    entities_path = data_dir / ENTITIES_FILE
    states = load_member_states(csv_path)
    registry = Registry(countries={s.alpha3: s.iri for s in states})
    graph = Graph()
    for part in (
        reference_graph(states, csv_path, country_labels(entities_path)),
        compile_entities(entities_path, registry, vocab),
    ):
        graph += part
    return graph, registry


def _pycountry_forms(alpha3: str) -> set[str]:
    """Names pycountry gives a state, with comma names also as head and in reading order."""
    country = pycountry.countries.get(alpha_3=alpha3)
    if country is None:
        return set()
    forms: set[str] = set()
    for name in (country.name, getattr(country, "common_name", None), getattr(country, "official_name", None)):
        if not name:
            continue
        if ", " in name:
            head, tail = name.split(", ", 1)
            reading = f"{tail} {head}"
            forms |= {head, reading, reading.removeprefix("The ")}
        else:
            forms.add(name)
    return forms


def _short_forms(graph: Graph, country: URIRef) -> set[str]:
    """A country's everyday names (label, ISO and common name), where another name may hide."""
    country_ = pycountry.countries.get(alpha_3=actor_name(country))
    forms = {str(label) for label in graph.objects(country, RDFS.label)}
    if country_ is not None:
        for name in (country_.name, getattr(country_, "common_name", None)):
            if name:
                head, _, tail = name.partition(", ")
                forms.add(f"{tail} {head}" if tail else head)
    return forms


def _words(surface: str) -> str:
    """A pattern for ``surface`` as whole words: any apostrophe, any run of spaces, a capital first letter."""
    parts = []
    for i, char in enumerate(surface):
        if char in APOSTROPHES:
            parts.append(f"[{APOSTROPHES}]")
        elif char == " ":
            parts.append(r"\s+")
        elif i == 0 and char.islower():
            parts.append(f"[{char}{char.upper()}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


class Gazetteer:
    """Surface forms of actor names, each with the actors it may name."""

    def __init__(self, names: dict[str, set[str]]):
        merged: dict[str, set[str]] = defaultdict(set)
        for surface, actors in names.items():
            merged[_key(surface)] |= actors
        self.names = {key: tuple(sorted(actors)) for key, actors in merged.items()}
        ordered = sorted(names, key=lambda s: (-len(s), s))
        self.pattern = re.compile(r"(?<!\w)(?:" + "|".join(_words(s) for s in ordered) + r")(?!\w)")

    @classmethod
    def from_graph(cls, graph: Graph) -> Gazetteer:
        """Every label of every actor in ``graph``, with pycountry's names of its countries."""
        names: dict[str, set[str]] = defaultdict(set)
        countries: set[URIRef] = set()
        for cls_ in ACTOR_CLASSES:
            for actor in graph.subjects(RDF.type, cls_):
                if not isinstance(actor, URIRef):
                    continue
                for prop in LABELS:
                    for label in graph.objects(actor, prop):
                        names[str(label)].add(actor_name(actor))
                if cls_ == AKG.Country:
                    countries.add(actor)
                    for form in _pycountry_forms(actor_name(actor)):
                        names[form].add(actor_name(actor))
        _add_containing_countries(names, {actor_name(c): _short_forms(graph, c) for c in countries})
        return cls(names)

    @classmethod
    def from_sources(cls, data_dir: Path, ontology_dir: Path) -> Gazetteer:
        return cls.from_graph(actor_graph(data_dir, ontology_dir)[0])

    def find(self, text: str) -> list[Mention]:
        """Every name in ``text``, left to right, the longest where names overlap."""
        found = []
        for match in self.pattern.finditer(text):
            found.append(Mention(match.start(), match.end(), match.group(), self.names[_key(match.group())]))
        return found


def _key(surface: str) -> str:
    """What two spellings of one name share: apostrophes, spacing and first letter normalised."""
    flat = re.sub(r"\s+", " ", surface.replace("\u2019", "'"))
    return flat[:1].upper() + flat[1:]


def _add_containing_countries(names: dict[str, set[str]], short_forms: dict[str, set[str]]) -> None:
    """Make a one-word country name ambiguous where it is also a word of another country's name."""
    for surface, actors in names.items():
        if " " in surface or not actors <= short_forms.keys():
            continue
        inside = re.compile(r"(?<!\w)" + re.escape(surface) + r"(?!\w)")
        for code, forms in short_forms.items():
            if code not in actors and any(surface in form and inside.search(form) for form in forms):
                actors.add(code)
