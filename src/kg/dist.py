"""Write the built dataset to dist/ deterministically, replacing the old dist/ only on success."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from rdflib import Dataset, Graph

from kg import __version__
from kg.config import DATASET_NQ, DATASET_TRIG, MANIFEST_JSON, ONTOLOGY_TTL, SHAPES_TTL
from kg.namespaces import bind_all


def sorted_nquads(dataset: Dataset) -> str:
    """N-Quads with one statement per line, lines sorted: byte-identical for equal datasets."""
    text = dataset.serialize(format="nquads")
    lines = sorted({line for line in text.splitlines() if line.strip()})
    return "\n".join(lines) + "\n"


def graph_sizes(dataset: Dataset) -> dict[str, int]:
    """Triples per named graph, by graph IRI."""
    return {str(g.identifier): len(g) for g in sorted(dataset.graphs(), key=lambda g: str(g.identifier)) if len(g)}


def write_dist(dist_dir: Path, dataset: Dataset, ontology: Graph, shapes: Graph) -> None:
    """Write every dist file into a fresh folder, then swap it in for ``dist_dir``."""
    files: dict[str, Callable[[], str]] = {
        DATASET_NQ: lambda: sorted_nquads(dataset),
        DATASET_TRIG: lambda: dataset.serialize(format="trig"),
        ONTOLOGY_TTL: lambda: _turtle(ontology),
        SHAPES_TTL: lambda: _turtle(shapes),
        MANIFEST_JSON: lambda: (
            json.dumps(
                {
                    "version": __version__,
                    "triples": sum(graph_sizes(dataset).values()),
                    "default_graph_triples": len({(s, p, o) for s, p, o, _ in dataset.quads()}),
                    "graphs": graph_sizes(dataset),
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        ),
    }
    dist_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dist_dir.name}-new-", dir=dist_dir.parent))
    try:
        for name, render in files.items():
            (staging / name).write_text(render(), encoding="utf-8")
        swap_in(staging, dist_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def swap_in(staging: Path, dist_dir: Path) -> None:
    """Replace ``dist_dir`` by ``staging``; the old folder is kept until the new one is in place."""
    old = dist_dir.with_name(f".{dist_dir.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if dist_dir.exists():
        dist_dir.rename(old)
    staging.rename(dist_dir)
    shutil.rmtree(old, ignore_errors=True)


def _turtle(graph: Graph) -> str:
    copy = Graph()
    bind_all(copy)
    for triple in graph:
        copy.add(triple)
    return copy.serialize(format="turtle")
