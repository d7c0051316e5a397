"""Admission control: at most ``max_concurrent`` queries running or waiting, 503 + Retry-After beyond."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kg.serve.errors import HttpError


class Admission:
    """Counts the queries admitted now; ``slot()`` admits one or refuses it with 503."""

    def __init__(self, max_concurrent: int) -> None:
        self.max_concurrent = max_concurrent
        self.admitted = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one place while the block runs; raise HttpError 503 when every place is taken."""
        if self.admitted >= self.max_concurrent:
            raise HttpError(
                503,
                f"The endpoint is busy: {self.max_concurrent} queries are already running or waiting. Retry shortly.",
                {"Retry-After": "1"},
                max_concurrent=self.max_concurrent,
            )
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1
