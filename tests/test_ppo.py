"""The shared PPO (controllers.ppo): GAE against hand values and a slow reference, masking, clipping,
the loss coefficients, minibatching, determinism, and a small learning check."""
from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from mecsim.controllers.ppo import PPOConfig, Rollout, gae, ppo_loss, ppo_update


# --------------------------------------------------------------------------------------------- helpers

@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one intra-op thread is several times faster (and immune to a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _ragged_mask(gen: torch.Generator, batch: int, horizon: int, holes: bool = False) -> Tensor:
    """Prefix masks of random lengths 1..T; with ``holes``, also some invalid steps inside episodes."""
    lengths = torch.randint(1, horizon + 1, (batch,), generator=gen)
    mask = torch.arange(horizon)[None, :] < lengths[:, None]
    if holes:
        mask &= torch.rand(batch, horizon, generator=gen) > 0.3
        mask[:, 0] = True
    return mask


def _reference_gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> Tensor:
    """Eq. 18 written out as a double sum over each episode's valid steps (V = 0 after the last one)."""
    out = torch.zeros_like(rewards, dtype=torch.float64)
    for b in range(rewards.shape[0]):
        steps = [t for t in range(rewards.shape[1]) if mask[b, t]]
        r = [float(rewards[b, t]) for t in steps]
        v = [float(values[b, t]) for t in steps] + [0.0]
        deltas = [r[i] + gamma * v[i + 1] - v[i] for i in range(len(steps))]
        for i, t in enumerate(steps):
            out[b, t] = sum((gamma * lam) ** k * deltas[i + k] for k in range(len(steps) - i))
    return out


def _random_rollout(gen: torch.Generator, batch: int = 6, horizon: int = 7) -> Rollout:
    mask = _ragged_mask(gen, batch, horizon)
    shape = (batch, horizon)
    return Rollout(
        fields={}, actions=torch.randint(0, 2, shape, generator=gen), mask=mask,
        old_log_prob=-torch.rand(shape, generator=gen, dtype=torch.float64) - 0.1,
        old_value=torch.randn(shape, generator=gen, dtype=torch.float64),
        rewards=torch.randn(shape, generator=gen, dtype=torch.float64),
    )


def _poison(x: Tensor, mask: Tensor, fill: float) -> Tensor:
    return torch.where(mask, x, torch.full_like(x, fill))


# ------------------------------------------------------------------------------------------------- GAE

def test_gae_hand_computed() -> None:
    rewards = torch.tensor([[1.0, 2.0, 3.0], [1.0, -1.0, 99.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 1.0, 1.5], [2.0, 0.0, 77.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    adv, ret = gae(rewards, values, mask, gamma=0.5, lam=0.5)
    # row 0: δ = [1 + .5·1 − .5, 2 + .5·1.5 − 1, 3 − 1.5] = [1, 1.75, 1.5]; Â = δ_t + .25·Â_{t+1}
    # row 1: δ = [1 + 0 − 2, −1 − 0] = [−1, −1]; the padded step is ignored
    expected_adv = torch.tensor([[1.53125, 2.125, 1.5], [-1.25, -1.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(adv, expected_adv)
    assert torch.allclose(ret, torch.tensor([[2.03125, 3.125, 3.0], [0.75, -1.0, 0.0]], dtype=torch.float64))


@pytest.mark.parametrize("holes", [False, True])
@pytest.mark.parametrize("gamma,lam", [(0.99, 0.95), (0.9, 0.0), (0.8, 1.0), (1.0, 0.5)])
def test_gae_matches_reference_loop(gamma: float, lam: float, holes: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    mask = _ragged_mask(gen, 9, 11, holes)
    rewards = torch.randn(9, 11, generator=gen, dtype=torch.float64)
    values = torch.randn(9, 11, generator=gen, dtype=torch.float64)
    adv, ret = gae(rewards, values, mask, gamma, lam)
    assert torch.allclose(adv, _reference_gae(rewards, values, mask, gamma, lam))
    assert torch.allclose(ret, torch.where(mask, adv + values, torch.zeros_like(adv)))
    assert torch.all(adv[~mask] == 0) and torch.all(ret[~mask] == 0)


def test_gae_special_lambdas() -> None:
    gen = torch.Generator().manual_seed(2)
    mask = _ragged_mask(gen, 8, 10)
    rewards = torch.randn(8, 10, generator=gen, dtype=torch.float64)
    values = torch.randn(8, 10, generator=gen, dtype=torch.float64)
    gamma = 0.9
    zero = torch.zeros_like(rewards)
    # λ = 1: discounted reward-to-go minus the value
    discounted = torch.zeros_like(rewards)
    running = torch.zeros(8, dtype=torch.float64)
    for t in reversed(range(10)):
        running = torch.where(mask[:, t], rewards[:, t] + gamma * running, running)
        discounted[:, t] = running
    adv1, _ = gae(rewards, values, mask, gamma, 1.0)
    assert torch.allclose(adv1, torch.where(mask, discounted - values, zero))
    # λ = 0: one-step TD errors, with V = 0 after the last valid step
    next_values = torch.cat([values[:, 1:], zero[:, :1]], dim=1)
    next_valid = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
    td = rewards + gamma * torch.where(next_valid, next_values, zero) - values
    adv0, _ = gae(rewards, values, mask, gamma, 0.0)
    assert torch.allclose(adv0, torch.where(mask, td, zero))


def test_gae_ignores_padding_contents() -> None:
    gen = torch.Generator().manual_seed(3)
    mask = _ragged_mask(gen, 5, 6, holes=True)
    rewards = torch.randn(5, 6, generator=gen)
    values = torch.randn(5, 6, generator=gen)
    a, r = gae(rewards, values, mask, 0.99, 0.95)
    a2, r2 = gae(_poison(rewards, mask, float("nan")), _poison(values, mask, 1e30), mask, 0.99, 0.95)
    assert torch.equal(a, a2) and torch.equal(r, r2)


def test_with_advantages_targets_and_normalisation() -> None:
    gen = torch.Generator().manual_seed(4)
    ro = _random_rollout(gen)
    mask = ro.mask
    raw, lam_ret = gae(ro.rewards, ro.old_value, mask, 0.99, 0.95)
    # the default target is eq. 19's discounted return; advantages are standardised over valid steps
    out = ro.with_advantages(PPOConfig())
    discounted, _ = gae(ro.rewards, torch.zeros_like(ro.rewards), mask, 0.99, 1.0)
    assert torch.allclose(out.returns, discounted)
    valid = out.advantages[mask]
    assert abs(float(valid.mean())) < 1e-9 and abs(float(valid.std(unbiased=False)) - 1) < 1e-6
    assert torch.all(out.advantages[~mask] == 0)
    assert torch.allclose(out.advantages, torch.where(mask, (raw - raw[mask].mean()) / raw[mask].std(unbiased=False),
                                                      torch.zeros_like(raw)))
    # λ-return target, raw advantages
    out2 = ro.with_advantages(PPOConfig(value_target="lambda", normalize_advantages=False))
    assert torch.equal(out2.advantages, raw) and torch.equal(out2.returns, lam_ret)
    assert ro.advantages is None  # the original is untouched


# ------------------------------------------------------------------------------------------------ loss

def _loss_inputs(gen: torch.Generator, ro: Rollout) -> tuple[Tensor, Tensor, Tensor]:
    shape = ro.mask.shape
    log_prob = (ro.old_log_prob + 0.3 * torch.randn(shape, generator=gen, dtype=torch.float64)).requires_grad_()
    entropy = torch.rand(shape, generator=gen, dtype=torch.float64).requires_grad_()
    value = torch.randn(shape, generator=gen, dtype=torch.float64).requires_grad_()
    return log_prob, entropy, value


def test_padding_changes_neither_loss_nor_gradient() -> None:
    gen = torch.Generator().manual_seed(5)
    cfg = PPOConfig(ent_coef=0.01, clip_value=True)
    ro = _random_rollout(gen)
    m = ro.mask
    inputs = _loss_inputs(gen, ro)
    loss, stats = ppo_loss(*inputs, ro.with_advantages(cfg), cfg)
    grads = torch.autograd.grad(loss, inputs)

    poisoned = Rollout(fields={}, actions=ro.actions, mask=m,
                       old_log_prob=_poison(ro.old_log_prob, m, -1e30),
                       old_value=_poison(ro.old_value, m, float("inf")),
                       rewards=_poison(ro.rewards, m, float("nan")))
    inputs2 = tuple(_poison(x.detach(), m, fill).requires_grad_()
                    for x, fill in zip(inputs, (50.0, float("nan"), -1e9)))
    loss2, stats2 = ppo_loss(*inputs2, poisoned.with_advantages(cfg), cfg)
    grads2 = torch.autograd.grad(loss2, inputs2)
    assert float(loss.detach()) == float(loss2.detach()) and stats == stats2
    for g, g2 in zip(grads, grads2):
        assert torch.equal(g, g2) and torch.all(g2[~m] == 0)


def _fixed_rollout(adv: Tensor, returns: Tensor | None = None) -> Rollout:
    shape = adv.shape
    return Rollout(fields={}, actions=torch.zeros(shape, dtype=torch.long), mask=torch.ones(shape, dtype=torch.bool),
                   old_log_prob=torch.full(shape, math.log(0.5), dtype=torch.float64),
                   old_value=torch.zeros(shape, dtype=torch.float64), rewards=torch.zeros(shape, dtype=torch.float64),
                   advantages=adv, returns=torch.zeros(shape, dtype=torch.float64) if returns is None else returns)


@pytest.mark.parametrize("ratio,adv,zero_grad", [
    (1.5, 1.0, True),    # improving direction, above 1 + ε: clipped
    (0.5, -1.0, True),   # improving direction, below 1 − ε: clipped
    (1.5, -1.0, False),  # the move made things worse: not clipped, pulled back
    (0.5, 1.0, False),
    (1.1, 1.0, False),   # inside the trust region
    (0.9, -1.0, False),
])
def test_clipping_zeroes_the_policy_gradient(ratio: float, adv: float, zero_grad: bool) -> None:
    cfg = PPOConfig(clip=0.2, vf_coef=0.0)
    ro = _fixed_rollout(torch.full((2, 3), adv, dtype=torch.float64))
    log_prob = (ro.old_log_prob + math.log(ratio)).requires_grad_()
    zeros = torch.zeros(2, 3, dtype=torch.float64)
    loss, stats = ppo_loss(log_prob, zeros, zeros, ro, cfg)
    (grad,) = torch.autograd.grad(loss, log_prob)
    if zero_grad:
        assert torch.all(grad == 0)
        assert stats["clip_fraction"] == 1.0
    else:  # d/dlogπ of −mean(Pr·Â) = −Pr·Â / N
        assert torch.allclose(grad, torch.full_like(grad, -ratio * adv / 6))
    expected_kl = (ratio - 1) - math.log(ratio)
    assert stats["approx_kl"] == pytest.approx(expected_kl)


@pytest.mark.parametrize("vf_coef", [0.0, 0.5, 2.0])
def test_value_loss_coefficient(vf_coef: float) -> None:
    gen = torch.Generator().manual_seed(6)
    returns = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    ro = _fixed_rollout(torch.randn(3, 4, generator=gen, dtype=torch.float64), returns)
    cfg = PPOConfig(vf_coef=vf_coef, ent_coef=0.1)
    log_prob = ro.old_log_prob.clone().requires_grad_()
    entropy = torch.rand(3, 4, generator=gen, dtype=torch.float64).requires_grad_()
    value = torch.randn(3, 4, generator=gen, dtype=torch.float64).requires_grad_()
    loss, stats = ppo_loss(log_prob, entropy, value, ro, cfg)
    mse = float(((value.detach() - returns) ** 2).mean())
    assert stats["value_loss"] == pytest.approx(mse)
    # eq. 20 plus the entropy bonus: loss = −J^C + c1·J^VF − c_ent·H
    assert float(loss.detach()) == pytest.approx(stats["policy_loss"] + vf_coef * mse - 0.1 * float(entropy.detach().mean()))
    g_value, g_entropy = torch.autograd.grad(loss, (value, entropy))
    assert torch.allclose(g_value, vf_coef * 2 * (value - returns).detach() / 12)
    assert torch.allclose(g_entropy, torch.full_like(g_entropy, -0.1 / 12))


def test_value_clipping() -> None:
    returns = torch.full((1, 2), 1.0, dtype=torch.float64)
    ro = _fixed_rollout(torch.zeros(1, 2, dtype=torch.float64), returns)  # old value 0, target 1
    cfg = PPOConfig(clip=0.2, clip_value=True, vf_coef=0.5)
    # 0.5 moved more than ε towards the target: max(0.25, (0.2 − 1)²) = 0.64 is constant, gradient 0;
    # −0.5 moved away from it: max(2.25, (−0.2 − 1)²) = 2.25 is the unclipped error, gradient flows
    value = torch.tensor([[0.5, -0.5]], dtype=torch.float64, requires_grad=True)
    loss, stats = ppo_loss(ro.old_log_prob, torch.zeros(1, 2, dtype=torch.float64), value, ro, cfg)
    (grad,) = torch.autograd.grad(loss, value)
    assert grad[0, 0] == 0 and float(grad[0, 1]) == pytest.approx(0.5 * 2 * (-1.5) / 2)
    assert stats["value_loss"] == pytest.approx((0.64 + 2.25) / 2)
    # without clipping both errors count as they are
    _, plain = ppo_loss(ro.old_log_prob, torch.zeros(1, 2, dtype=torch.float64), value, ro, PPOConfig())
    assert plain["value_loss"] == pytest.approx((0.25 + 2.25) / 2)


# -------------------------------------------------------------------------------------------- updating

class _Policy(nn.Module):
    """A tiny tabular-ish policy for the tests: logits from the observed bit, value from bit and position."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon
        self.pi = nn.Linear(2, 2)
        self.v = nn.Linear(2 + horizon, 1)
        for p in self.parameters():  # zero start: a uniform policy, no seeding needed
            nn.init.zeros_(p)

    def dist(self, obs: Tensor) -> torch.distributions.Categorical:
        return torch.distributions.Categorical(logits=self.pi(nn.functional.one_hot(obs, 2).float()))

    def value(self, obs: Tensor) -> Tensor:
        pos = torch.eye(self.horizon).expand(obs.shape[0], -1, -1)
        return self.v(torch.cat([nn.functional.one_hot(obs, 2).float(), pos], dim=-1)).squeeze(-1)

    def evaluate(self, batch: Rollout) -> tuple[Tensor, Tensor, Tensor]:
        d = self.dist(batch.fields["obs"])
        return d.log_prob(batch.actions), d.entropy(), self.value(batch.fields["obs"])


def _collect(policy: _Policy, gen: torch.Generator, batch: int) -> Rollout:
    """Episodes of 2..T steps; each step shows a bit and the agent should answer it. The reward comes only at
    the end (the number of right answers), so GAE must carry it back."""
    horizon = policy.horizon
    lengths = torch.randint(2, horizon + 1, (batch,), generator=gen)
    mask = torch.arange(horizon)[None, :] < lengths[:, None]
    obs = torch.randint(0, 2, (batch, horizon), generator=gen)
    with torch.no_grad():
        d = policy.dist(obs)
        probs = d.probs.reshape(-1, 2)
        actions = torch.multinomial(probs, 1, generator=gen).reshape(batch, horizon)
        log_prob, value = d.log_prob(actions), policy.value(obs)
    correct = ((actions == obs) & mask).sum(1).double()
    rewards = torch.zeros(batch, horizon, dtype=torch.float64)
    rewards[torch.arange(batch), lengths - 1] = correct
    return Rollout(fields={"obs": obs}, actions=actions, mask=mask, old_log_prob=log_prob,
                   old_value=value, rewards=rewards)


def _accuracy(ro: Rollout) -> float:
    return float(ro.rewards.sum() / ro.mask.sum())


def _train(updates: int, cfg: PPOConfig, seed: int = 0) -> tuple[_Policy, list[float], list[dict[str, float]]]:
    policy = _Policy(horizon=5)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    env_gen, shuffle_gen = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    accuracies, stats = [], []
    for _ in range(updates):
        ro = _collect(policy, env_gen, batch=32)
        accuracies.append(_accuracy(ro))
        stats.append(ppo_update(policy.evaluate, policy.parameters(), optimizer, ro, cfg, generator=shuffle_gen))
    return policy, accuracies, stats


def test_ppo_learns_a_delayed_reward_task() -> None:
    cfg = PPOConfig(lr=0.02, epochs=2, minibatches=2, max_grad_norm=1.0)
    _, acc, stats = _train(60, cfg)
    first, last = acc[0], sum(acc[-10:]) / 10  # share of right answers; a uniform policy gets 0.5
    assert first < 0.6 and last > 0.95, (first, last)
    assert all(math.isfinite(v) for s in stats for v in s.values())


def test_update_is_deterministic_with_a_seeded_generator() -> None:
    cfg = PPOConfig(lr=0.02, epochs=3, minibatches=3)
    p1, acc1, s1 = _train(5, cfg, seed=7)
    p2, acc2, s2 = _train(5, cfg, seed=7)
    assert acc1 == acc2 and s1 == s2
    assert all(torch.equal(a, b) for a, b in zip(p1.parameters(), p2.parameters()))
    # the shuffle really depends on the generator
    policy = _Policy(5)
    ro = _collect(policy, torch.Generator().manual_seed(0), 12)
    results = []
    for shuffle_seed in (0, 0, 1):
        pol = _Policy(5)
        opt = torch.optim.Adam(pol.parameters(), lr=0.05)
        state = torch.get_rng_state()
        ppo_update(pol.evaluate, pol.parameters(), opt, ro, cfg, generator=torch.Generator().manual_seed(shuffle_seed))
        assert torch.equal(torch.get_rng_state(), state)  # the global generator was not touched
        results.append(torch.cat([p.detach().flatten() for p in pol.parameters()]))
    assert torch.equal(results[0], results[1]) and not torch.equal(results[0], results[2])


def test_update_steps_minibatches_and_grad_clipping() -> None:
    policy = _Policy(5)
    ro = _collect(policy, torch.Generator().manual_seed(0), 10)
    ro.fields["episode"] = list(range(10))  # a list field is sliced per episode, too
    seen: list[list[int]] = []

    def evaluate(batch: Rollout) -> tuple[Tensor, Tensor, Tensor]:
        seen.append(list(batch.fields["episode"]))
        assert batch.fields["obs"].shape[0] == len(batch.fields["episode"]) == batch.actions.shape[0]
        return policy.evaluate(batch)

    before = torch.cat([p.detach().flatten() for p in policy.parameters()])
    cfg = PPOConfig(epochs=2, minibatches=3, max_grad_norm=1e-3)
    opt = torch.optim.SGD(policy.parameters(), lr=1.0)
    stats = ppo_update(evaluate, policy.parameters(), opt, ro, cfg, generator=torch.Generator().manual_seed(0))
    assert len(seen) == 6 and sorted(len(s) for s in seen) == [3, 3, 3, 3, 4, 4]
    for epoch in (seen[:3], seen[3:]):  # each epoch covers every episode once
        assert sorted(i for s in epoch for i in s) == list(range(10))
    after = torch.cat([p.detach().flatten() for p in policy.parameters()])
    assert stats["grad_norm"] > 1e-3  # clipping was active ...
    assert float((after - before).norm()) <= 6 * 1e-3 + 1e-9  # ... and bounded each SGD step
    assert set(stats) >= {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "loss"}


def test_update_ignores_padding() -> None:
    policy_a, policy_b = _Policy(5), _Policy(5)
    ro = _collect(policy_a, torch.Generator().manual_seed(3), 16)
    m = ro.mask
    poisoned = Rollout(fields=ro.fields, actions=ro.actions, mask=m, old_log_prob=_poison(ro.old_log_prob, m, 9.0),
                       old_value=_poison(ro.old_value, m, float("nan")), rewards=_poison(ro.rewards, m, 1e6))
    cfg = PPOConfig(lr=0.05, epochs=2, minibatches=2)
    for pol, rollout in ((policy_a, ro), (policy_b, poisoned)):
        opt = torch.optim.Adam(pol.parameters(), lr=cfg.lr)
        ppo_update(pol.evaluate, pol.parameters(), opt, rollout, cfg, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(policy_a.parameters(), policy_b.parameters()))
