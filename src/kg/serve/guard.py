"""What a query asks for before it runs: its SERVICE targets, from a small lexer.

Oxigraph evaluates ``SERVICE <iri>`` by sending a real HTTP request to ``iri`` (verified on
pyoxigraph 0.5.13), so every query is checked before it reaches a worker: each SERVICE keyword
and its target are found and the target must match an ``--allow-service`` prefix. A variable
target, or one we cannot resolve, is refused.

The lexer follows the SPARQL 1.1 grammar's terminals: it skips comments, string literals
(including long and escaped ones), IRIs, variables and prefixed names (``ex:a\\'b`` included),
so the keyword is found wherever the parser would see it and nowhere else. It costs a regular
expression scan, not a parse (rdflib's parser takes milliseconds per query). Oxigraph does not
decode ``\\uXXXX`` escapes outside strings and IRIs, but SPARQL 1.1 (section 19.2) says a
processor may; a query holding such escapes is also scanned with them decoded, so neither
reading can hide a SERVICE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin

_PN_CHARS_BASE = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
_PN_CHARS = _PN_CHARS_BASE + "_\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"

_TOKEN = re.compile(
    rf"""
    (?P<space>\s+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<string>'''(?:(?:'|'')?(?:[^'\\]|\\.))*'''
             | \"\"\"(?:(?:"|"")?(?:[^"\\]|\\.))*\"\"\"
             | '(?:[^'\\\r\n]|\\.)*'
             | "(?:[^"\\\r\n]|\\.)*")
  | (?P<iri><(?:[^<>"{{}}|^`\\\x00-\x20]|{_UCHAR})*>)
  | (?P<var>[?$][{_PN_CHARS}]+)
  | (?P<pname>(?:[{_PN_CHARS_BASE}_](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)?:
               (?:[{_PN_CHARS}:.]|%[0-9A-Fa-f]{{2}}|\\[_~.\-!$&'()*+,;=/?\#@%])*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(_UCHAR)
_PN_LOCAL_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


@dataclass(frozen=True)
class QueryFacts:
    """What the lexer found in a query."""

    services: tuple[str | None, ...]
    """Each SERVICE target as an absolute IRI, or None when it is a variable or unresolvable."""


def tokens(text: str) -> Iterator[Token]:
    """The query's tokens, without spaces and comments."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind not in ("space", "comment"):
            yield Token(kind, match.group())


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group()[2:], 16)), text)


def _scan(text: str, base: str | None) -> QueryFacts:
    prefixes: dict[str, str] = {}
    services: list[str | None] = []
    stream = list(tokens(text))
    for i, token in enumerate(stream):
        if token.kind != "word":
            continue
        keyword = token.text.upper()
        following = stream[i + 1 : i + 4]
        if keyword == "PREFIX" and len(following) >= 2 and following[1].kind == "iri":
            prefixes[following[0].text[:-1]] = _resolve(following[1].text, base) or ""
        elif keyword == "BASE" and following and following[0].kind == "iri":
            base = _resolve(following[0].text, base)
        elif keyword == "SERVICE":
            rest = following[1:] if following and following[0].text.upper() == "SILENT" else following
            services.append(_target(rest[0], prefixes, base) if rest else None)
    return QueryFacts(tuple(services))


def _resolve(iri_token: str, base: str | None) -> str | None:
    iri = _unescape(iri_token[1:-1])
    if re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", iri):
        return iri
    return urljoin(base, iri) if base else None


def _target(token: Token, prefixes: dict[str, str], base: str | None) -> str | None:
    if token.kind == "iri":
        return _resolve(token.text, base)
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        namespace = prefixes.get(prefix)
        return namespace + _PN_LOCAL_ESCAPE.sub(r"\1", local) if namespace else None
    return None


_NOTHING = QueryFacts(())


def _scan_if_needed(text: str, base: str | None) -> QueryFacts:
    return _scan(text, base) if "service" in text.lower() else _NOTHING


def inspect(text: str, base: str | None = None) -> QueryFacts:
    """SERVICE targets of a query, relative IRIs resolved against ``base``
    (read both with and without \\u escapes decoded)."""
    return _inspect_cached(text, base) if len(text) <= 8192 else _inspect(text, base)


def _inspect(text: str, base: str | None) -> QueryFacts:
    facts = _scan_if_needed(text, base)
    if "\\u" in text or "\\U" in text:
        decoded = _scan_if_needed(_unescape(text), base)
        services = tuple(dict.fromkeys(facts.services + decoded.services))
        facts = QueryFacts(services)
    return facts


_inspect_cached = lru_cache(maxsize=1024)(_inspect)


NESTING_LIMIT = 1000
"""Deepest nesting of (), {} and [] accepted: far beyond real queries, far below a stack overflow."""
_OPENERS = {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}


def too_deep(text: str, limit: int = NESTING_LIMIT) -> bool:
    """Whether (), {} and [] nest deeper than ``limit`` (brackets in strings, IRIs, comments not counted)."""
    if sum(text.count(c) for c in "({[") <= limit:
        return False
    depth = 0
    for token in tokens(text):
        if token.kind == "other" and token.text in _OPENERS:
            depth += _OPENERS[token.text]
            if depth > limit:
                return True
    return False


def allowed(target: str | None, prefixes: Sequence[str]) -> bool:
    """Whether SERVICE may call ``target``: it starts with an allowed prefix at a path boundary."""
    if target is None:
        return False
    for prefix in prefixes:
        if target == prefix or (
            target.startswith(prefix) and (prefix.endswith(("/", "#", "?")) or target[len(prefix)] in "/?#")
        ):
            return True
    return False


def refusal(facts: QueryFacts, prefixes: Sequence[str]) -> str | None:
    """Why the query may not run (a SERVICE outside the allow-list), or None if it may."""
    for target in facts.services:
        if not allowed(target, prefixes):
            what = f"SERVICE <{target}>" if target else "SERVICE with a variable or unresolvable target"
            allow = ", ".join(prefixes) if prefixes else "none: federated queries are disabled on this endpoint"
            return f"{what} is not allowed. Allowed SERVICE prefixes: {allow}."
    return None
