"""SHACL validation with pyshacl, and readable reports (focus node, path, message, source)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from pyshacl import validate
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import RDF

from kg.namespaces import GRAPH, SH

SOURCE_OF_GRAPH = {
    str(GRAPH["reference"]): "data/reference/un-member-states-2022.csv",
    str(GRAPH["entities"]): "data/entities.yaml",
    str(GRAPH["ontology"]): "ontology/",
    str(GRAPH["derived/votes"]): "derived from data/documents/*/document.yaml and data/reference/",
}


@dataclass
class Report:
    """The outcome of a validation, with one readable line per result."""

    conforms: bool
    results: list[str] = field(default_factory=list)
    violations: int = 0

    def messages(self) -> list[str]:
        return self.results


def source_of(graph_iri: str) -> str:
    """The source file a named graph was compiled from."""
    if graph_iri.startswith(str(GRAPH["document/"])):
        return f"data/documents/{graph_iri.rsplit('/', 1)[-1]}/document.yaml"
    return SOURCE_OF_GRAPH.get(graph_iri, graph_iri)


def flatten(dataset: Dataset, *extra: Graph) -> tuple[Graph, dict[URIRef, str]]:
    """Merge every named graph into one graph, remembering which graph each subject came from."""
    merged = Graph()
    origin: dict[URIRef, str] = {}
    for s, p, o, g in dataset.quads():
        merged.add((s, p, o))
        if g is not None:
            origin.setdefault(s, str(g.identifier if isinstance(g, Graph) else g))
    for graph in extra:
        for triple in graph:
            merged.add(triple)
    return merged, origin


def validate_graph(data: Graph, shapes: Graph, origin: dict[URIRef, str] | None = None) -> Report:
    """Validate ``data`` (which should include the ontology, for subclass targets); ``data`` may be changed."""
    conforms, results_graph, _ = validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True, inplace=True
    )
    origin = origin or {}
    lines, violations = [], 0
    for result in sorted(results_graph.subjects(RDF.type, SH.ValidationResult), key=str):
        focus = results_graph.value(result, SH.focusNode)
        path = results_graph.value(result, SH.resultPath)
        severity = results_graph.value(result, SH.resultSeverity)
        message = results_graph.value(result, SH.resultMessage)
        level = str(severity).rsplit("#", 1)[-1] if severity else "Violation"
        violations += level == "Violation"
        where = source_of(origin[focus]) if focus in origin else "input"
        path_text = f" path <{path}>" if isinstance(path, URIRef) else ""
        lines.append(f"[{level}] {where}: focus <{focus}>{path_text}: {message}")
    return Report(conforms=bool(conforms), results=sorted(lines), violations=violations)


def validate_dataset(dataset: Dataset, shapes: Graph, ontology: Graph) -> Report:
    """Validate the whole dataset as one graph (constraints span the named graphs)."""
    data, origin = flatten(dataset, ontology)
    return validate_graph(data, shapes, origin)


def run_validate(files: list[Path]) -> int:
    """The ``kg validate`` command: validate RDF files against the project's shapes."""
    from kg.config import settings
    from kg.encode.dataset import SHAPES_FILE, load_ontology, parse_turtle
    from kg.rdf_input import load_rdf_files

    conf = settings()
    try:
        dataset = load_rdf_files(files)
    except ValueError as exc:
        print(f"kg validate: {exc}", file=sys.stderr)
        return 2
    report = validate_dataset(dataset, parse_turtle(conf.ontology_dir / SHAPES_FILE), load_ontology(conf.ontology_dir))
    for line in report.results:
        print(line)
    print(
        f"kg validate: {'conforms' if report.conforms else 'does NOT conform'} "
        f"({report.violations} violations, {len(report.results)} results)"
    )
    return 0 if report.conforms else 1
