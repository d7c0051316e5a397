"""The HTTP/1.1 protocol uvicorn speaks for ``kg serve``: httptools, with the request head bounded.

uvicorn's httptools protocol collects the request line and headers without any limit (the URL by
``bytes +=``, so a long one also costs quadratic copying); its h11 protocol bounds them
(``h11_max_incomplete_event_size``) but costs more than twice the CPU per request (0.28 vs 0.12 ms
on a bare route, measured). So we use httptools with a bound: a request whose line and headers
exceed ``max_head_bytes`` is answered 400 by uvicorn and its connection closed. Without httptools
installed, h11 with the same bound.
"""

from __future__ import annotations

from typing import Any


class HeadTooLarge(Exception):
    """The request line and headers are longer than allowed."""


def protocol(max_head_bytes: int) -> tuple[Any, dict[str, Any]]:
    """uvicorn's ``http`` setting and any extra settings it needs, for heads up to ``max_head_bytes``."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11", {"h11_max_incomplete_event_size": max_head_bytes}

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.head_bytes = 0

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value))
            super().on_header(name, value)

        def _count(self, size: int) -> None:
            self.head_bytes += size
            if self.head_bytes > max_head_bytes:
                raise HeadTooLarge(f"request line and headers exceed {max_head_bytes} bytes")

    return BoundedHttpToolsProtocol, {}
