"""The learned offloading controllers' plumbing: train, checkpoint, resume, act in the engine, eval.

Tiny networks and budgets: these tests check wiring and contracts, not learning (see the slow test).
"""
from __future__ import annotations

import csv
from dataclasses import replace

import pytest
import torch

from mecsim.controllers import drl, mrlco, mrlato
from mecsim.controllers.offload_rl import NetworkSpec, build_policy, evaluate_checkpoint
from mecsim.evaluation import write_eval
from mecsim.cli import main
from mecsim.checkpoint import load_checkpoint

TRAIN = """\
name: tiny-train
seed: 0
devices:
  count: 1
  cpu: {cores: 1, speed_hz: 1048576, discipline: schedule_order}
access_points:
  - name: ap0
    uplink:   {rate: {model: fixed, bps: 7340032}, sharing: schedule_order}
    downlink: {rate: {model: fixed, bps: 7340032}, sharing: parallel}
servers:
  - {name: mec0, cores: 1, speed_hz: 10485760, discipline: schedule_order}
workload:
  dags:
    generate: {n: 6, fat: 0.6, density: 0.6, regularity: 0.5, ccr: 0.4, count: 6}
training:
  train:
    - {name: sparse, set: {workload.dags.generate.density: 0.3}}
    - {name: dense, set: {workload.dags.generate.density: 0.8}}
  test:
    - {name: mid, set: {workload.dags.generate.density: 0.5, seed: 1}}
"""
TINY = replace(mrlco.BUDGETS["smoke"], iterations=2, meta_batch=2, inner_steps=1, episodes=4, hidden=16)


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(TRAIN)
    return path


def test_train_resume_continues_the_count(scenario, tmp_path):
    out = tmp_path / "ck"
    mrlco.train(scenario, out, config=TINY, progress=False)
    rows = list(csv.DictReader(open(out / "progress.csv")))
    assert [r["iteration"] for r in rows] == ["1", "2"]
    assert set(rows[0]) >= {"iteration", "env_steps", "wall_s", "sample_latency", "policy_loss"}
    mrlco.train(scenario, out, config=replace(TINY, iterations=4), resume=True, progress=False)
    rows = list(csv.DictReader(open(out / "progress.csv")))
    assert [r["iteration"] for r in rows] == ["1", "2", "3", "4"]
    assert int(rows[3]["env_steps"]) == 2 * int(rows[1]["env_steps"])
    assert load_checkpoint(out, "mrlco")["iteration"] == 4


def test_resume_after_a_crash_equals_an_uninterrupted_run(scenario, tmp_path):
    straight, crashed = tmp_path / "a", tmp_path / "b"
    mrlco.train(scenario, straight, config=replace(TINY, iterations=3), progress=False)
    mrlco.train(scenario, crashed, config=replace(TINY, iterations=2), progress=False)
    mrlco.train(scenario, crashed, config=replace(TINY, iterations=3), resume=True, progress=False)
    a, b = load_checkpoint(straight), load_checkpoint(crashed)
    for k in a["policy"]:
        assert torch.allclose(a["policy"][k], b["policy"][k]), k


def test_meta_step_moves_the_policy(scenario, tmp_path):
    mrlco.train(scenario, tmp_path / "a", config=replace(TINY, iterations=1), progress=False)
    ck = load_checkpoint(tmp_path / "a")
    torch.manual_seed(0)                       # the trainer builds its initial policy right after this seed
    init = build_policy(NetworkSpec(**ck["network"])).state_dict()
    moved = sum(float((init[k] - ck["policy"][k]).abs().sum()) for k in init)
    assert moved > 0


@pytest.mark.parametrize("name, module", [("drl", drl), ("mrlato", mrlato)])
def test_other_trainers_run_and_their_controllers_act(scenario, tmp_path, name, module, monkeypatch):
    monkeypatch.setitem(module.BUDGETS, "smoke", replace(module.BUDGETS["smoke"], iterations=1, meta_batch=1,
                                                         inner_steps=1, episodes=2, hidden=16))
    out = tmp_path / name
    assert main(["train", str(scenario), "--controller", name, "--out", str(out), "--quiet"]) == 0
    run = tmp_path / "run"
    assert main(["run", str(scenario), "--controller", name, "--set", f"controller_params.checkpoint={out}",
                 "--out", str(run), "--quiet"]) == 0
    apps = list(csv.DictReader(open(run / "apps.csv")))
    assert len(apps) == 6 and all(a["status"] == "completed" for a in apps)


