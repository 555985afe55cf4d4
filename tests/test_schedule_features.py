"""The `schedule` feature set: the closed-form schedule state per decoding step, online and stored."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from mecsim.controllers import mrlco
from mecsim.controllers.offload_rl import decode, evaluate_actions, greedy_latency, load_tasks, sample
from mecsim.controllers.seq2seq import Seq2SeqPolicy
from mecsim.systems.dag_offloading.analytic import PlanState, earliest_finish_plan
from mecsim.checkpoint import load_checkpoint
from mecsim.envs import DagOffloadEnv
from mecsim.envs.batch import DagBatch, ScheduleTracker
from mecsim.envs.dag_offload import schedule_features
from mecsim.registry import make_controller
from mecsim.systems.dag_offloading.simulation import DagSimulation
from tests.helpers import random_dag, scenario
from tests.test_offload_rl import TINY, TRAIN


@pytest.fixture
def env():
    rng = np.random.default_rng(11)
    return DagOffloadEnv(scenario(), graphs=[random_dag(rng, n, p_edge=0.4) for n in (9, 6, 9, 4)])


def test_features_are_the_closed_form_schedule_state(env):
    graph, order = env.graphs[0], env.encoded(0)[1]
    state = PlanState(graph, env.model)
    for pos, task in enumerate(order):
        f = schedule_features(state, task)
        scale = state.times.local.max()
        m = state.makespan
        expected = [state.finish_if(task, 0) - m, state.finish_if(task, 1) - m,
                    state.local_avail - m, state.ul_avail - m, state.mec_avail[0] - m]
        np.testing.assert_allclose(f, np.array(expected) / scale, rtol=1e-6, atol=1e-7)
        state.apply(task, pos % 2)


def test_hefts_rule_is_a_comparison_of_the_first_two(env):
    """Along HEFT's own plan, each decision is `local iff feature 0 < feature 1` (the authors' tie rule)."""
    batch = DagBatch(env, range(4))
    plans = np.zeros((4, env.max_tasks), dtype=int)
    for b, k in enumerate(batch.indices):
        by_task = earliest_finish_plan(env.graphs[k], env.model, batch.orders[b])
        plans[b, :len(batch.orders[b])] = [by_task[t] for t in batch.orders[b]]
    feats = ScheduleTracker.of(batch).replay(plans)
    assert (np.where(feats[..., 0] < feats[..., 1], 0, 1)[batch.mask] == plans[batch.mask]).all()
    assert not feats[~batch.mask].any()


@pytest.mark.parametrize("attention", ["additive", "multihead"])
def test_teacher_forcing_on_stored_features_equals_online_decoding(env, attention):
    torch.manual_seed(0)
    policy = Seq2SeqPolicy(env.observation_space["tasks"].shape[1], 2, hidden=16, heads=4, attention=attention,
                           schedule_dim=5)
    batch = DagBatch(env, [0, 1, 2, 3, 1])
    fields, actions, logp, value = decode(policy, batch, generator=torch.Generator().manual_seed(2))
    assert len(set(actions[fields["mask"]].tolist())) == 2
    replayed = ScheduleTracker.of(batch).replay(actions.numpy())
    np.testing.assert_array_equal(fields["schedule"].numpy(), replayed)    # stored = recomputed along the plan
    lp, _, v = policy.evaluate(fields["tasks"], fields["mask"], actions, fields["schedule"])
    torch.testing.assert_close(lp, logp, atol=1e-5, rtol=0)
    torch.testing.assert_close(v, value, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="schedule"):
        policy.evaluate(fields["tasks"], fields["mask"], actions)


def test_paper_features_keep_the_papers_network():
    torch.manual_seed(0)
    paper = Seq2SeqPolicy(29, 2, hidden=16)
    torch.manual_seed(0)
    same = Seq2SeqPolicy(29, 2, hidden=16, schedule_dim=0)
    assert all(torch.equal(a, b) for a, b in zip(paper.state_dict().values(), same.state_dict().values()))
    assert Seq2SeqPolicy(29, 2, hidden=16, schedule_dim=5).decoder[0].input_size == 2 * 16 + 5


def test_env_schedule_observation_follows_the_plan(env):
    schedule_env = DagOffloadEnv(scenario(), graphs=env.graphs, features="schedule")
    check_env(schedule_env)
    obs, info = schedule_env.reset(options={"graph": 0})
    plan = np.random.default_rng(0).integers(0, 2, env.max_tasks)
    plan[len(info["order"]):] = 0
    expected = ScheduleTracker.of(DagBatch(env, [0])).replay(plan[None])[0]
    for pos in range(len(info["order"])):
        np.testing.assert_array_equal(obs["schedule"], expected[pos])
        obs, *_ = schedule_env.step(plan[pos])


def test_schedule_features_train_checkpoint_and_act_in_the_engine(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(TRAIN)
    out = tmp_path / "ck"
    mrlco.train(path, out, config=replace(TINY, iterations=1), features="schedule", progress=False)
    ck = load_checkpoint(out)
    assert ck["network"]["schedule_dim"] == 5 and ck["config"]["features"] == "schedule"
    test = load_tasks(path, "rank")["test"][0].env
    ctrl = make_controller("mrlco", {"checkpoint": str(out)})
    result = DagSimulation(test.scenario, ctrl, trace=False, graphs=[(g.name, g) for g in test.graphs]).run()
    engine = np.mean([a.latency_s for a in result.apps])
    assert engine == pytest.approx(greedy_latency(ctrl.policy, test), rel=1e-9)   # same greedy plans
    rollout, _ = sample(ctrl.policy, test, 4, np.random.default_rng(0), torch.Generator().manual_seed(0))
    assert rollout.fields["schedule"].shape == (4, test.max_tasks, 5)
    logp, _, _ = evaluate_actions(ctrl.policy)(rollout)
    torch.testing.assert_close(logp, rollout.old_log_prob, atol=1e-5, rtol=0)
