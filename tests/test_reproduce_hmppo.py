"""tools/reproduce_hmppo.py end to end at one iteration: it drives the trainer contract and writes Table I."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_one_iteration_writes_table_and_figures(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "reproduce_hmppo.py"), "--budget", "smoke",
                          "--iterations", "1", "--episodes", "1", "--ues", "6", "--seeds", "0",
                          "--learners", "hmppo", "--quiet", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with open(tmp_path / "eval.csv", newline="") as f:
        controllers = {r["controller"] for r in csv.DictReader(f)}
    assert controllers == {"hmppo", "random_tuning", "local_keep_emulator"}
    table = (tmp_path / "table.md").read_text()
    assert "| hmppo | 6 |" in table and "[-57.32]" in table   # ours beside the paper's Table I value
    assert (tmp_path / "fig2.png").stat().st_size > 0 and (tmp_path / "fig2_ues.png").stat().st_size > 0
    assert (tmp_path / "hmppo-n6-seed0" / "checkpoint.pt").exists()
