"""A loopback reverse proxy that demands one ``Authorization`` header before passing a request on.

    with auth_proxy("http://127.0.0.1:7878", basic("kg", "secret")) as proxy:
        httpx.post(proxy.url + "/query", data={"query": "ASK {}"}, auth=("kg", "secret"))

A request with any other header (or none) gets 401 with ``WWW-Authenticate``; its body repeats
the header it was sent, as a careless server might, so a client that relays the body would leak
it. ``expected`` can change while the proxy runs (None: every request passes). Accepted requests go to the upstream (method, path, body and headers but ``Host`` and
``Authorization``), and the upstream's status, headers and body come back.
"""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"host", "authorization", "connection", "keep-alive", "transfer-encoding", "content-length"}


def basic(user: str, password: str) -> str:
    """The ``Authorization`` header value of HTTP Basic for ``user``."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bearer(token: str) -> str:
    return f"Bearer {token}"


class AuthProxy:
    """The proxy's address, the header it wants, and how many requests it refused and passed on."""

    def __init__(self, server: ThreadingHTTPServer, expected: str | None) -> None:
        self.server = server
        self.expected = expected
        self.refused = 0
        self.passed = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _handler(upstream: str, state: list[AuthProxy]) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            given = self.headers.get("Authorization", "")
            if state[0].expected is not None and given != state[0].expected:
                state[0].refused += 1
                text = f"refused: {given or 'no credentials'}".encode()
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="sparql"')
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
            state[0].passed += 1
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                content = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped reading (a row cap): fine
            finally:
                connection.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def auth_proxy(upstream: str, expected: str | None) -> Iterator[AuthProxy]:
    """A proxy on a free 127.0.0.1 port passing to ``upstream`` the requests whose header is ``expected``."""
    state: list[AuthProxy] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, state))
    server.daemon_threads = True
    state.append(AuthProxy(server, expected))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()
