"""Compile one document folder (text.txt + document.yaml) into its own named graph.

The authoring format is described in data/README.md. Every claim names its evidence as a
verbatim quote of the text; the compiler finds its character offsets and refuses quotes that
are not in the text, unknown actors or concepts and malformed dates, naming file and line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, XSD

from kg.encode.dates import date_literal, day_literal
from kg.encode.entities import define_event
from kg.encode.errors import SourceError
from kg.encode.evidence import DocumentText, Span
from kg.encode.registry import SLUG, Registry, event_iri
from kg.encode.vocabulary import Vocabulary
from kg.encode.yaml_source import Located, load_yaml
from kg.namespaces import AKG, GRAPH, ID, ORG, SCHEMA

QUOTATION_MARKS = (("\u201c", "\u201d"), ('"', '"'), ("\u2018", "\u2019"), ("'", "'"))
"""Pairs of opening and closing quotation marks a quoted speaker's words stand between."""
DOCUMENT_FILE = "document.yaml"
TEXT_FILE = "text.txt"
SECTIONS = (
    "document",
    "events",
    "relations",
    "stances",
    "statements",
    "memberships",
    "counts",
    "votes",
    "mentions",
)


def document_iri(doc_id: str) -> URIRef:
    return ID[f"document/{doc_id}"]


def document_graph_iri(doc_id: str) -> URIRef:
    return GRAPH[f"document/{doc_id}"]


