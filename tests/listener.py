"""A loopback TCP listener for SSRF tests: records every request; answers SPARQL JSON or a redirect."""

from __future__ import annotations

import contextlib
import socket
import threading

ANSWER = b'{"head":{"vars":["x"]},"results":{"bindings":[{"x":{"type":"literal","value":"remote"}}]}}'
"""The one solution the listener gives as a SPARQL endpoint: ?x = "remote"."""


class Listener:
    """A TCP server on 127.0.0.1 that records every request it gets.

    It answers as a SPARQL endpoint (one solution, :data:`ANSWER`), or with a 302 to ``redirect_to``.
    """

    def __init__(self, redirect_to: str | None = None) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.redirect_to = redirect_to
        self.received: list[bytes] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        return len(self.received)

    def _answer(self) -> bytes:
        if self.redirect_to:
            return f"HTTP/1.1 302 Found\r\nlocation: {self.redirect_to}\r\ncontent-length: 0\r\n\r\n".encode()
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: application/sparql-results+json\r\n"
            f"content-length: {len(ANSWER)}\r\nconnection: close\r\n\r\n"
        )
        return head.encode() + ANSWER

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    request = connection.recv(65536)
                except OSError:
                    request = b""
                self.received.append(request)  # every connection counts, even one that sent nothing
                with contextlib.suppress(OSError):
                    connection.sendall(self._answer())

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.socket.close()
