"""The edge fine-tuning system (HMPPO §II-IV): FDMA transfers against closed forms, emulator caching,
perplexity, step delay and reward, determinism, scenario errors; then its PettingZoo and Gymnasium envs."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.integrate import quad

from mecsim.cli import main
from mecsim.errors import ConfigError, MecsimError
from mecsim.scenario.load import scenario_from_document
from mecsim.scenario.source import load_yaml, parse_yaml
from mecsim.systems.edge_tuning import TuningSimulation

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "hmppo" / "edge_tuning.yaml"
BASE = {"name": "tiny-tuning", "system": "edge_tuning", "seed": 3, "ues": 2, "tasks": 6}
NOISE_W_PER_HZ = 10 ** ((-174 - 30) / 10)                     # −174 dBm/Hz
LAMBDA = 299792458.0 / 2.4e9


def spec(**extra):
    return scenario_from_document(parse_yaml(yaml.safe_dump({**BASE, **extra}), "tiny.yaml"))


class Plan:
    """Answers plan[step][ue] (z, E) pairs; a single pair for every decision."""

    def __init__(self, plan) -> None:
        self.plan = plan

    def act(self, point):
        if isinstance(self.plan, tuple):
            return self.plan
        step, ue = point.key
        return self.plan[step][ue]


class RandomPlan:
    """Uniformly random (z, E) from its own generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, point):
        return int(self.rng.integers(2)), float(self.rng.uniform(0.2, 0.8))


def gain(distance_m: float) -> float:
    """Friis at 1 m then exponent 2: (λ/4π)² / d²."""
    return (LAMBDA / (4 * math.pi)) ** 2 / distance_m ** 2


def ergodic(bandwidth_hz: float, snr: float) -> float:
    """B·E[log2(1 + snr·X)], X ~ Exp(1), by quadrature over u = ln x (independent of the simulator's closed
    form; the substitution keeps the integrand smooth at high SNR)."""
    def f(u: float) -> float:
        return math.log2(1 + snr * math.exp(u)) * math.exp(u - math.exp(u))
    assert snr > 1
    knee = -math.log(snr)
    cuts = (knee - 30, knee, 0.0, math.log(60))
    return bandwidth_hz * sum(quad(f, a, b, epsabs=0, epsrel=1e-10, limit=200)[0] for a, b in zip(cuts, cuts[1:]))


FIXED = {"data_mb": 400, "complexity": 20, "uplink": {"power_w": 0.5}}


def test_two_uploads_share_the_uplink_equally():
    # same UE twice: both get W_u/2 for the whole transfer and finish together at D / r(W_u/2)
    sim = TuningSimulation(spec(**FIXED, channel={"distance_m": 100}), Plan((1, 0.5)))
    res = sim.run()
    b = 1e5 / 2
    expected = 400e6 * 8 / ergodic(b, 0.5 * gain(100) / (NOISE_W_PER_HZ * b))
    first = [r for r in res.tasks if r.step == 0]
    assert [r.delay_s for r in first] == pytest.approx([expected, expected], rel=1e-6)
    up = [a for a in res.trace if a.kind == "uplink" and a.app == 0]
    assert len(up) == 2 and all(a.end_s == pytest.approx(expected, rel=1e-6) for a in up)


def test_a_finished_upload_frees_its_share():
    # the near UE ends first at S/r_near(½); the far one has sent r_far(½)·t1 bits by then and sends the
    # rest alone at r_far(1)
    sim = TuningSimulation(spec(**FIXED, channel={"distance_m": {"uniform": [20, 2000]}}), Plan((1, 0.5)))
    g = [u.gain for u in sim.ues]            # the path gain itself is checked in the test above
    res = sim.run()
    far, near = np.argsort(g)
    s = 400e6 * 8

    def rate(k: int, ue: int) -> float:
        return ergodic(1e5 / k, 0.5 * g[ue] / (NOISE_W_PER_HZ * 1e5 / k))

    t1 = s / rate(2, near)
    t2 = t1 + (s - rate(2, far) * t1) / rate(1, far)
    assert t2 > t1 + 60          # the draw makes the two UEs' transfers clearly different
    delays = {r.ue: r.delay_s for r in res.tasks if r.step == 0}
    assert delays[near] == pytest.approx(t1, rel=1e-6)
    assert delays[far] == pytest.approx(t2, rel=1e-6)


