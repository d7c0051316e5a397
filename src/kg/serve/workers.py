"""The query workers: processes that can be killed, so a time or memory limit really stops a query.

pyoxigraph cannot cancel a running query, and a thread cannot be killed: a query that outlives
its timeout would keep its core and its memory (``oxigraph serve --timeout-s`` let an ORDER BY
cross join grow to 21 GB). So queries run in worker processes (:mod:`kg.serve.worker`); when
time is up the process is killed with SIGKILL and the kernel frees all its memory at once.

Two kinds of worker:

- **the shared worker**, one process with ``--workers`` slots: a thread each, all on one store
  and so on one RocksDB block cache. Every query runs there first.
- **isolated workers**, ``--isolated-workers`` processes with one slot each, for a query that
  must run on its own, and while the shared worker restarts.

The rules:

- A query takes a free slot of the shared worker (waiting for one if all are busy); while the
  shared worker is down, it takes an isolated worker.
- Past its time limit (which counts its waits), a query is answered 504 at once (503 if it never
  got a slot). An isolated worker running it is killed. The shared worker running it *drains*:
  it takes no more queries (a new shared worker starts at once), finishes the others it was
  running, and is killed as soon as none is left, each of them being within its own time limit.
  So the stopped query runs at most one more time limit, and the queries beside it lose nothing
  (killing at once, they had to start again with what was left of their time: at 8 clients on
  2 cores, one slow saved query past 10 s took six others down with it). One worker drains at a
  time: if a query overruns on the new shared worker meanwhile, the draining one is killed at
  once and the queries it was still running are run again on isolated workers.
- When the shared (or draining) worker ends by itself (a query pushed it over its memory cap,
  or overflowed its stack), or answers garbage, every query it was running is run again on an
  isolated worker,
  where only its own memory counts: the one that needs too much ends that worker and gets 503
  (400 for the stack), the others are answered. So a query is refused for what it needs itself,
  never for what ran beside it.
- A killed or failed isolated worker is replaced in the background.

Why one shared process (measured on 2 cores with 8 clients, in turns against ``oxigraph serve``,
bench/RESULTS.md): processes do not share a block cache, threads of one process do. With four
single-slot processes the benchmark's join ran at 0.57x Oxigraph's throughput at 10M quads and
at 0.89x at 1M; with one process of 8 threads at 0.96x and 0.92x; two processes of 4 threads
were in between (0.83x at 10M). Eight joins of different selectivity, also at 10M: 0.71x against
0.91x. Scans and aggregates: within 2 %.

How the workers share the data, measured on 1M triples (2 cores):

- A zygote loading Oxigraph's in-memory store once and forking workers does not share it:
  reading the store writes reference counts into its pages, so a full scan copies the whole
  store into each worker (301 of 391 MB private per worker after one COUNT), and the first
  query in each child is 5x slower while it copies.
- An on-disk (RocksDB) store opened with ``Store.read_only`` by each worker shares the data
  through the OS page cache: about 45 MB private per worker, 91 MB PSS.

So the store is on disk; without ``--store`` it is a temporary folder in ``/dev/shm``, i.e. in
memory, once for all workers (:mod:`kg.store`). ``kg serve`` spawns the workers while the store
loads (:meth:`WorkerPool.spawn`): they import meanwhile, and only open it once it is loaded.
Free slots are reused last-in first-out (the slot that just answered has warm caches).

Bounds: at most ``max_concurrent`` queries are admitted (running or waiting); one more gets 503
with Retry-After. Each worker caps its own address space (``memory_limit_mb`` above its
baseline; the shared worker's cap is for all its slots together). Per-client rate limiting is
not done here (put it in the reverse proxy).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from kg.namespaces import PREFIXES
from kg.serve.admission import AdmittedBackend
from kg.serve.errors import HttpError
from kg.serve.ipc import OPEN, Job, Reply, ReplyAssembler, Status, job_frame

if TYPE_CHECKING:
    from kg.serve.settings import ServeSettings

log = logging.getLogger(__name__)

STARTUP_SECONDS = 60.0
SEND_BUFFER_BYTES = 4 * 1024 * 1024
MEMORY_DEATHS = {-signal.SIGABRT, -signal.SIGKILL}
"""How a worker over its memory cap ends: Rust aborts on a failed allocation; the kernel's OOM killer kills."""


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker is started with."""

    store: Path
    base_iri: str
    allow_service: tuple[str, ...]
    prefixes: dict[str, str]
    memory_limit_mb: int


class WorkerFailed(Exception):
    """A worker process would not start."""


class Closed(Exception):
    """The worker whose slot a query waited for has ended."""


class _Channel(asyncio.Protocol):
    """The server's end of a slot's socket: writes jobs, assembles each reply as its bytes arrive."""

    def __init__(self, on_lost: Callable[[], None]) -> None:
        self.transport: asyncio.Transport | None = None
        self.assembler = ReplyAssembler()
        self.pending: asyncio.Future[Reply] | None = None
        self.on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def request(self, payload: bytes) -> asyncio.Future[Reply]:
        """Send ``payload``; the future of the worker's reply to it."""
        assert self.transport is not None and (self.pending is None or self.pending.done()), "one reply at a time"
        self.pending = asyncio.get_running_loop().create_future()
        if self.transport.is_closing():
            self.pending.set_exception(ConnectionResetError("the query worker's socket is closed"))
        else:
            self.transport.write(payload)
        return self.pending

    def data_received(self, data: bytes) -> None:
        try:
            reply = self.assembler.feed(data)
        except ValueError as exc:
            self._settle(exc)
            return
        if reply is not None:
            self._settle(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle(ConnectionResetError("the query worker ended"))
        self.on_lost()

    def _settle(self, outcome: Reply | Exception) -> None:
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            if isinstance(outcome, Reply):
                pending.set_result(outcome)
            else:
                pending.set_exception(outcome)
        elif isinstance(outcome, Reply) and pending is not None:
            pass  # the late reply to a job given up at its time limit (its worker is draining)
        elif not isinstance(outcome, ConnectionError) and self.transport is not None:
            self.transport.close()  # bytes nobody asked for, or garbled: this worker is not trusted again


class Slot:
    """One slot of a worker: a thread in its process, and the server's end of that thread's socket."""

    def __init__(self, worker: Worker, sock: socket.socket) -> None:
        self.worker = worker
        self.sock = sock
        self.channel: _Channel | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, self.channel = await loop.connect_accepted_socket(lambda: _Channel(self.worker.lost), self.sock)

    async def run(self, job: Job) -> Reply:
        """The reply to ``job``; ConnectionError if the worker ended, ValueError if the reply is garbled."""
        assert self.channel is not None, "open the worker first"
        return await self.channel.request(job_frame(job))

    def kill_worker(self) -> None:
        """Stop this slot's query by killing its whole process (an isolated worker: the query is alone there)."""
        self.worker.kill()

    def close(self) -> None:
        if self.channel is not None and self.channel.transport is not None:
            self.channel.transport.close()
        else:
            self.sock.close()


class Worker:
    """One worker process and its slots. ``on_end`` is called once, when the first slot's socket closes."""

    def __init__(self, process: subprocess.Popen[bytes], socks: list[socket.socket]) -> None:
        self.process = process
        self.slots = [Slot(self, sock) for sock in socks]
        self.on_end: Callable[[Worker], None] | None = None
        self.ended = False
        self.killed = False
        self.busy = 0
        """Queries running on it now (a query past its time limit no longer counts)."""
        self.draining = False
        """It takes no more queries, and is killed once ``busy`` is 0."""

    @classmethod
    def spawn(cls, config: WorkerConfig, slots: int = 1) -> Worker:
        """Start the process; it imports its modules, then waits for :meth:`open` (the store may be loading)."""
        pairs = [socket.socketpair() for _ in range(slots)]
        theirs = [sock for _, sock in pairs]
        for sock in theirs:
            # Room for a large answer in one send: with the default 208 KiB a 360 KB answer goes in
            # pieces, each waking the server (3.0 context switches per query instead of 2.5, measured
            # at 8 clients). Linux caps the size at net.core.wmem_max.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        settings = {
            "fds": [sock.fileno() for sock in theirs],
            "parent": os.getpid(),
            "store": str(config.store),
            "base_iri": config.base_iri,
            "allow_service": list(config.allow_service),
            "prefixes": config.prefixes,
            "memory_limit_mb": config.memory_limit_mb,
        }
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "kg.serve.worker", json.dumps(settings)],
                pass_fds=[sock.fileno() for sock in theirs],
                stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_BACKTRACE": "0"},  # a query over its memory cap aborts: no trace dump
            )
        except BaseException:
            for ours, _ in pairs:
                ours.close()
            raise
        finally:
            for sock in theirs:
                sock.close()
        return cls(process, [ours for ours, _ in pairs])

    async def open(self) -> Worker:
        """Tell the worker to open the (loaded) store; returns once every slot is ready for jobs."""
        try:
            async with asyncio.timeout(STARTUP_SECONDS):
                for slot in self.slots:
                    await slot.connect()
                channels = [slot.channel for slot in self.slots if slot.channel is not None]
                replies = await asyncio.gather(*(channel.request(OPEN) for channel in channels))
        except (TimeoutError, ConnectionError, ValueError) as exc:
            self.kill()
            raise WorkerFailed(f"a query worker did not start (exit code {self.process.poll()})") from exc
        failed = next((reply for reply in replies if reply.head.status != Status.OK), None)
        if failed is not None:
            self.kill()
            raise WorkerFailed(f"a query worker did not start: {failed.head.message}")
        return self

    @classmethod
    async def start(cls, config: WorkerConfig, slots: int = 1) -> Worker:
        return await cls.spawn(config, slots).open()

    @property
    def pid(self) -> int:
        return self.process.pid

    def lost(self) -> None:
        """A slot's socket closed: the process ended or was killed (called by each slot; acts once)."""
        if self.ended:
            return
        self.ended = True
        if self.on_end is not None:
            self.on_end(self)

    def kill(self) -> None:
        """End the process now (SIGKILL) and close our end of its sockets."""
        self.killed = True
        if self.process.poll() is None:
            self.process.kill()
        for slot in self.slots:
            slot.close()

    async def exit_code(self) -> int | None:
        """The process's exit code, waiting briefly for it to end."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.process.wait), 5)
        except TimeoutError:
            return None


class SlotQueue:
    """Free slots, the latest freed first (its caches are warm), and the queries waiting for one, in
    the order they came."""

    def __init__(self) -> None:
        self._free: list[Slot] = []
        self._waiting: deque[asyncio.Future[Slot]] = deque()

    def __len__(self) -> int:
        return len(self._free)

    def put(self, slot: Slot) -> None:
        """A slot is free: to the first query still waiting, else back on the stack."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._free.append(slot)

    async def get(self) -> Slot:
        """A free slot, waiting for one if need be; Closed if :meth:`close_waiting` is called meanwhile."""
        if self._free:
            return self._free.pop()
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.put(waiter.result())  # handed over just as the wait was given up: pass it on
            raise

    def drop(self, worker: Worker) -> None:
        """Forget the free slots of a worker that ended."""
        self._free = [slot for slot in self._free if slot.worker is not worker]

    def close_waiting(self) -> None:
        """Wake every waiting query with Closed (the worker they waited for ended)."""
        waiting, self._waiting = self._waiting, deque()
        for waiter in waiting:
            if not waiter.done():
                waiter.set_exception(Closed())


