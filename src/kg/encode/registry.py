"""Resolve the names authoring files use (``RUS``, ``nato``, ``vladimir-putin``) to IRIs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rdflib import URIRef

from kg.namespaces import ID

COUNTRY_CODE = re.compile(r"^[A-Z]{3}$")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

ACTOR_KINDS = ("organization", "person", "group")


@dataclass
class Registry:
    """Known actors, events and resolutions, by the short names authoring files use."""

    countries: dict[str, URIRef] = field(default_factory=dict)
    actors: dict[str, URIRef] = field(default_factory=dict)
    events: dict[str, URIRef] = field(default_factory=dict)
    resolutions: dict[str, URIRef] = field(default_factory=dict)

    def actor(self, name: str) -> URIRef | None:
        """The IRI of an actor: a state by alpha-3 code, or an organisation/person/group by slug."""
        if COUNTRY_CODE.match(name):
            return self.countries.get(name)
        return self.actors.get(name)

    def known_actor_names(self) -> list[str]:
        """Every name ``actor`` accepts, for error messages."""
        return sorted(self.actors) + sorted(self.countries)


def event_iri(slug: str) -> URIRef:
    """The IRI minted for an event: ``id/event/<slug>``."""
    return ID[f"event/{slug}"]


def actor_iri(kind: str, slug: str) -> URIRef:
    """The IRI minted for an organisation, person or group: ``id/<kind>/<slug>``."""
    return ID[f"{kind}/{slug}"]


def resolution_iri(slug: str) -> URIRef:
    """The IRI minted for a resolution: ``id/resolution/<slug>``."""
    return ID[f"resolution/{slug}"]
