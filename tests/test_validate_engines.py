"""The fast engine (pyshacl-turbo) gives exactly pyshacl's results: same verdict, same set of
(focus node, path, source shape, severity, message), and the same report lines.

Checked on every shape fixture (each still fails), on the real dataset as built, on a generated
bench graph (10k quads) and on that graph with every defect fixture added at once. Speed is
measured by bench/run.py, not here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Dataset, Graph

from kg.rdf_input import load_rdf_files
from kg.validate import Result, engine_results, flatten, validate_files
from kg.validate_fast import read_files, text_results

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

ONTOLOGY_DIR = ROOT / "ontology"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shapes"
BASE = FIXTURES / "_base.trig"
DEFECTS = sorted(p for p in FIXTURES.glob("*.trig") if p != BASE)

Outcome = tuple[bool, list[Result]]


@pytest.fixture(scope="module")
def generated(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("engines") / "bench-10k.nq"
    quads, documents = generate.write_nquads(out, 10_000, 1, dataset)
    assert quads >= 10_000 and documents > 1
    return out


def merged(files: list[Path], ontology: Graph) -> Graph:
    dataset = Dataset()
    for path in files:
        dataset.parse(path, format="trig")
    return flatten(dataset, ontology)[0]


def on_files(files: list[Path], shapes: Graph, ontology: Graph) -> tuple[Outcome, Outcome]:
    """(pyshacl, fast) on files, each read as ``kg validate --engine`` reads them."""
    reference = engine_results("pyshacl", flatten(load_rdf_files(files), ontology)[0], shapes)
    return reference, fast_on_files(files, shapes)


def fast_on_files(files: list[Path], shapes: Graph) -> Outcome:
    return text_results(read_files(files, ONTOLOGY_DIR), shapes)


def assert_same(reference: Outcome, fast: Outcome) -> None:
    assert fast[0] == reference[0], "the verdicts differ"
    missing, extra = set(reference[1]) - set(fast[1]), set(fast[1]) - set(reference[1])
    assert not missing and not extra, f"only pyshacl: {sorted(missing)}\nonly fast: {sorted(extra)}"
    assert len(fast[1]) == len(reference[1])


@pytest.mark.parametrize("fixture", [BASE, *DEFECTS], ids=lambda p: p.stem)
def test_fixture_gives_pyshacls_results(fixture: Path, shapes: Graph, ontology: Graph) -> None:
    files = sorted({BASE, fixture})
    reference = engine_results("pyshacl", merged(files, ontology), shapes)
    fast = engine_results("fast", merged(files, ontology), shapes)
    assert_same(reference, fast)
    assert bool(fast[1]) == (fixture != BASE), "a defect fixture must fail, the base must not"
    assert_same(reference, fast_on_files(files, shapes))  # read by Oxigraph's TriG parser


def test_real_dataset_gives_pyshacls_results(dataset: Path, shapes: Graph, ontology: Graph) -> None:
    reference, fast = on_files([dataset], shapes, ontology)
    assert reference[0] and reference[1], "the real dataset conforms, with warnings and infos"
    assert_same(reference, fast)
    assert validate_files([dataset], "fast") == validate_files([dataset], "pyshacl")  # same report lines


def test_generated_graph_gives_pyshacls_results(generated: Path, shapes: Graph, ontology: Graph) -> None:
    reference, fast = on_files([generated], shapes, ontology)
    assert_same(reference, fast)
    one_thread = text_results(read_files([generated], ONTOLOGY_DIR), shapes, jobs=1)
    assert one_thread == fast, "validating all shapes at once differs from dealing them out to threads"


def test_generated_graph_with_every_defect_gives_pyshacls_results(
    generated: Path, shapes: Graph, ontology: Graph
) -> None:
    reference, fast = on_files([generated, *DEFECTS], shapes, ontology)
    assert not reference[0] and len(reference[1]) >= len(DEFECTS)
    assert_same(reference, fast)


def test_cli_engines_print_the_same_report(tmp_path: Path) -> None:
    def run(*engine: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "kg.cli",
            "validate",
            *engine,
            str(BASE),
            str(FIXTURES / "EvidenceQuoteShape.trig"),
        ]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)

    fast, reference = run(), run("--engine", "pyshacl")
    assert fast.returncode == reference.returncode == 1, fast.stdout + fast.stderr
    assert fast.stdout == reference.stdout
    assert "is not the text of" in fast.stdout
