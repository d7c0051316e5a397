"""Facts about the served dataset for its descriptions: graphs and sizes, vocabularies, examples.

Gathered once, on first need, by SPARQL through the worker pool (so the server process never
holds the data), and kept for the life of the process (the store is read-only).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.datastructures import State

from kg.namespaces import BASE, ID
from kg.serve.engine import PoolRunner

STATS_TIMEOUT = 300.0
STATS_ROWS = 1_000_000
EXAMPLES = 12

LISTED_GRAPHS = 1000
"""Named graphs the descriptions list one by one (the largest); totals always cover all of them."""

TOTALS = "SELECT (COUNT(*) AS ?triples) (COUNT(DISTINCT ?g) AS ?graphs) { GRAPH ?g { ?s ?p ?o } }"
DEFAULT = "SELECT (COUNT(*) AS ?triples) { ?s ?p ?o }"
GRAPHS = f"""SELECT ?g (COUNT(*) AS ?n) {{ GRAPH ?g {{ ?s ?p ?o }} }}
GROUP BY ?g ORDER BY DESC(?n) ?g LIMIT {LISTED_GRAPHS}"""
TERMS = "SELECT DISTINCT ?t { { ?s ?t ?o } UNION { ?s a ?t } }"
SAMPLES = f"""SELECT ?class (MIN(STR(?s)) AS ?example) {{
  ?s a ?class FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{ID}"))
}} GROUP BY ?class ORDER BY ?class LIMIT {EXAMPLES}"""


@dataclass(frozen=True)
class DatasetStats:
    triples: int
    """Triples in all named graphs (one stated in two graphs counts twice)."""
    default_triples: int
    """Triples in the default graph (the merge of the named graphs: each triple once)."""
    graph_count: int
    """Named graphs holding triples."""
    graphs: dict[str, int]
    """Triples per named graph, for the largest LISTED_GRAPHS graphs."""
    vocabularies: tuple[str, ...]
    """Namespaces of the predicates and classes used."""
    examples: tuple[str, ...]
    """A few of our resources, one per class."""


def namespace(iri: str) -> str:
    """An IRI's namespace: up to its last ``#`` or ``/``; the ontology for our own terms."""
    if iri.startswith(BASE):
        parts = iri[len(BASE) :].split("/")
        return BASE + parts[0] + ("/" if len(parts) > 1 else "")
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[: cut + 1] if cut > 0 else iri


async def gather(runner: PoolRunner) -> DatasetStats:
    totals, default, graphs, terms, samples = await asyncio.gather(
        *(runner.select(query) for query in (TOTALS, DEFAULT, GRAPHS, TERMS, SAMPLES))
    )
    return DatasetStats(
        triples=int(totals[0]["triples"]["value"]),
        default_triples=int(default[0]["triples"]["value"]),
        graph_count=int(totals[0]["graphs"]["value"]),
        graphs={row["g"]["value"]: int(row["n"]["value"]) for row in graphs if row["g"]["type"] == "uri"},
        vocabularies=tuple(sorted({namespace(row["t"]["value"]) for row in terms if row["t"]["type"] == "uri"})),
        examples=tuple(row["example"]["value"] for row in samples),
    )


class StatsCache:
    """The stats, gathered at most once even under concurrent requests."""

    def __init__(self, state: State) -> None:
        self.runner = PoolRunner(state, max_rows=STATS_ROWS, timeout=STATS_TIMEOUT)
        self._value: DatasetStats | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> DatasetStats:
        if self._value is None:
            async with self._lock:
                if self._value is None:
                    self._value = await gather(self.runner)
        return self._value
