"""``kg docs`` from scratch, and the ontology served at its namespace, version and term IRIs.

A fresh dist/ is built in a temporary folder by ``kg docs`` itself (as in a fresh clone); the same
dataset is then served by a real ``kg serve``, and every term IRI is dereferenced in HTML, Turtle and
JSON-LD by content negotiation.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from kg.docs import CONTEXT_JSONLD, DIAGRAM_SVG, INDEX_HTML, our_terms
from kg.namespaces import AKG, BASE, ONTOLOGY_IRI
from server import RunningServer, run_server

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
RDF_TYPES = {"text/turtle": "turtle", "application/ld+json": "json-ld"}


class Sections(HTMLParser):
    """The text and links of every ``<section id=...>`` of a page, and every ``href``."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.hrefs: list[str] = []
        self.links: dict[str, set[str]] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("href"):
            self.hrefs.append(values["href"] or "")
            for name in self._open:
                self.links.setdefault(name or "", set()).add(values["href"] or "")
        if tag == "section":
            self._open.append(values.get("id"))
            self.sections.setdefault(values.get("id") or "", [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for name in self._open:
            if name:
                self.sections[name].append(data)

    def text(self, name: str) -> str:
        return " ".join(" ".join(self.sections[name]).split())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dist/ made by ``kg docs`` alone (it builds first when there is no dataset)."""
    dist = tmp_path_factory.mktemp("fresh") / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "kg.cli", "docs", "--dist", str(dist)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return dist


@pytest.fixture(scope="module")
def data(built: Path) -> Dataset:
    dataset = Dataset()
    dataset.parse(built / "alignkg.nq", format="nquads")
    return dataset


@pytest.fixture(scope="module")
def page(built: Path) -> Sections:
    parser = Sections()
    parser.feed((built / "docs" / INDEX_HTML).read_text("utf-8"))
    return parser


@pytest.fixture(scope="module")
def served(built: Path) -> Iterator[RunningServer]:
    with run_server(built / "alignkg.nq") as server:
        yield server


def local(term: URIRef) -> str:
    return str(term)[len(str(AKG)) :]


def test_docs_written(built: Path) -> None:
    for name in (INDEX_HTML, DIAGRAM_SVG, CONTEXT_JSONLD):
        assert (built / "docs" / name).stat().st_size > 1000, name


def test_every_term_documented_with_label_definition_domain_range(page: Sections, ontology: Graph) -> None:
    classes, properties = our_terms(ontology)
    assert len(classes) >= 15 and len(properties) >= 25
    for term in classes + properties:
        text = page.text(local(term))
        assert str(term) in text
        assert str(ontology.value(term, RDFS.label)) in text
        for definition in ontology.objects(term, SKOS.definition):
            assert " ".join(str(definition).split()) in text
        if term in properties:
            assert "Domain" in text and "Range" in text
            for end in (RDFS.domain, RDFS.range):
                named = ontology.value(term, end)
                if isinstance(named, URIRef) and str(named).startswith(str(AKG)):
                    assert str(ontology.value(named, RDFS.label)) in text, (term, end)


def test_examples_come_from_the_data(page: Sections, ontology: Graph, data: Dataset) -> None:
    """Each term shows a count equal to its uses in the data, and examples that are real uses."""
    classes, properties = our_terms(ontology)
    for term in classes + properties:
        pattern = (None, RDF.type, term) if term in classes else (None, term, None)
        uses = {(s, o) for s, _, o, g in data.quads((*pattern, None)) if not str(g).endswith("/graph/ontology")}
        text = page.text(local(term))
        assert f"In the data {len(uses)} " in text, term
        if uses and term in classes:
            assert "Examples" in text and {str(s) for s, _ in uses} & page.links[local(term)], term
    text = page.text("voter")
    voters = {str(label) for _, _, o, _ in data.quads((None, AKG.voter, None, None)) for label in labels_of(data, o)}
    assert "Examples" in text and any(name in text for name in voters)


def labels_of(data: Dataset, node: object) -> list:
    return [o for _, _, o, _ in data.quads((node, RDFS.label, None, None))]


def test_diagram_is_local_svg_with_every_class(built: Path, ontology: Graph) -> None:
    svg = ET.parse(built / "docs" / DIAGRAM_SVG).getroot()
    assert svg.tag == f"{SVG}svg"
    labels = {"".join(t.itertext()) for t in svg.iter(f"{SVG}text")}
    classes, _ = our_terms(ontology)
    assert {str(ontology.value(c, RDFS.label)) for c in classes} <= labels
    assert {"stated in", "voter", "subject actor"} <= {part for label in labels for part in label.split(", ")}
    hrefs = [a.get("href") for a in svg.iter(f"{SVG}a")]
    assert hrefs and all(h.startswith("#") for h in hrefs)
    assert "http" not in (built / "docs" / DIAGRAM_SVG).read_text("utf-8").replace("http://www.w3.org/2000/svg", "")


def test_committed_context_is_the_generated_one(built: Path) -> None:
    assert (ROOT / "ontology" / CONTEXT_JSONLD).read_text("utf-8") == (built / "docs" / CONTEXT_JSONLD).read_text(
        "utf-8"
    ), "ontology/context.jsonld is stale: copy dist/docs/context.jsonld after `kg docs`"


def test_context_expands_our_terms() -> None:
    context = json.loads((ROOT / "ontology" / CONTEXT_JSONLD).read_text("utf-8"))
    doc = {
        **context,
        "@id": "id:claim/x/1",
        "type": "StanceClaim",
        "subjectActor": "id:country/BLR",
        "stance": "vocab:supports",
        "date": {"@value": "2022-03-01", "@type": "xsd:date"},
        "count": 3,
    }
    graph = Graph().parse(data=json.dumps(doc), format="json-ld")
    node = URIRef(BASE + "id/claim/x/1")
    assert (node, RDF.type, AKG.StanceClaim) in graph
    assert (node, AKG.subjectActor, URIRef(BASE + "id/country/BLR")) in graph
    assert (node, AKG.stance, URIRef(BASE + "vocab/supports")) in graph
    assert graph.value(node, AKG["count"]) == Literal(3)


# --- served ---------------------------------------------------------------------------------------


def get(server: RunningServer, path: str, accept: str) -> httpx.Response:
    response = httpx.get(server.base_url + path, headers={"accept": accept}, follow_redirects=True, timeout=30)
    assert "Accept" in response.headers.get("vary", ""), path
    return response


def test_namespace_serves_the_generated_docs_for_html(served: RunningServer, ontology: Graph) -> None:
    for path in ("/ontology", "/ontology/", "/ontology/1.0.0"):
        response = get(served, path, "text/html")
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        parser = Sections()
        parser.feed(response.text)
        classes, properties = our_terms(ontology)
        assert {local(t) for t in classes + properties} <= set(parser.sections), path
        assert "<svg" in response.text
    assert f"{served.base_url}/id/country/" in response.text  # examples link to this server


@pytest.mark.parametrize("path", ["/ontology", "/ontology/1.0.0"])
@pytest.mark.parametrize("accept", RDF_TYPES)
def test_namespace_and_version_serve_the_whole_ontology(
    served: RunningServer, ontology: Graph, path: str, accept: str
) -> None:
    response = get(served, path, accept)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == accept
    got = Graph().parse(data=response.content, format=RDF_TYPES[accept])
    onto = URIRef(ONTOLOGY_IRI)
    assert (onto, OWL.versionIRI, URIRef(ONTOLOGY_IRI + "/1.0.0")) in got
    assert isomorphic(got, ontology), "the served ontology differs from ontology/*.ttl"


def test_every_term_iri_negotiates_html_turtle_jsonld(served: RunningServer, ontology: Graph) -> None:
    classes, properties = our_terms(ontology)
    for term in classes + properties:
        path = "/ontology/" + local(term)
        html = get(served, path, "text/html")
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html"), path
        assert str(ontology.value(term, RDFS.label)) in html.text
        for accept, fmt in RDF_TYPES.items():
            response = get(served, path, accept)
            assert response.status_code == 200 and response.headers["content-type"].split(";")[0] == accept, path
            got = Graph().parse(data=response.content, format=fmt)
            assert (term, RDFS.label, ontology.value(term, RDFS.label)) in got, (path, accept)


def test_context_is_served(served: RunningServer) -> None:
    response = httpx.get(served.base_url + "/ontology/context.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.json() == json.loads((ROOT / "ontology" / CONTEXT_JSONLD).read_text("utf-8"))
