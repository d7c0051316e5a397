"""Errors a client can be told about: a status, what happened, and the limit that applied.

Every refusal of the endpoint is an :class:`HttpError`; :func:`error_response` renders it as
JSON (``{"status", "error", "detail", ...}``) or, for clients that prefer it, plain text. No
stack trace ever reaches a response body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kg.serve.formats import choose
from kg.serve.representations import Format

JSON_ERROR = Format("json", "application/json", "JSON")
TEXT_ERROR = Format("text", "text/plain", "text", charset=True)

REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_POSITION = re.compile(r"error at (\d+):(\d+)")


class HttpError(Exception):
    """A refusal with its HTTP status; ``extra`` adds fields (e.g. the limit) to the JSON body."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def syntax_error(message: str) -> HttpError:
    """400 for a query Oxigraph could not parse, with the line and column it reported."""
    found = _POSITION.search(message)
    position = {"line": int(found.group(1)), "column": int(found.group(2))} if found else {}
    return HttpError(400, f"Syntax error in the SPARQL query: {message}", **position)


def error_response(error: HttpError, request: Request | None = None) -> Response:
    """The response for ``error``: JSON unless the client prefers plain text."""
    accept = request.headers.get("accept") if request is not None else None
    reason = REASONS.get(error.status, "Error")
    headers = {"Vary": "Accept", **error.headers}
    if choose(accept, (JSON_ERROR, TEXT_ERROR)) is TEXT_ERROR:
        text = f"{error.status} {reason}: {error.detail}\n"
        return Response(text, error.status, headers, media_type="text/plain; charset=utf-8")
    body = {"status": error.status, "error": reason, "detail": error.detail, **error.extra}
    return Response(json.dumps(body, ensure_ascii=False), error.status, headers, media_type="application/json")