class WorkerPool(AdmittedBackend):
    """The shared worker and the isolated workers, within time, memory and concurrency bounds."""

    def __init__(self, config: WorkerConfig, slots: int, isolated: int, max_concurrent: int, timeout: float) -> None:
        super().__init__(max_concurrent, timeout)
        self.config = config
        self.slots = slots
        self.isolated = isolated
        self.shared: Worker | None = None
        """The shared worker, while it is up."""
        self.draining: Worker | None = None
        """The shared worker before, while it finishes its queries (one at a time)."""
        self.workers: set[Worker] = set()
        """Every worker up now."""
        self._shared_free = SlotQueue()
        self._isolated_free = SlotQueue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._spawned: list[Worker] = []
        self._closed = False

    @classmethod
    def for_settings(cls, settings: ServeSettings, store: Path) -> WorkerPool:
        """The pool ``kg serve`` runs with ``settings`` on the store in ``store``."""
        config = WorkerConfig(
            store, settings.endpoint_url, settings.allow_service, dict(PREFIXES), settings.memory_limit_mb
        )
        return cls(config, settings.workers, settings.isolated_workers, settings.max_concurrent, settings.query_timeout)

    def spawn(self) -> None:
        """Start the worker processes before the store is ready: they import their modules while it
        loads (about 0.2 s of CPU each), and :meth:`start` only has them open it."""
        if not self._spawned:
            shared = Worker.spawn(self.config, self.slots)
            self._spawned = [shared, *(Worker.spawn(self.config) for _ in range(self.isolated))]

    def kill_spawned(self) -> None:
        """Kill the workers spawned but never started (the store did not load, or the server stops)."""
        spawned, self._spawned = self._spawned, []
        for worker in spawned:
            worker.kill()
            worker.process.wait()

    async def start(self) -> None:
        """Open the spawned workers (spawning them first if need be); returns when all are ready."""
        self.spawn()
        spawned, self._spawned = self._spawned, []
        opened = await asyncio.gather(*(worker.open() for worker in spawned), return_exceptions=True)
        failed = next((result for result in opened if isinstance(result, BaseException)), None)
        if failed is not None:
            for worker in spawned:
                worker.kill()
            raise failed
        shared, *isolated = spawned
        self._serve(shared, shared=True)
        for worker in isolated:
            self._serve(worker, shared=False)

    async def close(self) -> None:
        self._closed = True
        self.kill_spawned()
        for task in self._tasks:
            task.cancel()
        workers = list(self.workers)
        for worker in workers:
            worker.kill()
        await asyncio.gather(*(w.exit_code() for w in workers), return_exceptions=True)
        self.workers.clear()
        self._shared_free.close_waiting()
        self._isolated_free.close_waiting()

    def _serve(self, worker: Worker, shared: bool) -> None:
        """Put a started worker's slots to work."""
        worker.on_end = self._ended
        self.workers.add(worker)
        free = self._shared_free if shared else self._isolated_free
        if shared:
            self.shared = worker
        for slot in worker.slots:
            free.put(slot)
        if worker.ended:  # it died between opening and now: take it out again
            self._ended(worker)

    async def _run(self, job: Job, limit: float) -> Reply:
        """On the shared worker, else (down, or it ended while running the query) on an isolated one."""
        deadline = asyncio.get_running_loop().time() + limit
        attempt = _Attempt(job, deadline, limit)
        reply = await self._on_shared(attempt) if self.shared is not None else None
        if reply is None:
            reply = await self._on_isolated(attempt)
        return reply

    async def _on_shared(self, attempt: _Attempt) -> Reply | None:
        """The reply from a slot of the shared worker; None: the query must run on an isolated worker."""
        try:
            slot = await attempt.wait(self._shared_free)
        except Closed:
            return None
        worker = slot.worker
        worker.busy += 1
        try:
            reply = await attempt.run(slot, self._drain)
        except ConnectionError:  # the shared worker ended: killed while draining, over its cap, crashed
            return None
        except ValueError:  # a garbled reply: not trusted again; the query, alone, tells whose fault
            worker.kill()
            return None
        finally:
            worker.busy -= 1
            if worker.draining and not worker.busy:
                worker.kill()  # drained: the query that overran stops now
        if not worker.ended and not worker.draining:
            self._shared_free.put(slot)
        if reply.head.status == Status.MEMORY:  # out of memory in a process shared with others: alone, again
            return None
        return reply

    async def _on_isolated(self, attempt: _Attempt) -> Reply:
        """The reply from an isolated worker, or the HttpError its end stands for."""
        slot = await attempt.wait(self._isolated_free)
        try:
            reply = await attempt.run(slot, Slot.kill_worker)
        except ConnectionError:
            raise self._failure(await slot.worker.exit_code()) from None
        except ValueError:  # a garbled reply: that worker is not trusted again
            slot.worker.kill()
            raise self._failure(None) from None
        self._isolated_free.put(slot)
        if reply.head.status == Status.MEMORY:
            raise self._failure(-signal.SIGABRT)
        return reply

    def _failure(self, exit_code: int | None) -> HttpError:
        if exit_code in MEMORY_DEATHS:
            limit = self.config.memory_limit_mb
            return HttpError(
                503,
                f"The query needed more memory than the limit of {limit} MiB and was stopped.",
                memory_limit_mb=limit,
            )
        if exit_code == -signal.SIGSEGV:
            return HttpError(400, "The query is too deeply nested to evaluate (its worker ran out of stack).")
        log.error("a query worker ended unexpectedly (exit code %s)", exit_code)
        return HttpError(
            503, "The query worker failed; the query was not answered. Retry shortly.", {"Retry-After": "1"}
        )

    def _drain(self, slot: Slot) -> None:
        """The query on ``slot`` of the shared worker ran out of time: that worker drains (module docstring)."""
        worker = slot.worker
        if worker.draining or worker.ended:
            return
        if self.draining is not None:
            self.draining.kill()  # one worker drains at a time
        worker.draining = True
        self.draining = worker
        self._take_out_shared(worker)
        self._replace(shared=True)

    def _take_out_shared(self, worker: Worker) -> None:
        """New queries no longer go to ``worker``; those waiting for it go to the isolated workers."""
        self.shared = None
        self._shared_free.drop(worker)
        self._shared_free.close_waiting()

    def _ended(self, worker: Worker) -> None:
        """A worker ended (killed, or by itself): take its slots out of service and start another."""
        self.workers.discard(worker)
        if worker.draining:  # this one, or one killed when the next began to drain
            if worker is self.draining:
                self.draining = None
            if not worker.killed:
                log.warning("the draining query worker ended (exit code %s)", worker.process.poll())
            return  # replaced when it began to drain
        shared = worker is self.shared
        if shared:
            self._take_out_shared(worker)
            if not worker.killed:
                log.warning("the shared query worker ended (exit code %s)", worker.process.poll())
        else:
            self._isolated_free.drop(worker)
        self._replace(shared, after=worker)

    def _replace(self, shared: bool, after: Worker | None = None) -> None:
        """Start a shared or isolated worker in the background (once ``after`` has exited, if given)."""
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._respawn(shared, after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _respawn(self, shared: bool, after: Worker | None) -> None:
        if after is not None:
            await after.exit_code()  # its memory is back first
        delay = 0.1
        while not self._closed:
            try:
                worker = await Worker.start(self.config, self.slots if shared else 1)
            except (WorkerFailed, OSError) as exc:
                log.error("%s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self._closed:
                worker.kill()
                return
            self._serve(worker, shared)
            return


class _Attempt:
    """One query on its way through the workers: its deadline, and whether it ever ran (after which
    running out of time is a 504, not a 503)."""

    def __init__(self, job: Job, deadline: float, limit: float) -> None:
        self.job = job
        self.deadline = deadline
        self.limit = limit
        self.started = False

    async def wait(self, free: SlotQueue) -> Slot:
        """A free slot from ``free`` before the deadline (Closed if its worker ends meanwhile)."""
        try:
            async with asyncio.timeout_at(self.deadline):
                return await free.get()
        except TimeoutError:
            raise self._out_of_time() from None

    async def run(self, slot: Slot, overrun: Callable[[Slot], None]) -> Reply:
        """The slot's reply before the deadline; past it, ``overrun(slot)`` stops the query, and 504."""
        self.started = True
        try:
            async with asyncio.timeout_at(self.deadline):
                return await slot.run(self.job)
        except TimeoutError:
            overrun(slot)
            raise self._out_of_time() from None
        except (ConnectionError, ValueError):
            raise
        except BaseException:
            slot.worker.kill()  # cancelled mid-job: the worker's state is unknown
            raise

    def _out_of_time(self) -> HttpError:
        limit = self.limit
        if self.started:
            return HttpError(
                504, f"The query ran longer than the time limit of {limit:g} s and was stopped.", timeout_seconds=limit
            )
        return HttpError(
            503,
            f"The endpoint is busy: no query worker became free within the time limit of {limit:g} s.",
            {"Retry-After": "5"},
            timeout_seconds=limit,
        )
