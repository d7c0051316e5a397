"""Our server against the W3C SPARQL 1.1 Protocol manifest: one case per applicable test.

The server runs as a real process on the kasei.us fixture graphs (``fixtures/kasei.trig``);
every test that applies to a read-only endpoint (all but those needing an update to succeed)
must pass. The runner itself is validated on Oxigraph in ``test_w3c_runner_oxigraph.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rdflib import Dataset, URIRef
from rdflib.namespace import RDF

from server import run_server
from w3c_protocol import Endpoint, Outcome, ProtocolTest, load_tests, print_to_terminal, run_test, summary

FIXTURE = Path(__file__).parent / "fixtures" / "kasei.trig"
ALL_TESTS = load_tests()
READ_ONLY = [t for t in ALL_TESTS if not t.needs_write]


def test_manifest_is_read_whole() -> None:
    assert len(ALL_TESTS) == 34
    assert all(t.requests for t in ALL_TESTS)
    # The definition of "applies to a read-only endpoint": all but the update_* tests.
    assert {t.name for t in ALL_TESTS if t.needs_write} == {t.name for t in ALL_TESTS if t.name.startswith("update_")}


def test_non_utf8_bodies_are_encoded_as_the_manifest_says() -> None:
    bodies = [r.body for t in ALL_TESTS for r in t.requests if r.body is not None]
    utf16 = [b for b in bodies if b.startswith((b"\xff\xfe", b"\xfe\xff"))]
    assert len(utf16) == 2
    for body in utf16:
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside rdflib 7.6's TriG parser
def test_fixture_holds_every_graph_the_dataset_tests_name() -> None:
    """Each test's graphs hold ``<graph IRI> a ?type`` with one ?type shared, as its query asks."""
    dataset = Dataset().parse(FIXTURE, format="trig")
    for test in (t for t in READ_ONLY if t.graph_data):
        types = [set(dataset.graph(URIRef(g)).objects(URIRef(g), RDF.type)) for g in test.graph_data]
        assert set.intersection(*types), f"{test.name}: no type shared by {test.graph_data}"


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> Iterator[list[Outcome]]:
    """Collects each test's outcome; prints the summary when the module is done."""
    collected: list[Outcome] = []
    yield collected
    print_to_terminal(request.config, "Our server: " + summary(collected))


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    """Our server on the kasei.us fixture, as a runner endpoint (``/sparql``)."""
    with run_server(FIXTURE) as server:
        yield Endpoint(server.base_url, query_path="/sparql")


@pytest.mark.parametrize("test", READ_ONLY, ids=lambda t: t.name)
def test_protocol(test: ProtocolTest, endpoint: Endpoint, outcomes: list[Outcome]) -> None:
    outcome = run_test(endpoint, test)
    outcomes.append(outcome)
    assert outcome.passed, f"{test.name} ({test.title}): {outcome.reason}"
