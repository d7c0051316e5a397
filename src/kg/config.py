"""Project paths and settings, read once from ``[tool.kg]`` in pyproject.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATASET_NQ = "alignkg.nq"
DATASET_TRIG = "alignkg.trig"
ONTOLOGY_TTL = "ontology.ttl"
SHAPES_TTL = "shapes.ttl"
MANIFEST_JSON = "manifest.json"


@dataclass(frozen=True)
class Settings:
    """Where the project's sources and outputs live, and the server defaults."""

    root: Path
    base: str
    data_dir: Path
    ontology_dir: Path
    queries_dir: Path
    dist_dir: Path
    host: str
    port: int

    @property
    def shared_dir(self) -> Path:
        """The ``shared/`` folder that sits beside the project (seeds, reference, W3C tests)."""
        return self.root.parent / "shared"


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder above ``start`` holding pyproject.toml and ontology/."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "ontology").is_dir():
            return folder
    # Installed without a checkout: fall back to the source tree this module lives in.
    return Path(__file__).resolve().parents[2]


@cache
def settings(root: Path | None = None) -> Settings:
    """Settings for the project at ``root`` (found from the working directory by default)."""
    root = root or find_root()
    table = tomllib.loads((root / "pyproject.toml").read_text("utf-8")).get("tool", {}).get("kg", {})
    return Settings(
        root=root,
        base=table.get("base", "https://w3id.org/alignkg/"),
        data_dir=root / table.get("data_dir", "data"),
        ontology_dir=root / table.get("ontology_dir", "ontology"),
        queries_dir=root / table.get("queries_dir", "queries"),
        dist_dir=root / table.get("dist_dir", "dist"),
        host=table.get("host", "127.0.0.1"),
        port=int(table.get("port", 8000)),
    )
