"""``kg serve``: parse the options, load the store, run the web server until stopped."""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import replace

import httpx

from kg.serve import settings as options
from kg.store import LoadError, serving_store, sources

EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kg serve`` (each also a ``KG_<NAME>`` environment variable)."""
    options.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 1 if the settings or the data are unusable."""
    from kg.serve.app import create_app, data_settings

    # uvicorn re-raises SIGTERM after its graceful shutdown; exit through Python so the
    # temporary store is removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        settings = data_settings(options.from_sources(args))
        if settings.backend:
            shown = httpx.URL(settings.backend).copy_with(username=None, password=None)
            print(f"kg serve: queries go to the SPARQL backend {shown}", file=sys.stderr, flush=True)
            _serve(create_app(settings), settings)
            return 0
        files = sources(settings.data).files
        print(f"kg serve: loading {', '.join(map(str, files))}", file=sys.stderr, flush=True)
        with serving_store(files, settings.store) as folder:
            app = create_app(replace(settings, store=folder))
            _serve(app, settings)
    except (ValueError, LoadError) as exc:
        print(f"kg serve: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _serve(app: object, settings: options.ServeSettings) -> None:
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
    print(
        f"kg serve: SPARQL endpoint at {settings.endpoint_url} (listening on {settings.host}:{settings.port})",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.Server(config).run()
