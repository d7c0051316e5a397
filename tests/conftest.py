"""Shared fixtures: the small test dataset and a real server process on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Dataset, Graph

import results
from kg.build import run_build
from kg.config import DATASET_NQ
from kg.encode.dataset import SHAPES_FILE, load_ontology, parse_turtle
from server import RunningServer, run_server

FIXTURES = Path(__file__).parent / "fixtures"
ONTOLOGY_DIR = Path(__file__).resolve().parents[1] / "ontology"
MINI = FIXTURES / "mini.trig"
"""A small alignkg-shaped dataset: three named graphs under https://w3id.org/alignkg/graph/."""
KASEI = FIXTURES / "kasei.trig"
"""The kasei.us graphs the W3C protocol manifest's dataset tests name."""


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    """``kg serve`` with default settings on the small dataset and the kasei.us graphs."""
    with run_server(MINI, "--data", str(KASEI)) as running:
        yield running


@pytest.fixture(scope="session")
def sparql_url(server: RunningServer) -> str:
    return server.base_url + "/sparql"


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The N-Quads of one fresh ``kg build`` of this checkout (sources, ontology, shapes, queries)."""
    dist = tmp_path_factory.mktemp("build") / "dist"
    assert run_build(dist, quiet=True) == 0, "kg build failed (its errors are printed above)"
    return dist / DATASET_NQ


@pytest.fixture(scope="module")
def ontology() -> Graph:
    """Core and alignment module together, as the build loads them (one copy per test module)."""
    return load_ontology(ONTOLOGY_DIR)


@pytest.fixture(scope="module")
def shapes() -> Graph:
    """The SHACL shapes of ontology/shapes.ttl (one copy per test module)."""
    return parse_turtle(ONTOLOGY_DIR / SHAPES_FILE)


@pytest.fixture(scope="session")
def reference() -> Dataset:
    """The served files, read by rdflib: what the endpoint's answers are checked against."""
    return results.reference(MINI, KASEI)
