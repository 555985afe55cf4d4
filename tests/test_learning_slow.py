"""Slow: MRLCO at --budget smoke on the authors' training sets beats random and all-local on set 8."""
from __future__ import annotations

from pathlib import Path

import pytest

from mecsim.controllers import mrlco
from mecsim.controllers.offload_rl import evaluate_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_smoke_budget_policy_beats_random_and_local(tmp_path):
    scenario = ROOT / "scenarios" / "mrlco" / "authors.yaml"
    mrlco.train(scenario, tmp_path, budget="smoke", seed=0, progress=False)
    rows = evaluate_checkpoint(scenario, tmp_path, adapt_steps=[0], seeds=[0], heuristics=["random", "local"],
                               progress=False)
    by = {(r["test_set"], r["controller"]): r["latency_s"] for r in rows}
    assert by[("set8", "mrlco")] < by[("set8", "random")]
    assert by[("set8", "mrlco")] < by[("set8", "local")]
