"""Reference data: UN member states in 2022 with ISO 3166-1 codes (pycountry) and Wikidata IDs."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pycountry
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

from kg.encode.errors import SourceError
from kg.namespaces import AKG, GRAPH, ID, ORG, SCHEMA, VOCAB, WD

UN_MEMBERS_CSV = "un-member-states-2022.csv"
REFERENCE_GRAPH = GRAPH["reference"]
UN_MEMBERS_SOURCE = ID["source/un-member-states-2022"]
UN = ID["organization/un"]


@dataclass(frozen=True)
class MemberState:
    """One row of the UN membership table, completed from pycountry."""

    alpha3: str
    alpha2: str
    numeric: str
    name: str
    common_name: str | None
    official_name: str | None
    wikidata: str
    line: int

    @property
    def iri(self) -> URIRef:
        return country_iri(self.alpha3)


def country_iri(alpha3: str) -> URIRef:
    """The IRI minted for a state: ``id/country/<ISO 3166-1 alpha-3>``."""
    return ID[f"country/{alpha3}"]


def load_member_states(path: Path) -> list[MemberState]:
    """Read the UN membership CSV; every code must be known to pycountry."""
    states: list[MemberState] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            country = pycountry.countries.get(alpha_3=row["iso3"])
            if country is None:
                raise SourceError(path, line, f"unknown ISO 3166-1 alpha-3 code {row['iso3']!r}")
            if not row["wikidata"].startswith("Q"):
                raise SourceError(path, line, f"bad Wikidata ID {row['wikidata']!r}")
            states.append(
                MemberState(
                    alpha3=country.alpha_3,
                    alpha2=country.alpha_2,
                    numeric=country.numeric,
                    name=country.name,
                    common_name=getattr(country, "common_name", None),
                    official_name=getattr(country, "official_name", None),
                    wikidata=row["wikidata"],
                    line=line,
                )
            )
    return states


def reference_graph(states: list[MemberState], csv_path: Path, labels: dict[str, str]) -> Graph:
    """The reference named graph: states with codes, Wikidata links and UN memberships.

    ``labels`` maps alpha-3 codes to the short label used in this graph where it differs
    from ISO's name (e.g. RUS -> "Russia"); ISO's names are kept as alternative labels.
    """
    g = Graph(identifier=REFERENCE_GRAPH)
    g.add((REFERENCE_GRAPH, RDF.type, PROV.Entity))
    g.add((REFERENCE_GRAPH, RDFS.label, Literal("Reference data: UN member states 2022", lang="en")))
    g.add((REFERENCE_GRAPH, PROV.wasDerivedFrom, UN_MEMBERS_SOURCE))
    g.add((UN_MEMBERS_SOURCE, RDF.type, PROV.Entity))
    g.add((UN_MEMBERS_SOURCE, RDFS.label, Literal("UN member states on 2 March 2022", lang="en")))
    g.add((UN_MEMBERS_SOURCE, DCTERMS.source, Literal(f"data/reference/{csv_path.name}")))
    g.add(
        (
            UN_MEMBERS_SOURCE,
            RDFS.comment,
            Literal(
                "The 193 UN member states on 2 March 2022. ISO 3166-1 codes and names from pycountry "
                f"{pycountry_version()}; Wikidata IDs from Our World in Data's grapher country table "
                "(owid/owid-grapher, CountriesRegions.ts).",
                lang="en",
            ),
        )
    )
    for state in states:
        c = state.iri
        g.add((c, RDF.type, AKG.Country))
        g.add((c, RDF.type, SCHEMA.Country))
        label = labels.get(state.alpha3) or state.common_name or state.name
        g.add((c, RDFS.label, Literal(label, lang="en")))
        for alt in {state.name, state.common_name, state.official_name} - {None, label}:
            g.add((c, SKOS.altLabel, Literal(alt, lang="en")))
        g.add((c, AKG.isoAlpha2, Literal(state.alpha2)))
        g.add((c, AKG.isoAlpha3, Literal(state.alpha3)))
        g.add((c, AKG.isoNumeric, Literal(state.numeric)))
        g.add((c, OWL.sameAs, WD[state.wikidata]))
        g.add((c, PROV.wasDerivedFrom, UN_MEMBERS_SOURCE))
        membership = ID[f"membership/un/{state.alpha3}"]
        g.add((membership, RDF.type, AKG.Membership))
        g.add((membership, RDF.type, ORG.Membership))
        g.add((membership, ORG.member, c))
        g.add((membership, ORG.organization, UN))
        g.add((membership, ORG.role, VOCAB["member-state"]))
        g.add((membership, PROV.wasDerivedFrom, UN_MEMBERS_SOURCE))
    g.add((UN_MEMBERS_SOURCE, DCTERMS.extent, Literal(len(states), datatype=XSD.integer)))
    return g


def pycountry_version() -> str:
    """The installed pycountry version, recorded in the provenance of the codes."""
    from importlib.metadata import version

    return version("pycountry")
