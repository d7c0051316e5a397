"""The ontology's SKOS concept schemes, for checking the concept names the authoring files use."""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph, URIRef
from rdflib.namespace import SKOS

from kg.namespaces import VOCAB


@dataclass(frozen=True)
class Vocabulary:
    """Concept names by scheme name, e.g. ``concepts["vote-option"]["absent"]``."""

    concepts: dict[str, dict[str, URIRef]]

    @classmethod
    def from_ontology(cls, ontology: Graph) -> Vocabulary:
        """Collect every ``skos:Concept`` of our schemes from the ontology graph."""
        concepts: dict[str, dict[str, URIRef]] = {}
        for concept, scheme in ontology.subject_objects(SKOS.inScheme):
            scheme_name = str(scheme).removeprefix(str(VOCAB))
            concepts.setdefault(scheme_name, {})[str(concept).removeprefix(str(VOCAB))] = URIRef(concept)
        return cls(concepts)

    def lookup(self, scheme: str, name: str) -> URIRef | None:
        """The concept IRI for ``name`` in ``scheme``, or None if there is no such concept."""
        return self.concepts.get(scheme, {}).get(name)

    def names(self, scheme: str) -> list[str]:
        """The concept names of a scheme, sorted, for error messages."""
        return sorted(self.concepts.get(scheme, {}))
