"""SIGTERM and SIGINT (Ctrl-C) for ``kg serve``: remembered while it starts, then handed to uvicorn.

While the server starts, a handler raises nothing. An exception raised by a signal handler goes
wherever the main thread happens to be, and Python does not always let it through: it drops one
raised inside a finalizer or a weakref callback ("Exception ignored in"), and wraps one raised inside
``__set_name__`` in a RuntimeError. Both were seen while the web application is imported: the first
time the server went on to serve as if never signalled, the second time it crashed with a traceback.
So the handler only remembers the signal and ends the store's loader if one runs (the wait for the
store then returns at once), and the start checks for a signal between its steps
(:meth:`StopSignals.check`; imports take about a second, building a missing dist/ about three).
Once serving, a signal asks uvicorn to stop; uvicorn's own handlers take over while it runs, and it
sends each signal it caught again after its shutdown, which must then do nothing more.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

    import uvicorn

    from kg.store import Loading

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Stopped(BaseException):
    """A stop signal came before serving (a BaseException, so no ``except Exception`` holds it)."""


class StopSignals:
    """Installs the handlers on creation; see the module docstring."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._loader: subprocess.Popen[bytes] | None = None
        for number in HANDLED:
            signal.signal(number, self._remember)

    def _remember(self, number: int, frame: object) -> None:
        self.received = signal.Signals(number)
        loader = self._loader
        if loader is not None and loader.returncode is None:  # not reaped: its pid is still its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(loader.pid, signal.SIGKILL)

    def cut_short(self, loading: Loading) -> None:
        """A stop signal from now on ends the loader of ``loading`` (its ``wait`` then fails at once)."""
        self._loader = loading.process
        if self.received is not None:
            self._remember(self.received, None)

    def check(self) -> None:
        """Raise :class:`Stopped` if a stop signal came."""
        if self.received is not None:
            raise Stopped(self.received.name)

    def hand_to(self, server: uvicorn.Server) -> None:
        """From now on a stop signal asks ``server`` to shut down gracefully."""

        def ask_to_stop(number: int, frame: object) -> None:
            server.should_exit = True

        for number in HANDLED:
            signal.signal(number, ask_to_stop)
