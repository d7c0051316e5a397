"""The built dataset: faithful to the sources, complete on the UN vote, deterministic, and safe to rebuild."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pycountry
import pyoxigraph as ox
import pytest
import yaml

from kg.build import run_build
from kg.config import DATASET_NQ, DATASET_TRIG, MANIFEST_JSON, ONTOLOGY_TTL, SHAPES_TTL
from kg.namespaces import sparql_prologue

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DIST_FILES = (DATASET_NQ, DATASET_TRIG, ONTOLOGY_TTL, SHAPES_TTL, MANIFEST_JSON)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("build") / "dist"
    assert run_build(target, quiet=True) == 0
    return target


@pytest.fixture(scope="module")
def store(dist: Path) -> ox.Store:
    store = ox.Store()
    store.bulk_load(path=str(dist / DATASET_NQ), format=ox.RdfFormat.N_QUADS)
    return store


def select(store: ox.Store, query: str) -> list[dict[str, str]]:
    """Run a SELECT over the union of the named graphs; values as plain strings."""
    solutions = store.query(sparql_prologue() + query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def test_every_member_state_has_one_vote_record(store: ox.Store) -> None:
    rows = select(
        store,
        """
        SELECT ?state (COUNT(DISTINCT ?record) AS ?n) WHERE {
          ?m org:organization <https://w3id.org/alignkg/id/organization/un> ; org:member ?state .
          OPTIONAL { ?record akg:voter ?state ; akg:resolution <https://w3id.org/alignkg/id/resolution/a-res-es-11-1> }
        } GROUP BY ?state""",
    )
    assert len(rows) == 193
    assert {row["n"] for row in rows} == {"1"}


def test_vote_split_matches_stated_tally(store: ox.Store) -> None:
    counts = {
        r["option"]: int(r["n"])
        for r in select(
            store,
            """
        SELECT ?option (COUNT(DISTINCT ?record) AS ?n) WHERE {
          ?record a akg:VoteRecord ; akg:resolution <https://w3id.org/alignkg/id/resolution/a-res-es-11-1> ;
                  akg:voteOption/skos:prefLabel ?option .
        } GROUP BY ?option""",
        )
    }
    assert counts == {"in favour": 141, "against": 5, "abstention": 35, "absent": 12}
    stated = {
        r["option"]: int(r["count"])
        for r in select(
            store,
            """
        SELECT ?option ?count WHERE {
          ?tally a akg:VoteTally ; akg:resolution <https://w3id.org/alignkg/id/resolution/a-res-es-11-1> ;
                 akg:voteOption/skos:prefLabel ?option ; akg:count ?count ;
                 akg:statedIn <https://w3id.org/alignkg/id/document/000> .
        }""",
        )
    }
    assert stated == {"in favour": 141, "against": 5, "abstention": 35}
    assert all(counts[option] == n for option, n in stated.items())


def _states(store: ox.Store, option: str) -> set[str]:
    return {
        r["code"]
        for r in select(
            store,
            f"""
        SELECT ?code WHERE {{
          GRAPH <https://w3id.org/alignkg/graph/document/000> {{ ?r akg:voteOption vocab:{option} ; akg:voter ?s }}
          ?s akg:isoAlpha3 ?code .
        }}""",
        )
    }


def test_listed_votes_are_exactly_those_of_document_000(store: ox.Store) -> None:
    assert _states(store, "against") == {"RUS", "BLR", "SYR", "PRK", "ERI"}
    absent = {"AZE", "BFA", "CMR", "ETH", "SWZ", "GIN", "GNB", "MAR", "TGO", "TKM", "UZB", "VEN"}
    assert _states(store, "absent") == absent
    abstained = _states(store, "abstention")
    assert len(abstained) == 35
    assert "COG" in abstained and "COD" not in abstained  # "Congo" is the Republic of the Congo


def test_in_favour_votes_are_derived_with_provenance(store: ox.Store) -> None:
    rows = select(
        store,
        """
        SELECT ?record ?activity ?graph WHERE {
          GRAPH ?graph { ?record akg:voteOption vocab:in-favour ; akg:epistemicStatus vocab:derived ;
                                 prov:wasGeneratedBy ?activity ;
                                 prov:wasDerivedFrom <https://w3id.org/alignkg/id/document/000> , <https://w3id.org/alignkg/id/source/un-member-states-2022> . }
          ?activity a prov:Activity ; rdfs:comment ?how .
        }""",
    )
    assert len(rows) == 141
    assert {r["graph"] for r in rows} == {"https://w3id.org/alignkg/graph/derived/votes"}


def _seed_texts() -> dict[str, str]:
    return {p.name.split("_", 1)[0]: p.read_text("utf-8") for p in (SHARED / "seeds").glob("*.txt")}


def test_texts_are_kept_byte_for_byte(store: ox.Store) -> None:
    for doc_id, text in _seed_texts().items():
        source = next((SHARED / "seeds").glob(f"{doc_id}_*.txt"))
        assert (ROOT / "data" / "documents" / doc_id / "text.txt").read_bytes() == source.read_bytes()
        [row] = select(
            store,
            f"SELECT ?text ?file WHERE {{ <https://w3id.org/alignkg/id/document/{doc_id}> schema:text ?text ; akg:sourceFile ?file }}",
        )
        assert row["text"] == text and row["file"] == source.name


def test_every_evidence_quote_occurs_verbatim_at_its_offsets(store: ox.Store) -> None:
    texts = _seed_texts()
    rows = select(
        store,
        """
        SELECT ?doc ?exact ?start ?end WHERE {
          ?ev a akg:Evidence ; oa:exact ?exact ; oa:start ?start ; oa:end ?end ; prov:wasQuotedFrom ?d .
          ?d dcterms:identifier ?doc .
        }""",
    )
    claims_without_evidence = select(
        store,
        """
        SELECT ?c WHERE { ?c a akg:Claim FILTER NOT EXISTS { ?c akg:evidence ?e } }""",
    )
    assert rows and claims_without_evidence == []
    for row in rows:
        assert texts[row["doc"]][int(row["start"]) : int(row["end"])] == row["exact"], row


def test_quotations_occur_verbatim_in_their_evidence(store: ox.Store) -> None:
    rows = select(
        store,
        """
        SELECT ?quote (GROUP_CONCAT(?exact; separator="\\u0001") AS ?spans) WHERE {
          ?s a akg:Statement ; akg:quote ?quote ; akg:evidence/oa:exact ?exact .
        } GROUP BY ?s ?quote""",
    )
    assert len(rows) == sum(len(_as_list(s.get("quote", []))) for s in _authored("statements"))
    for row in rows:
        assert any(row["quote"] in span for span in row["spans"].split("\u0001")), row


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _authored(section: str) -> list[dict]:
    """Every entry of one section across the documents' authoring files."""
    entries: list[dict] = []
    for path in sorted((ROOT / "data" / "documents").glob("*/document.yaml")):
        entries += yaml.safe_load(path.read_text("utf-8")).get(section, [])
    return entries


def test_each_document_graph_holds_only_what_that_document_says(store: ox.Store) -> None:
    for doc_id in ("000", "001"):
        doc = f"https://w3id.org/alignkg/id/document/{doc_id}"
        foreign = select(
            store,
            f"""
            SELECT DISTINCT ?s WHERE {{
              GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ ?s ?p ?o }}
              FILTER(?s != <{doc}> && ?s != <https://w3id.org/alignkg/graph/document/{doc_id}>)
              FILTER NOT EXISTS {{ GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ ?s akg:statedIn <{doc}> }} }}
              FILTER NOT EXISTS {{ GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ ?s prov:wasQuotedFrom <{doc}> }} }}
              FILTER NOT EXISTS {{ GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ ?s a akg:Event }} }}
              FILTER NOT EXISTS {{ GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ ?claim akg:aboutEvent ?s ; akg:statedIn <{doc}> }} }}
            }}""",
        )
        assert foreign == [], f"subjects in graph {doc_id} that the document does not state: {foreign}"
        other = select(
            store,
            f"""
            SELECT ?s ?other WHERE {{
              GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ {{ ?s akg:statedIn ?other }} UNION {{ ?s prov:wasQuotedFrom ?other }} }}
              FILTER(?other != <{doc}>)
            }}""",
        )
        assert other == []
        # Every event described in the graph is backed by a claim of this document with evidence.
        unbacked = select(
            store,
            f"""
            SELECT ?e WHERE {{
              GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ ?e akg:agent|akg:target|akg:date|akg:location ?x }}
              ?e a akg:Event .
              FILTER NOT EXISTS {{ GRAPH <https://w3id.org/alignkg/graph/document/{doc_id}> {{ ?c akg:aboutEvent ?e ; akg:evidence ?ev }} }}
            }}""",
        )
        assert unbacked == []


def test_countries_carry_iso_codes_from_pycountry_and_wikidata_from_reference(store: ox.Store) -> None:
    with (SHARED / "reference" / "un-member-states-2022.csv").open(encoding="utf-8") as handle:
        wikidata = {row["iso3"]: row["wikidata"] for row in csv.DictReader(handle)}
    rows = select(
        store,
        """
        SELECT ?a2 ?a3 ?num ?same WHERE {
          ?c a akg:Country ; akg:isoAlpha2 ?a2 ; akg:isoAlpha3 ?a3 ; akg:isoNumeric ?num ; owl:sameAs ?same .
        }""",
    )
    assert len(rows) == 193
    for row in rows:
        country = pycountry.countries.get(alpha_3=row["a3"])
        assert (row["a2"], row["num"]) == (country.alpha_2, country.numeric)
        assert row["same"] == f"http://www.wikidata.org/entity/{wikidata[row['a3']]}"


def test_document_001_states_no_publisher_and_its_date_is_inferred(store: ox.Store) -> None:
    assert (
        select(
            store, "SELECT ?p WHERE { <https://w3id.org/alignkg/id/document/001> dcterms:publisher|dcterms:issued ?p }"
        )
        == []
    )
    [row] = select(
        store,
        "SELECT ?date ?why WHERE { <https://w3id.org/alignkg/id/document/001> akg:date ?date ; akg:dateInference ?why }",
    )
    assert row["date"] == "2022-02-24" and "Thursday" in row["why"]
    [row] = select(
        store,
        "SELECT ?date ?pub WHERE { <https://w3id.org/alignkg/id/document/000> dcterms:issued ?date ; dcterms:publisher ?pub }",
    )
    assert row == {"date": "2022-03-18", "pub": "https://w3id.org/alignkg/id/organization/cnn-en-espanol"}


def test_csto_members_as_stated_and_the_stated_count_kept(store: ox.Store) -> None:
    members = {
        r["code"]
        for r in select(
            store,
            """
        SELECT ?code WHERE { ?m org:organization <https://w3id.org/alignkg/id/organization/csto> ; org:member/akg:isoAlpha3 ?code ;
                                akg:statedIn <https://w3id.org/alignkg/id/document/001> }""",
        )
    }
    assert members == {"BLR", "ARM", "KAZ", "KGZ", "TJK", "RUS"}
    [row] = select(
        store,
        "SELECT ?n WHERE { ?c a akg:MemberCount ; org:organization <https://w3id.org/alignkg/id/organization/csto> ; akg:count ?n }",
    )
    assert row["n"] == "7"


def test_epistemic_statuses_of_the_belarusian_troops_reports(store: ox.Store) -> None:
    rows = select(
        store,
        """
        SELECT ?doc ?status WHERE {
          ?c akg:aboutEvent <https://w3id.org/alignkg/id/event/belarusian-troops-in-ukraine> ; akg:epistemicStatus/skos:prefLabel ?status ;
             akg:statedIn/dcterms:identifier ?doc .
        }""",
    )
    assert sorted((r["doc"], r["status"]) for r in rows) == [
        ("000", "unconfirmed"),
        ("001", "denied"),
        ("001", "possible"),
    ]


def _digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in DIST_FILES}


def test_build_is_deterministic(dist: Path, tmp_path: Path) -> None:
    again = tmp_path / "dist"
    assert run_build(again, quiet=True) == 0
    assert _digests(again) == _digests(dist)


def _copy_sources(tmp_path: Path) -> tuple[Path, Path]:
    data, ontology = tmp_path / "data", tmp_path / "ontology"
    shutil.copytree(ROOT / "data", data)
    shutil.copytree(ROOT / "ontology", ontology)
    return data, ontology


def _replace(path: Path, old: str, new: str) -> int:
    """Replace the first ``old`` in ``path``; return the 1-based line where it stood."""
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), "utf-8")
    return line


