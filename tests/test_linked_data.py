"""Dereferencing minted IRIs: HTML pages and RDF descriptions by content negotiation.

The router runs in-process over the compiled dataset, with a QueryRunner backed by pyoxigraph (the
same SPARQL the production engine answers); expectations are read from that dataset, not typed in.
The last tests run the same requests against a real ``kg serve`` process.
"""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from fastapi import FastAPI
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.plugins.sparql import prepareQuery

from kg.encode.dataset import Sources, compile_dataset
from kg.namespaces import AKG, BASE, GRAPH, OA, VOCAB, VOID, sparql_prologue
from kg.serve.linked_data import router
from server import run_server

ROOT = Path(__file__).resolve().parents[1]
SERVER = "http://ld.test/"
RDF_TYPES = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
}
UKR = BASE + "id/country/UKR"
LUKASHENKO = BASE + "id/person/alexander-lukashenko"
EVENT = BASE + "id/event/belarusian-troops-in-ukraine"
RESOLUTION = BASE + "id/resolution/a-res-es-11-1"
SVG = "{http://www.w3.org/2000/svg}"
LINKED_DATA_ROOTS = {"id", "graph", "vocab", "ontology"}


class OxigraphRunner:
    """The QueryRunner protocol over an in-process pyoxigraph store (default graph = union)."""

    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.queries: list[str] = []

    async def select(self, query: str) -> list[dict]:
        self.queries.append(query)
        solutions = self.store.query(query, use_default_graph_as_union=True)
        return json.loads(solutions.serialize(format=ox.QueryResultsFormat.JSON))["results"]["bindings"]

    async def construct(self, query: str, media_type: str) -> bytes:
        self.queries.append(query)
        triples = self.store.query(query, use_default_graph_as_union=True)
        return triples.serialize(format=ox.RdfFormat.from_media_type(media_type))


