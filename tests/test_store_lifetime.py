"""The temporary store of ``kg serve`` (a folder in /dev/shm) lives exactly as long as the server.

It is removed when the server stops on SIGTERM or SIGINT, also while the store is still loading
(and the loader child is stopped too); a server killed with SIGKILL leaves it, and the next
server removes it at start-up, but only folders of dead processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest

from kg import store
from server import free_port, run_server

MINI = Path(__file__).parent / "fixtures" / "mini.trig"
WAIT_SECONDS = 30.0


def _wait_for(condition, what: str, within: float = WAIT_SECONDS):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _stores_of(pid: int) -> list[Path]:
    return list(store.SHARED_MEMORY.glob(f"{store.TEMPORARY_PREFIX}{pid}-*"))


def _has_ended(process: psutil.Process) -> bool:
    """Whether ``process`` has exited (a zombie, or already reaped: an orphan is reaped by init at any moment)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _is_loader(process: psutil.Process) -> bool:
    """Whether ``process`` is the store loader (False for a child that ended while we looked)."""
    try:
        return "kg.store" in process.cmdline()
    except psutil.NoSuchProcess:
        return False


def _big_nquads(path: Path, quads: int) -> Path:
    """An N-Quads file that takes Oxigraph a few seconds to load."""
    graph = "<https://w3id.org/alignkg/graph/lifetime-test>"
    with path.open("w", encoding="utf-8") as out:
        for i in range(quads):
            out.write(f'<https://w3id.org/alignkg/id/t{i}> <https://schema.org/name> "thing {i}" {graph} .\n')
    return path


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_while_loading_removes_the_store_and_the_loader(tmp_path: Path, stop: signal.Signals) -> None:
    data = _big_nquads(tmp_path / "big.nq", 400_000)
    command = [sys.executable, "-m", "kg.cli", "serve", "--host", "127.0.0.1", "--port", str(free_port())]
    server = subprocess.Popen([*command, "--data", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def loader() -> psutil.Process | None:
            children = psutil.Process(server.pid).children()
            return next((c for c in children if _is_loader(c)), None)

        loading = _wait_for(loader, "the loader child")
        assert _stores_of(server.pid), "the temporary store exists while loading"
        assert loading.is_running() and server.poll() is None, "still loading when the signal is sent"
        server.send_signal(stop)
        server.wait(WAIT_SECONDS)
        _wait_for(lambda: _has_ended(loading), "the loader to end")
        assert not _stores_of(server.pid)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"
"""Billions of rows on the mini data: runs until its time limit."""


def test_a_second_ctrl_c_stops_at_once_without_a_traceback_and_cleans_up() -> None:
    with run_server(MINI, "--query-timeout", "120") as server:
        pid = server.process.pid
        workers = psutil.Process(pid).children()
        busy_before = sum(w.cpu_times().user for w in workers)
        slow = threading.Thread(target=_ask_slowly, args=(server.base_url,), daemon=True)
        slow.start()
        _wait_for(lambda: sum(w.cpu_times().user for w in workers) > busy_before + 0.3, "the slow query to run")
        server.process.send_signal(signal.SIGINT)
        _wait_for(lambda: "Waiting for connections to close" in server.log(), "a graceful shutdown held by the query")
        server.process.send_signal(signal.SIGINT)
        server.process.wait(WAIT_SECONDS)  # far sooner than the query's 120 s
        log = server.log()
        assert "Traceback" not in log and "ERROR" not in log, log
        assert not _stores_of(pid)
        psutil.wait_procs(workers, timeout=WAIT_SECONDS)
        assert all(_has_ended(w) for w in workers)


def _ask_slowly(base_url: str) -> None:
    with contextlib.suppress(httpx.TransportError):  # the server stops while answering: expected
        httpx.get(base_url + "/sparql", params={"query": SLOW}, timeout=WAIT_SECONDS * 4)


def test_a_store_left_by_a_killed_server_is_removed_by_the_next_one() -> None:
    with run_server(MINI) as killed:
        left = _stores_of(killed.process.pid)
        assert len(left) == 1
        workers = psutil.Process(killed.process.pid).children()
        assert workers, "the server has query workers"
        killed.process.kill()
        killed.process.wait()
        # The workers die with the server (PR_SET_PDEATHSIG); the store stays: nothing could clean up.
        psutil.wait_procs(workers, timeout=WAIT_SECONDS)
        assert all(_has_ended(w) for w in workers)
        assert left[0].is_dir()
    with run_server(MINI):
        assert not left[0].exists(), "the next server removed the stale store"


def test_remove_stale_keeps_folders_of_live_processes_and_foreign_names(tmp_path: Path) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = tmp_path / f"{store.TEMPORARY_PREFIX}{ended.pid}-abc"
    alive = tmp_path / f"{store.TEMPORARY_PREFIX}{os.getpid()}-abc"
    foreign = tmp_path / f"{store.TEMPORARY_PREFIX}notapid-abc"
    unnamed = tmp_path / f"{store.TEMPORARY_PREFIX}j4jkio0c"
    for folder in (dead, alive, foreign, unnamed):
        folder.mkdir()
        (folder / "CURRENT").write_text("x")
    if psutil.pid_exists(ended.pid):
        pytest.fail(f"pid {ended.pid} was reused at once; cannot test with it")
    store.remove_stale(tmp_path)
    assert not dead.exists()
    assert alive.is_dir() and foreign.is_dir() and unnamed.is_dir()
