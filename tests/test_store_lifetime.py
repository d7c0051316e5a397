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
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import psutil
import pytest

from kg import store
from kg.serve.stop_signals import Stopped, StopSignals
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
        assert server.wait(WAIT_SECONDS) == 0, "a requested stop is a clean exit"
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
        assert server.process.wait(WAIT_SECONDS) == 0  # far sooner than the query's 120 s
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


@pytest.fixture
def stop_signals() -> Iterator[StopSignals]:
    """:class:`StopSignals` installed in this process; the previous handlers restored after."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield StopSignals()
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


class _SignalledWhileFinalized:
    """Sends this process ``number`` from ``__del__``: the handler runs inside the finalizer, where
    Python would drop an exception it raised."""

    def __init__(self, number: signal.Signals) -> None:
        self.number = number

    def __del__(self) -> None:
        os.kill(os.getpid(), self.number)
        for _ in range(1000):  # bytecode to run, where Python calls the pending handler
            pass


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_during_start_up_is_kept_even_inside_a_finalizer(
    stop_signals: StopSignals, number: signal.Signals, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: dropped.append(unraisable.exc_value))
    _SignalledWhileFinalized(number)  # finalized at once
    assert stop_signals.received == number
    assert dropped == [], "the handler raises nothing Python could drop"
    with pytest.raises(Stopped, match=number.name):
        stop_signals.check()


def test_a_stop_signal_during_start_up_ends_the_loader(stop_signals: StopSignals) -> None:
    loader = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stop_signals.cut_short(SimpleNamespace(process=loader))  # type: ignore[arg-type]
        signal.raise_signal(signal.SIGTERM)
        assert loader.wait(WAIT_SECONDS) == -signal.SIGKILL
    finally:
        loader.kill()
        loader.wait()


def test_once_serving_a_stop_signal_asks_the_server_to_stop_and_raises_nothing(stop_signals: StopSignals) -> None:
    server = SimpleNamespace(should_exit=False)
    stop_signals.hand_to(server)  # type: ignore[arg-type]
    for number in (signal.SIGTERM, signal.SIGINT):
        server.should_exit = False
        signal.raise_signal(number)  # as uvicorn does again after its shutdown
        assert server.should_exit
    stop_signals.check()  # nothing remembered: the server has it


def test_a_loader_whose_server_died_before_it_started_exits_instead_of_loading(tmp_path: Path) -> None:
    data = _big_nquads(tmp_path / "big.nq", 100_000)
    folder = tmp_path / "store"
    # A stand-in server: starts the loader the way kg serve does, then dies at once, before the
    # loader (still importing) can ask Linux to kill it with its parent.
    starter = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from kg.store import Loading\n"
        "loading = Loading(Path(sys.argv[1]), [Path(sys.argv[2])])\n"
        "print(loading.process.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    started = subprocess.run([sys.executable, "-c", starter, str(folder), str(data)], capture_output=True, check=True)
    orphan = psutil.Process(int(started.stdout))
    psutil.wait_procs([orphan], timeout=WAIT_SECONDS)
    assert _has_ended(orphan)
    assert not folder.exists(), "the orphaned loader loaded nothing"


@pytest.mark.parametrize("parent_is_ours", [True, False])
def test_die_with_parent_exits_when_the_parent_is_not_the_one_named(parent_is_ours: bool) -> None:
    code = "import sys\nfrom kg.store import die_with_parent\ndie_with_parent(int(sys.argv[1]))\nprint('running')"
    named = os.getpid() if parent_is_ours else 1
    child = subprocess.run([sys.executable, "-c", code, str(named)], capture_output=True, text=True)
    if parent_is_ours:
        assert (child.returncode, child.stdout) == (0, "running\n")
    else:
        assert (child.returncode, child.stdout) == (store.EXIT_ORPHANED, "")
