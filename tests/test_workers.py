"""The worker pool (kg.serve.workers) with real worker processes on a small store: a query stopped at
its time limit, or one over the memory cap, takes only itself down; the queries that ran beside it
in the shared worker are run again on their own and answered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from kg import store as kg_store
from kg.namespaces import PREFIXES
from kg.serve.errors import HttpError
from kg.serve.ipc import Job, Reply
from kg.serve.workers import Closed, SlotQueue, WorkerConfig, WorkerPool

MINI = Path(__file__).parent / "fixtures" / "mini.trig"
MEMORY_LIMIT_MB = 300
# Three-way cross join (67^3 rows), hashing every row: CPU only, about a second.
MEDIUM = """SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i
  FILTER(SHA256(CONCAT(STR(?a), STR(?d), STR(?g))) != "") }"""
MEDIUM_ROWS = 67**3
# Five-way cross join with a filter that needs every variable: runs for minutes.
SLOW = """SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o
  FILTER(STR(?a) = CONCAT(STR(?d), STR(?g), STR(?j), STR(?m))) } ORDER BY ?c"""
# Four-way cross join sorted: materialises 67^4 rows of 12 terms, far over the memory cap.
GREEDY = "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?c ?f ?i ?l"
T = TypeVar("T")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "store"
    kg_store.load(folder, [MINI])
    return folder


def with_pool(store: Path, scenario: Callable[[WorkerPool], Awaitable[T]], slots: int = 3, isolated: int = 1) -> T:
    """Run ``scenario`` on a started pool (closed after)."""

    async def main() -> T:
        config = WorkerConfig(store, "http://127.0.0.1/sparql", (), dict(PREFIXES), MEMORY_LIMIT_MB)
        pool = WorkerPool(config, slots, isolated, max_concurrent=16, timeout=20.0)
        await pool.start()
        try:
            return await scenario(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def job(query: str) -> Job:
    return Job(query, "json", "json", "ntriples")


def count(reply: Reply) -> int:
    return int(json.loads(reply.body)["results"]["bindings"][0]["n"]["value"])


async def timed(pool: WorkerPool, query: str, limit: float | None = None) -> tuple[Any, float]:
    """The reply (or the HttpError) and the seconds it took."""
    started = time.perf_counter()
    try:
        outcome: Any = await pool.execute(job(query), limit)
    except HttpError as error:
        outcome = error
    return outcome, time.perf_counter() - started


def test_a_query_beside_one_stopped_at_its_time_limit_is_run_again_and_answered(store: Path) -> None:
    async def scenario(pool: WorkerPool) -> None:
        alone, took = await timed(pool, MEDIUM)
        assert count(alone) == MEDIUM_ROWS
        limit = max(1.0, took)
        shared = pool.shared
        slow = asyncio.create_task(timed(pool, SLOW, limit))
        await asyncio.sleep(limit - took / 2)  # the medium query is half done when the slow one is stopped
        medium, medium_took = await timed(pool, MEDIUM)
        (stopped, _) = await slow
        assert isinstance(stopped, HttpError) and stopped.status == 504, stopped
        assert count(medium) == MEDIUM_ROWS
        assert medium_took > 1.25 * took  # its first run was cut off: it ran again, from the start
        assert shared is not None and shared.ended and shared.killed

    with_pool(store, scenario)


def test_a_query_over_the_memory_cap_is_refused_and_the_queries_beside_it_answered(store: Path) -> None:
    async def scenario(pool: WorkerPool) -> None:
        shared = pool.shared
        outcomes = await asyncio.gather(timed(pool, MEDIUM), timed(pool, GREEDY), timed(pool, MEDIUM))
        (first, _), (greedy, _), (second, _) = outcomes
        assert isinstance(greedy, HttpError) and greedy.status == 503, greedy
        assert greedy.extra["memory_limit_mb"] == MEMORY_LIMIT_MB
        assert count(first) == count(second) == MEDIUM_ROWS
        assert shared is not None and shared.ended and not shared.killed  # it ended over its cap, by itself

    with_pool(store, scenario)


def test_queries_run_on_isolated_workers_while_the_shared_one_restarts(store: Path) -> None:
    async def scenario(pool: WorkerPool) -> None:
        assert pool.shared is not None
        pool.shared.kill()
        for _ in range(3):
            await asyncio.sleep(0)  # the loop sees the sockets close
        assert pool.shared is None
        reply, took = await timed(pool, "ASK { ?s ?p ?o }")
        assert json.loads(reply.body)["boolean"] is True
        assert took < 0.5
        for _ in range(100):  # and a new shared worker comes up
            if pool.shared is not None:
                break
            await asyncio.sleep(0.1)
        assert pool.shared is not None and not pool.shared.ended

    with_pool(store, scenario)


# The queue of free slots.


def slot(worker: object) -> Any:
    return SimpleNamespace(worker=worker)


def test_free_slots_go_latest_first_and_waiting_queries_first_come_first_served() -> None:
    async def main() -> None:
        free = SlotQueue()
        a, b = slot("w"), slot("w")
        free.put(a)
        free.put(b)
        assert [await free.get(), await free.get()] == [b, a]
        first, second = asyncio.create_task(free.get()), asyncio.create_task(free.get())
        await asyncio.sleep(0)
        free.put(a)
        free.put(b)
        assert [await first, await second] == [a, b]

    asyncio.run(main())


def test_waiting_queries_hear_when_their_worker_ends_and_its_slots_are_dropped() -> None:
    async def main() -> None:
        free = SlotQueue()
        waiting = asyncio.create_task(free.get())
        await asyncio.sleep(0)
        free.close_waiting()
        with pytest.raises(Closed):
            await waiting
        free.put(slot("dead"))
        free.put(slot("alive"))
        free.drop("dead")
        assert len(free) == 1
        assert (await free.get()).worker == "alive"

    asyncio.run(main())


def test_a_slot_handed_to_a_query_that_gave_up_goes_to_the_next() -> None:
    async def main() -> None:
        free = SlotQueue()
        gave_up, next_one = asyncio.create_task(free.get()), asyncio.create_task(free.get())
        await asyncio.sleep(0)
        handed = slot("w")
        free.put(handed)  # to the first waiter...
        gave_up.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await gave_up
        assert await next_one is handed

    asyncio.run(main())
