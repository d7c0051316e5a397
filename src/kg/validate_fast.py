"""The fast validation engine: pyshacl-turbo (Rust) over N-Quads read by Oxigraph's parser.

pyshacl-turbo implements pyshacl's API and report (same result set on all our shapes: see
tests/test_validate_engines.py). It is fed N-Quads text: its rdflib-graph input walks every
triple in Python, and a pyoxigraph Store would not do, since the Store canonicalises literals
(``"1"^^xsd:nonNegativeInteger`` comes back as ``xsd:integer``) and sh:datatype would then fail.
Files are read by Oxigraph's parsers (N-Quads, N-Triples, Turtle, TriG: fast, and they fetch
nothing); JSON-LD and RDF/XML go through :func:`kg.rdf_input.load_rdf_files` and its safeguards.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox
from pyshacl_turbo import compile_shapes
from pyshacl_turbo.rdf import Input
from rdflib import Graph
from rdflib.namespace import RDF

from kg.encode.dataset import ONTOLOGY_FILES
from kg.namespaces import SH
from kg.rdf_input import FORMATS, load_rdf_files
from kg.validate import Report, Result, readable, results_of

OXIGRAPH_FORMATS = {
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "nt": ox.RdfFormat.N_TRIPLES,
    "turtle": ox.RdfFormat.TURTLE,
}
JOBS = min(2, os.cpu_count() or 1)  # threads; the target machine has 2 cores
QUAD_FORMATS = {"nquads", "trig"}  # the others are read into a graph named after the file


def validate_rdf_files(files: list[Path], shapes: Graph, ontology_dir: Path) -> Report:
    """``kg validate``'s fast path: the files and the ontology as one graph, against ``shapes``."""
    return validate_text(read_files(files, ontology_dir), shapes)


def read_files(files: list[Path], ontology_dir: Path) -> str:
    """The files and the ontology as N-Quads text (ValueError, naming the file, if one is bad)."""
    return nquads_of_files(files) + ontology_nquads(ontology_dir)


def validate_text(nquads: str, shapes: Graph) -> Report:
    """Validate N-Quads text, each result traced to the source of its focus node's graph."""
    conforms, results = text_results(nquads, shapes)
    return readable(conforms, results, origin_of(nquads, {r.focus for r in results}))


def fast_results(data: Graph, shapes: Graph) -> tuple[bool, list[Result]]:
    """The verdict and results on an rdflib graph (as :func:`kg.validate.pyshacl_results`)."""
    return text_results(data.serialize(format="nt"), shapes)


def text_results(nquads: str, shapes: Graph, jobs: int = JOBS) -> tuple[bool, list[Result]]:
    """Validate N-Quads text (all graphs together) against ``shapes``, as pyshacl is run.

    The node shapes are dealt out to ``jobs`` threads (the engine releases the GIL), each
    validating the whole data against its share; every thread parses the data itself.
    """
    program = compile_shapes(shapes, advanced=True)
    names = sorted(str(s) for s in shapes.subjects(RDF.type, SH.NodeShape))
    shares = [names[i::jobs] for i in range(jobs)] if jobs > 1 else [None]

    def run(share: list[str] | None) -> tuple[bool, list[Result]]:
        data = Input(nquads, "nquads", None, {}, preserve_ids=True)
        conforms, report, _ = program.validate(data, inference="none", allow_warnings=True, use_shapes=share)
        return bool(conforms), results_of(report)

    with ThreadPoolExecutor(len(shares)) as pool:
        outcomes = list(pool.map(run, shares))
    return all(c for c, _ in outcomes), sorted(r for _, results in outcomes for r in results)


def nquads_of_files(files: list[Path]) -> str:
    """Every file as N-Quads text; errors (ValueError) name the file, as ``load_rdf_files`` does."""
    return "".join(nquads_of_file(path) for path in files)


def nquads_of_file(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt not in OXIGRAPH_FORMATS or not path.is_file():
        return load_rdf_files([path]).serialize(format="nquads")  # its own checks, and the error messages
    try:
        quads = ox.parse(
            path=path, format=OXIGRAPH_FORMATS[fmt], base_iri=path.resolve().as_uri(), rename_blank_nodes=True
        )
        if fmt not in QUAD_FORMATS:
            quads = in_graph(quads, ox.NamedNode(path.resolve().as_uri()))
        return ox.serialize(quads, format=ox.RdfFormat.N_QUADS).decode("utf-8")
    except SyntaxError as exc:
        raise ValueError(f"{path}: cannot parse as {fmt}: {exc}") from exc


def ontology_nquads(ontology_dir: Path) -> str:
    """The ontology's files, in the default graph (as :func:`kg.validate.flatten` adds it)."""
    return "".join(
        ox.serialize(
            ox.parse(path=ontology_dir / name, format=ox.RdfFormat.TURTLE, rename_blank_nodes=True),
            format=ox.RdfFormat.N_QUADS,
        ).decode("utf-8")
        for name in ONTOLOGY_FILES
    )


def in_graph(quads: Iterable[ox.Quad], graph: ox.NamedNode) -> Iterator[ox.Quad]:
    for quad in quads:
        yield ox.Quad(quad.subject, quad.predicate, quad.object, graph)


def origin_of(nquads: str, focus: set[str]) -> dict[str, str]:
    """For each focus node, the first (by IRI) named graph it is a subject in, as :func:`kg.validate.flatten`."""
    if not focus:
        return {}
    terms = {f"<{node}>" for node in focus} | {f"_:{node}" for node in focus}
    lines = "\n".join(line for line in nquads.splitlines() if line.split(" ", 1)[0] in terms)
    origin: dict[str, str] = {}
    for quad in ox.parse(lines, format=ox.RdfFormat.N_QUADS):
        if isinstance(quad.graph_name, ox.NamedNode):
            node, name = quad.subject.value, quad.graph_name.value
            origin[node] = min(origin.get(node, name), name)
    return origin
