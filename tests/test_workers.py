"""The worker pool (kg.serve.workers) with real worker processes on a small store: a query stopped at
its time limit, or one over the memory cap, takes only itself down. Beside one out of time, the
queries of the shared worker finish there (it drains, then is killed); beside one over the cap,
they are run again on their own and answered."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from kg import store as kg_store
from kg.namespaces import PREFIXES
from kg.serve.errors import HttpError
from kg.serve.ipc import Job, Kind, Reply, ReplyHead, Status, job_frame, send_reply
from kg.serve.workers import Closed, SlotQueue, Worker, WorkerConfig, WorkerPool, _Channel

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


async def new_shared(pool: WorkerPool, old: Worker | None) -> Worker:
    """The shared worker that replaced ``old``, once it is up (within 10 s)."""
    for _ in range(100):
        if pool.shared is not None and pool.shared is not old:
            return pool.shared
        await asyncio.sleep(0.1)
    raise AssertionError("no new shared worker came up")


async def settled(pool: WorkerPool) -> list[int]:
    """The slot counts of the pool's workers, once every replacement started has come up."""
    for _ in range(100):
        if len(pool.workers) >= 1 + pool.isolated and pool.shared is not None:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # a worker started by mistake would be up by now too
    return sorted(len(worker.slots) for worker in pool.workers)


def test_a_query_beside_one_stopped_at_its_time_limit_finishes_where_it_runs(store: Path) -> None:
    async def scenario(pool: WorkerPool) -> None:
        alone, took = await timed(pool, MEDIUM)
        assert count(alone) == MEDIUM_ROWS
        limit = max(1.0, took)
        shared = pool.shared
        assert shared is not None
        slow = asyncio.create_task(timed(pool, SLOW, limit))
        await asyncio.sleep(limit - took / 2)  # the medium query is half done when the slow one is stopped
        medium = asyncio.create_task(timed(pool, MEDIUM))
        stopped, stopped_took = await slow
        assert isinstance(stopped, HttpError) and stopped.status == 504, stopped
        assert stopped_took < limit + 0.5  # answered at its limit, not when its worker is killed
        assert pool.draining is shared and not shared.killed  # still running the medium query
        replacement = await new_shared(pool, shared)  # new queries go to a new shared worker meanwhile
        assert json.loads((await pool.execute(job("ASK { ?s ?p ?o }"))).body)["boolean"] is True
        answer, _ = await medium
        assert count(answer) == MEDIUM_ROWS
        assert shared.killed  # drained: killed as its last query was answered, the slow one with it
        assert await shared.exit_code() is not None
        assert pool.shared is replacement and not replacement.killed
        assert await settled(pool) == [1] * pool.isolated + [pool.slots]

    with_pool(store, scenario)


def test_one_worker_drains_at_a_time(store: Path) -> None:
    """A second query out of time, on the new shared worker, kills the draining one at once: the
    query still running there is run again on an isolated worker, within its own time limit."""

    async def scenario(pool: WorkerPool) -> None:
        first = pool.shared
        kept = asyncio.create_task(timed(pool, SLOW, 5.0))  # keeps the first worker draining
        stopped, _ = await timed(pool, SLOW, 1.0)
        assert isinstance(stopped, HttpError) and stopped.status == 504, stopped
        assert pool.draining is first and first is not None and not first.killed
        second = await new_shared(pool, first)
        stopped_again, _ = await timed(pool, SLOW, 1.0)
        assert isinstance(stopped_again, HttpError) and stopped_again.status == 504, stopped_again
        assert first.killed  # before the query it kept ran out of time
        assert second.killed  # it had nothing else to finish
        assert not kept.done()
        outcome, kept_took = await kept
        assert isinstance(outcome, HttpError) and outcome.status == 504, outcome
        assert 4.5 < kept_took < 6.0
        assert await settled(pool) == [1] * pool.isolated + [pool.slots]  # no worker too many, none missing

    with_pool(store, scenario)


def test_a_late_reply_to_a_job_given_up_is_dropped_and_bytes_nobody_asked_for_end_the_worker() -> None:
    async def main() -> None:
        ours, theirs = socket.socketpair()
        lost: list[bool] = []
        loop = asyncio.get_running_loop()
        _, channel = await loop.connect_accepted_socket(lambda: _Channel(lambda: lost.append(True)), ours)
        with theirs:
            given_up = channel.request(job_frame(job("ASK {}")))
            given_up.cancel()  # its time limit passed
            send_reply(theirs, ReplyHead(Status.OK, Kind.BOOLEAN), b"true")
            await asyncio.sleep(0.1)
            assert not lost and channel.transport is not None and not channel.transport.is_closing()
            send_reply(theirs, ReplyHead(Status.OK, Kind.BOOLEAN), b"true")  # no job asked for this one
            await asyncio.sleep(0.1)
            assert lost

    asyncio.run(main())


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
        assert not (await new_shared(pool, None)).ended  # and a new shared worker comes up

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
