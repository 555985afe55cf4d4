"""tools/reproduce_offloading.py end to end at one iteration: the script drives the trainer and the
evaluator through their contracts (it once broke unnoticed when the registry began returning a Trainer)."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_reproduce_offloading_trains_evaluates_and_tabulates(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "reproduce_offloading.py"), "--experiment", "topology",
                           "--model", "authors", "--budget", "smoke", "--iterations", "1", "--controllers", "drl",
                           "--seeds", "0", "--max-steps", "20", "--test-sets", "set8", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader((out / "eval.csv").open()))
    assert {(r["controller"], r["adapt_steps"]) for r in rows if r["controller"] == "drl"} == {("drl", "20")}
    assert {r["test_set"] for r in rows} == {"set8"} and {"heft", "heft_model", "optimal"} <= {r["controller"] for r in rows}
    assert "| set8 |" in (out / "table.md").read_text()
    assert (out / "drl-seed0" / "progress.csv").read_text().count("\n") == 2     # header and one iteration