BREAKAGES = {
    "unknown country code": (
        "data",
        "documents/000/document.yaml",
        "states: [RUS, BLR,",
        "states: [RUS, XYZ,",
        "unknown actor 'XYZ'",
    ),
    "quote not in text": (
        "data",
        "documents/001/document.yaml",
        "evidence: China and Russia aren't formal allies",
        "evidence: China and Russia are formal allies",
        "quote not in the document's text",
    ),
    "wrong date format": (
        "data",
        "documents/000/document.yaml",
        "date: 2022-03-02",
        "date: 2 March 2022",
        "wrong date format",
    ),
    "unknown concept": (
        "data",
        "documents/001/document.yaml",
        "type: not-formal-allies",
        "type: frenemies",
        "must be one of vocab/relation-type",
    ),
    "bad turtle": (
        "ontology",
        "alignkg.ttl",
        "akg:Actor a owl:Class ;",
        "akg:Actor a owl:Class ;;; <",
        "Turtle syntax error",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_broken_input_is_reported_and_leaves_dist_untouched(case: str, dist: Path, tmp_path: Path, capsys) -> None:
    data, ontology = _copy_sources(tmp_path)
    target = tmp_path / "dist"
    shutil.copytree(dist, target)  # the last good build of these same sources
    before = _digests(target)
    folder, name, old, new, message = BREAKAGES[case]
    path = (data if folder == "data" else ontology) / name
    line = _replace(path, old, new)
    capsys.readouterr()
    assert run_build(target, quiet=True, data_dir=data, ontology_dir=ontology) == 1
    err = capsys.readouterr().err
    assert message in err
    assert str(path) in err
    if folder == "data":
        assert f"{path}:{line}:" in err
    assert _digests(target) == before


def test_half_written_file_fails_with_location_and_keeps_dist(dist: Path, tmp_path: Path) -> None:
    data, ontology = _copy_sources(tmp_path)
    target = tmp_path / "dist"
    shutil.copytree(dist, target)
    before = _digests(target)
    path = data / "documents" / "001" / "document.yaml"
    text = path.read_text("utf-8")
    path.write_text(text[: text.index("  - subject: CUB\n    object: RUS") + 18], "utf-8")  # cut mid-entry
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kg.cli",
            "build",
            "--dist",
            str(target),
            "--data",
            str(data),
            "--ontology",
            str(ontology),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1
    assert f"{path}:" in result.stderr and "left as it was" in result.stderr
    assert _digests(target) == before
