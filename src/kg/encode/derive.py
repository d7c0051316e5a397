"""Derived facts: the in-favour votes on A/RES/ES-11/1, as the complement of the listed votes."""

from __future__ import annotations

from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, XSD

from kg.encode.document import vote_record_iri
from kg.encode.reference_data import REFERENCE_GRAPH, UN_MEMBERS_SOURCE, MemberState
from kg.namespaces import AKG, GRAPH, ID, VOCAB

DERIVED_GRAPH = GRAPH["derived/votes"]
DERIVATION = ID["activity/derive-in-favour-votes"]


def derive_in_favour_votes(dataset: Dataset, states: list[MemberState]) -> Graph:
    """For each resolution with stated vote records, record every other member state as in favour.

    The derivation is only sound where the source says that all states not listed voted in
    favour; here document 000 lists against, abstention and absent and gives the in-favour
    total (141), which the SHACL shapes check against the derived count.
    """
    g = Graph(identifier=DERIVED_GRAPH)
    stated: dict[URIRef, set[URIRef]] = {}
    sources: dict[URIRef, set[URIRef]] = {}
    for record in sorted(set(dataset.subjects(RDF.type, AKG.VoteRecord))):
        resolution = dataset.value(record, AKG.resolution)
        stated.setdefault(resolution, set()).add(dataset.value(record, AKG.voter))
        sources.setdefault(resolution, set()).update(dataset.objects(record, AKG.statedIn))
    if not stated:
        return g
    g.add((DERIVED_GRAPH, RDF.type, PROV.Entity))
    g.add((DERIVED_GRAPH, RDFS.label, Literal("Derived vote records (in favour, as the complement)", lang="en")))
    g.add((DERIVED_GRAPH, PROV.wasGeneratedBy, DERIVATION))
    g.add((DERIVATION, RDF.type, PROV.Activity))
    g.add(
        (
            DERIVATION,
            RDFS.label,
            Literal("Derive in-favour votes as the complement of the listed votes", lang="en"),
        )
    )
    g.add(
        (
            DERIVATION,
            RDFS.comment,
            Literal(
                "Every UN member state on 2 March 2022 (reference graph) that the source document does not "
                "list as voting against, abstaining or absent is recorded as voting in favour. The source "
                "states the in-favour total without listing the states; the SHACL shapes check that the "
                "derived records match that total.",
                lang="en",
            ),
        )
    )
    g.add((DERIVATION, PROV.used, REFERENCE_GRAPH))
    g.add((DERIVATION, PROV.used, UN_MEMBERS_SOURCE))
    for resolution in sorted(stated):
        for document in sorted(sources[resolution]):
            g.add((DERIVATION, PROV.used, document))
        for state in states:
            if state.iri in stated[resolution]:
                continue
            record = vote_record_iri(resolution, state.alpha3)
            g.add((record, RDF.type, AKG.VoteRecord))
            g.add((record, AKG.resolution, resolution))
            g.add((record, AKG.voter, state.iri))
            g.add((record, AKG.voteOption, VOCAB["in-favour"]))
            g.add((record, AKG.epistemicStatus, VOCAB["derived"]))
            g.add((record, PROV.wasGeneratedBy, DERIVATION))
            g.add((record, PROV.wasDerivedFrom, UN_MEMBERS_SOURCE))
            for document in sorted(sources[resolution]):
                g.add((record, PROV.wasDerivedFrom, document))
    g.add(
        (
            DERIVATION,
            AKG["count"],
            Literal(len(set(g.subjects(RDF.type, AKG.VoteRecord))), datatype=XSD.integer),
        )
    )
    return g
