"""Seq2SeqPolicy: shapes, teacher forcing = decoding, padding invariance, gradients, a learnable toy task."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mecsim.controllers import mrlato, mrlco
from mecsim.controllers.offload_rl import NetworkSpec, build_policy
from mecsim.controllers.seq2seq import Seq2SeqPolicy

ATTENTIONS = ["additive", "multihead"]
F = 6   # toy observation width


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These nets are tiny: one thread is faster and immune to OpenMP oversubscription on shared cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small(attention: str, **kw) -> Seq2SeqPolicy:
    torch.manual_seed(0)
    kw = {"n_actions": 3, "hidden": 16, "heads": 4} | kw
    return Seq2SeqPolicy(F, kw.pop("n_actions"), attention=attention, **kw)


def toy_batch(lengths: list[int], n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random task rows, padded like DagOffloadEnv: rows past each length are -1, mask false."""
    g = torch.Generator().manual_seed(seed)
    tasks = torch.rand(len(lengths), n, F, generator=g) * 2 - 1
    mask = torch.arange(n)[None] < torch.tensor(lengths)[:, None]
    tasks[~mask] = -1.0
    return tasks, mask


@pytest.mark.parametrize("cfg, hidden", [(mrlco.BUDGETS["paper"], 256), (mrlato.BUDGETS["paper"], 128)])
def test_default_shapes_and_zeros_at_padding(cfg, hidden):
    """The paper budgets' networks: MRLCO Table 2 (256 units), MRLATO Table I (128 units, 8 heads)."""
    torch.manual_seed(0)
    policy = build_policy(NetworkSpec(29, 2, cfg.hidden, 2, cfg.attention, cfg.heads))
    assert policy.hidden == hidden and policy.layers == 2
    tasks, mask = torch.full((3, 7, 29), -1.0), torch.zeros(3, 7, dtype=torch.bool)
    for b, n in enumerate([7, 4, 1]):
        tasks[b, :n] = torch.rand(n, 29)
        mask[b, :n] = True
    actions, logp, value = policy.act(tasks, mask, generator=torch.Generator().manual_seed(0))
    assert actions.dtype == torch.long and actions.shape == logp.shape == value.shape == (3, 7)
    assert ((actions >= 0) & (actions < 2)).all()
    plan = torch.where(mask, actions, -1)   # the env marks undecided/padded actions -1: allowed
    out = policy.evaluate(tasks, mask, plan)
    for t in (logp, value, actions) + out:
        assert t.shape == (3, 7) and (t[~mask] == 0).all()
    lp, ent, v = out
    assert (lp[mask] < 0).all() and (ent[mask] > 0).all() and (ent[mask] <= math.log(2) + 1e-6).all()
    assert torch.isfinite(v).all()


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("layers, train", [(1, True), (2, True), (2, False)])
def test_evaluate_equals_act_for_sampled_actions(attention, layers, train):
    policy = small(attention, layers=layers).train(train)   # eval(): MultiheadAttention's fast path
    tasks, mask = toy_batch([9, 5, 1, 9, 3], 9)
    actions, logp, value = policy.act(tasks, mask, generator=torch.Generator().manual_seed(3))
    assert len(set(actions[mask].tolist())) == 3   # every action was sampled: a real test
    lp, ent, v = policy.evaluate(tasks, mask, actions)
    torch.testing.assert_close(lp, logp, atol=1e-5, rtol=0)
    torch.testing.assert_close(v, value, atol=1e-5, rtol=0)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_greedy_is_deterministic_and_sampling_follows_the_generator(attention):
    policy = small(attention)
    tasks, mask = toy_batch([8, 6, 2], 8, seed=1)
    first, second = policy.act(tasks, mask, greedy=True), policy.act(tasks, mask, greedy=True)
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    # greedy picks the most likely action given its own prefix
    def logp_of(j: int, k: int) -> torch.Tensor:   # log pi(a_j = k | the greedy prefix)
        return policy.evaluate(tasks, mask, torch.where(torch.arange(8) == j, k, first[0]))[0][:, j]

    best = torch.stack([torch.stack([logp_of(j, k) for k in range(3)]) for j in range(8)]).argmax(1).T
    assert torch.equal(torch.where(mask, best, 0), first[0])
    draw = [policy.act(tasks, mask, generator=torch.Generator().manual_seed(7))[0] for _ in range(2)]
    assert torch.equal(draw[0], draw[1])


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_padding_invariance(attention):
    """A DAG alone gives the same outputs as the same DAG padded in a batch beside a longer one."""
    policy = small(attention)
    tasks, mask = toy_batch([4, 9], 9, seed=2)
    alone_tasks, alone_mask = tasks[:1, :4], mask[:1, :4]
    actions = torch.randint(0, 3, (2, 9), generator=torch.Generator().manual_seed(0))
    alone = policy.evaluate(alone_tasks, alone_mask, actions[:1, :4])
    batched = policy.evaluate(tasks, mask, actions)
    for a, b in zip(alone, batched):
        torch.testing.assert_close(b[:1, :4], a, atol=1e-5, rtol=0)
        assert (b[0, 4:] == 0).all()
    greedy_alone = policy.act(alone_tasks, alone_mask, greedy=True)
    for a, b in zip(greedy_alone, policy.act(tasks, mask, greedy=True)):
        torch.testing.assert_close(b[:1, :4], a, atol=1e-5, rtol=0)
    # what sits in the padded rows does not matter either
    noisy = tasks.clone()
    noisy[0, 4:] = 5.0
    for a, b in zip(batched, policy.evaluate(noisy, mask, actions)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("attention, layer_norm",
                         [("additive", True), ("multihead", True), ("additive", False)])
def test_gradients_reach_every_parameter(attention, layer_norm):
    policy = small(attention, layers=2, layer_norm=layer_norm)
    tasks, mask = toy_batch([7, 3, 5], 7, seed=4)
    actions = torch.randint(0, 3, (3, 7), generator=torch.Generator().manual_seed(1))
    logp, entropy, value = policy.evaluate(tasks, mask, actions)
    (-(logp.sum()) - 0.01 * entropy.sum() + value.pow(2).sum()).backward()
    for name, p in policy.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_learns_to_copy_a_feature_bit(attention):
    """Supervised: action j = [feature 1 of task j > 0]. The previous action says nothing about it, so
    the decoder must attend to task j's encoding: a check that attention and decoder are wired right."""
    n = 6

    def batch(g: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lengths = torch.randint(2, n + 1, (size,), generator=g).tolist()
        tasks, mask = toy_batch(lengths, n, seed=int(torch.randint(0, 2**31, (1,), generator=g)))
        tasks[:, :, 0] = torch.where(mask, torch.arange(n) / n, -1.0)   # position / N, as in the env
        return tasks, mask, (tasks[:, :, 1] > 0).long()

    policy = small(attention, n_actions=2, hidden=32)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    held_out = batch(g, 256)

    def accuracy(tasks, mask, target) -> float:
        actions = policy.act(tasks, mask, greedy=True)[0]
        return float(((actions == target) & mask).sum() / mask.sum())

    for step in range(400):
        tasks, mask, target = batch(g, 64)
        logp = policy.evaluate(tasks, mask, target)[0]
        loss = -logp.sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        if step % 10 == 9 and accuracy(*held_out) > 0.97:
            break
    assert accuracy(*batch(g, 512)) > 0.95, f"stopped at step {step}"


def test_runs_on_the_environment_batch():
    import gymnasium as gym

    import mecsim.envs  # noqa: F401  (registers the environments)
    from mecsim.envs.batch import DagBatch

    env = gym.make("mecsim/DagOffload-v0").unwrapped
    batch = DagBatch(env, range(4))
    torch.manual_seed(0)
    policy = Seq2SeqPolicy(batch.tasks.shape[-1], int(env.action_space.n), hidden=16, heads=4)
    actions, logp, value = policy.act(torch.from_numpy(batch.tasks), torch.from_numpy(batch.mask))
    rewards = batch.rewards(actions.numpy())
    assert rewards.shape == (4, env.max_tasks) and np.isfinite(rewards).all()
    assert (rewards[batch.mask] <= 0).all() and (actions[~torch.from_numpy(batch.mask)] == 0).all()


def test_rejects_bad_configurations():
    with pytest.raises(ValueError):
        Seq2SeqPolicy(F, 2, hidden=30, attention="multihead", heads=8)
    with pytest.raises(ValueError):
        Seq2SeqPolicy(F, 2, attention="luong")
    policy = small("additive")
    tasks, mask = toy_batch([3], 3)
    with pytest.raises(ValueError):
        policy.act(tasks, torch.zeros_like(mask))
    with pytest.raises(ValueError):
        policy.act(tasks[0], mask[0])
    with pytest.raises(ValueError):
        policy.act(tasks, torch.tensor([[True, False, True]]))
