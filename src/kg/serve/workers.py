"""The query workers: a pool of processes that can be killed, so a timeout really stops a query.

pyoxigraph cannot cancel a running query, and a thread cannot be killed: a query that outlives
its timeout would keep its core and its memory (``oxigraph serve --timeout-s`` let an ORDER BY
cross join grow to 21 GB). So each query runs in a worker process (:mod:`kg.serve.worker`);
when time is up the worker is killed with SIGKILL, the kernel frees all its memory at once, and
a fresh worker takes its place (about 50 ms: Python start, import, open the store). ``kg serve``
spawns the workers while the store loads (:meth:`WorkerPool.spawn`): they import meanwhile, and
only open the store once it is loaded. Idle workers are reused last-in first-out: the worker
that just answered has the store's pages and the query's code in its caches (a lookup costs
half the CPU of one sent round-robin over four workers, measured).

How the workers share the data, measured on 1M triples (2 cores):

- A zygote loading Oxigraph's in-memory store once and forking workers does not share it:
  reading the store writes reference counts into its pages, so a full scan copies the whole
  store into each worker (301 of 391 MB private per worker after one COUNT), and the first
  query in each child is 5x slower while it copies.
- An on-disk (RocksDB) store opened with ``Store.read_only`` by each worker shares the data
  through the OS page cache: about 45 MB private per worker, 91 MB PSS. Scans run at about the
  same speed (330-400 ms vs 320 ms for COUNT over 1M), lookups at 0.2 ms. Loading with
  ``bulk_load`` takes about as long as ``oxigraph load`` (15-20 s vs 15 s).

So the store is on disk; without ``--store`` it is a temporary folder in ``/dev/shm``, i.e. in
memory, once for all workers (:mod:`kg.store`).

What processes cost against threads (2 cores, 1M quads, 8 clients, measured in turns): each
process has its own RocksDB block cache, where threads of one process share theirs. For the
benchmark's join (random lookups across the store) pyoxigraph on 8 threads of one process spends
~29 ms of CPU per query, 2 processes ~33 ms; for scans and aggregates the two are within noise.
A pool of one process with 8 threads reached 1.0-1.07x the throughput of 4 processes on the join.
Processes are kept: only a process can be stopped, and only one query dies with it. One or two
workers per core measured alike (2 and 4 on 2 cores: within 5 % on scan, join and aggregate);
two per core stay the default, so that a trivial query still finds a free worker while a few
heavy ones run.

Bounds: at most ``max_concurrent`` queries are admitted (running or waiting for a worker); one
more gets 503 with Retry-After. A query's time limit counts its wait. Each worker caps its own
address space (``memory_limit_mb`` above its baseline); a query that needs more ends its worker
and gets 503. Per-client rate limiting is not done here (put it in the reverse proxy).
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
    """The worker process ended while it held a job (or would not start)."""


class _Channel(asyncio.Protocol):
    """The server's end of a worker's socket: writes jobs, assembles each reply as its bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.assembler = ReplyAssembler()
        self.pending: asyncio.Future[Reply] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def request(self, payload: bytes) -> asyncio.Future[Reply]:
        """Send ``payload``; the future of the worker's reply to it."""
        assert self.transport is not None and self.pending is None, "one reply at a time"
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

    def _settle(self, outcome: Reply | Exception) -> None:
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            if isinstance(outcome, Reply):
                pending.set_result(outcome)
            else:
                pending.set_exception(outcome)
        elif not isinstance(outcome, ConnectionError) and self.transport is not None:
            self.transport.close()  # bytes nobody asked for: this worker is not trusted again