def test_downloads_share_band_and_power_and_cached_emulator_is_not_sent_again():
    sim = TuningSimulation(spec(**FIXED, channel={"distance_m": 100}, ues=3), Plan((0, 0.5)))
    res = sim.run()
    size = 0.5 * 10.8e9
    # eq. (7): each of 3 gets W_d/3 and P_d/3, so its SNR is P_d·g/(σ²W_d) and its rate a third
    rate = ergodic(1e6 / 3, 60 * gain(100) / (NOISE_W_PER_HZ * 1e6))
    assert [r.delay_s for r in res.tasks if r.step == 0] == pytest.approx([size * 8 / rate] * 3, rel=1e-6)
    later = [r for r in res.tasks if r.step > 0]
    assert all(r.switch == 0 and r.delay_s == 0 for r in later)
    down = [a for a in res.trace if a.kind == "downlink"]
    assert len(down) == 3 and all(a.app == 0 and a.bytes == size for a in down)


def test_switch_indicator_follows_the_cached_emulator():
    # E 0.52 asks for the same 10 of 20 layers as 0.5; a server step keeps the cache (eq. 4 is for z = 0)
    steps = [(0, 0.5), (0, 0.52), (0, 0.7), (1, 0.2), (0, 0.7), (0, 0.5)]
    plan = [[a, a] for a in steps]
    res = TuningSimulation(spec(**FIXED), Plan(plan)).run()
    got = [r.switch for r in res.tasks if r.ue == 0]
    assert got == [1, 0, 1, 0, 0, 1]
    assert [r.E_applied for r in res.tasks if r.ue == 0] == [0.5, 0.5, 0.7, 1.0, 0.7, 0.5]
    sent = [a.bytes for a in res.trace if a.kind == "downlink" and a.device == 0]
    assert sent == pytest.approx([0.5 * 10.8e9, 0.7 * 10.8e9, 0.5 * 10.8e9])
    assert sum(s.switches for s in res.steps) == sum(r.switch for r in res.tasks) == 6


def test_perplexity_is_the_paper_fit_scaled_by_complexity():
    res = TuningSimulation(spec(data_mb=400, complexity={"uniform": [5, 40]}), Plan([[(1, 0.5), (0, 0.8)]] * 6)).run()
    for r in res.tasks:
        scale = (r.complexity + 10) / r.complexity             # §VI-A, ι = 10
        f = 14.0 if r.z else 13.548                             # f(1) = 25.2 − 43.1 + 31.9; f(0.8)
        assert r.perplexity == pytest.approx(f * scale, rel=1e-12)


def test_step_delay_is_the_slowest_ue_and_reward_is_the_weighted_sum():
    res = TuningSimulation(spec(ues=4, tasks=8), RandomPlan(0)).run()
    assert len(res.steps) == 8
    for step in res.steps:
        mine = [r for r in res.tasks if r.step == step.step]
        assert step.delay_s == max(r.delay_s for r in mine)
        kappa = np.mean([r.perplexity for r in mine])
        assert step.reward == pytest.approx(-0.5 * kappa / 10 - 0.5 * step.delay_s / 3600, rel=1e-12)
        assert step.end_s - step.start_s == pytest.approx(step.delay_s)   # no training time by default
    assert res.totals()["total_delay_s"] == pytest.approx(sum(s.delay_s for s in res.steps))


def test_every_transfer_and_training_run_is_in_the_trace():
    res = TuningSimulation(spec(ues=3, compute={"server_s_per_mb": 2.0, "ue_s_per_mb": 1.0}), RandomPlan(1)).run()
    kinds = [a.kind for a in res.trace]
    assert kinds.count("uplink") == sum(r.z for r in res.tasks)
    assert kinds.count("downlink") == sum(r.switch for r in res.tasks)
    assert kinds.count("exec") + kinds.count("local") == 3 * 6
    for r, a in ((r, a) for r in res.tasks for a in res.trace if (a.app, a.device) == (r.step, r.ue)
                 and a.kind in ("exec", "local")):
        expected = r.data_mb * (2.0 if r.z else 1.0 * r.E_applied)
        assert a.end_s - a.start_s == pytest.approx(expected)
    for step in res.steps:     # the step lasts until the last training run, its delay counts transfers only
        assert step.end_s - step.start_s >= step.delay_s