def test_eval_writes_rows_for_every_step_seed_and_heuristic(scenario, tmp_path):
    out = tmp_path / "ck"
    mrlco.train(scenario, out, config=TINY, progress=False)
    rows = evaluate_checkpoint(scenario, out, adapt_steps=[0, 2], seeds=[0, 1], progress=False)
    write_eval(rows, tmp_path / "ev")
    got = {(r["controller"], r["adapt_steps"], r["seed"]) for r in rows}
    assert {("mrlco", s, seed) for s in (0, 2) for seed in (0, 1)} <= got
    assert {("heft", 0, 0), ("greedy", 0, 1), ("optimal", 0, 0)} <= got
    optimal = [r["latency_s"] for r in rows if r["controller"] == "optimal"][0]
    assert all(r["latency_s"] >= optimal - 1e-6 for r in rows)     # nothing beats the optimum
    header = (tmp_path / "ev" / "eval.csv").read_text().splitlines()[0]
    assert header == "controller,test_set,adapt_steps,seed,latency_s"
    assert (tmp_path / "ev" / "eval.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_checkpoint_is_one_line(scenario, tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "checkpoint.pt").write_bytes(b"garbage")
    assert main(["eval", str(scenario), "--checkpoint", str(tmp_path / "junk"), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a readable mecsim checkpoint" in err
    assert main(["train", str(scenario), "--controller", "heft", "--out", str(tmp_path / "x")]) == 2
    assert "has no trainer" in capsys.readouterr().err


def test_authors_adaptation_takes_the_evaluators_data_and_optimiser(scenario, tmp_path, monkeypatch):
    """--adaptation authors: 2000 DAGs, 3 epochs × 4 minibatches, lr 1e-4, Adam ε 1e-5 per step (notes §2d)."""
    from mecsim.controllers import offload_rl
    out = tmp_path / "ck"
    mrlco.train(scenario, out, config=TINY, progress=False)
    seen = []
    real = offload_rl.adapt

    def spy(policy, env, steps, cfg, episodes, rng, gen, optimizer):
        seen.append((cfg.lr, cfg.epochs, cfg.minibatches, episodes, optimizer.defaults["eps"]))
        return real(policy, env, steps, cfg, episodes, rng, gen, optimizer)

    monkeypatch.setattr(offload_rl, "adapt", spy)
    assert main(["eval", str(scenario), "--checkpoint", str(out), "--out", str(tmp_path / "a"),
                 "--adapt-steps", "0,1", "--heuristics", "", "--adaptation", "authors", "--quiet"]) == 0
    assert main(["eval", str(scenario), "--checkpoint", str(out), "--out", str(tmp_path / "i"),
                 "--adapt-steps", "0,1", "--heuristics", "", "--quiet"]) == 0
    assert seen == [(1e-4, 3, 4, 2000, 1e-5), (TINY.inner_lr, 1, TINY.ppo.minibatches, TINY.episodes, 1e-8)]


def test_adaptation_and_test_set_errors_are_one_line(scenario, tmp_path, capsys):
    out = tmp_path / "ck"
    mrlco.train(scenario, out, config=replace(TINY, iterations=1), progress=False)
    assert main(["eval", str(scenario), "--checkpoint", str(out), "--out", str(tmp_path / "e"),
                 "--adaptation", "heavy", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--adaptation" in err and "'heavy'" in err
    with pytest.raises(Exception, match="'nope' is not a test task"):
        evaluate_checkpoint(scenario, out, adapt_steps=[0], seeds=[0], heuristics=(), progress=False,
                            test_sets=["nope"])
    rows = evaluate_checkpoint(scenario, out, adapt_steps=[0], seeds=[0], heuristics=(), progress=False,
                               test_sets=["mid"])
    assert {r["test_set"] for r in rows} == {"mid"}
