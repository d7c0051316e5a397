"""``kg build``: compile the sources, validate them with SHACL, and write dist/."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rdflib import Dataset, Graph

from kg.config import DATASET_NQ, settings
from kg.dist import write_dist
from kg.encode.dataset import SHAPES_FILE, Sources, compile_dataset, load_ontology, parse_turtle
from kg.encode.errors import BuildFailed, SourceError


def build_dataset(data_dir: Path | None = None, ontology_dir: Path | None = None) -> tuple[Dataset, Graph, Graph]:
    """Compile and validate; returns (dataset, ontology, shapes) or raises BuildFailed."""
    from kg.validate import validate_dataset

    conf = settings()
    sources = Sources(data_dir or conf.data_dir, ontology_dir or conf.ontology_dir)
    try:
        dataset = compile_dataset(sources)
        ontology = load_ontology(sources.ontology_dir)
        shapes = parse_turtle(sources.ontology_dir / SHAPES_FILE)
    except SourceError as exc:
        raise BuildFailed([exc]) from exc
    report = validate_dataset(dataset, shapes, ontology)
    if not report.conforms:
        raise BuildFailed(report.messages())
    return dataset, ontology, shapes


def run_build(
    dist_dir: Path | None = None,
    quiet: bool = False,
    data_dir: Path | None = None,
    ontology_dir: Path | None = None,
) -> int:
    """The ``kg build`` command: exit 0 with dist/ written, or 1 with dist/ untouched."""
    target = dist_dir or settings().dist_dir
    started = time.perf_counter()
    try:
        dataset, ontology, shapes = build_dataset(data_dir, ontology_dir)
    except BuildFailed as failed:
        print(f"kg build: FAILED, {target} left as it was:", file=sys.stderr)
        for error in failed.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    write_dist(target, dataset, ontology, shapes)
    if not quiet:
        quads = sum(1 for _ in dataset.quads())
        print(
            f"kg build: {quads} quads in {len(list(dataset.graphs())) - 1} named graphs -> {target} "
            f"({time.perf_counter() - started:.1f} s)"
        )
    return 0


def ensure_built(dist_dir: Path | None = None) -> Path:
    """The dist folder, building it first if it has no dataset yet (used by ``kg serve``)."""
    target = dist_dir or settings().dist_dir
    if not (target / DATASET_NQ).is_file() and run_build(target) != 0:
        raise SystemExit("kg: the build failed, nothing to serve (see the errors above)")
    return target