def test_same_seed_same_trace_and_result(tmp_path):
    a = TuningSimulation(spec(ues=3), RandomPlan(5), seed=11).run()
    b = TuningSimulation(spec(ues=3), RandomPlan(5), seed=11).run()
    c = TuningSimulation(spec(ues=3), RandomPlan(5), seed=12).run()
    assert a.trace.sorted() == b.trace.sorted() and a.tables() == b.tables()
    assert a.tables() != c.tables()
    outs = []
    for k in range(2):
        assert main(["run", str(SCENARIO), "--seed", "4", "--out", str(tmp_path / str(k)), "--quiet"]) == 0
        outs.append([(tmp_path / str(k) / f).read_bytes() for f in ("trace.csv", "steps.csv", "rewards.csv")])
    assert outs[0] == outs[1]


def test_workload_does_not_depend_on_decisions():
    a = TuningSimulation(spec(ues=3), Plan((1, 0.2)), seed=2).run()
    b = TuningSimulation(spec(ues=3), Plan((0, 0.8)), seed=2).run()
    assert [(r.data_mb, r.complexity, r.power_w) for r in a.tasks] == [(r.data_mb, r.complexity, r.power_w)
                                                                        for r in b.tasks]


def test_cli_run_writes_summary_and_tables(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(SCENARIO), "--controller", "random_tuning", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["system"] == "edge_tuning" and summary["steps"] == 50 and summary["reward"] < 0
    header = (out / "steps.csv").read_text().splitlines()[0].split(",")
    assert {"step", "ue", "z", "E", "delay_s", "perplexity", "switch"} <= set(header)
    assert main(["validate", str(SCENARIO)]) == 0


def test_bad_answer_is_named():
    with pytest.raises(MecsimError, match=r"ue0/task0: must be \(z, E\)"):
        TuningSimulation(spec(), Plan((2, 0.5))).run()
    with pytest.raises(MecsimError, match=r"E in \[0.2, 0.8\]"):
        TuningSimulation(spec(), Plan((0, 0.95))).run()


@pytest.mark.parametrize("extra, where, message", [
    ({"ues": 0}, "ues", "must be an integer >= 1, got 0"),
    ({"emulator": {"min": 0.6, "max": 0.4}}, "emulator.max", "must be >= emulator.min"),
    ({"reward": {"perplexity_weight": 0.7}}, "reward.delay_weight", "= 1 (normalised weights)"),
    ({"data_mb": {"uniform": [-5, 10]}}, "data_mb.uniform[0]", "must be a number >= 0, got -5"),
    ({"complexity": 0}, "complexity", "must stay > 0"),
    ({"channel": {"fading": "rician"}}, "channel.fading", "must be one of 'rayleigh', 'none'"),
    ({"uplink": {"bandwith_hz": 1}}, "uplink.bandwith_hz", "did you mean 'bandwidth_hz'?"),
    ({"emulator": {"perplexity": [0, 0, -1]}}, "emulator.perplexity", "f(E) must be > 0"),
])
def test_bad_values_are_one_line_errors(tmp_path, extra, where, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra}, sort_keys=False))
    with pytest.raises(ConfigError) as info:
        scenario_from_document(load_yaml(path))
    text = str(info.value)
    assert "\n" not in text and re.match(rf"^{re.escape(str(path))}:\d+: {re.escape(where)}: ", text), text
    assert message in text


def test_cli_reports_a_bad_scenario_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**BASE, "tasks": -1}, sort_keys=False))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.yaml:" in err and "tasks: must be an integer >= 1, got -1" in err


# -- environments -------------------------------------------------------------------------------------

