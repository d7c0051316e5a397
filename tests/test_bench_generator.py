"""The benchmark's generator (``bench/generate.py``): deterministic, valid, and flat in memory."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.config import DATASET_NQ

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

KG = [sys.executable, "-m", "kg.cli"]


@pytest.fixture(scope="module")
def base(dataset: Path) -> Path:
    """The real dataset the synthetic documents join: the session's build (conftest)."""
    return dataset


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_file_other_seed_other_file(base: Path, tmp_path: Path) -> None:
    one, two, other = tmp_path / "one.nq", tmp_path / "two.nq", tmp_path / "other.nq"
    generate.write_nquads(one, 10_000, 7, base)
    generate.write_nquads(two, 10_000, 7, base)
    generate.write_nquads(other, 10_000, 8, base)
    assert digest(one) == digest(two)
    assert digest(one) != digest(other)


def test_ten_thousand_quads_pass_the_shapes(base: Path, tmp_path: Path) -> None:
    out = tmp_path / "10k.nq"
    quads, documents = generate.write_nquads(out, 10_000, 3, base)
    assert quads >= 10_000 and documents >= 1
    store = ox.Store()
    store.bulk_load(path=str(out), format=ox.RdfFormat.N_QUADS)
    assert len(store) == quads  # every line a distinct, well-formed quad
    graphs = {g.value for g in store.named_graphs()}
    assert {f"https://w3id.org/alignkg/graph/document/syn-{i:07d}" for i in range(documents)} <= graphs
    result = subprocess.run([*KG, "validate", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "syn-" not in result.stdout, "a synthetic document has validation results:\n" + result.stdout[-3000:]


def test_every_claim_kind_and_a_vote_are_generated(base: Path) -> None:
    pools = generate.load_pools(base)
    document = generate.make_document(0, 1, pools)  # document 0 also records a vote
    text = "".join(document.quads)
    for kind in ("EventClaim", "RelationClaim", "StanceClaim", "Statement", "Membership", "VoteRecord", "VoteTally"):
        assert f"<https://w3id.org/alignkg/ontology/{kind}>" in text, kind
    assert text.count("/ontology/VoteRecord>") == len(pools.members) == 193


def test_evidence_offsets_select_the_quote(base: Path) -> None:
    pools = generate.load_pools(base)
    document = generate.make_document(5, 1, pools)
    store = ox.Store()
    store.load(input="".join(document.quads).encode(), format=ox.RdfFormat.N_QUADS)
    query = """SELECT ?exact ?start ?end ?text WHERE {
        ?e <http://www.w3.org/ns/oa#exact> ?exact ; <http://www.w3.org/ns/oa#start> ?start ;
           <http://www.w3.org/ns/oa#end> ?end ; <http://www.w3.org/ns/prov#wasQuotedFrom> ?d .
        ?d <https://schema.org/text> ?text }"""
    rows = list(store.query(query, use_default_graph_as_union=True))
    assert len(rows) >= 6
    for exact, start, end, text in rows:
        assert text.value[int(start.value) : int(end.value)] == exact.value


def _peak(base: Path, out: Path, quads: int) -> int:
    generate.load_pools(base)  # warm caches so both runs start alike
    tracemalloc.start()
    generate.write_nquads(out, quads, 1, base)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_stays_flat(base: Path, tmp_path: Path) -> None:
    small = _peak(base, tmp_path / "10k.nq", 10_000)
    large = _peak(base, tmp_path / "100k.nq", 100_000)
    assert large < 1.5 * small, f"peak {small / 2**20:.1f} MiB at 10k, {large / 2**20:.1f} MiB at 100k"


def test_yaml_documents_build(base: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate.write_yaml(data, 3, 1, base, ROOT / "data")
    assert sorted(p.name for p in (data / "documents").iterdir())[-3:] == [f"syn-{i:07d}" for i in range(3)]
    dist = tmp_path / "dist"
    result = subprocess.run(
        [*KG, "build", "--data", str(data), "--dist", str(dist), "-q"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    store = ox.Store()
    store.bulk_load(path=str(dist / DATASET_NQ), format=ox.RdfFormat.N_QUADS)
    claims = store.query(
        "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/alignkg/graph/document/syn-0000002> "
        "{ ?c a <https://w3id.org/alignkg/ontology/Claim> } }"
    )
    assert int(next(iter(claims))["n"].value) >= 4
