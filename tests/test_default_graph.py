"""The store's default graph is the merge of every graph loaded (``kg.default_graph``).

Checked against an independent reading of the same files: rdflib's ``Dataset``, whose triples over
all graphs are a set. Every line form N-Quads allows is cut by the fast pattern only where it is
exactly one statement with a graph label; the others go through Oxigraph's parser, and both
paths must agree with Oxigraph on every line. A malformed file is reported at its own line, not
at the line of the doubled stream the loader reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph
from rdflib.compare import isomorphic

from kg import default_graph
from kg.store import MARKER, LoadError, is_current, load

LINES = {
    "canonical, IRI object": b"<http://x/s> <http://x/p> <http://x/o> <http://x/g> .\n",
    "canonical, blank nodes": b"_:s1 <http://x/p> _:o.1 _:g1 .\n",
    "canonical, plain literal": b'<http://x/s> <http://x/p> "a b . <http://x/y> # c" <http://x/g> .\n',
    "canonical, language tag": b'<http://x/s> <http://x/p> "chat"@fr-be <http://x/g> .\n',
    "canonical, datatype": b'<http://x/s> <http://x/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> <http://x/g> .\n',
    "canonical, escaped quotes": b'<http://x/s> <http://x/p> "say \\"hi\\" <http://x/z> " <http://x/g> .\n',
    "canonical, escaped backslash before the quote": b'<http://x/s> <http://x/p> "a\\\\" <http://x/g> .\n',
    "comment after the dot": b'<http://x/s> <http://x/p> "v" <http://x/g> . # "q" <http://x/c> .\n',
    "comment without spaces": b"<http://x/s> <http://x/p> <http://x/o> <http://x/g>.#<http://x/c> .\n",
    "tabs": b"<http://x/s>\t<http://x/p>\t<http://x/o>\t<http://x/g>\t.\n",
    "several spaces": b"<http://x/s>  <http://x/p> <http://x/o>   <http://x/g> . \n",
    "CRLF": b"<http://x/s> <http://x/p> <http://x/o> <http://x/g> .\r\n",
    "no final newline": b"<http://x/s> <http://x/p> <http://x/o> <http://x/g> .",
    "triple, IRI object": b"<http://x/s> <http://x/p> <http://x/o> .\n",
    "triple, literal ending like an IRI": b'<http://x/s> <http://x/p> "a <http://x/g>" .\n',
    "triple, datatype IRI last": b'<http://x/s> <http://x/p> "a <http://x/g>"^^<http://x/t> .\n',
    "comment line": b"# <http://x/s> <http://x/p> <http://x/o> <http://x/g> .\n",
    "blank line": b"\n",
}


def _oxigraph_triple(line: bytes) -> set[ox.Triple]:
    """The triple Oxigraph reads on ``line`` in a named graph, if any."""
    return {
        q.triple for q in ox.parse(line, format=ox.RdfFormat.N_QUADS) if not isinstance(q.graph_name, ox.DefaultGraph)
    }


@pytest.mark.parametrize("line", LINES.values(), ids=LINES.keys())
def test_each_line_gives_the_triple_oxigraph_reads(line: bytes) -> None:
    written = default_graph.triple_line(line)
    assert {q.triple for q in ox.parse(written, format=ox.RdfFormat.N_TRIPLES)} == _oxigraph_triple(line)


def test_only_canonical_statements_with_a_graph_take_the_fast_path() -> None:
    fast = {name for name, line in LINES.items() if default_graph.QUAD_LINE.fullmatch(line)}
    assert fast == {name for name in LINES if name.startswith("canonical")} | {"CRLF"}


def _dataset_file(tmp_path: Path) -> Path:
    """Every line form above, plus a triple stated in two graphs and the same blank node in two."""
    text = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in LINES.values())
    text += b"<http://x/s> <http://x/p> <http://x/o> <http://x/h> .\n_:s1 <http://x/q> _:o.1 <http://x/h> .\n"
    path = tmp_path / "all.nq"
    path.write_bytes(text)
    return path


def _default_graph(store: ox.Store) -> Graph:
    """The store's default graph, as Oxigraph writes it, read by rdflib."""
    data = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    return Graph().parse(data=data, format="nt")


