"""``kg serve``: parse the options, load the store, run the web server until stopped."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from kg.serve import settings as options
from kg.serve.stop_signals import Stopped, StopSignals
from kg.store import LoadError, loading_store, sources

if TYPE_CHECKING:
    import uvicorn

EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kg serve`` (each also a ``KG_<NAME>`` environment variable)."""
    options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 1 if the settings or the data are unusable.

    The store loads in a child process while the query workers start and this process imports and
    builds the web application (seconds of imports that would otherwise come after the load)."""
    stop = StopSignals()
    try:
        settings = options.from_sources(args).resolved()
        if not settings.data:
            from kg.serve.app import data_settings

            settings = data_settings(settings)  # the project's dist/, built first if missing
        if settings.backend:
            from kg.serve.app import create_app
            from kg.serve.remote import without_credentials

            shown = without_credentials(settings.backend)
            print(f"kg serve: queries go to the SPARQL backend {shown}", file=sys.stderr, flush=True)
            _run(_server(create_app(settings), settings), settings, stop)
            return 0
        stop.check()
        files = sources(settings.data).files
        print(f"kg serve: loading {', '.join(map(str, files))}", file=sys.stderr, flush=True)
        with loading_store(files, settings.store) as loading:
            stop.cut_short(loading)
            from kg.serve.workers import WorkerPool

            pool = WorkerPool.for_settings(settings, loading.folder)
            pool.spawn()  # the workers import their modules while the store loads
            try:
                from kg.serve.app import create_app

                app = create_app(replace(settings, store=loading.folder))
                app.state.workers = pool
                server = _server(app, settings)
                stop.check()
                try:
                    loading.wait()
                except LoadError:
                    stop.check()  # the stop ended the loader: say so, not that loading failed
                    raise
                _run(server, settings, stop)
            finally:
                pool.kill_spawned()
    except (ValueError, LoadError) as exc:
        print(f"kg serve: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Stopped as stopped:  # before serving: the loader, the workers and the temporary store are gone
        print(f"kg serve: stopped ({stopped})", file=sys.stderr, flush=True)
    return 0


def _server(app: object, settings: options.ServeSettings) -> uvicorn.Server:
    """The web server for ``app``, not started (``run()`` serves until stopped)."""
    import uvicorn

    from kg.serve.http import protocol

    # Room for a GET query at the query length limit, percent-encoded, and its headers.
    http, http_settings = protocol(max(64 * 1024, min(3 * settings.max_query_bytes, settings.max_body_bytes)))
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level in ("debug", "trace"),
        server_header=False,
        http=http,
        timeout_graceful_shutdown=5,
        **http_settings,
    )
    logging.getLogger("uvicorn.error").addFilter(_not_a_cancelled_task)  # after Config: it sets up logging
    return uvicorn.Server(config)


def _not_a_cancelled_task(record: logging.LogRecord) -> bool:
    """False for uvicorn's report of a request cancelled by a forced stop (a second Ctrl-C).

    uvicorn then leaves the requests still running to the event loop, which cancels them on
    closing, and logs each as an error with a traceback: the stop the user asked for, not a fault.
    A request is cancelled only then (a client that goes away is not a cancellation)."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, asyncio.CancelledError)


def _run(server: uvicorn.Server, settings: options.ServeSettings, stop: StopSignals) -> None:
    """Serve until stopped (unless a stop signal came already)."""
    stop.hand_to(server)  # first: a signal from now on stops the server, one before is raised here
    stop.check()
    print(
        f"kg serve: SPARQL endpoint at {settings.endpoint_url} (listening on {settings.host}:{settings.port})",
        file=sys.stderr,
        flush=True,
    )
    server.run()
