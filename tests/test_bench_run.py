"""The benchmark (``bench/run.py``) itself, run small: both servers start on the same generated data,
every query of the mix is answered by both at 1 and 8 clients, and the report has the figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import loadgen  # noqa: E402
import run  # noqa: E402

TURN_RANGE = re.compile(r"(\d+\.\d\d)-(\d+\.\d\d)x")


def test_a_small_run_measures_both_servers_on_every_query(dataset: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--triples", "10000", "--base", str(dataset)]
    command += ["--seconds", "0.4", "--rounds", "2", "--timeout", "3", "--no-shacl", "--out", str(report)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    text = report.read_text("utf-8")
    assert "| measure | embedded | oxigraph | embedded / oxigraph |" in text
    assert re.search(r"^\| load \+ ready \(s\) \| [\d.]+ \(store load at start\) \| [\d.]+ load", text, re.MULTILINE)
    for query in [*run.MIX, "saved-queries"]:
        for clients in (1, 8):
            line = re.search(rf"^\| {re.escape(query)} \| {clients} \| .*$", text, re.MULTILINE)
            assert line, f"no row for {query} at {clients} clients"
            assert "errors" not in line.group(0), line.group(0)  # every request answered, on both servers
            cells = [cell.strip() for cell in line.group(0).strip("|").split("|")]
            embedded_rate, oxigraph_rate = float(cells[4]), float(cells[5])
            assert embedded_rate > 0 and oxigraph_rate > 0, line.group(0)
            shown = float(cells[6].rstrip("x"))  # the ratio, from the unrounded rates
            assert shown == pytest.approx(embedded_rate / oxigraph_rate, rel=0.06, abs=0.01), line.group(0)
            spread = TURN_RANGE.fullmatch(cells[8])  # the lowest and highest ratio of single turns
            if spread is None:  # only a query slower than a quarter of a turn is measured in one
                assert query == "saved-queries" and cells[8] == "one turn", line.group(0)
            else:
                lowest, highest = float(spread[1]), float(spread[2])
                assert 0 < lowest <= highest, line.group(0)


def turn(answers: int, seconds: float) -> loadgen.Measurement:
    return loadgen.Measurement(latencies=[0.001] * answers, seconds=seconds)


def test_the_turn_range_pairs_turn_i_of_each_setup() -> None:
    ours = loadgen.Measurement.combine([turn(90, 1.0), turn(60, 1.0), turn(100, 1.0)])
    theirs = loadgen.Measurement.combine([turn(100, 1.0), turn(80, 1.0), turn(100, 1.0)])
    assert [t.throughput for t in ours.turns] == [90, 60, 100]  # combine keeps the turns, in order
    assert run.turn_range(ours, theirs) == "0.75-1.00x"  # 60/80 and 100/100, not 60/100
    # The pooled ratio of turns of equal length lies within the range (a mediant of the turns' ratios).
    assert 0.75 <= ours.throughput / theirs.throughput <= 1.0


def test_the_turn_range_of_one_turn_or_a_turn_without_answers() -> None:
    one = loadgen.Measurement.combine([turn(10, 1.0)])
    assert run.turn_range(one, one) == "one turn"
    assert run.turn_range(turn(10, 1.0), turn(10, 1.0)) == "one turn"  # not pooled from turns at all
    ours = loadgen.Measurement.combine([turn(10, 1.0), turn(10, 1.0)])
    silent = loadgen.Measurement.combine([turn(10, 1.0), turn(0, 1.0)])
    assert run.turn_range(ours, silent) == "n/a"
