"""Load untrusted RDF files safely: format by extension, no remote JSON-LD contexts, no entities."""

from __future__ import annotations

from pathlib import Path

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
        options = {"remote_context": False} if fmt == "json-ld" else {}
        try:
            target.parse(path, format=fmt, **options)
        except Exception as exc:  # each rdflib parser raises its own error types
            raise ValueError(f"{path}: cannot parse as {fmt}: {exc}") from exc
    return dataset
