"""``kg docs``: HTML documentation of the ontology, with examples from the data and a class diagram.

The same functions serve the documentation at the namespace IRI: :func:`example_queries` are standard
SPARQL run by whichever engine holds the data (pyoxigraph here, the worker pool in ``kg serve``), and
:func:`render_docs` turns the ontology graph and their answers into one self-contained HTML page.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

from kg.docs_diagram import Edge, class_diagram
from kg.namespaces import AKG, GRAPH, ONTOLOGY_IRI, PREFIXES, VANN

Rows = list[Mapping[str, Mapping[str, str]]]
"""SELECT solutions in the SPARQL 1.1 Query Results JSON format."""
EXAMPLES_PER_TERM = 3
INDEX_HTML, DIAGRAM_SVG, CONTEXT_JSONLD = "index.html", "diagram.svg", "context.jsonld"
PROPERTY_KINDS = {
    OWL.ObjectProperty: "Object property",
    OWL.DatatypeProperty: "Datatype property",
    OWL.AnnotationProperty: "Annotation property",
}
METADATA = (
    (OWL.versionIRI, "Version IRI"),
    (OWL.versionInfo, "Version"),
    (OWL.priorVersion, "Prior version"),
    (DCTERMS.creator, "Creator"),
    (DCTERMS.created, "Created"),
    (DCTERMS.modified, "Modified"),
    (DCTERMS.license, "Licence"),
    (VANN.preferredNamespacePrefix, "Preferred prefix"),
    (VANN.preferredNamespaceUri, "Namespace"),
    (DCTERMS.bibliographicCitation, "Cite as"),
)


@dataclass(frozen=True)
class Ref:
    """A term as the page links to it."""

    iri: str
    label: str
    href: str


@dataclass(frozen=True)
class Example:
    """One use of a term in the data: an instance of a class, or a subject-property-object."""

    subject: Ref
    value: Ref | str | None = None


@dataclass
class TermDoc:
    """Everything the page says about one class or property of ours."""

    ref: Ref
    anchor: str
    page: str
    kind: str
    definitions: list[str]
    comments: list[str]
    parents: list[Ref]
    children: list[Ref] = field(default_factory=list)
    domain: list[Ref] = field(default_factory=list)
    range: list[Ref] = field(default_factory=list)
    inverse: list[Ref] = field(default_factory=list)
    disjoint: list[Ref] = field(default_factory=list)
    in_domain_of: list[Ref] = field(default_factory=list)
    in_range_of: list[Ref] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    uses: int = 0


def curie(iri: str) -> str:
    """``prefix:local`` for an IRI in a known namespace (the longest match), else the IRI."""
    best = max(((p, ns) for p, ns in PREFIXES.items() if iri.startswith(ns)), key=lambda x: len(x[1]), default=None)
    return f"{best[0]}:{iri[len(best[1]) :]}" if best else iri


def local_name(iri: str) -> str:
    return iri[len(str(AKG)) :] if iri.startswith(str(AKG)) else curie(iri)


def our_terms(ontology: Graph) -> tuple[list[URIRef], list[URIRef]]:
    """Our classes and our (object, datatype, annotation) properties, sorted by IRI."""

    def of(*kinds: URIRef) -> list[URIRef]:
        found = {s for k in kinds for s in ontology.subjects(RDF.type, k)}
        return sorted(t for t in found if isinstance(t, URIRef) and str(t).startswith(str(AKG)))

    return of(OWL.Class), of(*PROPERTY_KINDS)


# --- examples from the data -----------------------------------------------------------------------


def example_queries(ontology: Graph, per_term: int = EXAMPLES_PER_TERM) -> tuple[str, str]:
    """Two SELECTs over the data: a few uses of each term (``?term ?s ?o`` + labels), and counts."""
    classes, properties = our_terms(ontology)
    not_ontology = f"FILTER(?g != <{GRAPH['ontology']}>)"
    label = "OPTIONAL {{ GRAPH ?{0}g {{ ?{0} <http://www.w3.org/2000/01/rdf-schema#label> ?{0}label }} }}"
    parts = [
        f"{{ {{ SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s a <{c}> }} {not_ontology} }} ORDER BY ?s LIMIT {per_term} }} "
        f"BIND(<{c}> AS ?term) {label.format('s')} }}"
        for c in classes
    ] + [
        f"{{ {{ SELECT DISTINCT ?s ?o WHERE {{ GRAPH ?g {{ ?s <{p}> ?o }} {not_ontology} }} ORDER BY ?s ?o "
        f"LIMIT {per_term} }} BIND(<{p}> AS ?term) {label.format('s')} {label.format('o')} }}"
        for p in properties
    ]
    examples = f"SELECT ?term ?s ?o ?slabel ?olabel WHERE {{ {' UNION '.join(parts)} }}"
    values = " ".join(f"<{t}>" for t in classes + properties)
    counts = (
        f"SELECT ?term (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?term ?s ?o WHERE {{ VALUES ?term {{ {values} }} "
        f"{{ GRAPH ?g {{ ?s a ?term }} {not_ontology} }} UNION {{ GRAPH ?g {{ ?s ?term ?o }} {not_ontology} }} "
        "} } GROUP BY ?term"
    )
    return examples, counts


def _value(term: Mapping[str, str] | None) -> str | None:
    return None if term is None else term["value"]


def parse_examples(rows: Rows, href: Callable[[str], str]) -> dict[str, list[Example]]:
    """Examples by term IRI, in query order, one per distinct subject-object pair."""
    found: dict[str, dict[tuple, Example]] = defaultdict(dict)
    for row in rows:
        term, s, o = _value(row["term"]), row["s"], row.get("o")
        key = (s["value"], None if o is None else (o["type"], o["value"]))
        if key in found[term]:
            continue
        subject = Ref(s["value"], _value(row.get("slabel")) or curie(s["value"]), href(s["value"]))
        value: Ref | str | None = None
        if o is not None:
            if o["type"] == "uri":
                value = Ref(o["value"], _value(row.get("olabel")) or curie(o["value"]), href(o["value"]))
            else:
                text = o["value"] if len(o["value"]) <= 120 else o["value"][:117] + "..."
                value = f"“{text}”" + (f" ({curie(o['datatype'])})" if "datatype" in o else "")
        found[term][key] = Example(subject, value)
    return {
        t: sorted(e.values(), key=lambda x: (x.subject.iri, str(x.value)))[:EXAMPLES_PER_TERM] for t, e in found.items()
    }


def parse_counts(rows: Rows) -> dict[str, int]:
    return {row["term"]["value"]: int(row["n"]["value"]) for row in rows}


# --- the documentation model ----------------------------------------------------------------------


class _Reader:
    """Reads the ontology graph into page-ready references."""

    def __init__(self, ontology: Graph, href: Callable[[str], str] = str):
        self.g = ontology
        self.href = href

    def label(self, term: URIRef) -> str:
        labels = list(self.g.objects(term, RDFS.label))
        english = [x for x in labels if isinstance(x, Literal) and x.language == "en"]
        return str((english or labels or [None])[0] or local_name(str(term)))

    def ref(self, term: URIRef) -> Ref:
        iri = str(term)
        href = f"#{local_name(iri)}" if iri.startswith(str(AKG)) else iri
        return Ref(iri, self.label(term) if iri.startswith(str(AKG)) else curie(iri), href)

    def refs(self, terms: Iterable) -> list[Ref]:
        """References for named terms, unions expanded (``A or B``)."""
        out: list[Ref] = []
        for term in terms:
            if isinstance(term, BNode):
                union = self.g.value(term, OWL.unionOf)
                out += self.refs(Collection(self.g, union) if union is not None else [])
            elif isinstance(term, URIRef):
                out.append(self.ref(term))
        return sorted(set(out), key=lambda r: r.label.lower())

    def texts(self, term: URIRef, prop: URIRef) -> list[str]:
        return sorted(str(x) for x in self.g.objects(term, prop))

    def members(self, term: URIRef, prop: URIRef) -> set[URIRef]:
        """Named classes that ``term`` names in ``prop``, unions expanded."""
        return {URIRef(r.iri) for r in self.refs(self.g.objects(term, prop))}


def _term_doc(reader: _Reader, term: URIRef, kind: str) -> TermDoc:
    g = reader.g
    is_class = kind == "Class"
    parents = g.objects(term, RDFS.subClassOf if is_class else RDFS.subPropertyOf)
    doc = TermDoc(
        ref=reader.ref(term),
        anchor=local_name(str(term)),
        page=reader.href(str(term)),
        kind=kind,
        definitions=reader.texts(term, SKOS.definition),
        comments=reader.texts(term, RDFS.comment),
        parents=reader.refs(parents),
    )
    if is_class:
        doc.children = reader.refs(g.subjects(RDFS.subClassOf, term))
        doc.disjoint = reader.refs(set(g.objects(term, OWL.disjointWith)) | set(g.subjects(OWL.disjointWith, term)))
        doc.in_domain_of = reader.refs(p for p in g.subjects(RDFS.domain) if term in reader.members(p, RDFS.domain))
        doc.in_range_of = reader.refs(p for p in g.subjects(RDFS.range) if term in reader.members(p, RDFS.range))
    else:
        doc.domain = reader.refs(g.objects(term, RDFS.domain))
        doc.range = reader.refs(g.objects(term, RDFS.range))
        doc.inverse = reader.refs(set(g.objects(term, OWL.inverseOf)) | set(g.subjects(OWL.inverseOf, term)))
    return doc


def _diagram(reader: _Reader, classes: list[URIRef], properties: list[URIRef]) -> str:
    """The SVG of our classes, their subclass links and the object properties between them."""
    keys = {str(c) for c in classes}
    labels = {str(c): reader.label(c) for c in classes}
    parent = {
        str(c): next((str(p) for p in reader.g.objects(c, RDFS.subClassOf) if str(p) in keys), None) for c in classes
    }
    edges = [
        Edge(str(d), str(r), reader.label(p))
        for p in properties
        if (p, RDF.type, OWL.ObjectProperty) in reader.g
        for d in reader.members(p, RDFS.domain)
        for r in reader.members(p, RDFS.range)
        if str(d) in keys and str(r) in keys
    ]
    return class_diagram(labels, parent, edges, {k: f"#{local_name(k)}" for k in keys})


def _schemes(reader: _Reader, href: Callable[[str], str]) -> list[dict[str, Any]]:
    g = reader.g
    out = []
    for scheme in sorted(g.subjects(RDF.type, SKOS.ConceptScheme)):
        concepts = sorted(g.subjects(SKOS.inScheme, scheme), key=lambda c: reader.label(c).lower())
        out.append(
            {
                "ref": Ref(str(scheme), reader.label(scheme), href(str(scheme))),
                "definitions": reader.texts(scheme, SKOS.definition),
                "concepts": [
                    {
                        "ref": Ref(str(c), reader.label(c), href(str(c))),
                        "curie": curie(str(c)),
                        "broader": [reader.label(b) for b in g.objects(c, SKOS.broader)],
                        "definitions": reader.texts(c, SKOS.definition),
                    }
                    for c in concepts
                ],
            }
        )
    return out


def _metadata(reader: _Reader, node: URIRef, href: Callable[[str], str]) -> list[tuple[str, list[Ref | str]]]:
    rows: list[tuple[str, list[Ref | str]]] = []
    for prop, name in METADATA:
        values: list[Ref | str] = [
            Ref(str(v), str(v), href(str(v))) if isinstance(v, URIRef) else str(v) for v in reader.g.objects(node, prop)
        ]
        if prop == OWL.priorVersion and not values:
            values = ["none: this is the first release"]
        if values:
            rows.append((name, sorted(values, key=str)))
    return rows


def render_docs(ontology: Graph, example_rows: Rows, count_rows: Rows, href: Callable[[str], str] = str) -> str:
    """The documentation page. ``href`` maps a public IRI to where the reader can follow it."""
    reader = _Reader(ontology, href)
    node = URIRef(ONTOLOGY_IRI)
    classes, properties = our_terms(ontology)
    examples, counts = parse_examples(example_rows, href), parse_counts(count_rows)
    docs: dict[str, list[TermDoc]] = defaultdict(list)
    for term in classes:
        docs["Classes"].append(_term_doc(reader, term, "Class"))
    for term in properties:
        kind = next(name for k, name in PROPERTY_KINDS.items() if (term, RDF.type, k) in ontology)
        docs[kind.replace("property", "properties")].append(_term_doc(reader, term, kind))
    for section in docs.values():
        for doc in section:
            doc.examples, doc.uses = examples.get(doc.ref.iri, []), counts.get(doc.ref.iri, 0)
        section.sort(key=lambda d: d.ref.label.lower())
    modules = sorted(ontology.subjects(RDF.type, OWL.Ontology))
    return (
        _env()
        .get_template("ontology.html")
        .render(
            iri=ONTOLOGY_IRI,
            title=str(ontology.value(node, DCTERMS.title) or ONTOLOGY_IRI),
            description=str(ontology.value(node, DCTERMS.description) or ""),
            metadata=_metadata(reader, node, href),
            modules=[
                {
                    "iri": str(m),
                    "title": str(ontology.value(m, DCTERMS.title) or m),
                    "imports": reader.refs(ontology.objects(m, OWL.imports)),
                }
                for m in modules
            ],
            diagram=Markup(_diagram(reader, classes, properties)),
            sections=list(docs.items()),
            schemes=_schemes(reader, href),
            prefixes=sorted(PREFIXES.items()),
            context_href=href(f"{ONTOLOGY_IRI}/{CONTEXT_JSONLD}"),
        )
    )


def diagram_svg(ontology: Graph) -> str:
    """The class diagram on its own."""
    classes, properties = our_terms(ontology)
    return _diagram(_Reader(ontology), classes, properties)


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("kg", "templates/docs"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


# --- the JSON-LD context --------------------------------------------------------------------------


def jsonld_context(ontology: Graph) -> dict[str, Any]:
    """A JSON-LD context: prefixes, our classes and properties, and the borrowed properties the core declares.

    Property terms carry their value type (``@id`` for object properties, the XSD range of datatype
    properties); ``id:`` is the prefix of our instances, so ``"@id": "id:country/UKR"`` names Ukraine.
    """
    classes, properties = our_terms(ontology)
    borrowed = sorted(
        {s for k in (OWL.ObjectProperty, OWL.DatatypeProperty) for s in ontology.subjects(RDF.type, k)}
        - set(properties)
        - {SKOS.inScheme, SKOS.broader, SKOS.hasTopConcept, SKOS.exactMatch},
        key=str,
    )
    context: dict[str, Any] = {"@version": 1.1, "type": "@type"}
    context.update({p: ns for p, ns in sorted(PREFIXES.items()) if p not in ("akgsh", "sh", "wd", "wdt")})
    context.update({local_name(str(c)): curie(str(c)) for c in classes})
    for prop in [*properties, *(b for b in borrowed if isinstance(b, URIRef))]:
        name = local_name(str(prop)).split(":")[-1]
        if name in context:
            continue
        definition: dict[str, Any] = {"@id": curie(str(prop))}
        rng = ontology.value(prop, RDFS.range)
        if (prop, RDF.type, OWL.ObjectProperty) in ontology:
            definition["@type"] = "@id"
        elif isinstance(rng, URIRef) and str(rng).startswith(str(XSD)) and rng != XSD.string:
            definition["@type"] = curie(str(rng))
        elif rng == RDF.PlainLiteral:
            definition["@language"] = "en"
        context[name] = definition
    context["label"] = {"@id": "rdfs:label", "@language": "en"}
    return {"@context": context}


def context_text(ontology: Graph) -> str:
    return json.dumps(jsonld_context(ontology), indent=2, ensure_ascii=False) + "\n"


# --- the command ----------------------------------------------------------------------------------


def write_docs(dist_dir: Path, out_dir: Path) -> list[Path]:
    """Write the documentation of the built dataset in ``dist_dir`` into ``out_dir``."""
    import pyoxigraph as ox

    from kg.config import DATASET_NQ, ONTOLOGY_TTL

    ontology = Graph().parse(dist_dir / ONTOLOGY_TTL, format="turtle")
    store = ox.Store()
    store.bulk_load(path=str(dist_dir / DATASET_NQ), format=ox.RdfFormat.N_QUADS)

    def select(query: str) -> Rows:
        solutions = store.query(query)
        return json.loads(solutions.serialize(format=ox.QueryResultsFormat.JSON))["results"]["bindings"]

    examples, counts = example_queries(ontology)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        INDEX_HTML: render_docs(ontology, select(examples), select(counts)),
        DIAGRAM_SVG: diagram_svg(ontology),
        CONTEXT_JSONLD: context_text(ontology),
    }
    for name, text in files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return [out_dir / name for name in files]


def run_docs(dist_dir: Path | None = None, out_dir: Path | None = None) -> int:
    """The ``kg docs`` command: build dist/ if needed, then write dist/docs/."""
    from kg.build import ensure_built

    dist = ensure_built(dist_dir)
    written = write_docs(dist, out_dir or dist / "docs")
    print(f"kg docs: wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0
