"""Run a real ``kg serve`` process for tests: a free 127.0.0.1 port, ready before use, killed after.

    with run_server(Path("tests/fixtures/mini.trig"), "--max-rows", "5") as server:
        httpx.get(server.base_url + "/sparql", params={"query": "ASK {}"})

``data`` None serves the project's dist/ (built first if missing). The server inherits the
environment except the ``KG_*`` serve settings, so tests are not steered by a developer's shell;
pass ``env`` to set some.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from kg.serve.settings import env_names

READY_SECONDS = 120.0
STOP_SECONDS = 10.0


@dataclass
class RunningServer:
    """A ``kg serve`` process and where it listens."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def log(self) -> str:
        """What the server printed so far (stdout and stderr)."""
        return self.log_path.read_text("utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"kg serve exited with {server.process.returncode}:\n{server.log()}")
        try:
            response = httpx.get(server.base_url + "/sparql", params={"query": "ASK {}"}, timeout=5)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"kg serve was not ready within {READY_SECONDS:g} s:\n{server.log()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def run_server(
    data: Path | None = None, *extra_args: str, env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """A ready ``kg serve`` on ``data`` with ``extra_args``; stopped (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "kg.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if data is not None:
        command += ["--data", str(data)]
    command += list(extra_args)
    environment = {k: v for k, v in os.environ.items() if k not in env_names()}
    environment.update(env or {})
    with tempfile.NamedTemporaryFile(prefix="kg-serve-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    server = RunningServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_until_ready(server)
        yield server
    finally:
        _stop(process)
        log_path.unlink(missing_ok=True)
