"""SHACL validation, and readable reports (focus node, path, message, source).

Two engines check the same shapes (``ontology/shapes.ttl``) over the same merged graph (every
named graph plus the ontology, so that ``sh:targetClass`` reaches subclasses and SPARQL
constraints join across graphs):

- ``pyshacl`` is the reference validator (named by the product design); the build uses it.
  It runs on rdflib, where reading 100k quads takes ~10 s and validating them ~50 s, growing
  linearly: ~8 minutes at 1M.
- ``fast`` (``kg validate``'s default) is pyshacl-turbo (:mod:`kg.validate_fast`), a Rust
  engine with pyshacl's API and report, fed N-Quads read by Oxigraph's parser, its shapes dealt
  out to two threads. At 1M quads: ~3 s to read, 33-39 s to validate on this project's shared
  2-core machine (one thread: ~40 s; 100k quads: 0.3 + 3.2 s, so growth is ~12x per 10x, not
  quadratic); the real dataset plus one changed document: ~0.15-0.3 s. ``bench/run.py`` measures
  both; bench/README.md explains.

Both engines give the same result set, (focus node, path, source shape, severity, message), on
every shape fixture, the real dataset and a generated bench graph: tests/test_validate_engines.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import RDF

from kg.namespaces import GRAPH, SH

Engine = Literal["fast", "pyshacl"]
ENGINES: tuple[Engine, ...] = ("fast", "pyshacl")

SOURCE_OF_GRAPH = {
    str(GRAPH["reference"]): "data/reference/un-member-states-2022.csv",
    str(GRAPH["entities"]): "data/entities.yaml",
    str(GRAPH["ontology"]): "ontology/",
    str(GRAPH["derived/votes"]): "derived from data/documents/*/document.yaml and data/reference/",
}


@dataclass(frozen=True, order=True)
class Result:
    """One validation result: what both engines must agree on."""

    focus: str
    path: str  # empty: no sh:resultPath (a node-level constraint)
    shape: str
    severity: str
    message: str


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
    """Merge every named graph into one graph; each subject's origin is the first (by IRI) graph it is in."""
    merged = Graph()
    origin: dict[URIRef, str] = {}
    for s, p, o, g in dataset.quads():
        merged.add((s, p, o))
        if g is not None:
            name = str(g.identifier if isinstance(g, Graph) else g)
            origin[s] = min(origin.get(s, name), name)
    for graph in extra:
        for triple in graph:
            merged.add(triple)
    return merged, origin


def results_of(report: Graph) -> list[Result]:
    """The results of a SHACL validation report graph, sorted."""
    found = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        path = report.value(result, SH.resultPath)
        severity = report.value(result, SH.resultSeverity)
        found.append(
            Result(
                focus=str(report.value(result, SH.focusNode)),
                path=str(path) if isinstance(path, URIRef) else "",
                shape=str(report.value(result, SH.sourceShape)),
                severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
                message=str(report.value(result, SH.resultMessage)),
            )
        )
    return sorted(found)


def readable(conforms: bool, results: Iterable[Result], origin: dict[str, str]) -> Report:
    """One line per result: ``[severity] source file: focus <node> path <p>: message``."""
    lines, violations = [], 0
    for result in results:
        violations += result.severity == "Violation"
        where = source_of(origin[result.focus]) if result.focus in origin else "input"
        path_text = f" path <{result.path}>" if result.path else ""
        lines.append(f"[{result.severity}] {where}: focus <{result.focus}>{path_text}: {result.message}")
    return Report(conforms=conforms, results=sorted(lines), violations=violations)


def pyshacl_results(data: Graph, shapes: Graph) -> tuple[bool, list[Result]]:
    """pyshacl's verdict and results; ``data`` (which should include the ontology) may be changed."""
    from pyshacl import validate

    conforms, report, _ = validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True, inplace=True
    )
    return bool(conforms), results_of(report)


def engine_results(engine: Engine, data: Graph, shapes: Graph) -> tuple[bool, list[Result]]:
    """The verdict and results of ``engine`` on the merged graph ``data`` (which may be changed)."""
    if engine == "pyshacl":
        return pyshacl_results(data, shapes)
    from kg.validate_fast import fast_results

    return fast_results(data, shapes)


def validate_graph(
    data: Graph, shapes: Graph, origin: dict[URIRef, str] | None = None, engine: Engine = "pyshacl"
) -> Report:
    """Validate ``data`` (which should include the ontology, for subclass targets); ``data`` may be changed."""
    conforms, results = engine_results(engine, data, shapes)
    return readable(conforms, results, {str(k): v for k, v in (origin or {}).items()})


def validate_dataset(dataset: Dataset, shapes: Graph, ontology: Graph, engine: Engine = "pyshacl") -> Report:
    """Validate the whole dataset as one graph (constraints span the named graphs)."""
    data, origin = flatten(dataset, ontology)
    return validate_graph(data, shapes, origin, engine)


def validate_files(files: list[Path], engine: Engine = "fast") -> Report:
    """Validate RDF files together with the project's ontology and shapes (raises ValueError on bad input)."""
    from kg.config import settings
    from kg.encode.dataset import SHAPES_FILE, load_ontology, parse_turtle

    conf = settings()
    shapes = parse_turtle(conf.ontology_dir / SHAPES_FILE)
    if engine == "fast":
        from kg.validate_fast import validate_rdf_files

        return validate_rdf_files(files, shapes, conf.ontology_dir)
    from kg.rdf_input import load_rdf_files

    return validate_dataset(load_rdf_files(files), shapes, load_ontology(conf.ontology_dir), engine)


def run_validate(files: list[Path], engine: Engine = "fast") -> int:
    """The ``kg validate`` command: validate RDF files against the project's shapes."""
    try:
        report = validate_files(files, engine)
    except ValueError as exc:
        print(f"kg validate: {exc}", file=sys.stderr)
        return 2
    for line in report.results:
        print(line)
    print(
        f"kg validate: {'conforms' if report.conforms else 'does NOT conform'} "
        f"({report.violations} violations, {len(report.results)} results)"
    )
    return 0 if report.conforms else 1
