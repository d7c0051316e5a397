"""Cut a document's text into segments so that overlapping evidence spans can all be highlighted.

HTML elements must nest, evidence spans need not; so the text is cut at every span boundary and
each segment records which spans cover it and which spans start at it (where their anchors go).
Offsets are Unicode code points from 0, as in ``oa:start``/``oa:end`` and RFC 5147.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Span:
    """One evidence span: ``[start, end)`` of the text; ``anchor`` is its fragment (``char=1,9``)."""

    start: int
    end: int
    note: str = ""

    @property
    def anchor(self) -> str:
        return f"char={self.start},{self.end}"


@dataclass(frozen=True)
class Segment:
    """A run of text covered by the same spans."""

    text: str
    covering: tuple[Span, ...]
    opens: tuple[Span, ...]

    @property
    def depth(self) -> int:
        return len(self.covering)


def segments(text: str, spans: list[Span]) -> list[Segment]:
    """The text cut at every boundary of ``spans`` (spans outside the text are ignored)."""
    inside = sorted({s for s in spans if 0 <= s.start <= s.end <= len(text)}, key=lambda s: (s.start, -s.end))
    cuts = sorted({0, len(text)} | {s.start for s in inside} | {s.end for s in inside})
    pieces: list[Segment] = []
    for left, right in pairwise(cuts):
        covering = tuple(s for s in inside if s.start <= left and right <= s.end)
        opens = tuple(s for s in inside if s.start == left)
        pieces.append(Segment(text[left:right], covering, opens))
    return pieces
