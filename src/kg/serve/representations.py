"""The representations of a linked-data resource and the choice among them by ``Accept`` (RFC 9110 §12.5.1)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One representation: its ``?format=`` key, media type, aliases accepted for it, and name."""

    key: str
    media_type: str
    name: str
    aliases: tuple[str, ...] = ()
    charset: bool = False

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8" if self.charset else self.media_type


HTML = Format("html", "text/html", "HTML", ("application/xhtml+xml",), charset=True)
TURTLE = Format("ttl", "text/turtle", "Turtle", ("application/x-turtle",), charset=True)
JSON_LD = Format("jsonld", "application/ld+json", "JSON-LD")
N_TRIPLES = Format("nt", "application/n-triples", "N-Triples")
RDF_XML = Format("rdf", "application/rdf+xml", "RDF/XML")

RDF_FORMATS = (TURTLE, JSON_LD, N_TRIPLES, RDF_XML)
FORMATS = (HTML, *RDF_FORMATS)
"""In order of preference when a client likes several equally."""
BY_KEY = {f.key: f for f in FORMATS}


@dataclass(frozen=True)
class MediaRange:
    """One element of an Accept header."""

    type: str
    subtype: str
    q: float

    def matches(self, media_type: str) -> int:
        """How specifically this range matches ``media_type``: 2 exact, 1 ``type/*``, 0 ``*/*``, -1 not."""
        kind, _, sub = media_type.partition("/")
        if self.type == kind and self.subtype == sub:
            return 2
        if self.type == kind and self.subtype == "*":
            return 1
        if self.type == "*" and self.subtype == "*":
            return 0
        return -1


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an Accept header; malformed elements and q-values are skipped."""
    ranges = []
    for element in header.split(","):
        media, *params = (part.strip() for part in element.split(";"))
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append(MediaRange(kind, sub, q))
    return ranges


def quality(ranges: list[MediaRange], fmt: Format) -> tuple[float, int]:
    """The q-value the client gives ``fmt`` (from its most specific matching range) and that specificity."""
    best: tuple[int, float] = (-1, 0.0)
    for media_type in (fmt.media_type, *fmt.aliases):
        for r in ranges:
            specificity = r.matches(media_type)
            if specificity > best[0] or (specificity == best[0] and specificity >= 0 and r.q > best[1]):
                best = (specificity, r.q)
    return (best[1], best[0]) if best[0] >= 0 else (0.0, -1)


def negotiate(accept: str | None, offers: tuple[Format, ...] = FORMATS) -> Format | None:
    """The offer the client prefers; None if it accepts none. No header (or an empty one) means anything."""
    if not accept or not accept.strip():
        return offers[0]
    ranges = parse_accept(accept)
    if not ranges:
        return offers[0]

    def rank(item: tuple[int, Format]) -> tuple[float, bool, int]:
        # Highest q; among equals, a type the client names beats one a wildcard covers; then our order.
        index, fmt = item
        q, specificity = quality(ranges, fmt)
        return (q, specificity > 0, -index)

    _, chosen = max(enumerate(offers), key=rank)
    return chosen if quality(ranges, chosen)[0] > 0 else None
