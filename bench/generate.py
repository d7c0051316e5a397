"""Seeded synthetic news documents and claims that follow the alignkg ontology and pass its shapes.

    python bench/generate.py --triples 100000 --seed 1 --out /tmp/bench-100k.nq
    python bench/generate.py --format yaml --documents 20 --out /tmp/bench-data   # a data/ folder

N-Quads (default): the real dataset (``dist/alignkg.nq``: ontology, reference countries, entities,
the two real documents, derived votes) is copied first, then synthetic documents are appended, one
named graph each, until the file holds at least ``--triples`` quads. Each document is written as
soon as it is made, so memory stays flat whatever the size (10k to 10M). Every document has its
text, evidence spans at the right character offsets, a new event or two, and claims of each kind
(event, relation, stance, statement, membership); every 25th also a resolution of its own with one
vote record per UN member state and the stated tallies that match them.

YAML: a data folder ``kg build --data`` accepts (the real ``data/`` plus ``--documents`` synthetic
document folders in the authoring format; no votes, whose resolutions must be curated).

Document ``i`` depends only on the seed and ``i`` (``random.Random(f"{seed}:{i}")``).
"""

from __future__ import annotations

import argparse
import datetime
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg.namespaces import AKG, DCTERMS, GRAPH, ID, OA, ORG, PROV, RDF, RDFS, SCHEMA, VOCAB, XSD

ROOT = Path(__file__).resolve().parents[1]
VOTE_EVERY = 25
"""Every this-many-th document records a vote of its own (193 records: ~1,800 quads)."""
ATTRIBUTED = {"reported": "reportedBy", "claimed": "claimedBy", "denied": "claimedBy"}
STATUSES = ("stated", "reported", "unconfirmed", "denied", "claimed", "alleged", "possible", "announced")
VOTE_OPTIONS = ("in-favour", "against", "abstention", "absent")
ROLES = ("spokesperson", "general")
WORDS = [
    "officials",
    "said",
    "talks",
    "continued",
    "late",
    "into",
    "the",
    "night",
    "while",
    "diplomats",
    "weighed",
    "the",
    "options",
    "before",
    "them",
    "and",
    "analysts",
    "warned",
    "that",
    "markets",
    "would",
    "react",
    "to",
    "any",
    "change",
    "in",
    "the",
    "position",
    "of",
    "the",
    "government",
]


@dataclass(frozen=True)
class Pools:
    """The real things synthetic documents talk about: countries, people, organisations, concepts."""

    countries: list[tuple[str, str]]  # (alpha-3, label)
    members: list[str]  # alpha-3 of the UN member states
    persons: list[tuple[str, str]]  # (slug, label)
    organizations: list[tuple[str, str]]
    concepts: dict[str, list[str]]  # scheme slug -> concept slugs


def _rows(store: ox.Store, query: str) -> list[tuple[str, ...]]:
    return [tuple(term.value for term in row) for row in store.query(query, use_default_graph_as_union=True)]


