"""Shared fixtures: the small test dataset and a real server process on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Dataset

import results
from server import RunningServer, run_server

FIXTURES = Path(__file__).parent / "fixtures"
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
def reference() -> Dataset:
    """The served files, read by rdflib: what the endpoint's answers are checked against."""
    return results.reference(MINI, KASEI)
