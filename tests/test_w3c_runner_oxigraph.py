"""Validates the W3C protocol runner on a reference implementation: Oxigraph's own server.

Oxigraph's query endpoint (``/query``) plays a read-only endpoint. With an empty store it
passes exactly the 21 read-only tests that need no preloaded data (the figure in issue 3) and
fails the 6 that ask about the kasei.us graphs; with the fixture loaded it passes all 27. Its
update endpoint (``/update``) passes the update tests, which checks multi-request tests.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from w3c_protocol import Endpoint, Outcome, load_tests, print_to_terminal, read_only_tests, run_all, summary

FIXTURE = Path(__file__).parent / "fixtures" / "kasei.trig"
STARTUP_SECONDS = 30.0


def _oxigraph() -> str:
    """The ``oxigraph`` CLI of this environment (PyPI ``oxigraph``, in the ``test`` extra)."""
    found = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
    if found is None:
        pytest.fail("the oxigraph CLI is missing: pip install -e '.[test]'")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def oxigraph_server(location: Path, data: Path | None = None) -> Iterator[str]:
    """Run ``oxigraph serve`` on a store at ``location`` (loading ``data`` first); yield its base URL."""
    binary = _oxigraph()
    if data is not None:
        subprocess.run([binary, "load", "--location", str(location), "--file", str(data)], check=True)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/"
    log = location.parent / f"{location.name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"oxigraph serve exited with {process.returncode}: {log.read_text()}")
            try:
                httpx.get(base_url + "query", timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"oxigraph serve did not answer within {STARTUP_SECONDS}s")
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _passed(outcomes: list[Outcome]) -> set[str]:
    return {o.test.name for o in outcomes if o.passed}


def test_empty_store_passes_exactly_the_tests_needing_no_data(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    tests = read_only_tests()
    with oxigraph_server(tmp_path / "store") as base_url:
        outcomes = list(run_all(Endpoint(base_url, query_path="/query"), tests))
    print_to_terminal(request.config, "Oxigraph, empty store, /query: " + summary(outcomes))
    no_data = {t.name for t in tests if not t.graph_data}
    assert len(no_data) == 21
    assert _passed(outcomes) == no_data, summary(outcomes)


def test_fixture_store_passes_every_read_only_test(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    tests = read_only_tests()
    with oxigraph_server(tmp_path / "store", data=FIXTURE) as base_url:
        outcomes = list(run_all(Endpoint(base_url, query_path="/query"), tests))
    print_to_terminal(request.config, "Oxigraph, kasei.trig loaded, /query: " + summary(outcomes))
    assert len(tests) == 27
    assert _passed(outcomes) == {t.name for t in tests}, summary(outcomes)


def test_update_endpoint_passes_the_update_tests(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    tests = [t for t in load_tests() if t.needs_write]
    with oxigraph_server(tmp_path / "store") as base_url:
        outcomes = list(run_all(Endpoint(base_url, query_path="/query", update_path="/update"), tests))
    print_to_terminal(request.config, "Oxigraph, /query + /update: " + summary(outcomes))
    assert len(tests) == 7
    assert _passed(outcomes) == {t.name for t in tests}, summary(outcomes)
