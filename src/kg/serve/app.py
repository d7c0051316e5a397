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
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kg import __version__
from kg.namespaces import PREFIXES
from kg.queries import saved_queries_as_examples
from kg.serve import linked_data, openapi, saved_queries, shapes, sparql, void
from kg.serve.engine import PoolRunner
from kg.serve.errors import HttpError, error_response
from kg.serve.settings import ServeSettings
from kg.serve.stats import StatsCache
from kg.serve.workers import WorkerPool
from kg.store import serving_store, sources

if TYPE_CHECKING:
    from kg.serve.remote import RemoteBackend

log = logging.getLogger(__name__)

ROUTERS: list[Callable[[FastAPI], APIRouter]] = [
    sparql.routes,
    void.routes,
    saved_queries.routes,
    lambda app: linked_data.router(PoolRunner(app.state), shapes=shapes.runner_for(app)),
]
"""Every router of the application, in matching order."""

EXPOSED_HEADERS = [sparql.ROW_LIMIT_HEADER, sparql.TRUNCATED_HEADER, "Retry-After"]
CORS: dict[str, Any] = {
    "allow_origins": ["*"],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["*"],
    "expose_headers": EXPOSED_HEADERS,
}


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
        # kg serve spawns the workers while the store loads (kg.serve.command); else they start here.
        pool = getattr(app.state, "workers", None) or WorkerPool.for_settings(settings, folder)
        async with _serving(app, pool):
            yield


@asynccontextmanager
async def _remote(app: FastAPI, settings: ServeSettings) -> AsyncIterator[None]:
    """Queries go to ``settings.backend`` (kg.serve.remote) instead of local workers."""
    from kg.serve.remote import RemoteBackend, backend_auth  # httpx: imported only for a backend

    backend = RemoteBackend(
        settings.backend,
        settings.endpoint_url,
        settings.allow_service,
        dict(PREFIXES),
        settings.max_concurrent,
        settings.query_timeout,
        backend_auth(settings),
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


class App(FastAPI):
    """FastAPI with a short way for queries: GET and POST on the endpoint's path go straight to its
    handler, skipping FastAPI's router and middleware stack; the handler sends the response itself,
    with the CORS headers and the 500 for an unexpected error that the middleware would have given
    (:meth:`route_queries`). Every other request takes the full way. A middleware added to the app
    does not see these requests: add its effect in :meth:`route_queries` too."""

    _query_paths: frozenset[str] = frozenset()
    _queries: ASGIApp | None = None

    def route_queries(self, endpoint: sparql.SparqlEndpoint) -> None:
        """Send query requests to ``endpoint.answer`` directly."""
        cors = CORSMiddleware(self, **CORS).simple_headers  # what CORSMiddleware adds for a request with Origin
        cross_origin = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in cors.items()]

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            try:
                response = await endpoint.answer(request)
            except Exception as exc:  # what ServerErrorMiddleware would do: log it, answer 500
                response = await _unexpected(request, exc)
            headers = [(name, value) for name, value in response.raw_headers if name != b"vary"]
            vary = [value.decode("latin-1") for name, value in response.raw_headers if name == b"vary"]
            headers.append((b"vary", ", ".join([*vary, "Origin"]).encode("latin-1")))
            if any(name == b"origin" for name, _ in scope["headers"]):
                headers += cross_origin
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})

        self._queries = handle
        self._query_paths = frozenset({endpoint.path, endpoint.path + "/"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._queries is not None
            and scope["type"] == "http"
            and scope["method"] in ("GET", "POST")
            and scope["path"] in self._query_paths
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await self._queries(scope, receive, send)
            return
        if scope["type"] == "lifespan":
            receive = _shutdown_when_cancelled(receive)
        await super().__call__(scope, receive, send)


def _shutdown_when_cancelled(receive: Receive) -> Receive:
    """The lifespan's ``receive``, where being cancelled while waiting reads as the shutdown message.

    A second Ctrl-C makes uvicorn exit at once, without sending the shutdown: its event loop then
    cancels the lifespan task, and Starlette would log that as a failed shutdown, with a traceback.
    Read as a shutdown instead, the lifespan's own exit runs (the workers stop) and nothing is logged."""

    async def receive_or_shutdown() -> Message:
        try:
            return await receive()
        except asyncio.CancelledError:
            return {"type": "lifespan.shutdown"}

    return receive_or_shutdown


def create_app(settings: ServeSettings) -> FastAPI:
    """The application serving ``settings.data`` (dist/ when empty, built first if missing)."""
    settings = data_settings(settings)
    app = App(
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
        router = make_router(app)
        app.include_router(router)
        if isinstance(router, sparql.SparqlEndpoint):
            app.route_queries(router)
    from kg.serve import ui

    ui.mount_assets(app)
    app.add_middleware(CORSMiddleware, **CORS)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema of the API routes, plus /sparql (plain routes, described by kg.serve.openapi)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema["paths"].update(openapi.paths(sparql.PATH))
        app.openapi_schema = schema
    return app.openapi_schema
