"""Every namespace the project uses, defined once.

Instance IRIs are minted under ``BASE``; the ontology's terms live under ``AKG``.
"""

from rdflib import Namespace
from rdflib.namespace import DCTERMS, OWL, PROV, RDF, RDFS, SKOS, XSD

BASE = "https://w3id.org/alignkg/"

AKG = Namespace(BASE + "ontology/")
"""The ontology's terms (classes, properties, concept schemes)."""
ONTOLOGY_IRI = BASE + "ontology"
SHAPES = Namespace(BASE + "shapes/")
VOCAB = Namespace(BASE + "vocab/")
"""SKOS concept schemes and their concepts (vote options, relation types, ...)."""
ID = Namespace(BASE + "id/")
GRAPH = Namespace(BASE + "graph/")

SCHEMA = Namespace("https://schema.org/")
ORG = Namespace("http://www.w3.org/ns/org#")
OA = Namespace("http://www.w3.org/ns/oa#")
VANN = Namespace("http://purl.org/vocab/vann/")
SH = Namespace("http://www.w3.org/ns/shacl#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
WD = Namespace("http://www.wikidata.org/entity/")
WDT = Namespace("http://www.wikidata.org/prop/direct/")
CC = Namespace("http://creativecommons.org/ns#")

PREFIXES: dict[str, str] = {
    "akg": str(AKG),
    "akgsh": str(SHAPES),
    "vocab": str(VOCAB),
    "id": str(ID),
    "graph": str(GRAPH),
    "schema": str(SCHEMA),
    "org": str(ORG),
    "oa": str(OA),
    "prov": str(PROV),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "owl": str(OWL),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "vann": str(VANN),
    "sh": str(SH),
    "wd": str(WD),
    "wdt": str(WDT),
    "void": str(VOID),
    "dcat": str(DCAT),
}
"""Prefixes bound in every serialisation and offered to SPARQL users."""


def bind_all(graph) -> None:
    """Bind the project's prefixes on an rdflib Graph or Dataset."""
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri, override=True, replace=True)


def sparql_prologue() -> str:
    """PREFIX declarations for every project prefix, for queries written in code."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())
