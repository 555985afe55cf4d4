"""PEARL-DT twin rollouts on workers (issue 6 item 2): 1 and N workers, local or Ray, same run.

Every random number a slot needs is drawn before dispatch and each twin's episode stays on one worker,
so checkpoints must match tensor for tensor and progress.csv row for row (wall_s aside). Tiny networks,
two iterations: the first collects uniformly random warm-up slots and then updates, the second collects
slots from the updated actor with a sampled z, with an update between its two outer steps.
"""
from __future__ import annotations

import csv
import functools
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from controllers import pearl_dt
from mecsim.checkpoint import load_checkpoint
from mecsim.cli import main
from mecsim.parallel import dispatcher
from test_pearl_dt import SMALL, TINY_SAC


@pytest.fixture(scope="module")
def tiny():
    """The tiny PEARL-DT budget of test_pearl_dt, for every test of this module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(pearl_dt.BUDGETS, "smoke", replace(pearl_dt.BUDGETS["smoke"], sac=TINY_SAC, encoder_hidden=8,
                                                      encoder_layers=1, window=8, context_max=4, adapt_steps=2))
        yield


@pytest.fixture(scope="module")
def sequential(tiny, tmp_path_factory) -> Path:
    """The reference run: seed 0, in this process."""
    out = tmp_path_factory.mktemp("pearl") / "one"
    pearl_dt.train(SMALL, out, progress=False)
    return out


def _rows(out: Path) -> list[dict[str, str]]:
    """progress.csv without the wall clock."""
    with open(out / "progress.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(f)]


def _differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths at which two checkpoint payloads differ (tensors compared bit for bit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.dtype == b.dtype and torch.equal(a, b) else [where]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if type(a) is type(b) and a == b else [where]


def assert_same_run(a: Path, b: Path) -> None:
    assert _differences(load_checkpoint(a, "pearl_dt"), load_checkpoint(b, "pearl_dt")) == []
    assert _rows(a) == _rows(b)


def test_the_reference_run_samples_from_the_actor_and_updates(sequential):
    """What the equalities below cover: warm-up slots, actor slots with z, updates (not vacuous)."""
    rows = _rows(sequential)
    assert [r["iteration"] for r in rows] == ["1", "2"] and all(r["critic_loss"] != "" for r in rows)
    buffers = load_checkpoint(sequential, "pearl_dt")["buffers"]
    per_twin = TINY_SAC.iterations * TINY_SAC.outer_steps
    assert len(buffers) == 3 and all(b["size"] == per_twin > TINY_SAC.warmup for b in buffers.values())


def test_cli_two_local_workers_equal_one_and_resume_across_worker_counts(sequential, tmp_path, monkeypatch):
    calls = []
    real = pearl_dt.train

    @functools.wraps(real)
    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(pearl_dt, "TRAINER", replace(pearl_dt.TRAINER, train=spy))
    two = tmp_path / "two"
    assert main(["train", str(SMALL), "--controller", "pearl_dt", "--out", str(two), "--quiet",
                 "--backend", "local", "--workers", "2"]) == 0
    assert calls[0]["backend"] == "local" and calls[0]["workers"] == 2
    assert_same_run(sequential, two)
    # resume both for a third iteration, each with the other worker count
    one = tmp_path / "one"
    real(SMALL, one, progress=False)
    monkeypatch.setitem(pearl_dt.BUDGETS, "smoke", replace(pearl_dt.BUDGETS["smoke"],
                                                           sac=replace(TINY_SAC, iterations=3)))
    real(SMALL, one, resume=True, progress=False, workers=2)
    real(SMALL, two, resume=True, progress=False)
    assert [r["iteration"] for r in _rows(one)] == ["1", "2", "3"]
    assert_same_run(one, two)


def test_seed_changes_the_run(sequential, tmp_path):
    """The equalities are not vacuous: another seed gives other weights and other transitions."""
    other = tmp_path / "seed1"
    pearl_dt.train(SMALL, other, seed=1, progress=False)
    a, b = load_checkpoint(sequential, "pearl_dt"), load_checkpoint(other, "pearl_dt")
    assert any(not torch.equal(a["agent"][k], b["agent"][k]) for k in a["agent"])
    assert not torch.equal(a["buffers"]["g1"]["action"], b["buffers"]["g1"]["action"])


def test_ray_two_workers_equal_local_one(sequential, tmp_path):
    pytest.importorskip("ray")
    pearl_dt.train(SMALL, tmp_path / "ray", progress=False, backend="ray", workers=2)
    assert_same_run(sequential, tmp_path / "ray")


def _where(state: str, shared: int, job: int) -> tuple[int, str, int, int]:
    return os.getpid(), state, shared, job


def test_job_i_runs_on_worker_i_mod_n_and_results_come_back_in_job_order():
    with dispatcher(_where, "spec", workers=1) as run:
        assert run(7, [0, 1]) == [(os.getpid(), "spec", 7, 0), (os.getpid(), "spec", 7, 1)]
    with dispatcher(_where, "spec", setup=str.upper, workers=2) as run:
        first, again = run(7, [0, 1, 2, 3, 4]), run(8, [0, 1, 2])
    assert [r[1:] for r in first] == [("SPEC", 7, j) for j in range(5)]
    assert [r[1:] for r in again] == [("SPEC", 8, j) for j in range(3)]
    pids = [r[0] for r in first]
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert pids == [pids[0], pids[1]] * 2 + [pids[0]] and [r[0] for r in again] == pids[:3]
