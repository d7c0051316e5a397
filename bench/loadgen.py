"""Load generation for the benchmark: SPARQL GETs from N client threads to 127.0.0.1, bounded.

Each client holds one keep-alive ``http.client`` connection (the lightest client the standard
library has, so the client costs as little of the 2 cores as possible) and sends the queries of
its mix in turn until ``seconds`` have passed or ``max_requests`` answers came back. :func:`drive`
does the same with any client that has ``query`` and ``close`` (``bench/ceiling.py`` calls
pyoxigraph in process that way).
"""

from __future__ import annotations

import functools
import http.client
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode, urlsplit

ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9"


@dataclass
class Measurement:
    """Latencies (seconds) of the answered requests, errors by HTTP status (0: no answer), wall time."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    """CPU time of the client threads."""
    cpu_seconds: float = 0.0
    """CPU time of whatever answered, where the caller measured it (``bench/ceiling.py``)."""
    front_cpu_seconds: float = 0.0
    """Of ``cpu_seconds``, the server's own process alone, without its children (``bench/ceiling.py``):
    for ``kg serve``, its HTTP front end, apart from the query workers."""
    turns: list[Measurement] = field(default_factory=list)
    """The turns it pools, in the order taken (:meth:`combine`); empty for a single turn."""

    @classmethod
    def combine(cls, parts: list[Measurement]) -> Measurement:
        """The measurements of several turns as one: latencies pooled, errors and seconds added, the turns kept."""
        whole = cls(turns=list(parts))
        for part in parts:
            whole.latencies += part.latencies
            whole.failures.update(part.failures)
            whole.seconds += part.seconds
            whole.client_cpu_seconds += part.client_cpu_seconds
            whole.cpu_seconds += part.cpu_seconds
            whole.front_cpu_seconds += part.front_cpu_seconds
        return whole

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    def error_text(self) -> str:
        """E.g. ``4 errors (504 x3, 503 x1)``."""
        by_status = ", ".join(f"{status} x{n}" for status, n in sorted(self.failures.items()))
        return f"{self.errors} errors" + (f" ({by_status})" if by_status else "")

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_query(self) -> float:
        """``cpu_seconds`` per answered query (NaN without answers)."""
        return self.per_query(self.cpu_seconds)

    def per_query(self, seconds: float) -> float:
        """``seconds`` per answered query (NaN without answers)."""
        return seconds / len(self.latencies) if self.latencies else float("nan")

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0]
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1]


@functools.lru_cache(maxsize=256)
def target(path: str, query: str) -> str:
    """The request target for ``query`` at ``path``: encoded once, not on every request (the mix repeats
    a few queries; encoding one with its prefixes costs the client ~45 us of the 2 cores it shares with the server)."""
    return f"{path}?{urlencode({'query': query})}"


class Client:
    """One connection to a SPARQL endpoint URL (GET ``?query=``)."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1", "load generation stays on 127.0.0.1"
        self.path = parts.path
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    def query(self, query: str) -> tuple[int, bytes]:
        self.connection.request("GET", target(self.path, query), headers={"Accept": ACCEPT})
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


class AnyClient(Protocol):
    """What :func:`drive` needs of a client: ``query`` gives (HTTP status, body); ``close``."""

    def query(self, query: str) -> tuple[int, bytes]: ...

    def close(self) -> None: ...


def run(url: str, queries: list[str], clients: int, seconds: float, max_requests: int) -> Measurement:
    """``clients`` HTTP clients of ``url`` sending ``queries`` round-robin; stops on time or on the request count."""
    return drive(lambda: Client(url), queries, clients, seconds, max_requests)


def drive(
    connect: Callable[[], AnyClient], queries: list[str], clients: int, seconds: float, max_requests: int
) -> Measurement:
    """``clients`` threads, each with a client from ``connect``, sending ``queries`` round-robin; stops on
    time or on the request count. A client that fails (OSError, HTTPException) is replaced."""
    result = Measurement()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    sent = [0]

    def client(offset: int) -> None:
        cpu = time.thread_time()
        connection = connect()
        i = offset
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if sent[0] >= max_requests:
                        return
                    sent[0] += 1
                started = time.perf_counter()
                try:
                    status, _ = connection.query(queries[i % len(queries)])
                except (OSError, http.client.HTTPException):
                    status = 0
                    connection.close()
                    connection = connect()
                elapsed = time.perf_counter() - started
                with lock:
                    if status == 200:
                        result.latencies.append(elapsed)
                    else:
                        result.failures[status] += 1
                i += 1
        finally:
            connection.close()
            with lock:
                result.client_cpu_seconds += time.thread_time() - cpu

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result
