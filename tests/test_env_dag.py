"""DagOffloadEnv: Gymnasium conformance, rewards from the simulator, fast path = DES, batches."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mecsim.envs  # noqa: F401  (registers the environments)
from mecsim.envs import DagOffloadEnv
from mecsim.envs.batch import DagBatch
from mecsim.systems.dag_offloading.simulation import DagSimulation
from tests.helpers import FixedPlan, random_dag, scenario

FDMA = {"access_points": [{"name": "ap0",
                           "uplink": {"rate": {"model": "fixed", "bps": 7340032}, "sharing": "fdma"},
                           "downlink": {"rate": {"model": "fixed", "bps": 7340032}, "sharing": "fifo"}}]}


def test_registered_env_passes_check_env():
    env = gym.make("mecsim/DagOffload-v0")
    check_env(env.unwrapped)
    assert env.action_space.n == 2
    obs, _ = env.reset(seed=0)
    assert obs["tasks"].shape == (20, 5 + 24) and obs["mask"].sum() == 20


def test_check_env_on_the_des_path():
    graphs = [random_dag(np.random.default_rng(s), 6) for s in range(3)]
    env = DagOffloadEnv(scenario(FDMA), graphs=graphs)
    assert not env.fast
    check_env(env)


@pytest.mark.parametrize("order", ["rank", "recursive_rank", "id"])
def test_return_is_minus_the_des_latency(order):
    rng = np.random.default_rng(4)
    graphs = [random_dag(rng, 9) for _ in range(4)]
    fast = DagOffloadEnv(scenario(), graphs=graphs, order=order, reward="seconds")
    slow = DagOffloadEnv(scenario(), graphs=graphs, order=order, fast_path=False, reward="seconds")
    assert fast.fast and not slow.fast
    for k in range(4):
        plan = rng.integers(0, 2, 9)
        rewards = []
        for env in (fast, slow):
            env.reset(options={"graph": k})
            rewards.append([env.step(plan[pos])[1] for pos in range(9)])
        np.testing.assert_allclose(rewards[0], rewards[1], rtol=1e-9, atol=1e-9)
        if order == "rank":   # the engine's own run of the full plan (by task id) gives the same latency
            by_task = np.empty(9, dtype=int)
            by_task[fast._order] = plan
            (app,) = DagSimulation(scenario(), FixedPlan(by_task), graphs=[("g", graphs[k])]).run().apps
            assert -sum(rewards[0]) == pytest.approx(app.latency_s, rel=1e-9)


def test_observation_embeds_parents_and_children_by_position():
    graph = random_dag(np.random.default_rng(2), 7, p_edge=0.5)
    env = DagOffloadEnv(scenario(), graphs=[graph], p=3)
    obs, info = env.reset(options={"graph": 0})
    order = info["order"]
    pos = {t: k for k, t in enumerate(order)}
    for k, t in enumerate(order):
        row = obs["tasks"][k]
        parents = sorted(pos[q] for q in graph.parents[t])[:3]
        assert list(row[5:5 + len(parents)]) == parents and all(row[5 + len(parents):8] == -1)
        assert all(pos[q] < k for q in graph.parents[t])   # schedule order is topological


def test_batch_matches_env():
    rng = np.random.default_rng(9)
    graphs = [random_dag(rng, n) for n in (5, 8, 3)]
    for sc in (scenario(), scenario(FDMA)):
        env = DagOffloadEnv(sc, graphs=graphs, max_tasks=10, reward="seconds")
        batch = DagBatch(env, [0, 1, 2])
        plans = rng.integers(0, 2, (3, 10))
        rewards = batch.rewards(plans)
        for b, n in enumerate((5, 8, 3)):
            env.reset(options={"graph": b})
            expected = [env.step(plans[b, pos])[1] for pos in range(n)]
            np.testing.assert_allclose(rewards[b, :n], expected, rtol=1e-9)
            assert not rewards[b, n:].any()
        assert batch.mask.sum() == 16


def test_decision_points_carry_the_env_observation():
    """The engine's DecisionPoint.observation is the env's observation, unpadded, at every step."""
    graph = random_dag(np.random.default_rng(3), 7, p_edge=0.4)
    seen = []

    class Recorder:
        def act(self, point):
            seen.append(point.observation)
            return point.context.position % 2

    DagSimulation(scenario(), Recorder(), graphs=[("g", graph)]).run()
    env = DagOffloadEnv(scenario(), graphs=[graph])
    obs, _ = env.reset(options={"graph": 0})
    for position, got in enumerate(seen):
        np.testing.assert_array_equal(got["tasks"], obs["tasks"])
        np.testing.assert_array_equal(got["plan"], obs["plan"])
        assert got["step"] == obs["step"] == position and got["mask"].sum() == 7
        obs, *_ = env.step(position % 2)


@pytest.mark.parametrize("fast_path", [True, False])
def test_default_reward_is_the_latency_relative_to_all_local(fast_path):
    """reward="scaled": the return is minus latency / (the graph's all-local time); all-local gives -1;
    the batch's rewards stay in seconds whatever the env's scale."""
    rng = np.random.default_rng(5)
    graphs = [random_dag(rng, 8) for _ in range(3)]
    scaled = DagOffloadEnv(scenario(), graphs=graphs, fast_path=fast_path)
    seconds = DagOffloadEnv(scenario(), graphs=graphs, fast_path=fast_path, reward="seconds")
    for k, graph in enumerate(graphs):
        all_local = graph.cycles.sum() / scaled.model.local_hz
        plan = rng.integers(0, 2, 8)
        returns = []
        for env in (scaled, seconds):
            env.reset(options={"graph": k})
            steps = [env.step(a) for a in plan]
            returns.append(sum(r for _, r, *_ in steps))
            scale = all_local if env is scaled else 1.0
            assert steps[-1][4]["latency"] == pytest.approx(-returns[-1] * scale, rel=1e-9)
        assert returns[0] == pytest.approx(returns[1] / all_local, rel=1e-9)
        scaled.reset(options={"graph": k})
        assert sum(scaled.step(0)[1] for _ in range(8)) == pytest.approx(-1.0, rel=1e-9)
    np.testing.assert_allclose(DagBatch(scaled, [0, 1]).rewards(np.zeros((2, 8), int)),
                               DagBatch(seconds, [0, 1]).rewards(np.zeros((2, 8), int)), rtol=1e-12)


def test_observation_puts_the_current_task_and_its_parents_decisions_up_front():
    env = DagOffloadEnv(scenario(), graphs=[random_dag(np.random.default_rng(6), 9, p_edge=0.5)], p=4)
    obs, _ = env.reset(options={"graph": 0})
    plan = np.random.default_rng(1).integers(0, 2, 9)
    seen_a_parent = False
    for k in range(9):
        assert env.observation_space.contains(obs) and obs["step"] == k
        row = obs["tasks"][k]          # its parent positions: checked by the test above
        np.testing.assert_array_equal(obs["task"], row[:5])
        slots = row[5:9].astype(int)
        assert list(obs["parents"]) == [plan[q] if q >= 0 else -1 for q in slots]
        seen_a_parent |= bool((slots >= 0).any())
        obs, *_ = env.step(plan[k])
    assert seen_a_parent


def test_bad_reward_kind_is_refused():
    with pytest.raises(ValueError, match="reward: must be one of"):
        DagOffloadEnv(scenario(), graphs=[random_dag(np.random.default_rng(0), 4)], reward="raw")
