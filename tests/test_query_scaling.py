"""Every saved query's plan scales: ten times the data costs it far less than a hundred times the time.

The benchmark's generator (``bench/generate.py``, seeded) writes the real dataset plus synthetic
documents at two sizes, 10k and 100k quads; each saved query (but the federated one) runs on
both in an in-memory Oxigraph store, with the union of the named graphs as default graph, the
way ``kg serve`` evaluates it. Times are CPU seconds of this process (the best of a few runs),
so other work on a shared machine does not count. A query passes when at 100k it takes under
:data:`LIMIT_SECONDS` and at most :data:`MAX_GROWTH` times its 10k time: linear growth is 10x
(the synthetic data also makes some answers grow faster than the data), a plan that matches
every row against every other (FILTER EXISTS per row, a cartesian product) 100x. Times under
:data:`FLOOR_SECONDS` at 10k count as that floor, as timer noise dominates them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.build import run_build
from kg.config import DATASET_NQ
from kg.queries import SavedQuery, load_queries

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

SMALL, LARGE = 10_000, 100_000
SEED = 1
RUNS = 3
LIMIT_SECONDS = 2.0
MAX_GROWTH = 40.0
FLOOR_SECONDS = 0.005
QUERIES = [q for q in load_queries() if not q.services]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[int, ox.Store]:
    """In-memory stores holding the generated data at both sizes, by size."""
    folder = tmp_path_factory.mktemp("scaling")
    assert run_build(folder / "dist", quiet=True) == 0, "kg build failed"
    loaded = {}
    for size in (SMALL, LARGE):
        path = folder / f"{size}.nq"
        quads, _ = generate.write_nquads(path, size, SEED, folder / "dist" / DATASET_NQ)
        assert quads >= size
        loaded[size] = ox.Store()
        loaded[size].bulk_load(path=str(path), format=ox.RdfFormat.N_QUADS)
    return loaded


def cpu_seconds(store: ox.Store, saved: SavedQuery) -> tuple[float, int]:
    """The best CPU time of up to :data:`RUNS` full evaluations (one if over the limit), and the answer's size."""
    best, size = float("inf"), 0
    for _ in range(RUNS):
        start = time.process_time()
        result = store.query(saved.query, use_default_graph_as_union=True)
        size = 1 if isinstance(result, ox.QueryBoolean) else sum(1 for _ in result)
        best = min(best, time.process_time() - start)
        if best > LIMIT_SECONDS:
            break
    return best, size


def test_every_local_saved_query_is_measured() -> None:
    assert len(QUERIES) >= 10
    assert "sources-compared" in {q.name for q in QUERIES}


@pytest.mark.parametrize("saved", QUERIES, ids=lambda q: q.name)
def test_query_time_grows_far_less_than_quadratically(saved: SavedQuery, stores: dict[int, ox.Store]) -> None:
    small, small_rows = cpu_seconds(stores[SMALL], saved)
    large, large_rows = cpu_seconds(stores[LARGE], saved)
    assert small_rows and large_rows, f"{saved.name} finds nothing in the generated data: nothing is measured"
    report = f"{saved.name}: {small:.3f} s at {SMALL:,} quads, {large:.3f} s at {LARGE:,}"
    assert large < LIMIT_SECONDS, report
    assert large / max(small, FLOOR_SECONDS) < MAX_GROWTH, report