class Worker:
    """One worker process and the server's end of its socket."""

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.process = process
        self.sock = sock
        self.channel: _Channel | None = None
        self.killed = False

    @classmethod
    def spawn(cls, config: WorkerConfig) -> Worker:
        """Start the process; it imports its modules, then waits for :meth:`open` (the store may be loading)."""
        ours, theirs = socket.socketpair()
        # Room for a large answer in one send: with the default 208 KiB a 360 KB answer goes in
        # pieces, each waking the server (3.0 context switches per query instead of 2.5, measured at
        # 8 clients). Linux caps the size at net.core.wmem_max.
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        settings = {
            "fd": theirs.fileno(),
            "store": str(config.store),
            "base_iri": config.base_iri,
            "allow_service": list(config.allow_service),
            "prefixes": config.prefixes,
            "memory_limit_mb": config.memory_limit_mb,
        }
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "kg.serve.worker", json.dumps(settings)],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_BACKTRACE": "0"},  # a query over its memory cap aborts: no trace dump
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return cls(process, ours)

    async def open(self) -> Worker:
        """Tell the worker to open the (loaded) store; returns once it is ready for jobs."""
        try:
            async with asyncio.timeout(STARTUP_SECONDS):
                _, self.channel = await asyncio.get_running_loop().connect_accepted_socket(_Channel, self.sock)
                ready = await self.channel.request(OPEN)
        except (TimeoutError, ConnectionError, ValueError) as exc:
            self.kill()
            raise WorkerFailed(f"a query worker did not start (exit code {self.process.poll()})") from exc
        if ready.head.status != Status.OK:
            self.kill()
            raise WorkerFailed(f"a query worker did not start: {ready.head.message}")
        return self

    @classmethod
    async def start(cls, config: WorkerConfig) -> Worker:
        return await cls.spawn(config).open()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def run(self, job: Job) -> Reply:
        """The worker's reply to ``job``; ConnectionError if the worker died, ValueError if the reply is garbled."""
        assert self.channel is not None, "open() first"
        return await self.channel.request(job_frame(job))

    def kill(self) -> None:
        """End the process now (SIGKILL) and close our end of the socket."""
        self.killed = True
        if self.process.poll() is None:
            self.process.kill()
        if self.channel is not None and self.channel.transport is not None:
            self.channel.transport.close()
        else:
            self.sock.close()

    async def exit_code(self) -> int | None:
        """The process's exit code, waiting briefly for it to end."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.process.wait), 5)
        except TimeoutError:
            return None


class WorkerPool(AdmittedBackend):
    """Evaluates jobs on a fixed number of workers, within time, memory and concurrency bounds."""

    def __init__(self, config: WorkerConfig, size: int, max_concurrent: int, timeout: float) -> None:
        super().__init__(max_concurrent, timeout)
        self.config = config
        self.size = size
        self.workers: set[Worker] = set()
        self._idle: asyncio.LifoQueue[Worker] = asyncio.LifoQueue()  # the warmest worker first
        self._tasks: set[asyncio.Task[None]] = set()
        self._spawned: list[Worker] = []
        self._closed = False

    @classmethod
    def for_settings(cls, settings: ServeSettings, store: Path) -> WorkerPool:
        """The pool ``kg serve`` runs with ``settings`` on the store in ``store``."""
        config = WorkerConfig(
            store, settings.endpoint_url, settings.allow_service, dict(PREFIXES), settings.memory_limit_mb
        )
        return cls(config, settings.workers, settings.max_concurrent, settings.query_timeout)

    def spawn(self) -> None:
        """Start the worker processes before the store is ready: they import their modules while it
        loads (about 0.2 s of CPU each), and :meth:`start` only has them open it."""
        if not self._spawned:
            self._spawned = [Worker.spawn(self.config) for _ in range(self.size)]

    def kill_spawned(self) -> None:
        """Kill the workers spawned but never started (the store did not load, or the server stops)."""
        spawned, self._spawned = self._spawned, []
        for worker in spawned:
            worker.kill()
            worker.process.wait()

    async def start(self) -> None:
        """Start every worker (or open the spawned ones); returns when all are ready."""
        self.spawn()
        spawned, self._spawned = self._spawned, []
        opened = await asyncio.gather(*(worker.open() for worker in spawned), return_exceptions=True)
        failed = next((result for result in opened if isinstance(result, BaseException)), None)
        if failed is not None:
            for worker in spawned:
                worker.kill()
            raise failed
        for worker in spawned:
            self.workers.add(worker)
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        self._closed = True
        self.kill_spawned()
        for task in self._tasks:
            task.cancel()
        for worker in list(self.workers):
            worker.kill()
        await asyncio.gather(*(w.exit_code() for w in self.workers), return_exceptions=True)
        self.workers.clear()

    async def _run(self, job: Job, limit: float) -> Reply:
        """On the warmest idle worker: 503 on failure or no worker in time, 504 past the time limit."""
        worker: Worker | None = None
        try:
            async with asyncio.timeout(limit):  # one timer for the wait and the run
                worker = await self._idle.get()
                reply = await worker.run(job)
        except TimeoutError:
            if worker is None:
                raise HttpError(
                    503,
                    f"The endpoint is busy: no query worker became free within the time limit of {limit:g} s.",
                    {"Retry-After": "5"},
                    timeout_seconds=limit,
                ) from None
            self._replace(worker)
            raise HttpError(
                504, f"The query ran longer than the time limit of {limit:g} s and was stopped.", timeout_seconds=limit
            ) from None
        except ConnectionError:
            assert worker is not None, "only a worker's socket raises this"
            code = await worker.exit_code()
            self._replace(worker)
            raise self._failure(code) from None
        except ValueError:  # a garbled reply: that worker is not trusted again
            assert worker is not None, "only a worker's reply raises this"
            self._replace(worker)
            raise self._failure(None) from None
        except BaseException:
            if worker is not None:
                self._replace(worker)  # cancelled mid-job: the worker's state is unknown
            raise
        self._idle.put_nowait(worker)
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

    def _replace(self, worker: Worker) -> None:
        """Kill ``worker`` and start another in its place, in the background."""
        worker.kill()
        self.workers.discard(worker)
        task = asyncio.get_running_loop().create_task(self._respawn(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _respawn(self, old: Worker) -> None:
        await old.exit_code()
        delay = 0.1
        while not self._closed:
            try:
                worker = await Worker.start(self.config)
            except (WorkerFailed, OSError) as exc:
                log.error("%s; retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self._closed:
                worker.kill()
                return
            self.workers.add(worker)
            self._idle.put_nowait(worker)
            return
