"""Reuse by a third party: a new article described in its own file, with our terms, checked by our shapes.

``examples/third-party/article.trig`` is the worked example of docs/reuse.md. It must conform when
validated with the graph it refers to (as ``kg validate`` does), use only terms the core ontology
declares, and broken copies of it must fail on the shape that guards what was broken.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from kg.build import run_build
from kg.encode.dataset import ONTOLOGY_FILES, SHAPES_FILE, load_ontology, parse_turtle
from kg.namespaces import GRAPH, ID
from kg.rdf_input import load_rdf_files
from kg.validate import Report, validate_dataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "third-party" / "article.trig"
DOCUMENT = ID["document/example-wire-2022-03-05"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("reuse") / "dist"
    assert run_build(target, quiet=True) == 0
    return target


@pytest.fixture(scope="module")
def actors(dist: Path) -> Path:
    """The graph's actors and shared events only (graphs reference and entities): enough to check one article."""
    keep = (f"<{GRAPH['reference']}> .", f"<{GRAPH['entities']}> .")
    lines = [line for line in (dist / "alignkg.nq").read_text("utf-8").splitlines() if line.endswith(keep)]
    target = dist.parent / "actors.nq"
    target.write_text("\n".join(lines) + "\n", "utf-8")
    return target


def validate(graph: Path, example: Path) -> Report:
    dataset = load_rdf_files([graph, example])
    ontology_dir = ROOT / "ontology"
    return validate_dataset(dataset, parse_turtle(ontology_dir / SHAPES_FILE), load_ontology(ontology_dir))


def test_example_validates_with_kg_validate(dist: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kg.cli", "validate", str(dist / "alignkg.nq"), str(EXAMPLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kg validate: conforms" in done.stdout
    example_lines = [line for line in done.stdout.splitlines() if "example-wire" in line]
    assert all(line.startswith("[Info]") for line in example_lines), example_lines


def test_example_is_a_new_article_not_in_the_graph(dist: Path) -> None:
    graph = Dataset()
    graph.parse(dist / "alignkg.nq", format="nquads")
    assert not list(graph.quads((DOCUMENT, None, None, None)))
    example = Dataset()
    example.parse(EXAMPLE, format="trig")
    assert (DOCUMENT, RDF.type, URIRef("https://w3id.org/alignkg/ontology/Document"), None) in {
        (s, p, o, None) for s, p, o, _ in example.quads((DOCUMENT, RDF.type, None, None))
    }
    reused = {o for _, _, o, _ in example.quads() if isinstance(o, URIRef) and str(o).startswith(str(ID))}
    assert reused - {s for s, _, _, _ in example.quads()}, "the example reuses actors and events of the graph"
    assert reused - {s for s, _, _, _ in example.quads()} <= {s for s, _, _, _ in graph.quads()}


def test_example_uses_only_terms_the_core_ontology_declares() -> None:
    core = parse_turtle(ROOT / "ontology" / ONTOLOGY_FILES[0])
    declared = {
        s for s, o in core.subject_objects(RDF.type) if o in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    }
    declared |= {RDF.type, RDFS.label} | set(core.subjects(RDF.type, OWL.AnnotationProperty))
    example = Graph()
    for s, p, o, _ in Dataset().parse(EXAMPLE, format="trig").quads():
        example.add((s, p, o))
    used = set(example.predicates()) | set(example.objects(None, RDF.type))
    assert used and not used - declared, sorted(map(str, used - declared))


BREAKAGES = {
    "quote not at its offsets": (
        'oa:exact "Kazakhstan is distancing itself from Russia"',
        'oa:exact "Kazakhstan is distancing itself from Moscow"',
        "is not the text of",
    ),
    "unknown stance": ("vocab:neither-condemns-nor-endorses", "vocab:shrugs", "vocab"),
    "claim without epistemic status": (
        "akg:epistemicStatus vocab:stated ;\n        akg:subjectActor id:country\\/CHN",
        "akg:subjectActor id:country\\/CHN",
        "epistemicStatus",
    ),
    "evidence named after the wrong offsets": ("#char=28,71>", "#char=28,70>", "should be named"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_broken_copy_fails(actors: Path, tmp_path: Path, breakage: str) -> None:
    old, new, expected = BREAKAGES[breakage]
    text = EXAMPLE.read_text("utf-8")
    assert old in text, f"the example changed: update the breakage {breakage!r}"
    broken = tmp_path / "article.trig"
    broken.write_text(text.replace(old, new), "utf-8")
    report = validate(actors, broken)
    assert not report.conforms
    violations = [r for r in report.results if r.startswith("[Violation]")]
    assert violations and any(expected in r for r in violations), violations


def test_example_conforms_with_the_actors_alone(actors: Path) -> None:
    """What the broken copies are checked against: the intact example conforms there too."""
    report = validate(actors, EXAMPLE)
    assert report.conforms and report.violations == 0, report.results
