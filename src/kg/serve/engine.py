"""Running queries on the worker pool from Python: what a worker's reply means, and a query runner.

:func:`raise_for_reply` turns a reply that is not a result into the HTTP error the endpoint sends.
:class:`PoolRunner` is the linked-data pages' ``QueryRunner`` (``kg.serve.neighbourhood``) over
the application's worker pool, so pages are built from the same killable, bounded workers.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import State

from kg.serve.errors import HttpError, syntax_error
from kg.serve.formats import ASK_FORMATS, GRAPH_FORMATS, SELECT_FORMATS
from kg.serve.ipc import Job, Kind, Reply, ReplyHead, Status

OFFERS = {
    Kind.BOOLEAN: ("ASK", ASK_FORMATS),
    Kind.SOLUTIONS: ("SELECT", SELECT_FORMATS),
    Kind.GRAPH: ("CONSTRUCT/DESCRIBE", GRAPH_FORMATS),
}


def offered(kind: Kind) -> str:
    """What a query form's results are offered as, for 406 messages."""
    form, formats = OFFERS[kind]
    return f"{form} results are offered as {', '.join(f.media_type for f in formats)}"


def raise_for_reply(head: ReplyHead) -> None:
    """Raise the HttpError a reply stands for, unless it is a result."""
    if head.status == Status.OK:
        return
    if head.status == Status.SYNTAX:
        raise syntax_error(head.message)
    if head.status == Status.NOT_ACCEPTABLE:
        raise HttpError(406, f"{offered(head.kind)}; the request accepts none of them.")
    status = {Status.FORBIDDEN: 403, Status.INVALID: 400, Status.UPSTREAM: 502}.get(head.status, 500)
    prefix = "" if status == 403 else "The query could not be evaluated: "
    raise HttpError(status, prefix + head.message)


class PoolRunner:
    """``select`` and ``construct`` on ``state.pool`` (looked up per call: the pool starts with the app).

    Results hold at most ``max_rows`` rows; a longer one raises HttpError 503 rather than come back cut.
    """

    def __init__(self, state: State, max_rows: int = 100_000, timeout: float | None = None) -> None:
        self.state = state
        self.max_rows = max_rows
        self.timeout = timeout
        """Seconds per query; None: the server's --query-timeout."""

    async def _run(self, job: Job) -> Reply:
        reply = await self.state.pool.execute(job, self.timeout)
        raise_for_reply(reply.head)
        if reply.head.truncated:
            raise HttpError(503, f"The answer is larger than {self.max_rows} rows; it is not shown cut short.")
        return reply

    async def select(self, query: str) -> list[dict[str, Any]]:
        """The solutions of a SELECT as SPARQL JSON bindings."""
        reply = await self._run(Job(query, "json", "json", None, max_rows=self.max_rows))
        return json.loads(reply.body)["results"]["bindings"]

    async def construct(self, query: str, media_type: str) -> bytes:
        """The graph of a CONSTRUCT or DESCRIBE serialised in ``media_type`` (any RDF format we serve)."""
        fmt = next((f for f in GRAPH_FORMATS if media_type in (f.media_type, *f.aliases)), None)
        if fmt is None:
            raise ValueError(f"{media_type} is not an RDF format the workers serialise")
        return (await self._run(Job(query, None, None, fmt.key, max_rows=self.max_rows))).body
