"""Admission control: at most ``max_concurrent`` queries running or waiting, 503 + Retry-After beyond."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager

from kg.serve.errors import HttpError
from kg.serve.ipc import Job, Reply


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


class AdmittedBackend(ABC):
    """A query backend behind admission control and a default time limit (the worker pool, a remote engine)."""

    def __init__(self, max_concurrent: int, timeout: float) -> None:
        self.max_concurrent = max_concurrent
        self.timeout = timeout
        self.admission = Admission(max_concurrent)

    @property
    def busy(self) -> int:
        """Queries admitted now (running or waiting)."""
        return self.admission.admitted

    async def execute(self, job: Job, timeout: float | None = None) -> Reply:
        """Evaluate ``job`` within ``timeout`` (default: the backend's); HttpError 503 when full."""
        limit = self.timeout if timeout is None else timeout
        with self.admission.slot():
            return await self._run(job, limit)

    @abstractmethod
    async def _run(self, job: Job, limit: float) -> Reply:
        """Evaluate one admitted job within ``limit`` seconds, errors mapped to HttpError."""
