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
import run  # noqa: E402


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
