"""``GET /queries``: the saved example queries as JSON; ``GET /queries/<name>``: run one.

Running is a ``303 See Other`` to ``../sparql?query=<the saved text>`` (``format=`` passed on),
so a saved query is answered by ``/sparql`` itself: the same protocol handling, content
negotiation, limits and SERVICE allow-list as any other query. The ``Location`` is relative, so
it stays right behind a proxy that mounts the server under a path.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from kg.queries import saved_queries
from kg.serve.errors import HttpError, error_response

PATH = "/queries"


async def list_queries() -> JSONResponse:
    """Every saved query: name, form, title, description, tags and query text."""
    return JSONResponse(
        [
            {
                "name": q.name,
                "form": q.form,
                "title": q.title,
                "description": q.description,
                "tags": list(q.tags),
                "query": q.query,
            }
            for q in saved_queries()
        ]
    )


async def run_query(name: str, request: Request) -> Response:
    """See Other: the saved query ``name`` on ``/sparql``; 404 for an unknown name."""
    found = next((q for q in saved_queries() if q.name == name), None)
    if found is None:
        return error_response(HttpError(404, f"No saved query is named {name!r}; {PATH} lists them."), request)
    params = {"query": found.query}
    if "format" in request.query_params:
        params["format"] = request.query_params["format"]
    return RedirectResponse(f"../sparql?{urlencode(params)}", status_code=303)


def routes(app: FastAPI) -> APIRouter:
    """The ``/queries`` router (``app`` unused: the queries come from the project's queries/)."""
    router = APIRouter()
    router.add_api_route(PATH, list_queries, methods=["GET"], summary="The saved example queries", name="saved-queries")
    router.add_api_route(
        PATH + "/{name}", run_query, methods=["GET"], summary="Run one saved query (303 to /sparql)",
        name="saved-query",
    )  # fmt: skip
    return router
