"""The ontology as researchers meet it: OOPS! pitfalls, FOOPS! metadata, and an OWL 2 DL reasoner.

Each pitfall test is named after the OOPS! pitfall it guards (https://oops.linkeddata.es/catalogue.jsp);
the metadata tests follow the FOOPS! checks OM1 (minimum) and OM2 (recommended). The reasoner test loads
the ontology and the whole built dataset into HermiT (shipped with owlready2, run on Java).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import owlready2
import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from kg import __version__
from kg.build import build_dataset
from kg.encode.dataset import ONTOLOGY_FILES, parse_turtle
from kg.namespaces import AKG, GRAPH, ONTOLOGY_IRI, PREFIXES, VANN, VOCAB

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_DIR = ROOT / "ontology"
CHANGELOG = ONTOLOGY_DIR / "CHANGELOG.md"
BUILT_IN = (str(RDF), str(RDFS), str(OWL), str(XSD))
PROPERTY_TYPES = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
CATALOGUE_GRAPHS = frozenset({GRAPH["queries"]})
"""Graphs that describe the saved queries with SHACL and schema.org, not the world with our terms."""
OWL2_DATATYPES = frozenset(
    {RDF.PlainLiteral, RDF.XMLLiteral, RDFS.Literal, OWL.real, OWL.rational}
    | {
        XSD[n]
        for n in [
            "decimal",
            "integer",
            "nonNegativeInteger",
            "nonPositiveInteger",
            "positiveInteger",
            "negativeInteger",
            "long",
            "int",
            "short",
            "byte",
            "unsignedLong",
            "unsignedInt",
            "unsignedShort",
            "unsignedByte",
            "double",
            "float",
            "string",
            "normalizedString",
            "token",
            "language",
            "Name",
            "NCName",
            "NMTOKEN",
            "boolean",
            "hexBinary",
            "base64Binary",
            "anyURI",
            "dateTime",
            "dateTimeStamp",
        ]
    }
)
"""The OWL 2 datatype map (OWL 2 Structural Specification, section 4)."""
CALENDAR_DATATYPES = frozenset({XSD.date, XSD.gYearMonth, XSD.gYear})
"""Outside the OWL 2 datatype map, but what the sources state; the reasoner is told to accept them."""


@pytest.fixture(scope="module")
def modules() -> dict[str, Graph]:
    """Each ontology file on its own."""
    return {name: parse_turtle(ONTOLOGY_DIR / name) for name in ONTOLOGY_FILES}


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """The dataset as ``kg build`` compiles it from data/ (in memory; dist/ untouched)."""
    return build_dataset()[0]


def ours(graph: Graph, kinds: Iterable[URIRef]) -> set[URIRef]:
    """Terms of our namespace declared with one of ``kinds``."""
    return {s for k in kinds for s in graph.subjects(RDF.type, k) if str(s).startswith(str(AKG))}


def declared_classes(graph: Graph) -> set:
    return set(graph.subjects(RDF.type, OWL.Class)) | set(graph.subjects(RDF.type, RDFS.Datatype))


def class_expressions(graph: Graph) -> set:
    """Every named term the ontology uses in a class position (types, subclasses, domains, ranges, unions)."""
    used: set = set()
    for p in (RDFS.subClassOf, OWL.disjointWith, OWL.equivalentClass):
        for s, o in graph.subject_objects(p):
            used |= {s, o}
    used |= set(graph.objects(None, RDFS.domain)) | set(graph.objects(None, RDFS.range))
    for union in graph.objects(None, OWL.unionOf):
        used |= set(Collection(graph, union))
    return {t for t in used if isinstance(t, URIRef)}


def instance_graph(dataset: Dataset, skip: frozenset = frozenset()) -> Graph:
    merged = Graph()
    for s, p, o, g in dataset.quads():
        if g not in skip and g != GRAPH["ontology"]:
            merged.add((s, p, o))
    return merged


# --- OOPS! pitfalls ------------------------------------------------------------------------------


def test_p38_every_module_declares_an_ontology(modules: dict[str, Graph]) -> None:
    for name, graph in modules.items():
        assert len(set(graph.subjects(RDF.type, OWL.Ontology))) == 1, f"{name}: no single owl:Ontology"


def test_p41_every_module_has_a_licence_iri(modules: dict[str, Graph]) -> None:
    for name, graph in modules.items():
        (onto,) = graph.subjects(RDF.type, OWL.Ontology)
        licences = list(graph.objects(onto, DCTERMS.license))
        assert licences and all(isinstance(x, URIRef) for x in licences), f"{name}: no licence IRI"


def test_p34_no_untyped_class(ontology: Graph, dataset: Dataset) -> None:
    used = class_expressions(ontology) | set(instance_graph(dataset).objects(None, RDF.type))
    untyped = {t for t in used if t not in declared_classes(ontology) and not str(t).startswith(BUILT_IN)}
    assert not untyped - catalogue_classes(dataset), sorted(untyped)


def catalogue_classes(dataset: Dataset) -> set:
    """Classes that occur only in the saved-query catalogue."""
    inside = {o for s, p, o, g in dataset.quads((None, RDF.type, None, None)) if g in CATALOGUE_GRAPHS}
    return inside - set(instance_graph(dataset, CATALOGUE_GRAPHS).objects(None, RDF.type))


def test_p35_no_untyped_property(ontology: Graph, dataset: Dataset) -> None:
    used = set(ontology.predicates()) | set(instance_graph(dataset, CATALOGUE_GRAPHS).predicates())
    declared = {s for k in PROPERTY_TYPES for s in ontology.subjects(RDF.type, k)}
    untyped = sorted(str(p) for p in used if p not in declared and not str(p).startswith(BUILT_IN))
    assert not untyped, untyped


def test_p08_every_term_has_a_label_and_a_definition(ontology: Graph) -> None:
    terms = ours(ontology, (OWL.Class, *PROPERTY_TYPES))
    terms |= {s for s in ontology.subjects(RDF.type, SKOS.Concept) if str(s).startswith(str(VOCAB))}
    terms |= set(ontology.subjects(RDF.type, SKOS.ConceptScheme))
    assert len(terms) > 50
    unlabelled = sorted(str(t) for t in terms if not any(x.language == "en" for x in ontology.objects(t, RDFS.label)))
    undefined = sorted(str(t) for t in terms if not list(ontology.objects(t, SKOS.definition)))
    assert not unlabelled, f"no English rdfs:label: {unlabelled}"
    assert not undefined, f"no skos:definition: {undefined}"


def test_p08_external_terms_we_declare_are_explained(ontology: Graph) -> None:
    """Classes and data/object properties borrowed into the core carry a label and a comment saying whose they are."""
    core = parse_turtle(ONTOLOGY_DIR / ONTOLOGY_FILES[0])
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    borrowed = {s for k in kinds for s in core.subjects(RDF.type, k) if isinstance(s, URIRef)}
    borrowed = {s for s in borrowed if not str(s).startswith(str(AKG))}
    borrowed -= {SKOS.Concept, SKOS.ConceptScheme, SKOS.inScheme, SKOS.broader, SKOS.hasTopConcept, SKOS.exactMatch}
    missing = sorted(str(t) for t in borrowed if not (core.value(t, RDFS.label) and core.value(t, RDFS.comment)))
    assert not missing, missing


def test_p11_every_property_has_a_domain_and_a_range(ontology: Graph) -> None:
    properties = ours(ontology, (OWL.ObjectProperty, OWL.DatatypeProperty))
    assert properties
    missing = sorted(
        f"{p} ({'domain' if not ontology.value(p, RDFS.domain) else 'range'})"
        for p in properties
        if not (ontology.value(p, RDFS.domain) and ontology.value(p, RDFS.range))
    )
    assert not missing, missing


def test_p13_inverse_declared_where_both_directions_are_modelled(ontology: Graph) -> None:
    """Two of our object properties with swapped domain and range must be declared inverses."""
    properties = ours(ontology, (OWL.ObjectProperty,))
    ends = {p: (ontology.value(p, RDFS.domain), ontology.value(p, RDFS.range)) for p in properties}
    undeclared = sorted(
        (str(p), str(q))
        for p in properties
        for q in properties
        if str(p) < str(q)
        and ends[p] == (ends[q][1], ends[q][0])
        and not set(ontology.triples((p, OWL.inverseOf, q))) | set(ontology.triples((q, OWL.inverseOf, p)))
    )
    assert not undeclared, undeclared


def test_p13_inverse_declared_where_the_data_uses_both_directions(ontology: Graph, dataset: Dataset) -> None:
    """Where every ``a p b`` has a ``b q a`` and vice versa (p one of ours), p and q must be declared inverses."""
    data = instance_graph(dataset)
    uses: dict[URIRef, set] = defaultdict(set)
    for s, p, o in data:
        if not isinstance(o, Literal) and p != RDF.type:
            uses[p].add((s, o))
    mirrored = [
        (p, q)
        for p in uses
        if str(p).startswith(str(AKG))
        for q in uses
        if q != p and {(o, s) for s, o in uses[p]} == uses[q]
    ]
    inverse = set(ontology.subject_objects(OWL.inverseOf))
    undeclared = sorted((str(p), str(q)) for p, q in mirrored if (p, q) not in inverse and (q, p) not in inverse)
    assert not undeclared, undeclared


def test_p32_no_two_classes_share_a_label(ontology: Graph) -> None:
    by_label: dict[tuple[str, str | None], set] = defaultdict(set)
    for cls in declared_classes(ontology):
        for label in ontology.objects(cls, RDFS.label):
            by_label[(str(label).lower(), label.language)].add(str(cls))
    shared = {label: sorted(c) for label, c in by_label.items() if len(c) > 1}
    assert not shared, shared


def test_p22_one_naming_convention_per_kind(ontology: Graph) -> None:
    """Classes UpperCamelCase, properties lowerCamelCase, SKOS concepts and schemes kebab-case."""
    rules = [
        (ours(ontology, (OWL.Class,)), re.compile(r"[A-Z][A-Za-z0-9]*")),
        (ours(ontology, PROPERTY_TYPES), re.compile(r"[a-z][A-Za-z0-9]*")),
        (
            {t for k in (SKOS.Concept, SKOS.ConceptScheme) for t in ontology.subjects(RDF.type, k)},
            re.compile(r"[a-z0-9]+(-[a-z0-9]+)*"),
        ),
    ]
    for terms, pattern in rules:
        assert terms
        local = {str(t).rsplit("/", 1)[1] for t in terms}
        bad = sorted(n for n in local if not pattern.fullmatch(n))
        assert not bad, f"not {pattern.pattern}: {bad}"


# --- FOOPS! metadata (OM1 minimum, OM2 recommended) and versioning --------------------------------


def header(graph: Graph) -> tuple[URIRef, dict[URIRef, list]]:
    (onto,) = graph.subjects(RDF.type, OWL.Ontology)
    values: dict[URIRef, list] = defaultdict(list)
    for p, o in graph.predicate_objects(onto):
        values[p].append(o)
    return onto, values


@pytest.mark.parametrize("name", ONTOLOGY_FILES)
def test_om1_om2_metadata(modules: dict[str, Graph], name: str) -> None:
    onto, meta = header(modules[name])
    for prop in (
        DCTERMS.title,
        DCTERMS.description,
        DCTERMS.license,
        DCTERMS.creator,
        DCTERMS.created,
        DCTERMS.bibliographicCitation,
        OWL.versionIRI,
        OWL.versionInfo,
        VANN.preferredNamespacePrefix,
        VANN.preferredNamespaceUri,
    ):
        assert meta[prop], f"{name}: no {prop}"
    assert any(x.language == "en" for x in meta[DCTERMS.title] + meta[DCTERMS.description])
    assert meta[DCTERMS.created][0].datatype == XSD.date
    (version,) = meta[OWL.versionInfo]
    (version_iri,) = meta[OWL.versionIRI]
    assert version_iri != onto and str(version_iri) == f"{onto}/{version}"
    assert str(version) in str(meta[DCTERMS.bibliographicCitation][0])
    assert str(meta[VANN.preferredNamespaceUri][0]) == str(AKG)
    assert PREFIXES[str(meta[VANN.preferredNamespacePrefix][0])] == str(AKG)


def test_core_ontology_iri_and_version_match_the_package(modules: dict[str, Graph]) -> None:
    onto, meta = header(modules[ONTOLOGY_FILES[0]])
    assert str(onto) == ONTOLOGY_IRI
    assert str(meta[OWL.versionInfo][0]) == __version__


@pytest.mark.parametrize("name", ONTOLOGY_FILES)
def test_prior_version_only_from_the_second_release(modules: dict[str, Graph], name: str) -> None:
    _, meta = header(modules[name])
    (version,) = meta[OWL.versionInfo]
    if str(version) == "1.0.0":
        assert not meta[OWL.priorVersion], "1.0.0 is the first release: it has no prior version"
    else:
        assert meta[OWL.priorVersion] and meta[OWL.priorVersion] != meta[OWL.versionIRI]


def test_changelog_has_the_current_release() -> None:
    text = CHANGELOG.read_text("utf-8")
    assert re.search(rf"^## \[?{re.escape(__version__)}\]?", text, re.M), "no CHANGELOG section for this release"
    assert ONTOLOGY_IRI + "/" + __version__ in text


def test_citation_cff_names_the_graph_and_the_ontology() -> None:
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text("utf-8"))
    assert cff["cff-version"].startswith("1.2") and cff["version"] == __version__
    assert cff["title"] and cff["authors"] and cff["license"] == "CC-BY-4.0"
    identifiers = {i["value"] for i in cff["identifiers"]}
    assert {ONTOLOGY_IRI, f"{ONTOLOGY_IRI}/{__version__}", str(GRAPH).replace("graph/", "id/")} <= identifiers


def test_alignment_module_imports_the_core_and_the_core_stands_alone(modules: dict[str, Graph]) -> None:
    core, align = modules[ONTOLOGY_FILES[0]], modules[ONTOLOGY_FILES[1]]
    (align_iri,) = align.subjects(RDF.type, OWL.Ontology)
    assert URIRef(ONTOLOGY_IRI) in set(align.objects(align_iri, OWL.imports))
    assert not list(core.objects(None, OWL.imports))
    core_terms = ours(core, (OWL.Class, *PROPERTY_TYPES))
    assert not ours(align, (OWL.Class, *PROPERTY_TYPES)) - core_terms, "the alignment module declares no terms"
    parents = {o for p in (RDFS.subClassOf, RDFS.subPropertyOf) for o in core.objects(None, p)}
    assert parents and all(str(o).startswith(str(AKG)) for o in parents), "alignments belong in the alignment module"


# --- OWL 2 DL reasoning (HermiT) -------------------------------------------------------------------


def java() -> str:
    found = shutil.which(owlready2.JAVA_EXE)
    assert found, "no Java runtime: HermiT needs one (.ci/run installs default-jre-headless)"
    return found


def reason(*graphs: Graph) -> owlready2.World:
    """Load ``graphs`` into a fresh owlready2 world and run HermiT; raises on inconsistency."""
    owlready2.JAVA_EXE = java()
    world = owlready2.World()
    with tempfile.TemporaryDirectory() as folder:
        for i, graph in enumerate(graphs):
            path = Path(folder) / f"part{i}.nt"
            local = Graph()
            for triple in graph.triples((None, None, None)):
                if triple[1] != OWL.imports:  # everything imported is loaded here already; never fetch
                    local.add(triple)
            local.serialize(path, format="nt", encoding="utf-8")
            world.get_ontology(path.as_uri()).load(format="ntriples")
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0, ignore_unsupported_datatypes=True)
    return world


def test_only_calendar_datatypes_lie_outside_the_owl2_datatype_map(ontology: Graph, dataset: Dataset) -> None:
    used = {o for o in ontology.objects() if isinstance(o, URIRef) and str(o).startswith(str(XSD))}
    used |= {o.datatype for o in instance_graph(dataset).objects() if isinstance(o, Literal) and o.datatype}
    assert used - OWL2_DATATYPES == CALENDAR_DATATYPES


def test_ontology_and_data_are_consistent_with_no_unsatisfiable_class(ontology: Graph, dataset: Dataset) -> None:
    world = reason(ontology, instance_graph(dataset))
    assert list(world.inconsistent_classes()) == []
    assert world.search_one(iri=str(AKG.Country)) in world.search_one(iri=str(AKG.Actor)).descendants()


def test_reasoner_reports_an_inconsistency(ontology: Graph) -> None:
    """The check above can fail: one node typed as two disjoint classes is caught."""
    bad = Graph()
    node = URIRef("https://w3id.org/alignkg/id/test/both")
    bad.add((node, RDF.type, AKG.Country))
    bad.add((node, RDF.type, AKG.Event))
    with pytest.raises(owlready2.OwlReadyInconsistentOntologyError):
        reason(ontology, bad)


def test_reasoner_reports_an_unsatisfiable_class(ontology: Graph) -> None:
    bad = Graph()
    cls = URIRef("https://w3id.org/alignkg/id/test/Impossible")
    bad.add((cls, RDF.type, OWL.Class))
    bad.add((cls, RDFS.subClassOf, AKG.Person))
    bad.add((cls, RDFS.subClassOf, AKG.Country))
    world = reason(ontology, bad)
    assert {c.iri for c in world.inconsistent_classes()} - {str(OWL.Nothing)} == {str(cls)}
