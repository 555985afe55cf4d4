"""Meta-training inner loops in parallel (issue 6 item 2): 1 and N workers, local or Ray, same result.

Each inner loop gets a seed drawn before dispatch and the parent sums in task order, so the checkpoint
and progress.csv must match bit for bit (wall_s aside); tiny networks, two iterations.
"""
from __future__ import annotations

import csv
import functools
from dataclasses import replace

import pytest
import torch

from controllers import mrlco
from mecsim.checkpoint import load_checkpoint
from mecsim.cli import main
from test_offload_rl import TINY, TRAIN

CFG = TINY


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(TRAIN)
    return path


def _rows(out):
    """progress.csv without the wall clock."""
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in csv.DictReader(open(out / "progress.csv"))]


def assert_same_run(a, b):
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert ca["policy"].keys() == cb["policy"].keys()
    for k in ca["policy"]:
        assert torch.equal(ca["policy"][k], cb["policy"][k]), k
    assert _rows(a) == _rows(b)


def test_one_and_two_local_workers_give_identical_weights_and_metrics(scenario, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    mrlco.train(scenario, one, config=CFG, progress=False)
    mrlco.train(scenario, two, config=CFG, progress=False, backend="local", workers=2)
    assert_same_run(one, two)
    assert len(_rows(one)) == 2 and int(_rows(one)[0]["env_steps"]) > 0


def test_seed_changes_the_run(scenario, tmp_path):
    """The equality above is not vacuous: another seed gives other weights."""
    mrlco.train(scenario, tmp_path / "a", config=CFG, progress=False)
    mrlco.train(scenario, tmp_path / "b", config=CFG, progress=False, seed=1)
    a, b = load_checkpoint(tmp_path / "a")["policy"], load_checkpoint(tmp_path / "b")["policy"]
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_resume_after_a_parallel_run_equals_a_straight_sequential_run(scenario, tmp_path):
    straight, resumed = tmp_path / "a", tmp_path / "b"
    mrlco.train(scenario, straight, config=replace(CFG, iterations=3), progress=False)
    mrlco.train(scenario, resumed, config=CFG, progress=False, workers=2)
    mrlco.train(scenario, resumed, config=replace(CFG, iterations=3), resume=True, progress=False)
    ca, cb = load_checkpoint(straight)["policy"], load_checkpoint(resumed)["policy"]
    assert all(torch.equal(ca[k], cb[k]) for k in ca)


def test_cli_passes_workers_only_when_given_and_refuses_them_for_other_trainers(scenario, tmp_path,
                                                                               monkeypatch, capsys):
    calls = []
    real = mrlco.train

    @functools.wraps(real)
    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(mrlco, "TRAINER", replace(mrlco.TRAINER, train=spy))
    monkeypatch.setitem(mrlco.BUDGETS, "smoke", replace(CFG, iterations=1))
    for extra in ([], ["--backend", "local", "--workers", "1"]):
        assert main(["train", str(scenario), "--controller", "mrlco", "--out", str(tmp_path / "cli"), "--quiet",
                     *extra]) == 0
    assert "backend" not in calls[0] and "workers" not in calls[0]
    assert calls[1]["backend"] == "local" and calls[1]["workers"] == 1
    assert main(["train", str(scenario), "--controller", "hmppo", "--out", str(tmp_path / "h"),
                 "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "controller hmppo does not support --backend/--workers" in err
    assert main(["train", str(scenario), "--controller", "mrlco", "--out", str(tmp_path / "z"),
                 "--workers", "0"]) == 2
    assert "--workers: must be an integer >= 1, got 0" in capsys.readouterr().err


def test_ray_two_workers_equal_local_one(scenario, tmp_path):
    pytest.importorskip("ray")
    mrlco.train(scenario, tmp_path / "local", config=CFG, progress=False)
    mrlco.train(scenario, tmp_path / "ray", config=CFG, progress=False, backend="ray", workers=2)
    assert_same_run(tmp_path / "local", tmp_path / "ray")
