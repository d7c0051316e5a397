"""Assemble the whole dataset: ontology, reference data, entities, documents, derived graphs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Dataset, Graph
from rdflib.compare import to_canonical_graph

from kg.encode.derive import derive_in_favour_votes
from kg.encode.document import DOCUMENT_FILE, compile_document
from kg.encode.entities import compile_entities, country_labels
from kg.encode.errors import BuildFailed, SourceError
from kg.encode.reference_data import UN_MEMBERS_CSV, load_member_states, reference_graph
from kg.encode.registry import Registry
from kg.encode.vocabulary import Vocabulary
from kg.namespaces import GRAPH, bind_all
from kg.queries import queries_graph

ONTOLOGY_GRAPH = GRAPH["ontology"]
ONTOLOGY_FILES = ("alignkg.ttl", "alignkg-align.ttl")
SHAPES_FILE = "shapes.ttl"
ENTITIES_FILE = "entities.yaml"


@dataclass(frozen=True)
class Sources:
    """Where the build reads from."""

    data_dir: Path
    ontology_dir: Path

    @property
    def documents(self) -> list[Path]:
        """Document folders, in ID order."""
        root = self.data_dir / "documents"
        return sorted(p for p in root.iterdir() if (p / DOCUMENT_FILE).is_file())


def parse_turtle(path: Path, graph: Graph | None = None) -> Graph:
    """Parse a Turtle file, reporting syntax errors with the file and line."""
    graph = graph if graph is not None else Graph()
    try:
        graph.parse(path, format="turtle")
    except Exception as exc:  # rdflib raises several parser error types
        raise SourceError(path, _line_of(exc), f"Turtle syntax error: {exc}") from exc
    return graph


def _line_of(exc: Exception) -> int | None:
    line = getattr(exc, "lines", None) or getattr(exc, "line", None)
    return line if isinstance(line, int) else None


def load_ontology(ontology_dir: Path) -> Graph:
    """The ontology (core and alignment modules) as one graph, its blank nodes (class unions) labelled
    canonically so that the build stays byte-for-byte reproducible."""
    parsed = Graph()
    for name in ONTOLOGY_FILES:
        parse_turtle(ontology_dir / name, parsed)
    graph = Graph(identifier=ONTOLOGY_GRAPH)
    for triple in to_canonical_graph(parsed):
        graph.add(triple)
    return graph


def compile_dataset(sources: Sources) -> Dataset:
    """Compile every source into one Dataset of named graphs; raise BuildFailed on any error."""
    errors: list[SourceError] = []
    dataset = Dataset(default_union=True)
    bind_all(dataset)
    ontology = load_ontology(sources.ontology_dir)
    vocab = Vocabulary.from_ontology(ontology)
    registry = Registry()
    csv_path = sources.data_dir / "reference" / UN_MEMBERS_CSV
    entities_path = sources.data_dir / ENTITIES_FILE
    states = load_member_states(csv_path)
    registry.countries = {s.alpha3: s.iri for s in states}
    graphs: list[Graph] = [ontology, reference_graph(states, csv_path, country_labels(entities_path))]
    graphs.append(compile_entities(entities_path, registry, vocab))
    graphs.append(queries_graph())
    for folder in sources.documents:
        try:
            graphs.append(compile_document(folder, registry, vocab))
        except SourceError as exc:
            errors.append(exc)
    if errors:
        raise BuildFailed(errors)
    for graph in graphs:
        _add_graph(dataset, graph)
    _add_graph(dataset, derive_in_favour_votes(dataset, states))
    return dataset


def _add_graph(dataset: Dataset, graph: Graph) -> None:
    target = dataset.graph(graph.identifier)
    for triple in graph:
        target.add(triple)