@pytest.fixture(scope="module")
def dataset_nq(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dataset = compile_dataset(Sources(ROOT / "data", ROOT / "ontology"))
    path = tmp_path_factory.mktemp("ld") / "alignkg.nq"
    dataset.serialize(path, format="nquads")
    return path


@pytest.fixture(scope="module")
def store(dataset_nq: Path) -> ox.Store:
    store = ox.Store()
    store.bulk_load(path=str(dataset_nq), format=ox.RdfFormat.N_QUADS)
    return store


@pytest.fixture(scope="module")
def runner(store: ox.Store) -> OxigraphRunner:
    return OxigraphRunner(store)


@pytest.fixture(scope="module")
def app(runner: OxigraphRunner) -> FastAPI:
    app = FastAPI()
    app.include_router(router(runner, BASE, lambda request: SERVER))
    return app


class Client:
    """Synchronous requests to the in-process app."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, path: str, accept: str | None = "text/html", method: str = "GET") -> httpx.Response:
        headers = {"Accept": accept} if accept is not None else {}

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=SERVER.rstrip("/")) as client:
                return await client.request(method, path, headers=headers)

        return asyncio.run(send())


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Client:
    return Client(app)


def select(store: ox.Store, query: str) -> list[dict[str, ox.NamedNode | ox.Literal]]:
    solutions = store.query(sparql_prologue() + query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    return [{n: row[n] for n in names if row[n] is not None} for row in solutions]


def label(store: ox.Store, iri: str) -> str:
    rows = select(store, f"SELECT ?l WHERE {{ <{iri}> rdfs:label ?l }}")
    return rows[0]["l"].value


def path_of(iri: str) -> str:
    return "/" + iri[len(BASE) :]


def local(iri: str) -> str:
    """Where the in-process server links a minted IRI."""
    return SERVER + iri[len(BASE) :]


def triples_about(store: ox.Store, iri: str) -> set[tuple[str, str, str]]:
    quads = store.quads_for_pattern(ox.NamedNode(iri), None, None, None)
    return {(str(q.subject.value), str(q.predicate.value), _plain(q.object)) for q in quads}


def _plain(term: object) -> str:
    return term.value if isinstance(term, ox.NamedNode | ox.Literal) else str(term)  # type: ignore[union-attr]


def varies_on_accept(response: httpx.Response) -> bool:
    return "accept" in {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


def parsed(response: httpx.Response) -> Graph:
    media_type = response.headers["content-type"].split(";")[0]
    return Graph().parse(data=response.content, format=RDF_TYPES[media_type])


def graph_triples(graph: Graph) -> set[tuple[str, str, str]]:
    return {(str(s), str(p), str(o)) for s, p, o in graph}


# --- an HTML reader strict enough to catch broken markup ---------------------------------------

VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
FLOW_ONLY = {"div", "p", "ul", "ol", "dl", "table", "section", "figure", "pre", "h1", "h2", "h3", "blockquote"}
"""Elements that HTML5 does not allow inside phrasing content."""
PHRASING = {"p", "q", "a", "span", "strong", "em", "code", "mark", "h1", "h2", "h3", "dt"}


class Page(HTMLParser):
    """Links, ids, visible text and the document text (with its highlights) of an HTML page."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.errors: list[str] = []
        self.ids: Counter[str] = Counter()
        self.links: list[tuple[str, str]] = []
        self.chunks: list[str] = []
        self.text_runs: list[tuple[str, str | None]] = []
        self.anchors: dict[str, int] = {}
        self._link: list[str] | None = None
        self._href = ""
        self.doctype = source.lstrip().lower().startswith("<!doctype html>")
        self.feed(source)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {[t for t, _ in self.stack]}")

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", "".join(self.chunks))

    @property
    def document_text(self) -> str:
        return "".join(t for t, _ in self.text_runs)

    def _inside(self, tag: str, cls: str | None = None) -> dict[str, str] | None:
        for name, attrs in reversed(self.stack):
            if name == tag and (cls is None or cls in attrs.get("class", "").split()):
                return attrs
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.ids[values["id"]] += 1
        if tag == "span" and "anchor" in values.get("class", "") and self._inside("div", "text") is not None:
            self.anchors[values["id"]] = len(self.document_text)
        if tag == "a":
            self._link, self._href = [], values.get("href", "")
        inside_svg = any(name == "svg" for name, _ in self.stack)
        if tag in FLOW_ONLY and not inside_svg and any(name in PHRASING for name, _ in self.stack):
            self.errors.append(f"<{tag}> inside <{[n for n, _ in self.stack if n in PHRASING][-1]}>")
        if tag not in VOID_ELEMENTS:
            self.stack.append((tag, values))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1][0] if self.stack else 'nothing'}")
            return
        self.stack.pop()
        if tag == "a" and self._link is not None:
            self.links.append((self._href, "".join(self._link).strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        if any(tag in ("style", "script", "title") for tag, _ in self.stack):
            return
        self.chunks.append(data)
        if self._link is not None:
            self._link.append(data)
        if self._inside("div", "text") is not None:
            mark = self._inside("mark")
            self.text_runs.append((data, mark.get("class") if mark is not None else None))

    def hrefs(self) -> set[str]:
        return {href for href, _ in self.links}

    def link_texts(self, href: str) -> set[str]:
        return {text for h, text in self.links if h == href}


def html_page(client: Client, iri: str) -> Page:
    response = client.get(path_of(iri))
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = Page(response.text)
    assert page.doctype
    assert page.errors == []
    assert [i for i, n in page.ids.items() if n > 1] == []
    return page


def evidence_href(iri: str) -> str:
    return local(iri)


# --- pages -------------------------------------------------------------------------------------


def test_country_page_shows_identity_vote_and_relations_with_evidence(client: Client, store: ox.Store) -> None:
    page = html_page(client, UKR)
    assert label(store, UKR) in page.text
    for prop in (AKG.isoAlpha2, AKG.isoAlpha3, AKG.isoNumeric):
        code = select(store, f"SELECT ?c WHERE {{ <{UKR}> <{prop}> ?c }}")[0]["c"].value
        assert code in page.text
    wikidata = select(store, f"SELECT ?w WHERE {{ <{UKR}> owl:sameAs ?w }}")[0]["w"].value
    assert wikidata in page.hrefs()
    vote = select(store, f"SELECT ?r ?o WHERE {{ ?r akg:voter <{UKR}> ; akg:voteOption ?o }}")
    assert len(vote) == 1
    assert local(vote[0]["o"].value) in page.hrefs()
    assert local(vote[0]["r"].value) in page.hrefs()
    relations = select(
        store,
        f"""SELECT ?claim ?other ?type ?doc ?ev WHERE {{
              {{ ?claim akg:subjectActor <{UKR}> ; akg:objectActor ?other }}
              UNION {{ ?claim akg:objectActor <{UKR}> ; akg:subjectActor ?other }}
              ?claim akg:relationType ?type ; akg:statedIn ?doc ; akg:evidence ?ev }}""",
    )
    assert relations, "the data states relations for Ukraine"
    for row in relations:
        for key in ("claim", "other", "type", "doc", "ev"):
            assert local(row[key].value) in page.hrefs(), (key, row[key].value)
        assert label(store, row["other"].value) in page.link_texts(local(row["other"].value))
    event_roles = select(store, f"SELECT DISTINCT ?e WHERE {{ ?e akg:agent|akg:target|akg:location <{UKR}> }}")
    for row in event_roles:
        assert local(row["e"].value) in page.hrefs()


def test_person_page_shows_roles_statements_and_quotes(client: Client, store: ox.Store) -> None:
    page = html_page(client, LUKASHENKO)
    assert label(store, LUKASHENKO) in page.text
    posts = select(
        store,
        f"SELECT ?org ?role ?ev WHERE {{ ?m org:member <{LUKASHENKO}> ; org:organization ?org ; org:role ?role ; akg:evidence ?ev }}",
    )
    assert posts
    for row in posts:
        assert label(store, row["role"].value) in page.link_texts(local(row["role"].value))
        assert local(row["org"].value) in page.hrefs()
        assert evidence_href(row["ev"].value) in page.hrefs()
    statements = select(
        store, f"SELECT ?s ?q ?ev WHERE {{ ?s akg:speaker <{LUKASHENKO}> ; akg:quote ?q ; akg:evidence ?ev }}"
    )
    assert statements
    for row in statements:
        assert row["q"].value in page.text
        assert evidence_href(row["ev"].value) in page.hrefs()
    dated = select(store, f"SELECT ?e ?l WHERE {{ ?s akg:speaker <{LUKASHENKO}> ; akg:earliest ?e ; akg:latest ?l }}")
    for row in dated:
        assert row["e"].value in page.text and row["l"].value in page.text


def test_event_page_shows_each_documents_claim_with_its_status(client: Client, store: ox.Store) -> None:
    page = html_page(client, EVENT)
    claims = select(
        store,
        f"SELECT ?c ?status ?doc ?ev WHERE {{ ?c a akg:EventClaim ; akg:aboutEvent <{EVENT}> ; "
        "akg:epistemicStatus ?status ; akg:statedIn ?doc ; akg:evidence ?ev }",
    )
    assert len({row["doc"].value for row in claims}) == 2, "both documents report this event"
    for row in claims:
        assert local(row["c"].value) in page.hrefs()
        assert local(row["status"].value) in page.hrefs()
        assert local(row["doc"].value) in page.hrefs()
        assert evidence_href(row["ev"].value) in page.hrefs()
    for row in select(store, f"SELECT ?who WHERE {{ ?c akg:aboutEvent <{EVENT}> ; akg:claimedBy ?who }}"):
        assert label(store, row["who"].value) in page.text
    participants = select(store, f"SELECT ?p ?a WHERE {{ <{EVENT}> ?p ?a . FILTER(?p IN (akg:agent, akg:target)) }}")
    for row in participants:
        assert local(row["a"].value) in page.hrefs()


def test_event_page_gives_dates_and_how_they_were_inferred(client: Client, store: ox.Store) -> None:
    event = BASE + "id/event/lukashenko-nuclear-threat"
    page = html_page(client, event)
    rows = select(
        store,
        f"SELECT ?e ?l ?how WHERE {{ ?c akg:aboutEvent <{event}> ; akg:earliest ?e ; akg:latest ?l ; akg:dateInference ?how }}",
    )
    assert rows
    for row in rows:
        assert row["e"].value in page.text and row["l"].value in page.text
        assert re.sub(r"\s+", " ", row["how"].value) in page.text


@pytest.mark.parametrize("doc", ["000", "001"])
def test_document_page_shows_its_text_with_every_evidence_span_highlighted(
    client: Client, store: ox.Store, doc: str
) -> None:
    iri = BASE + f"id/document/{doc}"
    page = html_page(client, iri)
    text = select(store, f"SELECT ?t WHERE {{ <{iri}> schema:text ?t }}")[0]["t"].value
    assert page.document_text == text
    spans = select(
        store, f"SELECT ?ev ?s ?e ?x WHERE {{ ?ev prov:wasQuotedFrom <{iri}> ; oa:start ?s ; oa:end ?e ; oa:exact ?x }}"
    )
    assert spans
    coverage = [0] * len(text)
    for row in spans:
        start, end = int(row["s"].value), int(row["e"].value)
        anchor = row["ev"].value.split("#", 1)[1]
        assert anchor == f"char={start},{end}"
        assert page.anchors.get(anchor) == start, anchor
        assert text[start:end] == row["x"].value
        for i in range(start, end):
            coverage[i] += 1
    marked: list[str | None] = []
    for run, cls in page.text_runs:
        marked += [cls] * len(run)
    for i, depth in enumerate(coverage):
        expected = f"depth-{min(depth, 3)}" if depth else None
        assert marked[i] == expected, (i, text[max(0, i - 20) : i + 20], marked[i], expected)
    assert any(depth > 1 for depth in coverage), "the data has overlapping spans; they must show"
    claims = select(store, f"SELECT ?c WHERE {{ ?c akg:statedIn <{iri}> }}")
    assert {local(row["c"].value) for row in claims} <= page.hrefs()


def test_evidence_links_point_at_anchors_of_the_document_page(client: Client, store: ox.Store) -> None:
    page = html_page(client, UKR)
    evidence_links = {h for h in page.hrefs() if "#char=" in h}
    assert evidence_links
    for href in evidence_links:
        document, anchor = href.split("#")
        target = html_page(client, BASE + document[len(SERVER) :])
        assert target.ids[anchor] == 1


def test_resolution_page_has_the_roll_call_and_a_vote_chart(client: Client, store: ox.Store) -> None:
    response = client.get(path_of(RESOLUTION))
    page = html_page(client, RESOLUTION)
    votes = select(
        store,
        f"SELECT ?state ?option WHERE {{ ?r akg:resolution <{RESOLUTION}> ; akg:voter ?state ; akg:voteOption ?option }}",
    )
    by_option: dict[str, set[str]] = defaultdict(set)
    for row in votes:
        by_option[row["option"].value].add(local(row["state"].value))
    assert sum(len(states) for states in by_option.values()) == 193
    country_links = {h for h in page.hrefs() if h.startswith(SERVER + "id/country/")}
    assert country_links == set().union(*by_option.values())

    svg_source = re.search(r"<svg\b.*?</svg>", response.text, re.S)
    assert svg_source, "the page inlines an SVG chart"
    svg = ET.fromstring(svg_source.group(0))
    assert svg.tag == f"{SVG}svg"
    cells = svg.findall(f".//{SVG}g[@class='grid']/{SVG}a")
    assert len(cells) == 193
    assert {a.get("href") for a in cells} == country_links
    colours = Counter(a.find(f"{SVG}rect").get("fill") for a in cells)  # type: ignore[union-attr]
    assert sorted(colours.values()) == sorted(len(s) for s in by_option.values())
    bars = [g.find(f"{SVG}title").text for g in svg.findall(f"{SVG}g[@class='bar']")]  # type: ignore[union-attr]
    tallies = select(
        store,
        f"SELECT ?o ?n WHERE {{ ?t a akg:VoteTally ; akg:resolution <{RESOLUTION}> ; akg:voteOption ?o ; akg:count ?n }}",
    )
    for row in tallies:
        assert f"{len(by_option[row['o'].value])} (stated: {row['n'].value})" in bars


def test_ontology_term_page(client: Client, store: ox.Store) -> None:
    term = str(AKG.RelationClaim)
    page = html_page(client, term)
    assert label(store, term) in page.text
    definition = select(store, f"SELECT ?d WHERE {{ <{term}> skos:definition ?d }}")[0]["d"].value
    assert definition in page.text
    for row in select(store, f"SELECT ?p WHERE {{ ?p rdfs:domain <{term}> }}"):
        assert local(row["p"].value) in page.hrefs()
    parent = select(store, f"SELECT ?c WHERE {{ <{term}> rdfs:subClassOf ?c FILTER(STRSTARTS(STR(?c), STR(akg:))) }}")
    assert local(parent[0]["c"].value) in page.hrefs()
    instances = select(store, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{term}> }}")[0]["n"].value
    assert f"{instances} resources" in page.text


def test_ontology_namespace_page_lists_every_class_and_property(client: Client, store: ox.Store) -> None:
    page = html_page(client, BASE + "ontology")
    terms = select(
        store,
        "SELECT DISTINCT ?t WHERE { GRAPH graph:ontology { ?t a ?k } "
        "FILTER(?k IN (owl:Class, owl:ObjectProperty, owl:DatatypeProperty) && STRSTARTS(STR(?t), STR(akg:))) }",
    )
    assert len(terms) > 20
    assert {local(row["t"].value) for row in terms} <= page.hrefs()


def test_vocab_concept_and_scheme_pages(client: Client, store: ox.Store) -> None:
    concept = str(VOCAB.ally)
    page = html_page(client, concept)
    assert label(store, concept) in page.text
    scheme = select(store, f"SELECT ?s WHERE {{ <{concept}> skos:inScheme ?s }}")[0]["s"].value
    assert local(scheme) in page.hrefs()
    users = select(store, f"SELECT ?c WHERE {{ ?c akg:relationType <{concept}> }}")
    assert users
    assert {local(row["c"].value) for row in users} <= page.hrefs()
    scheme_page = html_page(client, scheme)
    members = select(store, f"SELECT ?c WHERE {{ ?c skos:inScheme <{scheme}> }}")
    assert {local(row["c"].value) for row in members} <= scheme_page.hrefs()


def test_named_graph_page_describes_it_and_links_its_dumps(client: Client, store: ox.Store) -> None:
    graph = str(GRAPH["document/000"])
    size = len(list(store.quads_for_pattern(None, None, None, ox.NamedNode(graph))))
    page = html_page(client, graph)
    assert f"{size} triples" in page.text
    dumps = {h for h in page.hrefs() if "?dump=" in h}
    assert len(dumps) == len(RDF_TYPES)
    for href in dumps:
        response = client.get(href[len(SERVER) - 1 :], accept=None)
        assert response.status_code == 200
        assert len(parsed(response)) == size
    described = parsed(client.get(path_of(graph), accept="text/turtle"))
    assert int(described.value(URIRef(graph), VOID.triples)) == size


def test_every_minted_iri_dereferences(client: Client, store: ox.Store) -> None:
    found: set[str] = set()
    for quad in store:
        for term in (quad.subject, quad.object, quad.graph_name):
            if isinstance(term, ox.NamedNode) and term.value.startswith(BASE):
                found.add(term.value.split("#", 1)[0])
    ours = {iri for iri in found if path_of(iri).split("/")[1] in LINKED_DATA_ROOTS}
    assert found - ours == {BASE + "sparql"}, "only the endpoint's own IRI is served elsewhere"
    assert len(ours) > 500
    failures = [iri for iri in sorted(ours) if client.get(path_of(iri), accept="text/turtle").status_code != 200]
    assert failures == []
    kinds = {}
    for iri in sorted(ours):
        kinds.setdefault(tuple(path_of(iri).split("/")[:3]), iri)
    for iri in kinds.values():
        html_page(client, iri)


# --- content negotiation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/html", "text/html"),
        ("text/turtle", "text/turtle"),
        ("application/ld+json", "application/ld+json"),
        ("application/n-triples", "application/n-triples"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("text/html;q=0.5, text/turtle", "text/turtle"),
        ("application/ld+json;q=0.9, text/turtle;q=0.8", "application/ld+json"),
        ("*/*;q=0.1, application/n-triples", "application/n-triples"),
        ("text/*;q=0.3, text/html;q=0, text/turtle;q=0.2", "text/turtle"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        (None, "text/html"),
    ],
)
def test_content_negotiation_honours_q_values(client: Client, accept: str | None, expected: str) -> None:
    response = client.get(path_of(UKR), accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == expected
    assert varies_on_accept(response)


@pytest.mark.parametrize("accept", ["image/png", "text/html;q=0, text/turtle;q=0, */*;q=0", "application/json"])
def test_nothing_acceptable_is_406(client: Client, accept: str) -> None:
    response = client.get(path_of(UKR), accept=accept)
    assert response.status_code == 406
    assert varies_on_accept(response)


@pytest.mark.parametrize("media_type", list(RDF_TYPES))
def test_rdf_descriptions_parse_and_hold_the_resources_triples(
    client: Client, store: ox.Store, media_type: str
) -> None:
    for iri in (UKR, LUKASHENKO, EVENT, str(AKG.RelationClaim)):
        response = client.get(path_of(iri), accept=media_type)
        assert response.status_code == 200
        graph = graph_triples(parsed(response))
        assert triples_about(store, iri) <= graph
        for row in select(store, f"SELECT ?s ?p WHERE {{ ?s ?p <{iri}> FILTER(?p != rdf:type) }}"):
            assert (row["s"].value, row["p"].value, iri) in graph


def test_document_description_holds_its_evidence_spans(client: Client, store: ox.Store) -> None:
    iri = BASE + "id/document/001"
    graph = parsed(client.get(path_of(iri), accept="application/ld+json"))
    for row in select(store, f"SELECT ?ev ?x WHERE {{ ?ev prov:wasQuotedFrom <{iri}> ; oa:exact ?x }}"):
        assert graph.value(URIRef(row["ev"].value), OA.exact) == Literal(row["x"].value)


def test_ontology_namespace_answers_with_the_whole_ontology(client: Client, store: ox.Store) -> None:
    dump = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(str(GRAPH["ontology"])))
    ontology = Graph().parse(data=dump, format="nt")  # class unions are blank nodes: compare by isomorphism
    for path in ("/ontology", "/ontology/1.0.0"):
        response = client.get(path, accept="text/turtle")
        assert response.status_code == 200
        assert isomorphic(parsed(response), ontology)


def test_link_and_vary_headers_and_explicit_format_urls(client: Client) -> None:
    response = client.get(path_of(UKR), accept="text/html")
    assert varies_on_accept(response)
    links = response.headers["link"]
    assert f'<{UKR}>; rel="canonical"' in links
    alternates = dict(re.findall(r'<([^>]+)>; rel="alternate"; type="([^"]+)"', links))
    assert set(alternates.values()) >= set(RDF_TYPES) | {"text/html"}
    page = Page(response.text)
    for url, media_type in alternates.items():
        assert url.startswith(local(UKR) + "?")
        explicit = client.get(url[len(SERVER) - 1 :], accept="image/png")
        assert explicit.status_code == 200, url
        assert explicit.headers["content-type"].split(";")[0] == media_type
        assert varies_on_accept(explicit)
        assert url in page.hrefs()
    negotiated = client.get(path_of(UKR), accept="text/turtle")
    assert negotiated.headers["content-location"] in alternates
    assert alternates[negotiated.headers["content-location"]] == "text/turtle"


def test_namespace_with_its_slash_redirects_to_the_ontology(client: Client) -> None:
    response = client.get("/ontology/", accept="text/turtle")
    assert response.status_code == 301
    assert response.headers["location"] == SERVER + "ontology"


def test_head_answers_like_get_without_a_body(client: Client) -> None:
    response = client.get(path_of(UKR), accept="text/turtle", method="HEAD")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/id/country/XXX",
        "/id/nothing",
        "/vocab/no-such-concept",
        "/ontology/NoSuchTerm",
        "/graph/document/999",
        "/id/country/UKR%3E%20%3Chttp:%2F%2Fx",
        "/id/country/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/id/country/UKR%7D%20UNION%20%7B",
        "/id/%2E%2E/ontology",
    ],
)
@pytest.mark.parametrize("accept", ["text/html", "text/turtle"])
def test_unknown_or_malformed_iris_are_404(client: Client, path: str, accept: str) -> None:
    response = client.get(path, accept=accept)
    assert response.status_code == 404
    assert varies_on_accept(response)
    assert "<script>" not in response.text


