"""``kg add``: register a new document under data/documents/ with a starting encoding.

The text is copied byte for byte as ``text.txt`` into the next free three-digit folder; its
``document.yaml`` holds the metadata given on the command line (nothing invented: no date unless
given) and the mentions of known actors found in the text, one reviewable entry per line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from kg.config import settings
from kg.encode.dates import date_literal
from kg.encode.document import DOCUMENT_FILE, TEXT_FILE
from kg.encode.registry import Registry
from kg.mentions import Gazetteer, Mention, actor_graph

HEADER = """\
# Document {id}, registered by `kg add` from {source}. The authoring format is described in
# data/README.md: add the document's claims (events, relations, stances, statements,
# memberships, counts, votes), each with a verbatim evidence quote of text.txt, then `kg build`.
"""
MENTIONS_NOTE = """
# Mentions of known actors found by `kg add` (start/end: character offsets into text.txt).
# Review them: delete a wrong entry. An entry with 'candidates' is an ambiguous name: the build
# checks it but links nothing until 'candidates' is replaced by 'actor: <one of them>'.
"""


class AddError(Exception):
    """Why a document cannot be added."""


@dataclass(frozen=True)
class Added:
    """A registered document: its folder and the mentions written for it."""

    folder: Path
    mentions: list[Mention]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def next_id(documents: Path) -> str:
    """The next three-digit document id after the highest one in use."""
    used = [int(p.name) for p in documents.iterdir() if p.is_dir() and p.name.isdigit()] if documents.exists() else []
    return f"{max(used, default=-1) + 1:03d}"


def registered_as(documents: Path, digest: str) -> str | None:
    """The id of a document whose text has this SHA-256, if any."""
    for text in sorted(documents.glob(f"*/{TEXT_FILE}")):
        if sha256(text.read_bytes()) == digest:
            return text.parent.name
    return None


def _flow(mapping: dict, flow: bool = True) -> str:
    """A mapping as one line of YAML (``{a: 1, b: 2}``, or ``a: 1`` with ``flow=False``), keys in order."""
    line = yaml.safe_dump(mapping, default_flow_style=flow, sort_keys=False, allow_unicode=True, width=10**6).strip()
    if "\n" in line:  # a value with a line break: JSON (which is YAML) escapes it on one line
        line = json.dumps(mapping, ensure_ascii=False)
        return line if flow else line[1:-1]
    return line


def _mention_entry(mention: Mention) -> str:
    where = {"text": mention.text, "start": mention.start, "end": mention.end}
    if mention.ambiguous:
        return _flow({**where, "candidates": list(mention.candidates)}) + "  # ambiguous"
    return _flow({"actor": mention.candidates[0], **where})


def document_yaml(meta: dict, source: str, mentions: list[Mention]) -> str:
    """The text of a new document.yaml: header, ``document:`` section and ``mentions:``."""
    lines = [HEADER.format(id=meta["id"], source=source), "document:"]
    for key, value in meta.items():
        # A date stays unquoted so that YAML reads it as a date, as hand-written files do.
        lines.append(f"  {key}: {value}" if key == "date" else "  " + _flow({key: value}, flow=False))
    lines.append(MENTIONS_NOTE.rstrip("\n"))
    lines.append("mentions:" if mentions else "mentions: []")
    lines += [f"  - {_mention_entry(m)}" for m in mentions]
    return "\n".join(lines) + "\n"


def _metadata(doc_id: str, path: Path, text: str, raw: bytes, args: argparse.Namespace, registry: Registry) -> dict:
    meta: dict = {"id": doc_id, "source_file": path.name, "sha256": sha256(raw), "title": args.title}
    if args.title not in text:
        meta["title_note"] = "The title was given to `kg add`; it does not occur in the text."
    meta["language"] = args.language
    if args.publisher is not None:
        if registry.actor(args.publisher) is None:
            raise AddError(
                f"unknown publisher {args.publisher!r}: use an id from data/entities.yaml or an alpha-3 code"
            )
        meta["publisher"] = args.publisher
    if args.date is not None:
        if date_literal(yaml.safe_load(args.date)) is None:
            raise AddError(f"wrong date format {args.date!r} (expected YYYY-MM-DD, YYYY-MM or YYYY)")
        meta["date"] = args.date
    if args.url is not None:
        meta["url"] = args.url
    return meta


def add_document(path: Path, data_dir: Path, ontology_dir: Path, args: argparse.Namespace) -> Added:
    """Register the text at ``path`` as a new document under ``data_dir``; raise AddError if refused."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise AddError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise AddError(f"{path} is not UTF-8 ({exc}); convert it first, the text is kept byte for byte") from exc
    if not text.strip():
        raise AddError(f"{path} is empty")
    documents = data_dir / "documents"
    existing = registered_as(documents, sha256(raw))
    if existing is not None:
        raise AddError(f"{path} is already registered as document {existing} (same SHA-256); nothing written")
    graph, registry = actor_graph(data_dir, ontology_dir)
    doc_id = next_id(documents)
    meta = _metadata(doc_id, path, text, raw, args, registry)
    mentions = Gazetteer.from_graph(graph).find(text)
    folder = documents / doc_id
    try:
        folder.mkdir(parents=True)
    except FileExistsError as exc:
        raise AddError(f"{folder} already exists; refusing to overwrite it") from exc
    try:
        (folder / TEXT_FILE).write_bytes(raw)
        with (folder / DOCUMENT_FILE).open("x", encoding="utf-8") as out:
            out.write(document_yaml(meta, path.name, mentions))
    except BaseException:
        shutil.rmtree(folder)
        raise
    return Added(folder, mentions)


def run(args: argparse.Namespace) -> int:
    """The ``kg add`` command: exit 0 with the document registered, or 1 with nothing written."""
    conf = settings()
    try:
        added = add_document(args.path, args.data or conf.data_dir, args.ontology or conf.ontology_dir, args)
    except AddError as exc:
        print(f"kg add: {exc}", file=sys.stderr)
        return 1
    ambiguous = [m for m in added.mentions if m.ambiguous]
    print(
        f"kg add: {added.folder} ({len(added.mentions) - len(ambiguous)} mentions linked, "
        f"{len(ambiguous)} ambiguous to resolve in {DOCUMENT_FILE})"
    )
    for mention in ambiguous:
        print(f"  {mention.text!r} at {mention.start}: one of {', '.join(mention.candidates)}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kg add``."""
    parser.add_argument("path", type=Path, help="the article's text (UTF-8), copied byte for byte")
    parser.add_argument("--title", required=True, help="the document's title (quote it as in the text)")
    parser.add_argument("--date", default=None, help="publication date as stated: YYYY-MM-DD, YYYY-MM or YYYY")
    parser.add_argument("--publisher", default=None, help="publisher: an id from data/entities.yaml")
    parser.add_argument("--url", default=None, help="where the article was published")
    parser.add_argument("--language", default="en", help="language tag of the text (default: en)")
    parser.add_argument("--data", type=Path, default=None, help="sources folder (default: data/)")
    parser.add_argument("--ontology", type=Path, default=None, help="ontology folder (default: ontology/)")
