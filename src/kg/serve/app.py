"""The web application of ``kg serve``: its routers, its lifespan (store and workers), its errors.

Routers are listed once, in :data:`ROUTERS`: each entry takes the application and returns an
``APIRouter`` (settings are in ``app.state.settings``). ``app.state`` holds what handlers share:
``settings``, ``pool`` (the query workers, :class:`kg.serve.workers.WorkerPool`, started with the
app), ``stats`` (dataset statistics, gathered on first use) and ``example_queries`` (a callable
returning the query page's example tabs). Code that needs data queries through the pool:
``kg.serve.engine.PoolRunner(app.state)`` has ``select`` and ``construct``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from kg import __version__
from kg.namespaces import PREFIXES
from kg.queries import saved_queries_as_examples
from kg.serve import linked_data, openapi, saved_queries, sparql, void
from kg.serve.engine import PoolRunner
from kg.serve.errors import HttpError, error_response
from kg.serve.remote import RemoteBackend
from kg.serve.settings import ServeSettings
from kg.serve.stats import StatsCache
from kg.serve.workers import WorkerConfig, WorkerPool
from kg.store import serving_store, sources

log = logging.getLogger(__name__)

ROUTERS: list[Callable[[FastAPI], APIRouter]] = [
    sparql.routes,
    void.routes,
    saved_queries.routes,
    lambda app: linked_data.router(PoolRunner(app.state)),
]
"""Every router of the application, in matching order."""

EXPOSED_HEADERS = [sparql.ROW_LIMIT_HEADER, sparql.TRUNCATED_HEADER, "Retry-After"]


def data_settings(settings: ServeSettings) -> ServeSettings:
    """``settings`` with the host, port, public URL and data filled in (building dist/ if needed)."""
    settings = settings.resolved()
    if settings.data:
        return settings
    from kg.build import ensure_built

    return replace(settings, data=(ensure_built(),))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load (or reuse) the store, start the query workers; stop them on the way out."""
    settings: ServeSettings = app.state.settings
    if settings.backend:
        async with _remote(app, settings):
            yield
        return
    with ExitStack() as stack:
        files = sources(settings.data).files
        folder = await asyncio.to_thread(stack.enter_context, serving_store(files, settings.store))
        config = WorkerConfig(
            folder, settings.endpoint_url, settings.allow_service, dict(PREFIXES), settings.memory_limit_mb
        )
        pool = WorkerPool(config, settings.workers, settings.max_concurrent, settings.query_timeout)
        async with _serving(app, pool):
            yield


@asynccontextmanager
async def _remote(app: FastAPI, settings: ServeSettings) -> AsyncIterator[None]:
    """Queries go to ``settings.backend`` (kg.serve.remote) instead of local workers."""
    backend = RemoteBackend(
        settings.backend,
        settings.endpoint_url,
        settings.allow_service,
        dict(PREFIXES),
        settings.max_concurrent,
        settings.query_timeout,
    )
    async with _serving(app, backend):
        yield


@asynccontextmanager
async def _serving(app: FastAPI, backend: WorkerPool | RemoteBackend) -> AsyncIterator[None]:
    """Start ``backend``, make it the app's query pool (with dataset statistics on it), close it after."""
    await backend.start()
    app.state.pool = backend
    app.state.stats = StatsCache(app.state)
    try:
        yield
    finally:
        await backend.close()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return error_response(exc, request)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(HttpError(exc.status_code, str(exc.detail), dict(exc.headers or {})), request)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    return error_response(HttpError(400, f"Invalid request: {exc}"), request)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HttpError(500, "Internal error; it has been logged."), request)


def create_app(settings: ServeSettings) -> FastAPI:
    """The application serving ``settings.data`` (dist/ when empty, built first if missing)."""
    settings = data_settings(settings)
    app = FastAPI(
        title=sparql.TITLE,
        description=sparql.DESCRIPTION,
        version=__version__,
        lifespan=lifespan,
        exception_handlers={
            HttpError: _http_error,
            HTTPException: _starlette_error,
            RequestValidationError: _invalid_request,
            Exception: _unexpected,
        },
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.example_queries = saved_queries_as_examples
    for make_router in ROUTERS:
        app.include_router(make_router(app))
    from kg.serve import ui

    ui.mount_assets(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
    )
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema of the API routes, plus /sparql (plain routes, described by kg.serve.openapi)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema["paths"].update(openapi.paths(sparql.PATH))
        app.openapi_schema = schema
    return app.openapi_schema