class DocumentCompiler:
    """Turns one document's authoring file into RDF, checking every reference as it goes."""

    def __init__(self, folder: Path, registry: Registry, vocab: Vocabulary):
        self.folder = folder
        self.path = folder / DOCUMENT_FILE
        self.registry = registry
        self.vocab = vocab
        self.source = load_yaml(self.path)
        if not isinstance(self.source, Located) or not isinstance(self.source.get("document"), Located):
            raise SourceError(self.path, 1, "expected a mapping with a 'document:' section")
        for key in self.source:
            if key not in SECTIONS:
                raise self.source.error(f"unknown section {key!r}; sections are {', '.join(SECTIONS)}", key)
        meta = self.source["document"]
        self.doc_id = self._string(meta, "id")
        if self.doc_id != folder.name:
            raise meta.error(f"document id {self.doc_id!r} must equal its folder name {folder.name!r}", "id")
        try:
            raw = (folder / TEXT_FILE).read_bytes()
            text = raw.decode("utf-8")
        except FileNotFoundError as exc:
            raise SourceError(folder / TEXT_FILE, None, "missing: every document folder needs its text") from exc
        except UnicodeDecodeError as exc:
            raise SourceError(folder / TEXT_FILE, None, f"not UTF-8: {exc}") from exc
        if "sha256" in meta and meta["sha256"] != hashlib.sha256(raw).hexdigest():
            raise meta.error("text.txt is not the text that was added: its SHA-256 differs from 'sha256'", "sha256")
        self.doc = document_iri(self.doc_id)
        self.text = DocumentText(text, self.doc)
        self.graph = Graph(identifier=document_graph_iri(self.doc_id))
        self.local_events: set[str] = set()
        self.claim_ids: set[str] = set()

    # -- small checked readers -------------------------------------------------

    def _string(self, item: Located, key: str) -> str:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise item.error(f"'{key}' must be a non-empty string", key)
        return value

    def _actor(self, item: Located, key: str, name: object) -> URIRef:
        """The IRI of a named actor; the document is recorded as mentioning it."""
        node = self.registry.actor(name) if isinstance(name, str) else None
        if node is None:
            raise item.error(
                f"unknown actor {name!r}: use an ISO 3166-1 alpha-3 code of a UN member state, "
                "or an id defined in data/entities.yaml",
                key,
            )
        self.graph.add((self.doc, SCHEMA.mentions, node))
        return node

    def _actors(self, item: Located, key: str) -> list[URIRef]:
        value = item.get(key, [])
        names = value if isinstance(value, list) else [value]
        return [self._actor(item, key, name) for name in names]

    def _concept(self, item: Located, key: str, scheme: str, default: str | None = None) -> URIRef | None:
        name = item.get(key, default)
        if name is None:
            return None
        concept = self.vocab.lookup(scheme, name) if isinstance(name, str) else None
        if concept is None:
            raise item.error(f"'{key}' must be one of vocab/{scheme}: {', '.join(self.vocab.names(scheme))}", key)
        return concept

    def _event(self, item: Located, key: str) -> URIRef:
        name = item.get(key)
        if isinstance(name, str) and (name in self.registry.events or name in self.local_events):
            return event_iri(name)
        raise item.error(
            f"unknown event {name!r}: define it in 'events' of this document or in data/entities.yaml", key
        )

    def _add_date(self, node: URIRef, item: Located) -> None:
        for key, prop, reader in (
            ("date", AKG.date, date_literal),
            ("earliest", AKG.earliest, day_literal),
            ("latest", AKG.latest, day_literal),
        ):
            if key in item:
                literal = reader(item[key])
                if literal is None:
                    expected = "YYYY-MM-DD, YYYY-MM or YYYY" if key == "date" else "YYYY-MM-DD"
                    raise item.error(f"wrong date format in '{key}': {item[key]!r} (expected {expected})", key)
                self.graph.add((node, prop, literal))
        if "date_inferred" in item:
            self.graph.add((node, AKG.dateInference, Literal(self._string(item, "date_inferred"), lang="en")))

    def _evidence(self, node: URIRef, item: Located, key: str = "evidence", required: bool = True) -> list:
        specs = item.get(key)
        if specs is None:
            if required:
                raise item.error("every claim needs 'evidence': a verbatim quote of the document's text")
            return []
        spans = [self.text.locate(spec, item, key) for spec in (specs if isinstance(specs, list) else [specs])]
        for span in spans:
            self.graph.add((node, AKG.evidence, self.text.add_evidence(self.graph, span)))
        return spans

    def _mint_claim(self, item: Located, default_slug: str) -> URIRef:
        slug = item.get("id", default_slug)
        if "id" in item and (not isinstance(slug, str) or not SLUG.match(slug)):
            raise item.error(f"claim 'id' must be a lower-case slug, got {slug!r}", "id")
        base, n = slug, 2
        while slug in self.claim_ids:
            if "id" in item:
                raise item.error(f"claim id {slug!r} is used twice in this document", "id")
            slug, n = f"{base}-{n}", n + 1
        self.claim_ids.add(slug)
        return ID[f"claim/{self.doc_id}/{slug}"]

    def _claim(self, item: Located, cls: URIRef, slug: str, extra_types: Iterable[URIRef] = ()) -> URIRef:
        """Mint a claim with the fields every claim shares: document, evidence, status, sources."""
        node = self._mint_claim(item, slug)
        g = self.graph
        g.add((node, RDF.type, cls))
        g.add((node, RDF.type, AKG.Claim))
        for extra in extra_types:
            g.add((node, RDF.type, extra))
        g.add((node, AKG.statedIn, self.doc))
        g.add((node, PROV.wasDerivedFrom, self.doc))
        g.add((node, AKG.epistemicStatus, self._concept(item, "status", "epistemic-status", "stated")))
        for reporter in self._actors(item, "reported_by"):
            g.add((node, AKG.reportedBy, reporter))
        for claimant in self._actors(item, "claimed_by"):
            g.add((node, AKG.claimedBy, claimant))
        if "note" in item:
            g.add((node, RDFS.comment, Literal(self._string(item, "note"), lang="en")))
        self._add_date(node, item)
        self._evidence(node, item)
        return node

    # -- sections ---------------------------------------------------------------

    def compile(self) -> Graph:
        """Compile every section; returns the document's named graph."""
        self._metadata(self.source["document"])
        handlers: dict[str, Callable[[Located], None]] = {
            "events": self._event_report,
            "relations": self._relation,
            "stances": self._stance,
            "statements": self._statement,
            "memberships": self._membership,
            "counts": self._count,
            "votes": self._vote,
            "mentions": self._mention,
        }
        # Events first, so that other sections may refer to events this document defines.
        for section in ("events", *[s for s in handlers if s != "events"]):
            items = self.source.get(section, []) or []
            if not isinstance(items, list):
                raise self.source.error(f"'{section}' must be a list", section)
            for item in items:
                if not isinstance(item, Located):
                    raise self.source.error(f"each entry of '{section}' must be a mapping", section)
                handlers[section](item)
        return self.graph

    def _metadata(self, meta: Located) -> None:
        g, doc = self.graph, self.doc
        g.add((self.graph.identifier, RDFS.label, Literal(f"What document {self.doc_id} asserts", lang="en")))
        g.add((self.graph.identifier, PROV.wasDerivedFrom, doc))
        g.add((doc, RDF.type, AKG.Document))
        g.add((doc, RDF.type, SCHEMA.NewsArticle))
        g.add((doc, DCTERMS.identifier, Literal(self.doc_id)))
        g.add((doc, AKG.namedGraph, self.graph.identifier))
        g.add((doc, AKG.sourceFile, Literal(self._string(meta, "source_file"))))
        g.add((doc, SCHEMA.text, Literal(self.text.text)))
        g.add((doc, DCTERMS.language, Literal(self._string(meta, "language"), datatype=XSD.language)))
        title = self._string(meta, "title")
        g.add((doc, DCTERMS.title, Literal(title, lang=meta["language"])))
        g.add((doc, RDFS.label, Literal(title, lang=meta["language"])))
        if self.text.find(title) is None and "title_note" not in meta:
            raise meta.error("the title is not in the text: quote it exactly, or explain in 'title_note'", "title")
        if "title_note" in meta:
            g.add((doc, RDFS.comment, Literal(self._string(meta, "title_note"), lang="en")))
        if "url" in meta:
            g.add((doc, SCHEMA.url, Literal(self._string(meta, "url"), datatype=XSD.anyURI)))
        if "publisher" in meta:
            g.add((doc, DCTERMS.publisher, self._actor(meta, "publisher", meta["publisher"])))
        if "date" in meta:
            self._add_date(doc, meta)
            if "date_inferred" not in meta:
                g.add((doc, DCTERMS.issued, date_literal(meta["date"])))
        self._evidence(doc, meta, required=False)

    def _event_report(self, item: Located) -> None:
        name = item.get("event")
        if isinstance(name, str) and name not in self.registry.events and "type" in item:
            if not SLUG.match(name):
                raise item.error(f"event id must be a lower-case slug, got {name!r}", "event")
            self.local_events.add(name)
            define_event(self.graph, event_iri(name), item, self.vocab)
        event = self._event(item, "event")
        g = self.graph
        for prop, key in ((AKG.agent, "agents"), (AKG.target, "targets"), (AKG.location, "location")):
            for actor in self._actors(item, key):
                g.add((event, prop, actor))
        if "support" in item:
            g.add((event, AKG.supportKind, self._concept(item, "support", "support-kind")))
        if "resolution" in item:
            g.add((event, AKG.resolution, self._resolution(item)))
        self._add_date(event, item)
        status = item.get("status", "stated")
        claim = self._claim(item, AKG.EventClaim, f"event-{name}-{status}")
        g.add((claim, AKG.aboutEvent, event))

    def _resolution(self, item: Located) -> URIRef:
        name = item.get("resolution")
        if name not in self.registry.resolutions:
            raise item.error(f"unknown resolution {name!r}: define it in data/entities.yaml", "resolution")
        return self.registry.resolutions[name]

    def _relation(self, item: Located) -> None:
        subject, obj = (
            self._actor(item, "subject", item.get("subject")),
            self._actor(item, "object", item.get("object")),
        )
        relation = self._concept(item, "type", "relation-type")
        if relation is None:
            raise item.error("a relation needs a 'type'", "type")
        slug = f"relation-{_tail(subject)}-{_tail(relation)}-{_tail(obj)}"
        claim = self._claim(item, AKG.RelationClaim, slug)
        self.graph.add((claim, AKG.subjectActor, subject))
        self.graph.add((claim, AKG.objectActor, obj))
        self.graph.add((claim, AKG.relationType, relation))

    def _stance(self, item: Located) -> None:
        subject = self._actor(item, "subject", item.get("subject"))
        stance = self._concept(item, "stance", "stance")
        if stance is None:
            raise item.error("a stance needs 'stance'", "stance")
        event = self._event(item, "event")
        claim = self._claim(item, AKG.StanceClaim, f"stance-{_tail(subject)}-{_tail(event)}")
        self.graph.add((claim, AKG.subjectActor, subject))
        self.graph.add((claim, AKG.stance, stance))
        self.graph.add((claim, AKG.aboutEvent, event))

    def _statement(self, item: Located) -> None:
        speakers = self._actors(item, "speaker")
        if not speakers:
            raise item.error("a statement needs a 'speaker' (or a list of speakers)", "speaker")
        slug = f"statement-{'-'.join(_tail(s) for s in speakers)}"
        claim = self._claim(item, AKG.Statement, slug, extra_types=(SCHEMA.Quotation,))
        for speaker in speakers:
            self.graph.add((claim, AKG.speaker, speaker))
        evidence = [self.text.locate(spec, item, "evidence") for spec in _as_list(item["evidence"])]
        for quote in _as_list(item.get("quote", [])):
            marked = (
                [f"{opening}{quote}{closing}" for opening, closing in QUOTATION_MARKS] if isinstance(quote, str) else []
            )
            if not any(m in span.exact for m in marked for span in evidence):
                raise item.error(
                    f"quote {quote!r} must be the exact words between quotation marks inside the statement's "
                    "evidence (punctuation inside the marks included)",
                    "quote",
                )
            self.graph.add((claim, AKG.quote, Literal(quote)))
        if "about" in item:
            self.graph.add((claim, AKG.aboutEvent, self._event(item, "about")))

    def _membership(self, item: Located) -> None:
        member = self._actor(item, "member", item.get("member"))
        organization = self._actor(item, "organization", item.get("organization"))
        role = self._concept(item, "role", "role", "member-state")
        claim = self._claim(
            item,
            AKG.Membership,
            f"membership-{_tail(organization)}-{_tail(member)}",
            extra_types=(ORG.Membership,),
        )
        self.graph.add((claim, ORG.member, member))
        self.graph.add((claim, ORG.organization, organization))
        self.graph.add((claim, ORG.role, role))

    def _count(self, item: Located) -> None:
        organization = self._actor(item, "organization", item.get("organization"))
        count = item.get("count")
        if not isinstance(count, int) or count < 0:
            raise item.error("'count' must be a whole number", "count")
        claim = self._claim(item, AKG.MemberCount, f"member-count-{_tail(organization)}")
        self.graph.add((claim, ORG.organization, organization))
        self.graph.add((claim, AKG["count"], Literal(count, datatype=XSD.integer)))

    def _vote(self, item: Located) -> None:
        """Either a stated tally ({resolution, option, count}) or a list of states and how they voted."""
        resolution = self._resolution(item)
        option = self._concept(item, "option", "vote-option")
        if option is None:
            raise item.error("a vote entry needs an 'option' (in-favour, against, abstention, absent)", "option")
        if "count" in item:
            count = item["count"]
            if not isinstance(count, int) or count < 0:
                raise item.error("'count' must be a whole number", "count")
            claim = self._claim(item, AKG.VoteTally, f"tally-{_tail(resolution).lower()}-{_tail(option)}")
            self.graph.add((claim, AKG.resolution, resolution))
            self.graph.add((claim, AKG.voteOption, option))
            self.graph.add((claim, AKG["count"], Literal(count, datatype=XSD.integer)))
            return
        notes = item.get("notes", {}) or {}
        voters = self._actors(item, "states")
        if not voters:
            raise item.error("a vote entry needs 'states' (a list of alpha-3 codes) or a 'count'", "states")
        for voter in voters:
            code = _tail(voter)
            record = vote_record_iri(resolution, code)
            g = self.graph
            g.add((record, RDF.type, AKG.VoteRecord))
            g.add((record, RDF.type, AKG.Claim))
            g.add((record, AKG.statedIn, self.doc))
            g.add((record, PROV.wasDerivedFrom, self.doc))
            g.add((record, AKG.epistemicStatus, self._concept(item, "status", "epistemic-status", "stated")))
            g.add((record, AKG.resolution, resolution))
            g.add((record, AKG.voter, voter))
            g.add((record, AKG.voteOption, option))
            if code in notes:
                g.add((record, RDFS.comment, Literal(notes[code], lang="en")))
            self._evidence(record, item)

    def _mention(self, item: Located) -> None:
        """A span of the text that names an actor, e.g. a photo credit or a name ``kg add`` found.

        An entry with ``candidates`` instead of ``actor`` is an ambiguous name awaiting a person's
        choice: it is checked (offsets, candidates) but adds nothing to the graph until resolved.
        """
        span = self._mention_span(item)
        if "candidates" in item:
            self._unresolved_mention(item)
            return
        actor = self._actor(item, "actor", item.get("actor"))
        node = self.text.add_evidence(self.graph, span)
        self.graph.add((node, AKG.refersTo, actor))
        self.graph.add((self.doc, SCHEMA.mentions, actor))
        if "note" in item:
            self.graph.add((node, RDFS.comment, Literal(self._string(item, "note"), lang="en")))

    def _mention_span(self, item: Located) -> Span:
        """The mention's span: at ``start`` (and ``end``) when given, else the quote's first occurrence."""
        if "start" not in item:
            return self.text.locate(item.get("text"), item, "text")
        quote, start = item.get("text"), item["start"]
        if not isinstance(quote, str) or not quote or not isinstance(start, int) or start < 0:
            raise item.error("a mention needs 'text' (a non-empty string) and 'start' (a character offset)", "start")
        end = start + len(quote)
        if self.text.text[start:end] != quote or item.get("end", end) != end:
            found = self.text.text[start : item.get("end", end)] if isinstance(item.get("end", end), int) else ""
            raise item.error(
                f"mention {quote!r} is not at offsets {start},{item.get('end', end)} (found {found!r})", "start"
            )
        return Span(start, end, quote)

    def _unresolved_mention(self, item: Located) -> None:
        candidates = item["candidates"]
        if "actor" in item:
            raise item.error("an ambiguous mention was resolved: keep 'actor' and delete 'candidates'", "candidates")
        if not isinstance(candidates, list) or len(candidates) < 2:
            raise item.error("'candidates' must list two or more actors (or replace it by 'actor')", "candidates")
        for name in candidates:
            if not isinstance(name, str) or self.registry.actor(name) is None:
                raise item.error(f"unknown actor {name!r} among the candidates", "candidates")


def vote_record_iri(resolution: URIRef, alpha3: str) -> URIRef:
    """One vote record per state and resolution: ``id/vote/<resolution>/<alpha-3>``."""
    return ID[f"vote/{_tail(resolution)}/{alpha3}"]


def _tail(iri: URIRef) -> str:
    return str(iri).rstrip("/").rsplit("/", 1)[-1]


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def compile_document(folder: Path, registry: Registry, vocab: Vocabulary) -> Graph:
    """Compile the document in ``folder`` into its named graph."""
    return DocumentCompiler(folder, registry, vocab).compile()