def _merge(path: Path, fmt: str) -> Graph:
    """rdflib's reading: every triple of every graph of the file, once."""
    dataset = Dataset()
    dataset.parse(path, format=fmt)
    merged = Graph()
    for s, p, o, _ in dataset.quads():
        merged.add((s, p, o))
    return merged


@pytest.mark.parametrize("fmt", ["nquads", "trig"])
def test_the_default_graph_is_the_merge_of_all_graphs(tmp_path: Path, fmt: str) -> None:
    source = _dataset_file(tmp_path)
    if fmt == "trig":
        converted = tmp_path / "all.trig"
        converted.write_bytes(ox.serialize(ox.parse(path=str(source)), format=ox.RdfFormat.TRIG))
        source = converted
    store = ox.Store()
    default_graph.bulk_load(store, source, ox.RdfFormat.from_extension(source.suffix[1:]))
    merged = _default_graph(store)
    assert len(merged) == len(_merge(source, fmt)) == 11  # a triple stated in several graphs counts once
    assert isomorphic(merged, _merge(source, fmt))
    named = [q for q in store if not isinstance(q.graph_name, ox.DefaultGraph)]  # the store renames blank nodes
    assert len(named) == len({q for q in ox.parse(path=str(source)) if not isinstance(q.graph_name, ox.DefaultGraph)})


def test_a_triple_format_loads_into_the_default_graph_once(tmp_path: Path) -> None:
    path = tmp_path / "data.ttl"
    path.write_text("<http://x/s> <http://x/p> <http://x/o> , <http://x/o2> .\n")
    store = ox.Store()
    default_graph.bulk_load(store, path, ox.RdfFormat.TURTLE)
    assert len(store) == 2 and not list(store.named_graphs())


def test_a_query_counts_a_triple_stated_in_two_graphs_once(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    load(folder, [_dataset_file(tmp_path)])
    store = ox.Store.read_only(str(folder))
    query = "SELECT (COUNT(*) AS ?n) { <http://x/s> <http://x/p> <http://x/o> }"
    assert next(iter(store.query(query)))["n"].value == "1"
    union = next(iter(store.query(query.replace("{ <", "{ GRAPH ?g { <") + " }")))
    assert union["n"].value == "2"


@pytest.mark.parametrize("lines_before", [0, 3, 2000])
def test_a_malformed_line_is_reported_where_it_is_in_the_file(tmp_path: Path, lines_before: int) -> None:
    good = b"".join(b"<http://x/s%d> <http://x/p> <http://x/o> <http://x/g> .\n" % i for i in range(lines_before))
    path = tmp_path / "bad.nq"
    path.write_bytes(good + b'<http://x/s> <http://x/p> "never closed <http://x/g> .\n')
    with pytest.raises(LoadError, match=rf"bad\.nq: .*line {lines_before + 1}\b"):
        load(tmp_path / "store", [path])


def test_a_large_file_streams_through_in_chunks(tmp_path: Path) -> None:
    """More than one chunk of lines, a triple per line kept once in the default graph."""
    lines = [b'<http://x/s%d> <http://x/p> "%s" <http://x/g%d> .\n' % (i, b"x" * 200, i % 7) for i in range(12_000)]
    path = tmp_path / "big.nq"
    path.write_bytes(b"".join(lines))
    assert path.stat().st_size > 2 * default_graph.CHUNK
    store = ox.Store()
    default_graph.bulk_load(store, path, ox.RdfFormat.N_QUADS)
    assert len(list(store.quads_for_pattern(None, None, None, ox.DefaultGraph()))) == 12_000
    assert len(store) == 24_000


def test_a_kept_store_of_the_older_layout_is_loaded_again(tmp_path: Path) -> None:
    """A store kept by a version that did not write out the default graph would answer nothing."""
    data = _dataset_file(tmp_path)
    folder = tmp_path / "store"
    load(folder, [data])
    assert is_current(folder, [data])
    marker = folder / MARKER
    layout = json.loads(marker.read_text("utf-8"))
    marker.write_text(json.dumps(layout["files"]), "utf-8")  # what the version before wrote
    assert not is_current(folder, [data])
