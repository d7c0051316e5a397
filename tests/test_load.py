"""A bounded load test on a real ``kg serve`` process: CLIENTS concurrent clients for DURATION seconds
on the saved queries (every answer compared with its expected file in queries/) plus a slice of bad
requests (each must get its 4xx). Zero 5xx, zero wrong answers, latency percentiles printed, and the
server's memory (whole process tree, sampled every second) steady after warm-up.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from kg.build import run_build
from kg.config import DATASET_NQ
from kg.queries import SavedQuery, load_queries, standins
from server import RunningServer, run_server
from test_attacks import tree_rss_mb
from test_queries import accept, assert_same_answer

CLIENTS = 16
DURATION = 60.0
WARM_UP = 10.0
"""Seconds after which the server's memory is taken as the reference."""
BAD_SHARE = 0.05
MEMORY_GROWTH = 1.5
"""Largest acceptable ratio of the server's memory over the last LATE seconds (median: a heavy query in
flight is a peak, not growth) to its memory after warm-up."""
LATE = 10.0
QUERIES = load_queries()
BAD_REQUESTS: list[tuple[str, dict, int]] = [
    ("syntax error", {"data": {"query": "SELECT * WHERE { ?s ?p }"}}, 400),
    ("update", {"data": {"update": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"}}, 403),
    ("update as a query", {"data": {"query": "DROP ALL"}}, 400),
    ("forbidden SERVICE", {"data": {"query": "SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}}, 403),
    ("unsupported body", {"content": b"ASK {}", "headers": {"content-type": "text/plain"}}, 415),
    ("nothing acceptable", {"data": {"query": "ASK {}"}, "headers": {"accept": "image/png"}}, 406),
    ("query too long", {"data": {"query": "ASK { " + "?s ?p ?o . " * 200_000 + "}"}}, 413),
]


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    latencies: list[float] = field(default_factory=list)
    by_query: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    checked: dict[tuple[str, bytes], bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="module")
def loaded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    """``kg serve`` on a fresh build, allowed to call the saved queries' local stand-ins only."""
    dist = tmp_path_factory.mktemp("load") / "dist"
    assert run_build(dist, quiet=True) == 0, "kg build failed (its errors are printed above)"
    with standins(QUERIES) as endpoints:
        allow = [arg for url in endpoints.values() for arg in ("--allow-service", url)]
        with run_server(dist / DATASET_NQ, *allow) as running:
            yield running, endpoints


def _check(tally: Tally, saved: SavedQuery, response: httpx.Response) -> None:
    """Compare with the expected answer once per distinct body (answers are byte-identical when right)."""
    key = (saved.name, response.content)
    with tally.lock:
        known = tally.checked.get(key)
    if known is None:
        try:
            assert_same_answer(saved, response.content)
            known = True
        except AssertionError as error:
            known = False
            tally.wrong.append(f"{saved.name}: {error}")
        with tally.lock:
            tally.checked[key] = known
    elif not known:
        with tally.lock:
            tally.wrong.append(f"{saved.name}: the same wrong answer again")


def _client(url: str, endpoints: dict[str, str], tally: Tally, stop: float, seed: int) -> None:
    chooser = random.Random(seed)
    texts = {saved.name: saved.with_services(endpoints) for saved in QUERIES}
    with httpx.Client(timeout=60) as client:
        while time.monotonic() < stop:
            if chooser.random() < BAD_SHARE:
                _name, request, status = chooser.choice(BAD_REQUESTS)
                response = client.post(url, **request)
                with tally.lock:
                    tally.statuses[response.status_code] += 1
                    if response.status_code != status:
                        tally.wrong.append(f"{_name}: {response.status_code} instead of {status}")
                continue
            saved = chooser.choice(QUERIES)
            started = time.perf_counter()
            response = client.post(url, data={"query": texts[saved.name]}, headers={"accept": accept(saved)})
            elapsed = time.perf_counter() - started
            with tally.lock:
                tally.statuses[response.status_code] += 1
                tally.latencies.append(elapsed)
                tally.by_query.setdefault(saved.name, []).append(elapsed)
            if response.status_code == 200:
                _check(tally, saved, response)
            else:
                with tally.lock:
                    tally.wrong.append(f"{saved.name}: {response.status_code} {response.text[:200]}")


def _sample_memory(pid: int, samples: list[tuple[float, float]], stop: float) -> None:
    started = time.monotonic()
    while time.monotonic() < stop:
        samples.append((time.monotonic() - started, tree_rss_mb(pid)))
        time.sleep(1.0)


def test_saved_queries_under_load(loaded_server: tuple[RunningServer, dict[str, str]]) -> None:
    server, endpoints = loaded_server
    url = server.base_url + "/sparql"
    tally = Tally()
    samples: list[tuple[float, float]] = []
    stop = time.monotonic() + DURATION
    threads = [threading.Thread(target=_sample_memory, args=(server.process.pid, samples, stop))]
    threads += [threading.Thread(target=_client, args=(url, endpoints, tally, stop, n)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    latencies = sorted(tally.latencies)
    p50 = statistics.median(latencies)
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    total = sum(tally.statuses.values())
    warm = next(rss for at, rss in samples if at >= WARM_UP)
    later = [rss for at, rss in samples if at >= WARM_UP]
    late = statistics.median(rss for at, rss in samples if at >= DURATION - LATE)
    slowest = max(tally.by_query, key=lambda name: statistics.median(tally.by_query[name]))
    print(
        f"\n{CLIENTS} clients, {DURATION:g} s: {total} requests ({total / DURATION:.0f}/s), statuses "
        f"{dict(sorted(tally.statuses.items()))}; saved queries p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms (slowest query: {slowest}, median "
        f"{statistics.median(tally.by_query[slowest]) * 1000:.0f} ms); RSS after warm-up {warm:.0f} MiB, "
        f"peak {max(later):.0f} MiB, last {LATE:g} s {late:.0f} MiB; {len(tally.checked)} distinct answers checked"
    )
    assert not [status for status in tally.statuses if status >= 500], tally.statuses
    assert tally.wrong == []
    assert len(latencies) > 10 * CLIENTS, "the clients hardly ran"
    assert sum(n for status, n in tally.statuses.items() if 400 <= status < 500) > 0, "no bad request was sent"
    assert late <= MEMORY_GROWTH * warm, samples
    assert server.process.poll() is None
