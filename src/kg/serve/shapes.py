"""The SHACL shapes at their IRIs: ``/shapes`` (the shapes document) and ``/shapes/<name>`` (one shape).

The shapes are not in the served dataset (``kg build`` writes them beside it, as dist/shapes.ttl),
so they are answered from a small in-memory Oxigraph store holding them in ``graph/shapes``, with a
copy of the served ontology graph (the labels of the classes and properties the shapes name, and
the JSON-LD context). :class:`ShapesRunner` is a :class:`~kg.serve.neighbourhood.QueryRunner` like
the worker pool, so the linked-data router serves shape IRIs as it serves ontology terms: HTML,
Turtle, JSON-LD compacted with our context, N-Triples, RDF/XML. Its queries run on a thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from fastapi import FastAPI

from kg.config import DATASET_NQ, DATASET_TRIG, SHAPES_TTL
from kg.namespaces import GRAPH, PREFIXES
from kg.serve.engine import PoolRunner
from kg.serve.errors import HttpError
from kg.serve.formats import GRAPH_FORMATS, NTRIPLES, RDF_FORMAT
from kg.serve.jsonld import ONTOLOGY_QUERY, Compactor, compactor_from_ntriples, serialize_graph
from kg.serve.neighbourhood import QueryRunner

SHAPES_GRAPH = str(GRAPH["shapes"])


def shapes_file(data: Sequence[Path]) -> Path | None:
    """The shapes of the served data: shapes.ttl in a dist folder, or beside its alignkg.nq / alignkg.trig."""
    for path in data:
        folder = path if path.is_dir() else path.parent if path.name in (DATASET_NQ, DATASET_TRIG) else None
        if folder is not None and (folder / SHAPES_TTL).is_file():
            return folder / SHAPES_TTL
    return None


class ShapesRunner:
    """``select`` and ``construct`` on the shapes (and a copy of the ontology), made on first use."""

    def __init__(self, path: Path, main: QueryRunner, endpoint_url: str, max_rows: int = 100_000) -> None:
        self.path = path
        self.main = main
        self.endpoint_url = endpoint_url
        self.max_rows = max_rows
        self._store: ox.Store | None = None
        self._compactor: Compactor | None = None
        self._lock = asyncio.Lock()

    async def store(self) -> ox.Store:
        async with self._lock:
            if self._store is None:
                ontology = await self.main.construct(ONTOLOGY_QUERY, NTRIPLES.media_type)
                self._store = await asyncio.to_thread(self._load, ontology)
        return self._store

    def _load(self, ontology: bytes) -> ox.Store:
        store = ox.Store()
        store.load(path=str(self.path), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(SHAPES_GRAPH))
        store.load(ontology, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(str(GRAPH["ontology"])))
        self._compactor = compactor_from_ntriples(self.endpoint_url, ontology)
        return store

    async def select(self, query: str) -> list[dict[str, Any]]:
        """The solutions of a SELECT as SPARQL JSON bindings."""
        store = await self.store()

        def run() -> list[dict[str, Any]]:
            result = store.query(query, use_default_graph_as_union=True)
            return json.loads(result.serialize(format=ox.QueryResultsFormat.JSON))["results"]["bindings"]

        rows = await asyncio.to_thread(run)
        if len(rows) > self.max_rows:
            raise HttpError(503, f"The answer is larger than {self.max_rows} rows; it is not shown cut short.")
        return rows

    async def construct(self, query: str, media_type: str) -> bytes:
        """The graph of a CONSTRUCT or DESCRIBE serialised in ``media_type``."""
        fmt = next((f for f in GRAPH_FORMATS if media_type in (f.media_type, *f.aliases)), None)
        if fmt is None:
            raise ValueError(f"{media_type} is not an RDF format we serialise")
        store = await self.store()

        def run() -> bytes:
            triples = list(islice(store.query(query, use_default_graph_as_union=True), self.max_rows + 1))
            if len(triples) > self.max_rows:
                raise HttpError(503, f"The answer is larger than {self.max_rows} triples; it is not shown cut short.")
            return serialize_graph(triples, RDF_FORMAT[fmt.key], PREFIXES, self.compactor)

        return await asyncio.to_thread(run)

    def compactor(self) -> Compactor:
        assert self._compactor is not None, "store() first"
        return self._compactor


def runner_for(app: FastAPI) -> ShapesRunner | None:
    """The shapes runner of the application's data, or None when the data has no shapes file beside it."""
    settings = app.state.settings
    path = shapes_file(settings.data)
    return ShapesRunner(path, PoolRunner(app.state), settings.endpoint_url) if path else None