def test_parallel_env_passes_the_pettingzoo_api_and_seed_tests():
    from pettingzoo.test import parallel_api_test, parallel_seed_test

    from mecsim.envs import EdgeTuningParallelEnv
    parallel_api_test(EdgeTuningParallelEnv(SCENARIO, ues=3, tasks=6), num_cycles=40)
    parallel_seed_test(lambda: EdgeTuningParallelEnv(SCENARIO, ues=3, tasks=6), num_cycles=40)


def test_gymnasium_view_passes_check_env():
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    import mecsim.envs  # noqa: F401  (registers mecsim/EdgeTuning-v0)
    check_env(gym.make("mecsim/EdgeTuning-v0").unwrapped, skip_render_check=True)
    check_env(mecsim.envs.EdgeTuningEnv(SCENARIO, ues=4, tasks=5), skip_render_check=True)


def test_emulator_agent_sees_z_and_the_step_runs_on_its_turn():
    from mecsim.envs import EdgeTuningParallelEnv
    env = EdgeTuningParallelEnv(SCENARIO, ues=3, tasks=4)
    obs, _ = env.reset(seed=1)
    assert obs["case"][-1] == 1 and obs["emulator"][-1] == 0 and not obs["emulator"][3:6].any()
    steps = 0
    while env.agents:
        z = np.array([1, 0, 1], dtype=np.int8)
        obs, rew, term, trunc, info = env.step({"case": z, "emulator": env.action_space("emulator").sample()})
        assert rew == {"case": 0.0, "emulator": 0.0} and obs["emulator"][-1] == 1 and obs["case"][-1] == 0
        np.testing.assert_array_equal(obs["emulator"][3:6], z)                # s_2 holds a_1 (§IV-A)
        obs, rew, term, trunc, info = env.step({"case": np.zeros(3, np.int8), "emulator": np.zeros(3, np.float32)})
        steps += 1
        assert rew["case"] == rew["emulator"] < 0 and info["case"]["step"] == steps - 1
        for agent, value in obs.items():
            assert env.observation_space(agent).contains(value)
        assert env.state().shape == env.state_space.shape
    assert steps == 4 and term == {"case": True, "emulator": True} and not any(trunc.values())


def test_env_and_engine_give_the_same_episode():
    """One simulator, two drivers: the env's actions replayed by a controller in `TuningSimulation.run`."""
    from mecsim.envs import EdgeTuningParallelEnv
    from mecsim.envs.edge_tuning import retention
    env = EdgeTuningParallelEnv(SCENARIO, ues=3, tasks=8)
    rng = np.random.default_rng(0)
    env.reset(seed=9)
    plan, rewards = [], []
    while env.agents:
        z, a = rng.integers(0, 2, 3), rng.uniform(-1, 1, 3)
        env.step({"case": z, "emulator": a})
        rewards.append(env.step({"case": z, "emulator": a})[1]["case"])
        plan.append(list(zip(z.tolist(), retention(a, 0.2, 0.8).tolist())))
    res = TuningSimulation(env.scenario, Plan(plan), seed=9).run()
    assert [s.reward for s in res.steps] == rewards


def test_env_overrides_are_validated():
    from mecsim.envs import EdgeTuningEnv
    assert EdgeTuningEnv(SCENARIO, ues=8, reward__delay_weight=0.7, reward__perplexity_weight=0.3).scenario.ues == 8
    with pytest.raises(ConfigError, match=r"edge_tuning.yaml:\d+: ues: must be an integer >= 1, got 0"):
        EdgeTuningEnv(SCENARIO, ues=0)


def test_a_horizon_stops_the_episode_mid_step(tmp_path):
    res = TuningSimulation(spec(horizon_s=5000.0), RandomPlan(0)).run()
    assert res.sim_time_s <= 5000.0 and len(res.steps) < 6
    assert all(s.end_s <= 5000.0 for s in res.steps)
    cut = TuningSimulation(spec(horizon_s=1.0), RandomPlan(0)).run()
    assert cut.steps == [] and cut.summary()["perplexity"] is None
    json.dumps(cut.summary(), allow_nan=False)
