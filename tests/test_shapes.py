"""The SHACL shapes: the real data conforms, and every shape fails its own bad fixture.

Fixtures live in ``fixtures/shapes/``: ``_base.trig`` is a minimal dataset with no validation
result at all; every other file is added to it and must make exactly the shape it is named for
report (``<ShapeName>.trig`` or ``<ShapeName>--<variant>.trig``), at that shape's severity.
Results are traced back to their shape through their messages, which are unique per shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS
from rdflib.term import Node

from kg.build import build_dataset
from kg.namespaces import SH, SHAPES
from kg.validate import Report, validate_dataset

ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_DIR = ROOT / "ontology"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shapes"
BASE = FIXTURES / "_base.trig"
DEFECTS = sorted(p for p in FIXTURES.glob("*.trig") if p != BASE)
LINE = re.compile(r"^\[(?P<level>\w+)\] .*?: focus <[^>]*>(?: path <[^>]*>)?: (?P<message>.*)$", re.S)
PLACEHOLDER = re.compile(r"\\\{\\[?$]\w+\\\}")  # an escaped {?var} or {$var}


@dataclass(frozen=True)
class Template:
    """One sh:message, the NodeShape it belongs to, and the severity it is reported at."""

    shape: str
    severity: str
    pattern: re.Pattern[str]


def local(node: Node) -> str:
    return str(node).removeprefix(str(SHAPES))


def severity(shapes: Graph, node: Node) -> str:
    value = shapes.value(node, SH.severity)
    return local_name(value) if value is not None else "Violation"


def local_name(iri: Node) -> str:
    return str(iri).rsplit("#", 1)[-1]


def node_shapes(shapes: Graph) -> set[URIRef]:
    return {s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)}


def templates(shapes: Graph) -> list[Template]:
    """Every message of the shapes graph, traced to its NodeShape."""
    found: list[Template] = []
    for shape in node_shapes(shapes):
        parts = [(shape, severity(shapes, shape))]
        parts += [(p, severity(shapes, p)) for p in shapes.objects(shape, SH.property)]
        parts += [(q, severity(shapes, shape)) for q in shapes.objects(shape, SH.sparql)]
        for node, level in parts:
            for message in shapes.objects(node, SH.message):
                regex = PLACEHOLDER.sub(".+?", re.escape(str(message)))
                found.append(Template(local(shape), level, re.compile(f"^{regex}$", re.S)))
    return found


def failed_shapes(report: Report, catalogue: list[Template]) -> set[tuple[str, str]]:
    """(shape, level) for every result of the report; each message must match exactly one template."""
    failed = set()
    for line in report.results:
        parsed = LINE.match(line)
        assert parsed, f"unreadable report line: {line}"
        matches = {(t.shape, t.severity) for t in catalogue if t.pattern.match(parsed["message"])}
        assert len(matches) == 1, f"message of no single shape ({matches}): {line}"
        ((shape, level),) = matches
        assert parsed["level"] == level, f"{shape} reported at {parsed['level']}, declared {level}: {line}"
        failed.add((shape, level))
    return failed


@pytest.fixture(scope="module")
def catalogue(shapes: Graph) -> list[Template]:
    return templates(shapes)


def validate_files(paths: list[Path], shapes: Graph, ontology: Graph) -> Report:
    """Validate TriG files together, merged with the ontology as the build does."""
    dataset = Dataset()
    for path in paths:
        dataset.parse(path, format="trig")
    return validate_dataset(dataset, shapes, ontology)


def test_real_dataset_conforms() -> None:
    build_dataset()  # raises BuildFailed, listing every violation, if the data does not conform


def test_base_fixture_has_no_results(shapes: Graph, ontology: Graph) -> None:
    report = validate_files([BASE], shapes, ontology)
    assert report.conforms
    assert report.results == []


@pytest.mark.parametrize("fixture", DEFECTS, ids=lambda p: p.stem)
def test_fixture_fails_exactly_its_shape(
    fixture: Path, shapes: Graph, ontology: Graph, catalogue: list[Template]
) -> None:
    named = fixture.stem.split("--")[0]
    report = validate_files([BASE, fixture], shapes, ontology)
    failed = failed_shapes(report, catalogue)
    assert {shape for shape, _ in failed} == {named}, report.results
    assert report.conforms == all(level != "Violation" for _, level in failed)


def test_every_node_shape_has_a_fixture(shapes: Graph) -> None:
    named = {p.stem.split("--")[0] for p in DEFECTS}
    declared = {local(s) for s in node_shapes(shapes)}
    assert declared - named == set(), "shapes without a failing fixture"
    assert named - declared == set(), "fixtures named for no shape"


NODE_LEVEL = (SH.pattern, SH.nodeKind, SH["or"], SH["and"], SH["not"], SH["class"])


def test_every_shape_says_what_it_checks(shapes: Graph, catalogue: list[Template]) -> None:
    for shape in node_shapes(shapes):
        assert isinstance(shapes.value(shape, RDFS.comment), Literal), f"{shape} has no rdfs:comment"
        own_messages = len(list(shapes.objects(shape, SH.message)))
        if any(shapes.value(shape, p) is not None for p in NODE_LEVEL):
            assert own_messages == 1, f"{shape} has node-level constraints and needs one sh:message"
        if any(shapes.objects(shape, SH.sparql)):
            assert own_messages == 0, f"{shape}: its SPARQL constraints carry the messages, not the shape"
        for part in (*shapes.objects(shape, SH.property), *shapes.objects(shape, SH.sparql)):
            assert len(list(shapes.objects(part, SH.message))) == 1, f"a part of {shape} needs one sh:message"
    for query in shapes.subjects(SH.select, None):
        if isinstance(query, URIRef):
            assert isinstance(shapes.value(query, RDFS.comment), Literal), f"{query} has no rdfs:comment"
    patterns = [t.pattern.pattern for t in catalogue]
    assert len(patterns) == len(set(patterns)), "two shapes share a message"


def test_every_query_is_valid_sparql_with_its_declared_prefixes(shapes: Graph) -> None:
    """rdflib quietly falls back on its own prefix bindings; Oxigraph's strict parser does not."""
    store = ox.Store()
    for node, select in shapes.subject_objects(SH.select):
        declared = shapes.objects(shapes.value(node, SH.prefixes), SH.declare)
        prologue = "".join(
            f"PREFIX {shapes.value(d, SH.prefix)}: <{shapes.value(d, SH.namespace)}>\n" for d in declared
        )
        assert list(store.query(prologue + str(select))) == [], f"{node} does not run on an empty store"