def load_pools(base: Path) -> Pools:
    """Read the pools from the real dataset (a few thousand quads, loaded once)."""
    store = ox.Store()
    store.bulk_load(path=str(base), format=ox.RdfFormat.N_QUADS)
    prefix = f"PREFIX akg: <{AKG}> PREFIX rdfs: <{RDFS}> PREFIX org: <{ORG}> PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "

    def labelled(cls: str, under: str) -> list[tuple[str, str]]:
        rows = _rows(store, prefix + f"SELECT ?x ?l {{ ?x a akg:{cls} ; rdfs:label ?l }} ORDER BY ?x")
        return [(x.removeprefix(f"{ID}{under}/"), label) for x, label in rows if x.startswith(f"{ID}{under}/")]

    members = _rows(
        store,
        prefix + f"SELECT DISTINCT ?s {{ ?m org:organization <{ID}organization/un> ; "
        f"org:role <{VOCAB}member-state> ; org:member ?s }} ORDER BY ?s",
    )
    concepts: dict[str, list[str]] = {}
    for concept, scheme in _rows(store, prefix + "SELECT ?c ?s { ?c skos:inScheme ?s } ORDER BY ?s ?c"):
        concepts.setdefault(scheme.removeprefix(str(VOCAB)), []).append(concept.removeprefix(str(VOCAB)))
    return Pools(
        countries=labelled("Country", "country"),
        members=[m.removeprefix(f"{ID}country/") for (m,) in members],
        persons=labelled("Person", "person"),
        organizations=labelled("Organization", "organization"),
        concepts=concepts,
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")


def iri(value: str) -> str:
    return f"<{value}>"


def lit(text: str, datatype: str | None = None, lang: str | None = None) -> str:
    if lang:
        return f'"{_escape(text)}"@{lang}'
    return f'"{_escape(text)}"^^<{datatype}>' if datatype else f'"{_escape(text)}"'


class Document:
    """One synthetic document: its text grows sentence by sentence; quads go into its graph."""

    def __init__(self, doc_id: str) -> None:
        self.id = doc_id
        self.iri = iri(f"{ID}document/{doc_id}")
        self.graph = iri(f"{GRAPH}document/{doc_id}")
        self.text = ""
        self.quads: list[str] = []

    def add(self, s: str, p: str, o: str) -> None:
        self.quads.append(f"{s} {iri(p)} {o} {self.graph} .\n")

    def sentence(self, words: str) -> str:
        """Append a sentence to the text; return its evidence node (made here, at its offsets)."""
        if self.text:
            self.text += " "
        start = len(self.text)
        self.text += words
        end = len(self.text)
        node = iri(f"{ID}document/{self.id}#char={start},{end}")
        for cls in (f"{AKG}Evidence", f"{OA}TextQuoteSelector", f"{OA}TextPositionSelector"):
            self.add(node, str(RDF.type), iri(cls))
        self.add(node, f"{OA}exact", lit(words))
        self.add(node, f"{OA}start", lit(str(start), f"{XSD}nonNegativeInteger"))
        self.add(node, f"{OA}end", lit(str(end), f"{XSD}nonNegativeInteger"))
        self.add(node, str(PROV.wasQuotedFrom), self.iri)
        return node

    def claim(
        self, node: str, classes: tuple[str, ...], evidence: str, status: str, rng: random.Random, pools: Pools
    ) -> None:
        """The triples every claim has (types, document, evidence, status, who reported or claims it)."""
        for cls in (f"{AKG}Claim", *classes):
            self.add(node, str(RDF.type), iri(cls))
        self.add(node, f"{AKG}statedIn", self.iri)
        self.add(node, str(PROV.wasDerivedFrom), self.iri)
        self.add(node, f"{AKG}evidence", evidence)
        self.add(node, f"{AKG}epistemicStatus", iri(f"{VOCAB}{status}"))
        if status in ATTRIBUTED:
            who = rng.choice(pools.organizations)[0]
            self.add(node, f"{AKG}{ATTRIBUTED[status]}", iri(f"{ID}organization/{who}"))


def _filler(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _date(rng: random.Random) -> str:
    return f"2022-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def make_document(index: int, seed: int, pools: Pools) -> Document:
    """Synthetic document ``index``: text, evidence and claims of every kind, in its own graph."""
    rng = random.Random(f"{seed}:{index}")
    doc = Document(f"syn-{index:07d}")
    c = pools.concepts
    country = lambda: rng.choice(pools.countries)  # noqa: E731
    issued = _date(rng)
    title = f"Report {index}: {country()[1]} and {country()[1]} weigh their options"
    title_node = doc.sentence(title)
    publisher = rng.choice(pools.organizations)[0]
    mentioned: set[str] = {f"{ID}organization/{publisher}"}

    events = []
    for k in range(rng.randint(1, 2)):
        agent, target = rng.sample(pools.countries, 2)
        event = iri(f"{ID}event/syn-{index:07d}-{k}")
        label = f"{agent[1]} action towards {target[1]} number {k} in report {index}"
        for cls in (f"{SCHEMA}Event", f"{AKG}Event"):
            doc.add(event, str(RDF.type), iri(cls))
        doc.add(event, str(RDFS.label), lit(label, lang="en"))
        doc.add(event, f"{AKG}eventType", iri(f"{VOCAB}{rng.choice(c['event-type'])}"))
        doc.add(event, f"{AKG}agent", iri(f"{ID}country/{agent[0]}"))
        doc.add(event, f"{AKG}target", iri(f"{ID}country/{target[0]}"))
        evidence = doc.sentence(f"{agent[1]} acted towards {target[1]} on {issued}, {_filler(rng, 6)}.")
        claim = iri(f"{ID}claim/{doc.id}/event-{k}")
        doc.claim(claim, (f"{AKG}EventClaim",), evidence, rng.choice(STATUSES), rng, pools)
        doc.add(claim, f"{AKG}aboutEvent", event)
        doc.add(claim, f"{AKG}date", lit(issued, f"{XSD}date"))
        events.append(event)
        mentioned.update((f"{ID}country/{agent[0]}", f"{ID}country/{target[0]}"))

    for k in range(rng.randint(2, 4)):
        (a, a_label), (b, b_label) = rng.sample(pools.countries, 2)
        kind = rng.choice(c["relation-type"])
        evidence = doc.sentence(
            f"{a_label} and {b_label} are described as {kind.replace('-', ' ')}, {_filler(rng, 5)}."
        )
        claim = iri(f"{ID}claim/{doc.id}/relation-{k}")
        doc.claim(claim, (f"{AKG}RelationClaim",), evidence, rng.choice(STATUSES), rng, pools)
        doc.add(claim, f"{AKG}subjectActor", iri(f"{ID}country/{a}"))
        doc.add(claim, f"{AKG}objectActor", iri(f"{ID}country/{b}"))
        doc.add(claim, f"{AKG}relationType", iri(f"{VOCAB}{kind}"))
        mentioned.update((f"{ID}country/{a}", f"{ID}country/{b}"))

    for k in range(rng.randint(1, 3)):
        code, label = country()
        stance = rng.choice(c["stance"])
        evidence = doc.sentence(f"{label} {stance.replace('-', ' ')} the action, {_filler(rng, 4)}.")
        claim = iri(f"{ID}claim/{doc.id}/stance-{k}")
        doc.claim(claim, (f"{AKG}StanceClaim",), evidence, rng.choice(STATUSES), rng, pools)
        doc.add(claim, f"{AKG}subjectActor", iri(f"{ID}country/{code}"))
        doc.add(claim, f"{AKG}stance", iri(f"{VOCAB}{stance}"))
        doc.add(claim, f"{AKG}aboutEvent", rng.choice(events))
        mentioned.add(f"{ID}country/{code}")

    slug, name = rng.choice(pools.persons)
    quote = _filler(rng, 5)
    evidence = doc.sentence(f"{name} said: {quote}.")
    claim = iri(f"{ID}claim/{doc.id}/statement-0")
    doc.claim(claim, (f"{AKG}Statement", f"{SCHEMA}Quotation"), evidence, "stated", rng, pools)
    doc.add(claim, f"{AKG}speaker", iri(f"{ID}person/{slug}"))
    doc.add(claim, f"{AKG}quote", lit(quote))
    doc.add(claim, f"{AKG}latest", lit(issued, f"{XSD}date"))
    doc.add(claim, f"{AKG}aboutEvent", events[0])
    mentioned.add(f"{ID}person/{slug}")

    org, org_name = rng.choice(pools.organizations)
    role = rng.choice(ROLES)
    evidence = doc.sentence(f"{name} serves {org_name} as {role}.")
    claim = iri(f"{ID}claim/{doc.id}/membership-0")
    doc.claim(claim, (f"{AKG}Membership", f"{ORG}Membership"), evidence, "stated", rng, pools)
    doc.add(claim, f"{ORG}member", iri(f"{ID}person/{slug}"))
    doc.add(claim, f"{ORG}organization", iri(f"{ID}organization/{org}"))
    doc.add(claim, f"{ORG}role", iri(f"{VOCAB}{role}"))
    mentioned.add(f"{ID}organization/{org}")

    if index % VOTE_EVERY == 0:
        _votes(doc, rng, pools)

    d = doc.iri
    for cls in (f"{AKG}Document", f"{SCHEMA}NewsArticle"):
        doc.add(d, str(RDF.type), iri(cls))
    doc.add(d, str(DCTERMS.identifier), lit(doc.id))
    doc.add(d, str(DCTERMS.title), lit(title, lang="en"))
    doc.add(d, str(RDFS.label), lit(title, lang="en"))
    doc.add(d, str(DCTERMS.language), lit("en", f"{XSD}language"))
    doc.add(d, str(DCTERMS.issued), lit(issued, f"{XSD}date"))
    doc.add(d, str(DCTERMS.publisher), iri(f"{ID}organization/{publisher}"))
    doc.add(d, f"{AKG}date", lit(issued, f"{XSD}date"))
    doc.add(d, f"{AKG}sourceFile", lit(f"{doc.id}.txt"))
    doc.add(d, f"{AKG}namedGraph", doc.graph)
    doc.add(d, f"{AKG}evidence", title_node)
    doc.add(d, f"{SCHEMA}text", lit(doc.text))
    for actor in sorted(mentioned):
        doc.add(d, f"{SCHEMA}mentions", iri(actor))
    doc.add(doc.graph, str(RDFS.label), lit(f"What document {doc.id} asserts", lang="en"))
    doc.add(doc.graph, str(PROV.wasDerivedFrom), d)
    return doc


def _votes(doc: Document, rng: random.Random, pools: Pools) -> None:
    """A resolution of this document's own, a vote record per UN member state, and the tallies."""
    slug = f"syn-{doc.id.removeprefix('syn-')}"
    resolution = iri(f"{ID}resolution/{slug}")
    for cls in (f"{AKG}Resolution", f"{SCHEMA}Legislation"):
        doc.add(resolution, str(RDF.type), iri(cls))
    doc.add(resolution, str(DCTERMS.identifier), lit(f"SYN/{doc.id}"))
    doc.add(resolution, str(RDFS.label), lit(f"Synthetic resolution {doc.id}", lang="en"))
    votes = {state: rng.choice(VOTE_OPTIONS) for state in pools.members}
    evidence = doc.sentence(f"The assembly voted on resolution SYN/{doc.id}, {_filler(rng, 4)}.")
    for state, option in votes.items():
        record = iri(f"{ID}vote/{slug}/{state}")
        doc.claim(record, (f"{AKG}VoteRecord",), evidence, "stated", rng, pools)
        doc.add(record, f"{AKG}resolution", resolution)
        doc.add(record, f"{AKG}voter", iri(f"{ID}country/{state}"))
        doc.add(record, f"{AKG}voteOption", iri(f"{VOCAB}{option}"))
    for option in VOTE_OPTIONS:
        count = sum(v == option for v in votes.values())
        evidence = doc.sentence(f"{count} states voted {option.replace('-', ' ')}.")
        tally = iri(f"{ID}claim/{doc.id}/tally-{option}")
        doc.claim(tally, (f"{AKG}VoteTally",), evidence, "stated", rng, pools)
        doc.add(tally, f"{AKG}resolution", resolution)
        doc.add(tally, f"{AKG}voteOption", iri(f"{VOCAB}{option}"))
        doc.add(tally, f"{AKG}count", lit(str(count), f"{XSD}integer"))


def documents(seed: int, pools: Pools) -> Iterator[Document]:
    index = 0
    while True:
        yield make_document(index, seed, pools)
        index += 1


def write_nquads(out: Path, triples: int, seed: int, base: Path) -> tuple[int, int]:
    """Stream the base dataset then synthetic documents to ``out``; returns (quads, documents)."""
    pools = load_pools(base)
    written = count = 0
    with out.open("w", encoding="utf-8", newline="\n") as sink:
        with base.open(encoding="utf-8") as source:
            for line in source:
                if line.strip():
                    sink.write(line)
                    written += 1
        for doc in documents(seed, pools):
            if written >= triples:
                break
            sink.writelines(doc.quads)
            written += len(doc.quads)
            count += 1
    return written, count


def write_yaml(out: Path, count: int, seed: int, base: Path, data: Path) -> None:
    """A data folder for ``kg build --data``: the real ``data`` plus ``count`` synthetic documents."""
    import yaml

    pools = load_pools(base)
    if out.exists():
        raise SystemExit(f"{out} exists: give a new folder")
    shutil.copytree(data, out)
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        doc_id = f"syn-{index:07d}"
        (a, a_label), (b, b_label) = rng.sample(pools.countries, 2)
        person, name = rng.choice(pools.persons)
        date = _date(rng)
        day = datetime.date.fromisoformat(date)  # a YAML date, unquoted, as authors write it
        title = f"Report {index}: {a_label} and {b_label} weigh their options"
        sentences = {
            "event": f"{a_label} acted towards {b_label} on {date}, {_filler(rng, 6)}.",
            "relation": f"{a_label} and {b_label} are described as partners, {_filler(rng, 5)}.",
            "stance": f"{b_label} condemns the action, {_filler(rng, 4)}.",
            "statement": f'{name} said: "{_filler(rng, 5)}".',
        }
        quote = sentences["statement"].split('"')[1]
        event = f"syn-{index:07d}-0"
        entry = {
            "document": {
                "id": doc_id,
                "source_file": f"{doc_id}.txt",
                "title": title,
                "language": "en",
                "date": day,
                "evidence": [title],
            },
            "events": [
                {
                    "event": event,
                    "label": f"{a_label} action towards {b_label} in report {index}",
                    "type": rng.choice(pools.concepts["event-type"]),
                    "agents": [a],
                    "targets": [b],
                    "date": day,
                    "evidence": sentences["event"],
                }
            ],
            "relations": [{"subject": a, "object": b, "type": "partner", "evidence": sentences["relation"]}],
            "stances": [{"subject": b, "event": event, "stance": "condemns", "evidence": sentences["stance"]}],
            "statements": [
                {"speaker": person, "quote": quote, "about": event, "latest": day, "evidence": sentences["statement"]}
            ],
        }
        folder = out / "documents" / doc_id
        folder.mkdir(parents=True)
        (folder / "text.txt").write_text(" ".join([title, *sentences.values()]) + "\n", "utf-8")
        (folder / "document.yaml").write_text(yaml.safe_dump(entry, sort_keys=False, allow_unicode=True), "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="N-Quads file, or (yaml) a new data folder")
    parser.add_argument("--format", choices=("nq", "yaml"), default="nq")
    parser.add_argument("--triples", type=int, default=10_000, help="nq: at least this many quads in all")
    parser.add_argument("--documents", type=int, default=10, help="yaml: how many synthetic documents")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base", type=Path, default=ROOT / "dist" / "alignkg.nq", help="the real dataset")
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="yaml: the real data folder")
    args = parser.parse_args(argv)
    if not args.base.is_file():
        parser.error(f"{args.base} is missing: run `kg build` first")
    if args.format == "yaml":
        write_yaml(args.out, args.documents, args.seed, args.base, args.data)
        print(f"wrote {args.documents} documents and the real data to {args.out}", file=sys.stderr)
        return 0
    quads, count = write_nquads(args.out, args.triples, args.seed, args.base)
    print(f"wrote {quads} quads ({count} synthetic documents) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
