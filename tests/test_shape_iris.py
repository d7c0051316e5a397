"""SHACL shape IRIs dereference like ontology terms: /shapes (the document) and /shapes/<name> (one shape).

A fresh ``kg build`` is served by a real ``kg serve``; every answer is checked against the built
dist/shapes.ttl read by rdflib: a shape's Turtle is its concise bounded description (the shape with
its property shapes, lists and SPARQL), its JSON-LD (compacted with our context) is the same graph,
its HTML page names it; the shapes document is the whole file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyld import jsonld
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

from kg.build import run_build
from kg.config import SHAPES_TTL
from kg.namespaces import BASE, SH, SHAPES
from server import RunningServer, run_server

CONTEXT_PATH = "/ontology/context.jsonld"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("build") / "dist"
    assert run_build(folder, quiet=True) == 0, "kg build failed (its errors are printed above)"
    return folder


@pytest.fixture(scope="module")
def served(dist: Path) -> Iterator[RunningServer]:
    with run_server(dist) as running:
        yield running


@pytest.fixture(scope="module")
def shapes(dist: Path) -> Graph:
    return Graph().parse(dist / SHAPES_TTL, format="turtle")


def get(server: RunningServer, iri: str, accept: str) -> httpx.Response:
    return httpx.get(server.base_url + "/" + iri[len(BASE) :], headers={"Accept": accept}, follow_redirects=False)


def turtle(response: httpx.Response) -> Graph:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/turtle")
    return Graph().parse(data=response.text, format="turtle")


def expanded(response: httpx.Response, server: RunningServer) -> Graph:
    """A JSON-LD answer expanded with the served context (nothing else is fetched)."""
    assert response.status_code == 200, response.text
    document = response.json()
    url = server.base_url + CONTEXT_PATH
    assert document["@context"] == url
    context = httpx.get(url).json()

    def loader(asked: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        assert asked == url, asked
        return {"contextUrl": None, "documentUrl": url, "document": context}

    nquads = jsonld.to_rdf(document, {"format": "application/n-quads", "documentLoader": loader})
    return Graph().parse(data=nquads, format="nt")


def node_shapes(shapes: Graph) -> list[URIRef]:
    found = {s for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)}
    return sorted(s for s in found if str(s).startswith(str(SHAPES)))


def test_there_are_shapes_to_dereference(shapes: Graph) -> None:
    assert len(node_shapes(shapes)) >= 10


@pytest.mark.parametrize("index", [0, -1])
def test_a_shape_dereferences_to_its_description(served: RunningServer, shapes: Graph, index: int) -> None:
    shape = node_shapes(shapes)[index]
    described = turtle(get(served, str(shape), "text/turtle"))
    expected = shapes.cbd(shape)
    assert len(described) == len(expected) > 1
    assert isomorphic(described, expected)
    as_jsonld = get(served, str(shape), "application/ld+json")
    assert as_jsonld.headers["content-type"] == "application/ld+json"
    assert "type" in json.dumps(as_jsonld.json())
    assert isomorphic(expanded(as_jsonld, served), expected)
    page = get(served, str(shape), "text/html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert str(shape) in page.text
    assert f'<{shape}>; rel="canonical"' in page.headers["link"]


def test_the_shapes_document_is_the_whole_file(served: RunningServer, shapes: Graph) -> None:
    document = str(SHAPES).rstrip("/")
    assert isomorphic(turtle(get(served, document, "text/turtle")), shapes)
    assert isomorphic(expanded(get(served, document, "application/ld+json"), served), shapes)
    assert get(served, document, "text/html").status_code == 200
    slash = get(served, str(SHAPES), "text/turtle")
    assert slash.status_code == 301 and slash.headers["location"] == served.base_url + "/shapes"


def test_an_unknown_shape_is_not_found(served: RunningServer) -> None:
    assert get(served, str(SHAPES) + "NoSuchShape", "text/turtle").status_code == 404
