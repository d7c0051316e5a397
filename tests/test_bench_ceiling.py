"""``bench/ceiling.py`` run small: our endpoint, pyoxigraph alone in process and ``oxigraph serve``
answer the same queries in turns, and the report gives rates, ratios and CPU per query for each."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CEILING = ROOT / "bench" / "ceiling.py"
sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

CORES = os.cpu_count() or 1


def ratio(cell: str) -> float:
    return float(cell.rstrip("x"))


def test_a_small_run_measures_the_three_setups_with_their_cpu(dataset: Path, tmp_path: Path) -> None:
    data = tmp_path / "small.nq"
    generate.write_nquads(data, 10_000, 1, dataset)
    report = tmp_path / "report.md"
    command = [sys.executable, str(CEILING), "--data", str(data), "--queries", "scan,lookup", "--clients", "1,2"]
    command += ["--seconds", "0.6", "--rounds", "2", "--timeout", "3", "--out", str(report)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    text = report.read_text("utf-8")
    assert text.startswith("`python bench/ceiling.py --data ")
    assert "| query | clients | q/s: embedded / pyoxigraph / oxigraph | embedded / pyoxigraph |" in text
    for query in ("scan", "lookup"):
        for clients in (1, 2):
            line = re.search(rf"^\| {query} \| {clients} \| .*$", text, re.MULTILINE)
            assert line, f"no row for {query} at {clients} clients"
            assert "errors" not in line.group(0), line.group(0)  # every query answered by all three
            cells = [cell.strip() for cell in line.group(0).strip("|").split("|")]
            embedded, alone, oxigraph = (float(rate) for rate in cells[2].split(" / "))
            assert min(embedded, alone, oxigraph) > 0, line.group(0)
            assert ratio(cells[3]) == pytest.approx(embedded / alone, rel=0.06, abs=0.01), line.group(0)
            assert ratio(cells[4]) == pytest.approx(alone / oxigraph, rel=0.06, abs=0.01), line.group(0)
            assert ratio(cells[5]) == pytest.approx(embedded / oxigraph, rel=0.06, abs=0.01), line.group(0)
            p50s = [float(ms) for ms in cells[6].split(" / ")]
            assert all(ms > 0 for ms in p50s), line.group(0)
            cpu = [float(ms) for ms in cells[8].split(" / ")]
            # Each answer cost its server some CPU, and no more than the machine's cores could give.
            rates = (embedded, alone, oxigraph)
            assert all(0 < ms < CORES * 1000 * 1.5 / rate for ms, rate in zip(cpu, rates, strict=True)), line
            # The lowest and highest ratio of single turns, for each of the three ratios.
            spreads = [re.fullmatch(r"(\d+\.\d\d)-(\d+\.\d\d)x", part) for part in cells[9].split("; ")]
            assert len(spreads) == 3 and all(spreads), line.group(0)
            assert all(0 < float(m[1]) <= float(m[2]) for m in spreads if m), line.group(0)
            # Our CPU split into the server process and its query workers: both did work, and the two add
            # up to the whole tree's figure (each side rounded to 0.01 ms).
            front, workers = (float(ms) for ms in cells[10].split(" / "))
            assert front > 0 and workers > 0, line.group(0)
            assert front + workers == pytest.approx(cpu[0], abs=0.02), line.group(0)
    # Nothing left behind: no process still serves the file.
    assert str(tmp_path) not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


@pytest.mark.parametrize(
    ("arguments", "named"),
    [(["--queries", "scan,nope"], "--queries"), (["--clients", "0"], "--clients"), (["--clients", "x"], "--clients")],
)
def test_a_bad_choice_is_refused_with_the_option_named(arguments: list[str], named: str, tmp_path: Path) -> None:
    data = tmp_path / "none.nq"
    data.write_text("")
    finished = subprocess.run(
        [sys.executable, str(CEILING), "--data", str(data), *arguments], capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 2
    assert named in finished.stderr, finished.stderr
