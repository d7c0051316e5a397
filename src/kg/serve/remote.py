"""Queries evaluated by a remote SPARQL 1.1 engine (``kg serve --backend URL``) instead of the workers.

:class:`RemoteBackend` has :class:`kg.serve.workers.WorkerPool`'s interface (``start``, ``close``,
``busy``, ``execute(job, timeout) -> Reply``), so every router works unchanged. Per job:

- the same guards as a worker (:mod:`kg.serve.guard`: nesting, the SERVICE allow-list) run first;
- the query goes to the engine by POST (``application/x-www-form-urlencoded``) with the job's
  ``default-graph-uri`` / ``named-graph-uri``; a query holding a relative IRI gets our endpoint's
  URL as its BASE, as the embedded store resolves it;
- it asks for line-based formats (SPARQL TSV for SELECT, N-Triples for graphs, SPARQL JSON for
  ASK, which has no TSV) and reads at most ``max_rows`` rows (plus a header) before closing the
  stream, so the engine's lazy evaluation stops too; the rows are parsed with pyoxigraph and
  re-serialised natively in the requested format, byte for byte what a worker would send;
- the time limit is ours (the httpx timeout covers the whole exchange) and the engine's errors
  become ours: its 400 a syntax error (400), a timeout 504, a refused connection 502, its 5xx
  502 (503 stays 503), each naming the backend.

Credentials: HTTP Basic (``--backend-user`` with ``KG_BACKEND_PASSWORD`` or ``--backend-password-file``)
or a bearer token (``KG_BACKEND_TOKEN`` or ``--backend-token-file``), see :func:`backend_auth`; or
in the URL. They go in the Authorization header only, never in a message, log line or page: the
engine's 401/403 becomes a 502 naming the options to set.

The default graph is the engine's: it must be the union of the named graphs, as in the embedded
store (``oxigraph serve --union-default-graph``, which repeats a triple stated in two graphs where
the embedded store keeps it once; see docs/scaling.md, also for Fuseki and QLever).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Generator
from itertools import islice

import httpx
import pyoxigraph as ox

from kg.serve import guard
from kg.serve.admission import AdmittedBackend
from kg.serve.errors import HttpError
from kg.serve.formats import JSONLD, RDF_FORMAT, RESULTS_FORMAT
from kg.serve.formats import NTRIPLES as NTRIPLES_FORMAT
from kg.serve.ipc import Job, Kind, Reply, ReplyHead, Status
from kg.serve.jsonld import ONTOLOGY_QUERY, Compactor, compactor_from_ntriples, serialize_graph
from kg.serve.settings import ServeSettings

log = logging.getLogger(__name__)

TSV = "text/tab-separated-values"
SRJ = "application/sparql-results+json"
NTRIPLES = "application/n-triples"
ACCEPT = f"{TSV}, {SRJ};q=0.9, {NTRIPLES};q=0.8, text/turtle;q=0.5"
LINE_FORMATS = {TSV: ox.QueryResultsFormat.TSV, NTRIPLES: ox.RdfFormat.N_TRIPLES}
MAX_MESSAGE = 2000
MAX_BODY_BYTES = 256 * 1024 * 1024
"""Largest non-line-based answer (Turtle, SPARQL JSON) read from the engine."""
THREAD_BYTES = 64 * 1024
"""Answers at least this large are converted on a thread, not on the event loop."""
CREDENTIAL_OPTIONS = (
    "--backend-user with KG_BACKEND_PASSWORD or --backend-password-file, or KG_BACKEND_TOKEN or --backend-token-file"
)


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer TOKEN`` on every request."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __repr__(self) -> str:
        return "BearerAuth(...)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


def http_auth(user: str, password: str, token: str) -> httpx.Auth | None:
    """A bearer token, else HTTP Basic for ``user``, else None (httpx then uses the URL's user info, if any)."""
    if token:
        return BearerAuth(token)
    if user:
        return httpx.BasicAuth(user, password)
    return None


def backend_auth(settings: ServeSettings) -> httpx.Auth | None:
    """The credentials ``settings`` give for the backend."""
    return http_auth(settings.backend_user, settings.backend_password, settings.backend_token)


def without_credentials(url: str) -> str:
    """``url`` without its user info, for messages."""
    return str(httpx.URL(url).copy_with(username=None, password=None))


class RemoteBackend(AdmittedBackend):
    """Evaluates jobs on a remote SPARQL endpoint, within our time, concurrency and row bounds."""

    def __init__(
        self,
        url: str,
        base_iri: str,
        allow_service: tuple[str, ...],
        prefixes: dict[str, str],
        max_concurrent: int,
        timeout: float,
        auth: httpx.Auth | None = None,
    ) -> None:
        super().__init__(max_concurrent, timeout)
        self.url = url
        self.auth = auth
        self.base_iri = base_iri
        self.allow_service = allow_service
        self.prefixes = prefixes
        self._client: httpx.AsyncClient | None = None
        self._compactor: Compactor | None = None

    @property
    def shown_url(self) -> str:
        """The backend's URL without credentials, for messages."""
        return without_credentials(self.url)

    async def start(self) -> None:
        """Open the connection pool and check the engine answers (a warning if not: it may come later)."""
        limits = httpx.Limits(max_connections=self.max_concurrent, max_keepalive_connections=16)
        self._client = httpx.AsyncClient(limits=limits, auth=self.auth)
        try:
            reply = await self.execute(Job("ASK {}", None, "json", None), 10.0)
            if reply.head.status != Status.OK:
                log.warning("the SPARQL backend %s answers ASK {} with: %s", self.shown_url, reply.head.message)
        except HttpError as exc:
            log.warning("%s", exc.detail)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _run(self, job: Job, limit: float) -> Reply:
        """Guards, then the engine, with its errors and our time limit mapped to HttpError."""
        try:
            refused = self._refusal(job)
            if refused is not None:
                return Reply(refused, b"")
            async with asyncio.timeout(limit):
                return await self._ask(job)
        except (TimeoutError, httpx.TimeoutException):
            raise HttpError(
                504, f"The query ran longer than the time limit of {limit:g} s and was stopped.", timeout_seconds=limit
            ) from None
        except httpx.TransportError as exc:
            raise HttpError(
                502,
                f"The SPARQL backend at {self.shown_url} cannot be reached ({type(exc).__name__}: {exc}). Retry shortly.",
                {"Retry-After": "5"},
            ) from None

    def _refusal(self, job: Job) -> ReplyHead | None:
        """The worker's guards: nesting depth and the SERVICE allow-list."""
        if guard.too_deep(job.query):
            return ReplyHead(
                Status.INVALID, message=f"The query nests (), {{}} or [] deeper than {guard.NESTING_LIMIT} levels."
            )
        refused = guard.refusal(guard.inspect(job.query, self.base_iri), self.allow_service)
        return ReplyHead(Status.FORBIDDEN, message=refused) if refused else None

    def _form(self, job: Job) -> dict[str, object]:
        query = job.query
        if any(t.kind == "iri" and ":" not in t.text for t in guard.tokens(query)):
            query = f"BASE <{self.base_iri}> {query}"  # same line: error positions keep their line numbers
        return {
            "query": query,
            "default-graph-uri": list(job.default_graphs),
            "named-graph-uri": list(job.named_graphs),
        }

    async def _ask(self, job: Job) -> Reply:
        assert self._client is not None, "start() first"
        if job.graph_format == JSONLD.key and self._compactor is None:
            await self._load_context()
        request = self._client.build_request("POST", self.url, data=self._form(job), headers={"Accept": ACCEPT})
        response = await self._client.send(request, stream=True)
        try:
            if response.status_code != 200:
                return self._failure(response.status_code, (await response.aread())[:MAX_MESSAGE])
            media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type in LINE_FORMATS:
                body = await _first_lines(response.aiter_bytes(), job.max_rows + (media_type == TSV) + 1)
            else:
                body = await _bounded(response.aiter_bytes(), MAX_BODY_BYTES)
        finally:
            await response.aclose()
        try:
            if len(body) < THREAD_BYTES and job.graph_format != JSONLD.key:  # JSON-LD: compacted on the thread
                return self._convert(job, media_type, body)
            return await asyncio.to_thread(self._convert, job, media_type, body)
        except (SyntaxError, ValueError) as exc:
            message = f"the SPARQL backend's answer ({media_type}) could not be read: {exc}"
            return Reply(ReplyHead(Status.UPSTREAM, message=message), b"")

    async def _load_context(self) -> None:
        """Make the JSON-LD context from the engine's ontology graph, as the served context is made."""
        reply = await self._ask(Job(ONTOLOGY_QUERY, None, None, NTRIPLES_FORMAT.key))
        if reply.head.status != Status.OK:
            raise HttpError(502, f"The JSON-LD context could not be made: {reply.head.message}")
        self._compactor = compactor_from_ntriples(self.base_iri, reply.body)

    def _jsonld(self) -> Compactor:
        assert self._compactor is not None, "_load_context() first"
        return self._compactor

    def _failure(self, status: int, body: bytes) -> Reply:
        text = body.decode("utf-8", errors="replace").strip()
        if status == 400:
            return Reply(ReplyHead(Status.SYNTAX, message=text), b"")
        if status == 503:
            raise HttpError(503, f"The SPARQL backend at {self.shown_url} is unavailable: {text}", {"Retry-After": "5"})
        if status == 504:
            raise HttpError(504, f"The SPARQL backend at {self.shown_url} stopped the query: {text}")
        if status in (401, 403):
            given = "refused our credentials" if self.auth or httpx.URL(self.url).username else "asks for credentials"
            message = f"The SPARQL backend at {self.shown_url} {given} ({status}): set {CREDENTIAL_OPTIONS}."
            return Reply(ReplyHead(Status.UPSTREAM, message=message), b"")
        return Reply(ReplyHead(Status.UPSTREAM, message=f"the SPARQL backend answered {status}: {text}"), b"")

    def _convert(self, job: Job, media_type: str, body: bytes) -> Reply:
        """The engine's answer parsed and re-serialised as a worker would, capped at ``max_rows``."""
        rdf = ox.RdfFormat.from_media_type(media_type)
        if rdf is not None:
            if job.graph_format is None:
                return Reply(ReplyHead(Status.NOT_ACCEPTABLE, Kind.GRAPH), b"")
            triples = list(islice(ox.parse(body, format=rdf), job.max_rows + 1))
            data = serialize_graph(triples[: job.max_rows], RDF_FORMAT[job.graph_format], self.prefixes, self._jsonld)
            return Reply(ReplyHead(Status.OK, Kind.GRAPH, len(triples) > job.max_rows), data)
        results_format = ox.QueryResultsFormat.from_media_type(media_type)
        if results_format is None:
            message = f"the SPARQL backend answered in {media_type or 'an unnamed format'}, which we do not read"
            return Reply(ReplyHead(Status.UPSTREAM, message=message), b"")
        result = ox.parse_query_results(body, format=results_format)
        if isinstance(result, ox.QueryBoolean):
            if job.ask_format is None:
                return Reply(ReplyHead(Status.NOT_ACCEPTABLE, Kind.BOOLEAN), b"")
            return Reply(ReplyHead(Status.OK, Kind.BOOLEAN), result.serialize(format=RESULTS_FORMAT[job.ask_format]))
        if job.select_format is None:
            return Reply(ReplyHead(Status.NOT_ACCEPTABLE, Kind.SOLUTIONS), b"")
        tsv = (
            body if results_format == ox.QueryResultsFormat.TSV else result.serialize(format=ox.QueryResultsFormat.TSV)
        )
        tsv, truncated = _cut(tsv or b"", job.max_rows)
        rows = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
        return Reply(
            ReplyHead(Status.OK, Kind.SOLUTIONS, truncated),
            rows.serialize(format=RESULTS_FORMAT[job.select_format]) or b"",
        )


def _cut(tsv: bytes, rows: int) -> tuple[bytes, bool]:
    """SPARQL TSV results cut to their header and first ``rows`` rows; whether rows were cut off."""
    if tsv and not tsv.endswith(b"\n"):
        tsv += b"\n"
    if tsv.count(b"\n") <= rows + 1:
        return tsv, False
    end = -1
    for _ in range(rows + 1):
        end = tsv.index(b"\n", end + 1)
    return tsv[: end + 1], True


async def _first_lines(chunks: AsyncIterator[bytes], lines: int) -> bytes:
    """The stream's bytes up to and including its ``lines``-th newline (or all of it if shorter)."""
    kept: list[bytes] = []
    seen = 0
    async for chunk in chunks:
        count = chunk.count(b"\n")
        if seen + count >= lines:
            end = -1
            for _ in range(lines - seen):
                end = chunk.index(b"\n", end + 1)
            kept.append(chunk[: end + 1])
            break
        seen += count
        kept.append(chunk)
    return b"".join(kept)


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole stream, refused beyond ``limit`` bytes."""
    kept = bytearray()
    async for chunk in chunks:
        kept += chunk
        if len(kept) > limit:
            raise HttpError(502, f"The SPARQL backend's answer is larger than {limit} bytes; it was not read.")
    return bytes(kept)
