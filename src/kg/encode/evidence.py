"""Evidence spans: verbatim quotes located in a document's text by character offsets."""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, XSD

from kg.encode.yaml_source import Located
from kg.namespaces import AKG, OA


@dataclass(frozen=True)
class Span:
    """A quote found in the text: ``text[start:end] == exact`` (offsets in code points)."""

    start: int
    end: int
    exact: str


class DocumentText:
    """A document's text, and the IRIs of evidence spans within it (RFC 5147 fragments)."""

    def __init__(self, text: str, document: URIRef):
        self.text = text
        self.document = document

    def find(self, quote: str, occurrence: int = 1) -> Span | None:
        """The ``occurrence``-th verbatim match of ``quote`` (1-based), or None."""
        start = -1
        for _ in range(occurrence):
            start = self.text.find(quote, start + 1)
            if start < 0:
                return None
        return Span(start, start + len(quote), quote)

    def locate(self, spec: object, where: Located, key: str) -> Span:
        """Resolve an evidence spec (a string, or {text, occurrence}) or raise a located error."""
        occurrence = 1
        if isinstance(spec, Located):
            quote, occurrence = spec.get("text"), spec.get("occurrence", 1)
        else:
            quote = spec
        if not isinstance(quote, str) or not quote:
            raise where.error("evidence must be a non-empty quote (or {text: ..., occurrence: N})", key)
        if not isinstance(occurrence, int) or occurrence < 1:
            raise where.error("evidence 'occurrence' must be a whole number from 1", key)
        span = self.find(quote, occurrence)
        if span is None:
            hint = _near_miss(self.text, quote)
            raise where.error(f"quote not in the document's text: {quote!r}{hint}", key)
        return span

    def evidence_iri(self, span: Span) -> URIRef:
        return URIRef(f"{self.document}#char={span.start},{span.end}")

    def add_evidence(self, g: Graph, span: Span) -> URIRef:
        """Describe the span in ``g`` and return its IRI."""
        node = self.evidence_iri(span)
        g.add((node, RDF.type, AKG.Evidence))
        g.add((node, RDF.type, OA.TextQuoteSelector))
        g.add((node, RDF.type, OA.TextPositionSelector))
        g.add((node, OA.exact, Literal(span.exact)))
        g.add((node, OA.start, Literal(span.start, datatype=XSD.nonNegativeInteger)))
        g.add((node, OA.end, Literal(span.end, datatype=XSD.nonNegativeInteger)))
        g.add((node, PROV.wasQuotedFrom, self.document))
        return node


def _near_miss(text: str, quote: str) -> str:
    """A hint when the quote differs only in its quotation marks or apostrophes."""
    table = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
    if quote.translate(table) in text.translate(table):
        return " (it matches if quotation marks/apostrophes are ignored: copy them from the text exactly)"
    return ""
