"""``kg load --to URL``: push the built dataset's named graphs to a SPARQL server.

Two ways in, per graph:

- the SPARQL 1.1 Graph Store HTTP Protocol (default): ``PUT URL?graph=G`` with the graph as
  N-Triples. PUT replaces the graph, so loading twice leaves one copy. Oxigraph server (0.5)
  clears the graph, then loads it: each step is a transaction, but a reader can see the graph
  empty in between;
- SPARQL 1.1 Update (``--update``): ``DROP SILENT GRAPH G`` then ``INSERT DATA`` in chunks of
  ``--chunk`` triples. With ``--replace`` (or when the graph fits in one chunk, or holds blank
  nodes) the drop and all inserts are one request, which engines that run a request as one
  transaction (Oxigraph, Fuseki TDB2) apply atomically: the way to swap a graph atomically.
  Chunked, readers may see a partial graph.

Before loading a graph its triples on the server are counted (GSP ``GET`` as N-Triples, or a
``COUNT`` at ``--query``); a graph already holding exactly the local count is skipped, so an
interrupted load is resumed by running the same command again. ``--replace`` loads every graph
whatever the server holds (for data that changed but kept its size).

Credentials: HTTP Basic (``--user`` or ``KG_LOAD_USER``, with ``KG_LOAD_PASSWORD`` or
``--password-file``) or a bearer token (``KG_LOAD_TOKEN`` or ``--token-file``); never on the
command line, never in a message (a URL's user info is left out of them too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx
import pyoxigraph as ox

from kg.serve.remote import http_auth, without_credentials
from kg.serve.settings import check_credentials, read_secret
from kg.store import rdf_format

NTRIPLES = "application/n-triples"
DEFAULT_CHUNK = 10_000
TIMEOUT = httpx.Timeout(30.0, read=600.0, write=600.0)
EXIT_FAILED = 1
EXIT_USAGE = 2
CREDENTIAL_OPTIONS = "--user with KG_LOAD_PASSWORD or --password-file, or KG_LOAD_TOKEN or --token-file"


class LoadFailed(Exception):
    """The server refused or could not be reached (the message says what to do)."""


@dataclass(frozen=True)
class Graph:
    """One graph of the dataset (``name`` None: the default graph) and its triples as N-Triples lines."""

    name: str | None
    lines: list[bytes]

    @property
    def label(self) -> str:
        return f"<{self.name}>" if self.name else "the default graph"

    @property
    def has_blank_nodes(self) -> bool:
        return any(b"_:" in line for line in self.lines)


def read_graphs(path: Path) -> list[Graph]:
    """The graphs of an RDF dataset file, sorted by name, each triple once."""
    graphs: dict[str | None, set[bytes]] = defaultdict(set)
    for quad in ox.parse(path=str(path), format=rdf_format(path)):
        name = quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else None
        graphs[name].add(ox.serialize([quad.triple], format=ox.RdfFormat.N_TRIPLES) or b"")
    return [Graph(name, sorted(graphs[name])) for name in sorted(graphs, key=lambda n: n or "")]


class Target:
    """The server: how to count a graph's triples there and how to replace a graph."""

    def __init__(self, client: httpx.Client, url: str, update: bool, query_url: str | None, chunk: int) -> None:
        self.client = client
        self.url = url
        self.update = update
        self.query_url = query_url
        self.chunk = chunk

    def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        shown = without_credentials(url)
        try:
            response = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.ConnectError as exc:
            raise LoadFailed(f"cannot connect to {shown} ({exc}); is the server running?") from None
        except httpx.TransportError as exc:
            raise LoadFailed(f"the connection to {shown} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code in (401, 403):
            raise LoadFailed(
                f"{shown} refused us ({response.status_code} {response.reason_phrase}): "
                f"set {CREDENTIAL_OPTIONS}, for a user with write access"
            )
        return response

    def count(self, graph: Graph) -> int:
        """Triples the server holds in ``graph`` (0 if it has no such graph)."""
        if self.query_url:
            where = f"GRAPH <{graph.name}> {{ ?s ?p ?o }}" if graph.name else "?s ?p ?o"
            response = self._send(
                "POST",
                self.query_url,
                data={"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ {where} }}"},
                headers={"Accept": "application/sparql-results+json"},
            )
            _check(response, "counting the triples of " + graph.label)
            return int(response.json()["results"]["bindings"][0]["n"]["value"])
        if self.update:
            raise LoadFailed("--update needs --query URL (the server's query endpoint) to count what is loaded")
        response = self._send("GET", self.url, params=_graph_param(graph), headers={"Accept": NTRIPLES})
        if response.status_code == 404:
            return 0
        _check(response, "reading " + graph.label)
        return sum(1 for line in response.content.splitlines() if line.strip() and not line.startswith(b"#"))

    def replace(self, graph: Graph, atomic: bool) -> None:
        """Make the server's ``graph`` hold exactly our triples."""
        body = b"".join(graph.lines)
        if not self.update:
            response = self._send(
                "PUT", self.url, params=_graph_param(graph), content=body, headers={"Content-Type": NTRIPLES}
            )
            _check(response, "loading " + graph.label)
            return
        drop = f"DROP SILENT GRAPH <{graph.name}>" if graph.name else "DROP SILENT DEFAULT"
        if atomic or len(graph.lines) <= self.chunk or graph.has_blank_nodes:
            self._update(f"{drop} ;\n{_insert(graph, graph.lines)}", graph)
            return
        self._update(drop, graph)
        for start in range(0, len(graph.lines), self.chunk):
            self._update(_insert(graph, graph.lines[start : start + self.chunk]), graph)

    def _update(self, update: str, graph: Graph) -> None:
        response = self._send(
            "POST",
            self.url,
            content=update.encode("utf-8"),
            headers={"Content-Type": "application/sparql-update; charset=utf-8"},
        )
        _check(response, "loading " + graph.label)


def _graph_param(graph: Graph) -> dict[str, str]:
    return {"graph": graph.name} if graph.name else {"default": ""}


def _insert(graph: Graph, lines: list[bytes]) -> str:
    triples = b"".join(lines).decode("utf-8")
    return f"INSERT DATA {{ GRAPH <{graph.name}> {{\n{triples}}} }}" if graph.name else f"INSERT DATA {{\n{triples}}}"


def _check(response: httpx.Response, doing: str) -> None:
    if response.status_code >= 300:
        text = response.text.strip()[:500]
        raise LoadFailed(f"{doing}: the server answered {response.status_code} {response.reason_phrase}: {text}")


def load(target: Target, graphs: Sequence[Graph], replace: bool, out: TextIO | None = None) -> int:
    """Load every graph not already there (all with ``replace``); the number loaded. Progress goes to ``out``."""
    out = out or sys.stderr
    loaded = 0
    for number, graph in enumerate(graphs, 1):
        prefix = f"[{number}/{len(graphs)}] {graph.label}"
        try:
            if not replace and target.count(graph) == len(graph.lines):
                print(f"{prefix}: already there ({len(graph.lines)} triples), skipped", file=out, flush=True)
                continue
            started = time.perf_counter()
            target.replace(graph, atomic=replace)
        except LoadFailed as exc:
            raise LoadFailed(
                f"{exc}\n{number - 1} of {len(graphs)} graphs are done; run the same command again to resume "
                "(graphs already complete on the server are skipped)"
            ) from None
        seconds = time.perf_counter() - started
        print(f"{prefix}: {len(graph.lines)} triples loaded in {seconds:.2f} s", file=out, flush=True)
        loaded += 1
    return loaded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``kg load``."""
    parser.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the server's Graph Store Protocol endpoint (Oxigraph: http://HOST:7878/store; Fuseki: "
        "http://HOST:3030/DATASET/data), or with --update its SPARQL Update endpoint",
    )
    parser.add_argument("--update", action="store_true", help="load with SPARQL Update (DROP + INSERT DATA)")
    parser.add_argument(
        "--query", metavar="URL", help="the server's query endpoint, to count loaded triples (needed with --update)"
    )
    parser.add_argument("--replace", action="store_true", help="load every graph, even those already there")
    parser.add_argument("--data", type=Path, default=None, help="the dataset file (default: dist/alignkg.nq)")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="triples per INSERT DATA with --update")
    parser.add_argument(
        "--user",
        help="user name for HTTP Basic authentication (password: env KG_LOAD_PASSWORD or --password-file) "
        "[env KG_LOAD_USER]",
    )
    parser.add_argument(
        "--password-file",
        type=Path,
        metavar="PATH",
        help="a file whose first line is the password [env KG_LOAD_PASSWORD_FILE]",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="PATH",
        help="a file whose first line is a bearer token (or env KG_LOAD_TOKEN) [env KG_LOAD_TOKEN_FILE]",
    )


def credentials(args: argparse.Namespace, url: str, environ: Mapping[str, str]) -> httpx.Auth | None:
    """The HTTP credentials the options and ``KG_LOAD_*`` variables give; ValueError if they do not fit."""
    user = args.user or environ.get("KG_LOAD_USER", "")
    password_file = args.password_file or _path(environ.get("KG_LOAD_PASSWORD_FILE"))
    token_file = args.token_file or _path(environ.get("KG_LOAD_TOKEN_FILE"))
    password = read_secret(environ.get("KG_LOAD_PASSWORD", ""), password_file, "KG_LOAD_PASSWORD", "--password-file")
    token = read_secret(environ.get("KG_LOAD_TOKEN", ""), token_file, "KG_LOAD_TOKEN", "--token-file")
    check_credentials(url, user, password, token, "--user", "KG_LOAD_PASSWORD or --password-file")
    return http_auth(user, password, token)


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def run(args: argparse.Namespace) -> int:
    """``kg load``: 0 when every graph is on the server, 1 when the load failed, 2 on bad options."""
    from kg.config import DATASET_NQ, settings

    data = args.data or settings().dist_dir / DATASET_NQ
    if not data.is_file():
        print(f"kg load: {data} does not exist; run `kg build` first", file=sys.stderr)
        return EXIT_USAGE
    try:
        auth = credentials(args, args.to, os.environ)
    except ValueError as exc:
        print(f"kg load: {exc}", file=sys.stderr)
        return EXIT_USAGE
    graphs = read_graphs(data)
    shown = without_credentials(args.to)
    print(f"kg load: {sum(len(g.lines) for g in graphs)} triples in {len(graphs)} graphs to {shown}", file=sys.stderr)
    with httpx.Client(auth=auth, timeout=TIMEOUT) as client:
        target = Target(client, args.to, args.update, args.query, max(1, args.chunk))
        try:
            loaded = load(target, graphs, args.replace)
        except LoadFailed as exc:
            print(f"kg load: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(f"kg load: done ({loaded} loaded, {len(graphs) - loaded} already there)", file=sys.stderr)
    return 0
