"""Errors that point at the source file and line that caused them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SourceError(Exception):
    """A problem in a source file, located by file and (where known) line."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class BuildFailed(Exception):
    """The build stopped; ``errors`` says why, each with its location."""

    def __init__(self, errors: list[SourceError] | list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))