def test_bad_format_and_dump_parameters_are_400(client: Client) -> None:
    for path in (path_of(UKR) + "?format=pdf", path_of(UKR) + "?dump=nt", "/graph/entities?dump=html"):
        response = client.get(path)
        assert response.status_code == 400
        assert varies_on_accept(response)


def test_queries_are_standard_sparql(runner: OxigraphRunner, client: Client) -> None:
    """Every query the pages send parses with rdflib's SPARQL 1.1 parser: no engine extensions."""
    runner.queries.clear()
    for iri in (UKR, LUKASHENKO, EVENT, RESOLUTION, BASE + "id/document/000", BASE + "ontology", str(VOCAB.ally)):
        for accept in ("text/html", "text/turtle"):
            assert client.get(path_of(iri), accept=accept).status_code == 200
    assert client.get("/graph/document/000").status_code == 200
    assert client.get("/graph/document/000?dump=nt").status_code == 200
    assert len(runner.queries) > 20
    for query in set(runner.queries):
        prepareQuery(query)  # raises on anything outside SPARQL 1.1


# --- a real server -----------------------------------------------------------------------------


def test_real_server_dereferences_minted_iris(dataset_nq: Path, store: ox.Store) -> None:
    with run_server(dataset_nq) as server:
        page = httpx.get(server.base_url + path_of(UKR), headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 200, "linked-data routes are not mounted in kg.serve.app"
        assert varies_on_accept(page)
        parsed_page = Page(page.text)
        assert parsed_page.errors == []
        assert label(store, UKR) in parsed_page.text
        assert server.base_url + "/id/document/000" in {h.split("#")[0] for h in parsed_page.hrefs()}
        turtle = httpx.get(server.base_url + path_of(UKR), headers={"Accept": "text/turtle"}, timeout=30)
        assert turtle.status_code == 200
        assert triples_about(store, UKR) <= graph_triples(parsed(turtle))
        css = httpx.get(server.base_url + "/static/alignkg.css", timeout=30)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        missing = httpx.get(server.base_url + "/id/country/XXX", headers={"Accept": "text/html"}, timeout=30)
        assert missing.status_code == 404
        assert httpx.get(server.base_url + path_of(UKR), headers={"Accept": "image/png"}, timeout=30).status_code == 406
