"""Load untrusted RDF files safely: format by extension, no remote JSON-LD contexts, no entities.

rdflib's JSON-LD parser fetches any remote ``@context`` it meets, with no switch to stop it, so
JSON-LD is read with :mod:`json` first and refused if any ``@context`` names a remote document.
RDF/XML is parsed by expat, whose external-entity feature is off by default (nothing is fetched);
RDF/XML that declares entities at all is refused, since expat expands internal entities (an
"entity bomb" of a few hundred bytes grows to megabytes and takes rdflib minutes to parse).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rdflib import Dataset

FORMATS = {
    ".ttl": "turtle",
    ".trig": "trig",
    ".nq": "nquads",
    ".nt": "nt",
    ".jsonld": "json-ld",
    ".json": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
}


def load_rdf_files(files: list[Path]) -> Dataset:
    """Parse every file into one Dataset; errors name the file (and line where the parser says)."""
    dataset = Dataset()
    for path in files:
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"{path}: unknown RDF file extension (use one of {', '.join(sorted(FORMATS))})")
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        target = dataset if fmt in {"trig", "nquads"} else dataset.graph(path.resolve().as_uri())
        try:
            if fmt == "json-ld":
                text = path.read_text("utf-8")
                if remote := remote_contexts(json.loads(text)):
                    raise ValueError(f"remote JSON-LD contexts are not fetched: {', '.join(sorted(remote))}")
                target.parse(data=text, format=fmt)
            elif fmt == "xml":
                content = path.read_bytes()
                if b"<!ENTITY" in content:
                    raise ValueError("RDF/XML with entity declarations (<!ENTITY ...>) is refused")
                target.parse(data=content, format=fmt, publicID=path.resolve().as_uri())
            else:
                target.parse(path, format=fmt)
        except Exception as exc:  # each rdflib parser raises its own error types
            raise ValueError(f"{path}: cannot parse as {fmt}: {exc}") from exc
    return dataset


def remote_contexts(node: Any) -> set[str]:
    """Every ``@context`` reference in a JSON-LD document that would need fetching."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                refs = value if isinstance(value, list) else [value]
                found.update(ref for ref in refs if isinstance(ref, str))
                found.update(*(remote_contexts(ref) for ref in refs if isinstance(ref, dict)))
            else:
                found |= remote_contexts(value)
    elif isinstance(node, list):
        for item in node:
            found |= remote_contexts(item)
    return found
