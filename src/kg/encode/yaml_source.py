"""Load YAML authoring files keeping the line of every mapping and key, for error messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kg.encode.errors import SourceError


class Located(dict):
    """A YAML mapping that remembers its file, its line and the line of each key."""

    path: Path
    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The line of ``key`` in the file, or of the mapping when the key is absent."""
        return self.key_lines.get(key, self.line)

    def error(self, message: str, key: str | None = None) -> SourceError:
        """A SourceError located at this mapping (or at one of its keys)."""
        return SourceError(self.path, self.line_of(key) if key else self.line, message)


def _loader_for(path: Path) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        """SafeLoader that builds Located mappings and refuses duplicate keys."""

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Located:
        mapping = Located()
        mapping.path = path
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in mapping:
                raise SourceError(path, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            mapping[key] = loader.construct_object(value_node, deep=True)
            mapping.key_lines[str(key)] = key_node.start_mark.line + 1
        return mapping

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def load_yaml(path: Path) -> Any:
    """Parse ``path`` as YAML with located mappings; syntax errors name the file and line."""
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(path, None, f"not UTF-8: {exc}") from exc
    try:
        return yaml.load(text, Loader=_loader_for(path))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(path, line, f"YAML syntax error: {exc.problem or exc}") from exc
