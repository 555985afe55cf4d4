"""HMPPO / IPPO / Random on the edge fine-tuning system: training plumbing, the two-agent PPO batch, value
normalisation, checkpoints, resume, acting in the engine, `mecsim train/run/eval`.

Tiny networks and budgets: these tests check wiring and contracts; learning is the slow test's job.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mecsim.controllers import hmppo, ippo
from mecsim.controllers.heuristics import LocalKeepEmulator, RandomTuning
from mecsim.controllers.hmppo import (Agents, HMPPOConfig, RunningNorm, evaluate_actions, run_episodes, to_rollout,
                                     turn_advantages)
from mecsim.checkpoint import load_checkpoint
from mecsim.cli import main
from mecsim.envs import EdgeTuningParallelEnv
from mecsim.errors import MecsimError
from mecsim.scenario.load import load_scenario
from mecsim.systems.edge_tuning import TuningSimulation

ROOT = Path(__file__).resolve().parents[1]
TINY = dataclasses.replace(HMPPOConfig(), iterations=2, envs=2, hidden=8, eval_every=1, eval_episodes=1,
                           ppo=dataclasses.replace(HMPPOConfig().ppo, epochs=2))


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "tune.yaml"
    text = (ROOT / "scenarios" / "hmppo" / "edge_tuning.yaml").read_text()
    path.write_text(text.replace("ues: 6 ", "ues: 3 ").replace("tasks: 50 ", "tasks: 5 "))
    assert load_scenario(path).ues == 3
    return path


def rows(folder: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(open(folder / "progress.csv")))


def test_one_iteration_writes_progress_and_a_weights_only_checkpoint(scenario, tmp_path):
    out = tmp_path / "ck"
    hmppo.train(scenario, out, config=dataclasses.replace(TINY, iterations=1), progress=False)
    (row,) = rows(out)
    assert row["iteration"] == "1" and row["env_steps"] == str(2 * 5)
    assert {"wall_s", "reward", "total_delay_min", "perplexity", "switches", "policy_loss", "eval_reward"} <= set(row)
    assert float(row["reward"]) < 0 and float(row["eval_perplexity"]) > 13
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["controller"] == "hmppo" and payload["iteration"] == 1 and payload["network"]["critic"] == "central"


def test_resume_continues_the_count_and_equals_an_uninterrupted_run(scenario, tmp_path):
    straight, crashed = tmp_path / "a", tmp_path / "b"
    hmppo.train(scenario, straight, config=dataclasses.replace(TINY, iterations=3), progress=False)
    hmppo.train(scenario, crashed, config=TINY, progress=False)
    hmppo.train(scenario, crashed, config=dataclasses.replace(TINY, iterations=3), resume=True, progress=False)
    assert [r["iteration"] for r in rows(crashed)] == ["1", "2", "3"]
    assert rows(crashed)[2]["env_steps"] == str(3 * 2 * 5)
    a, b = load_checkpoint(straight, "hmppo"), load_checkpoint(crashed, "hmppo")
    assert b["iteration"] == 3
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_training_moves_both_actors_and_the_critic(scenario, tmp_path):
    hmppo.train(scenario, tmp_path / "a", config=dataclasses.replace(TINY, iterations=1), progress=False)
    ck = load_checkpoint(tmp_path / "a")
    torch.manual_seed(0)                       # the trainer builds its agents right after this seed
    init = Agents(**ck["network"]).state_dict()
    for part in ("case.", "emulator.", "critics.0.", "log_std"):
        moved = sum(float((init[k] - ck["model"][k]).abs().sum()) for k in init if k.startswith(part))
        assert moved > 0, part
    assert float(ck["model"]["norms.0.count"]) == 2 * 5    # the value norm saw one copy of the targets


def test_value_norm_tracks_the_running_statistics():
    norm = RunningNorm()
    x = torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(norm.normalize(x), x)                 # identity before any update
    data = torch.randn(500, generator=torch.Generator().manual_seed(0)) * 7 + 40
    for chunk in data.split(123):
        norm.update(chunk)
    assert float(norm.mean) == pytest.approx(float(data.double().mean()), rel=1e-12)
    assert float(norm.var) == pytest.approx(float(data.double().var(unbiased=False)), rel=1e-9)
    assert torch.allclose(norm.denormalize(norm.normalize(data)), data, atol=1e-4)


def test_running_norm_keeps_one_mean_and_variance_per_feature_and_clips():
    norm = RunningNorm((2,), clip=5.0)
    data = torch.randn(300, 2, generator=torch.Generator().manual_seed(1)) * torch.tensor([0.1, 30.0]) + 4
    for chunk in data.split(70):
        norm.update(chunk[:, None])                            # leading dims are pooled
    torch.testing.assert_close(norm.mean, data.double().mean(0))
    torch.testing.assert_close(norm.var, data.double().var(0, unbiased=False))
    out = norm(data)
    torch.testing.assert_close(out.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    assert norm(torch.tensor([[40.0, 4.0]]))[0, 0] == 5.0      # 360 std above the mean: clipped


@pytest.mark.parametrize("critic", ["central", "local"])
def test_running_input_norms_learn_each_networks_inputs_after_the_update(scenario, tmp_path, critic):
    hmppo.train(scenario, tmp_path / "ck", config=dataclasses.replace(TINY, iterations=1, critic=critic),
                progress=False)
    ck = load_checkpoint(tmp_path / "ck")
    model = hmppo.build(ck)
    assert isinstance(model.case[0], RunningNorm) and ck["network"]["input_norm"] == "running"   # the default
    for net in (model.case, model.emulator, *model.critics):
        assert float(net[0].count) == 2 * 5                  # one iteration: 2 episodes × 5 steps each
    # the case norm holds the moments of s_1 over the sampled steps, so it is not the identity
    spec = load_scenario(scenario)
    episodes = run_episodes(model, [EdgeTuningParallelEnv(spec)], [3], False, torch.Generator().manual_seed(0))
    s1 = torch.stack(episodes.s1, 1)
    assert not torch.allclose(model.case[0](s1), s1)
    fresh = Agents(spec.ues, 8, critic, -0.5, "running")
    fresh.observe(episodes)
    torch.testing.assert_close(fresh.case[0].mean, s1.double().reshape(-1, s1.shape[-1]).mean(0))
    assert float(fresh.emulator[0].count) == 5


def test_a_checkpoint_from_before_input_norm_builds_with_layer_norm():
    model = Agents(3, 8, "central", -0.5, "layer")
    network = {"ues": 3, "hidden": 8, "critic": "central", "log_std_init": -0.5}     # no input_norm key
    built = hmppo.build({"network": network, "model": model.state_dict()})
    assert isinstance(built.case[0], torch.nn.LayerNorm)
    x = torch.rand(2, 12)
    torch.testing.assert_close(built.case(x), model.case(x))


def test_config_settings_from_the_command_line():
    cfg = hmppo.configured(HMPPOConfig(), ["input_norm=layer", "ppo.ent_coef=0.02", "log_std_init=0",
                                           "ppo.max_grad_norm=null", "ppo.clip_value=true"])
    assert cfg.input_norm == "layer" and cfg.log_std_init == 0.0 and isinstance(cfg.log_std_init, float)
    assert cfg.ppo.ent_coef == 0.02 and cfg.ppo.max_grad_norm is None and cfg.ppo.clip_value is True
    assert cfg.ppo.lr == HMPPOConfig().ppo.lr                       # the rest untouched
    for bad, match in (("nope=1", "a field of HMPPOConfig"), ("ppo=1", "a field of HMPPOConfig"),
                       ("hidden", "KEY=VALUE"), ("ppo.epochs=1.5", "ppo.epochs must be a int")):
        with pytest.raises(MecsimError, match=match):
            hmppo.configured(HMPPOConfig(), [bad])


@pytest.mark.parametrize("input_norm", ["running", "layer"])
@pytest.mark.parametrize("critic", ["central", "turns", "local"])
def test_the_batch_holds_each_agent_with_its_head_and_its_advantage(scenario, critic, input_norm):
    spec = load_scenario(scenario)
    torch.manual_seed(1)
    model = Agents(spec.ues, 8, critic, -0.5, input_norm)
    gen = torch.Generator().manual_seed(0)
    episodes = run_episodes(model, [EdgeTuningParallelEnv(spec) for _ in range(2)], [4, 5], False, gen)
    cfg = dataclasses.replace(HMPPOConfig().ppo, normalize_advantages=False)
    batch = to_rollout(model, episodes, cfg)
    assert batch.batch_size == 4 and batch.actions.shape == (4, 5, 3)
    assert set(batch.actions[:2].unique().tolist()) <= {0.0, 1.0}          # agent 1's rows: z
    log_prob, entropy, value = evaluate_actions(model)(batch)
    torch.testing.assert_close(log_prob, batch.old_log_prob)               # same policy: ratio 1
    z_lp = model.case_log_prob(batch.fields["s1"][:2], batch.actions[:2])[0]
    e_lp = model.emulator_log_prob(batch.fields["s2"][2:], batch.actions[2:])[0]
    torch.testing.assert_close(log_prob, torch.cat([z_lp, e_lp]))
    shared = torch.allclose(batch.advantages[:2], batch.advantages[2:])
    assert shared == (critic == "central")                                 # HMPPO: one advantage (eq. 21)
    torch.testing.assert_close(value, batch.old_value)                     # both in normalised units


@pytest.mark.parametrize("critic", ["central", "local"])
def test_per_agent_standardisation_scales_each_agents_rows_on_their_own(scenario, critic):
    spec = load_scenario(scenario)
    torch.manual_seed(1)
    model = Agents(spec.ues, 8, critic, -0.5, "running")
    episodes = run_episodes(model, [EdgeTuningParallelEnv(spec) for _ in range(2)], [4, 5], False,
                            torch.Generator().manual_seed(0))
    cfg = HMPPOConfig().ppo
    # to_rollout updates the value norms: each call gets its own copy of the model
    joint = to_rollout(copy.deepcopy(model), episodes, cfg, "joint")
    apart = to_rollout(copy.deepcopy(model), episodes, cfg, "per_agent")
    for rows in (slice(0, 2), slice(2, 4)):
        assert abs(float(apart.advantages[rows].mean())) < 1e-5
        assert float(apart.advantages[rows].std(unbiased=False)) == pytest.approx(1.0, abs=1e-4)
    same = torch.allclose(joint.advantages, apart.advantages, atol=1e-5)
    assert same == (critic == "central")          # one critic: both rows hold one advantage, one scale
    torch.testing.assert_close(joint.returns, apart.returns)


def test_the_linear_entropy_schedule_runs_from_the_coefficient_to_zero():
    cfg = hmppo.configured(HMPPOConfig(), ["iterations=5", "ppo.ent_coef=0.04", "ent_schedule=linear"])
    assert [hmppo.entropy_weight(cfg, it) for it in range(1, 6)] == pytest.approx([0.04, 0.03, 0.02, 0.01, 0.0])
    assert hmppo.entropy_weight(HMPPOConfig(), 600) == 0.01


def test_turn_advantages_are_gae_over_the_two_turns_of_each_step():
    r = torch.tensor([[1.0, 2.0]])
    a, b = torch.tensor([[0.5, 0.25]]), torch.tensor([[0.75, 0.125]])     # V at agent 1's / agent 2's turn
    cfg = dataclasses.replace(HMPPOConfig().ppo, gamma=0.81, lam=0.0, normalize_advantages=False)
    out = turn_advantages(r, a, b, cfg)
    g = 0.9                                                                # √γ per turn
    # λ = 0: one TD error per turn; agent 1's baseline is V without z, its target V with z
    expected = torch.tensor([[g * 0.75 - 0.5, g * 0.125 - 0.25], [1.0 + g * 0.25 - 0.75, 2.0 - 0.125]])
    torch.testing.assert_close(out["advantages"], expected)
    torch.testing.assert_close(out["returns"], expected + torch.cat([a, b]))
    # λ = 1: the discounted return from each turn minus that turn's value
    out = turn_advantages(r, a, b, dataclasses.replace(cfg, lam=1.0))
    ret = torch.tensor([[g * 1.0 + g ** 3 * 2.0, g * 2.0], [1.0 + g ** 2 * 2.0, 2.0]])
    torch.testing.assert_close(out["advantages"], ret - torch.cat([a, b]))


def test_the_turns_critic_sees_z_only_at_agent_2s_turn(scenario):
    spec = load_scenario(scenario)
    model = Agents(spec.ues, 8, "turns", -0.5, "running")
    state, s2 = torch.rand(2, 5, 4 * spec.ues + 1), torch.rand(2, 5, 3 * spec.ues)
    z = torch.ones(2, 5, spec.ues)
    first, second = model.critic_inputs(state, s2, z)
    torch.testing.assert_close(first, torch.cat([state[..., :-1], 0 * z, torch.zeros(2, 5, 1), state[..., -1:]], -1))
    torch.testing.assert_close(second, torch.cat([state[..., :-1], z, torch.ones(2, 5, 1), state[..., -1:]], -1))
    with pytest.raises(ValueError, match="critic: must be one of"):
        Agents(spec.ues, 8, "shared", -0.5, "running")
    with pytest.raises(ValueError, match="input_norm: must be one of"):
        Agents(spec.ues, 8, "central", -0.5, "batch")


def test_acting_controller_replays_the_greedy_episode_in_the_engine(scenario, tmp_path):
    hmppo.train(scenario, tmp_path / "ck", config=dataclasses.replace(TINY, iterations=1), progress=False)
    spec = load_scenario(scenario)
    model = hmppo.build(load_checkpoint(tmp_path / "ck"))
    greedy = run_episodes(model, [EdgeTuningParallelEnv(spec)], [7], True)
    totals = TuningSimulation(spec, hmppo.HMPPO(str(tmp_path / "ck")), seed=7).run().totals()
    assert totals["reward"] == pytest.approx(greedy.metrics["reward"], rel=1e-6)
    assert totals["switches"] == greedy.metrics["switches"]
    wrong = load_scenario(scenario, ["ues=4"])
    with pytest.raises(MecsimError, match="trained for 3 UEs, the scenario has 4"):
        TuningSimulation(wrong, hmppo.HMPPO(str(tmp_path / "ck"))).run()


@pytest.mark.parametrize("name, module", [("hmppo", hmppo), ("ippo", ippo)])
def test_cli_train_resume_run_and_eval(scenario, tmp_path, name, module, monkeypatch):
    monkeypatch.setitem(module.BUDGETS, "smoke", dataclasses.replace(TINY, iterations=1,
                                                                     critic=module.BUDGETS["smoke"].critic))
    out = tmp_path / name
    assert main(["train", str(scenario), "--controller", name, "--out", str(out), "--quiet"]) == 0
    monkeypatch.setitem(module.BUDGETS, "smoke", dataclasses.replace(module.BUDGETS["smoke"], iterations=2))
    assert main(["train", str(scenario), "--controller", name, "--out", str(out), "--resume", "--quiet"]) == 0
    assert [r["iteration"] for r in rows(out)] == ["1", "2"]
    ck = load_checkpoint(out, name)
    assert len([k for k in ck["model"] if k.startswith("norms.")]) == (3 if name == "hmppo" else 6)
    run = tmp_path / "run"
    assert main(["run", str(scenario), "--controller", name, "--set", f"controller_params.checkpoint={out}",
                 "--out", str(run), "--quiet"]) == 0
    assert json.loads((run / "summary.json").read_text())["controller"] == name
    ev = tmp_path / "ev"
    assert main(["eval", str(scenario), "--checkpoint", str(out), "--out", str(ev), "--seeds", "0,1", "--quiet"]) == 0
    table = list(csv.DictReader(open(ev / "eval.csv")))
    assert {(r["controller"], r["seed"]) for r in table} == {(c, s) for c in (name, *hmppo.BASELINES) for s in "01"}
    assert all(r["adapt_steps"] == "0" and r["test_set"] == "N=3" for r in table)
    assert {"reward", "perplexity", "switches", "total_delay_min"} <= set(table[0])
    assert (ev / "eval.png").read_bytes()[:4] == b"\x89PNG"


def test_random_is_uniform_and_seeded(scenario):
    spec = load_scenario(scenario)
    a = TuningSimulation(spec, RandomTuning(np.random.default_rng(3))).run()
    b = TuningSimulation(spec, RandomTuning(np.random.default_rng(3))).run()
    assert a.tables() == b.tables()
    es = [r.E for r in a.tasks]
    assert min(es) >= 0.2 and max(es) <= 0.8 and 0 < np.mean([r.z for r in a.tasks]) < 1


def test_local_keep_emulator_downloads_once_per_ue_and_beats_random(scenario):
    spec = load_scenario(scenario)
    keep = TuningSimulation(spec, LocalKeepEmulator(), seed=0).run()
    rand = TuningSimulation(spec, RandomTuning(np.random.default_rng(0)), seed=0).run()
    totals = keep.totals()
    assert totals["server_share"] == 0 and totals["switches"] == spec.ues
    assert all(r.z == 0 and r.E == pytest.approx(0.8) for r in keep.tasks)
    assert totals["reward"] > rand.totals()["reward"]


def test_training_refuses_another_system(tmp_path):
    with pytest.raises(MecsimError, match="trains on edge_tuning scenarios"):
        hmppo.train(ROOT / "scenarios" / "quickstart.yaml", tmp_path / "x", config=TINY, progress=False)


@pytest.mark.slow
def test_smoke_budget_hmppo_beats_random_on_reward(tmp_path):
    """At --budget smoke (2·10⁴ steps, ~25 s) the greedy HMPPO tuner scores a higher reward than Random on
    the same episodes. Learning has barely started at this budget: most of the margin comes from acting
    deterministically (the greedy E keeps the cached emulator more often than Random's draws)."""
    scenario = ROOT / "scenarios" / "hmppo" / "edge_tuning.yaml"
    hmppo.train(scenario, tmp_path, budget="smoke", seed=0, progress=False)
    got = hmppo.evaluate(scenario, tmp_path, adapt_steps=[0], seeds=[0, 1, 2], progress=False)
    mean = {c: np.mean([r["reward"] for r in got if r["controller"] == c]) for c in ("hmppo", "random_tuning")}
    assert mean["hmppo"] > mean["random_tuning"]
