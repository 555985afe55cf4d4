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
    fast = DagOffloadEnv(scenario(), graphs=graphs, order=order)
    slow = DagOffloadEnv(scenario(), graphs=graphs, order=order, fast_path=False)
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
        env = DagOffloadEnv(sc, graphs=graphs, max_tasks=10)
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
