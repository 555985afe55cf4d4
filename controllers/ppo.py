"""PPO on padded episode batches: the one on-policy update shared by every trainer.

MRLCO §4.4 (eqs. 16-20, Table 2) trains its seq2seq policy with PPO's clipped surrogate, GAE advantages and a
squared-error value loss. Nothing here knows about DAGs or networks: a batch is B episodes padded to T steps
with a boolean mask, and the network enters only through a callable ``evaluate(rollout_slice)`` that returns
``(log_prob, entropy, value)``, each (B', T), for the slice of episodes it is given.

Read top to bottom: :class:`PPOConfig`, :func:`gae`, :class:`Rollout`, :func:`ppo_loss`, :func:`ppo_update`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

import torch
from torch import Tensor

__all__ = ["PPOConfig", "gae", "Rollout", "standardised", "ppo_loss", "ppo_update"]


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters; the defaults are MRLCO's (Table 2, no entropy bonus, one pass)."""

    gamma: float = 0.99
    """discount factor γ (Table 2)"""
    lam: float = 0.95
    """GAE λ (eq. 18, Table 2)"""
    clip: float = 0.2
    """clipping constant ε of the surrogate (eq. 16, Table 2); also the value clip range when ``clip_value``"""
    vf_coef: float = 0.5
    """value-loss coefficient c1 (eq. 20, Table 2)"""
    ent_coef: float = 0.0
    """entropy bonus coefficient (MRLCO has none)"""
    lr: float = 5e-4
    """Adam learning rate α (Table 2); read by the trainer that builds the optimizer, not by ppo_update"""
    epochs: int = 1
    """passes over the rollout per update"""
    minibatches: int = 1
    """episode minibatches per pass; epochs × minibatches gradient steps in all"""
    max_grad_norm: float | None = None
    """clip the global gradient norm to this value; None: no clipping"""
    normalize_advantages: bool = True
    """standardise the advantages over the valid steps of the whole rollout (the authors' code does)"""
    clip_value: bool = False
    """clip the new value to old_value ± clip and take the larger squared error (the authors' inner loop)"""
    value_target: Literal["discounted", "lambda"] = "discounted"
    """'discounted': v̂_t = Σ_k γ^k r_{t+k} (eq. 19, the authors' code); 'lambda': the GAE λ-return A_t + V_t"""


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """GAE advantages (eq. 18) and λ-returns (advantages + values), both (B, T) and 0 where ``mask`` is False.

    Each row is one episode made of its valid steps in order; it ends at its last valid step, after which
    V = 0 (terminal). Invalid steps are skipped entirely (their rewards and values are ignored), so padding,
    wherever it lies, changes nothing. λ = 1 gives discounted returns − values; λ = 0 gives the TD errors.
    """
    if not (rewards.shape == values.shape == mask.shape) or rewards.dim() != 2:
        raise ValueError(f"rewards, values, mask must share a (B, T) shape, got "
                         f"{tuple(rewards.shape)}, {tuple(values.shape)}, {tuple(mask.shape)}")
    mask = mask.bool()
    zero = torch.zeros((), dtype=rewards.dtype, device=rewards.device)
    rewards = torch.where(mask, rewards, zero)
    values = torch.where(mask, values.to(rewards.dtype), zero)
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])  # V after the episode's last step: 0 (terminal)
    next_adv = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        valid = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # TD error δ_t
        adv = delta + gamma * lam * next_adv  # Â_t = δ_t + γλ Â_{t+1}  (eq. 18)
        advantages[:, t] = torch.where(valid, adv, zero)
        next_value = torch.where(valid, values[:, t], next_value)
        next_adv = torch.where(valid, adv, next_adv)
    returns = torch.where(mask, advantages + values, zero)
    return advantages, returns


def _take(value: Any, idx: Tensor) -> Any:
    """Rows ``idx`` of a tensor (dim 0), or the items ``idx`` of a list/tuple (e.g. per-episode graphs)."""
    if isinstance(value, Tensor):
        return value[idx.to(value.device)]
    if isinstance(value, (list, tuple)):
        return type(value)(value[i] for i in idx.tolist())
    return value[idx]


@dataclass
class Rollout:
    """One batch of B episodes padded to T steps; every tensor is (B, T) except what ``fields`` holds."""

    fields: dict[str, Any]
    """per-episode inputs the evaluate callable needs (tensors, or lists with one item per episode)"""
    actions: Tensor
    """actions taken, (B, T) (or (B, T, ...) for multi-dimensional actions)"""
    mask: Tensor
    """True at the valid steps, (B, T) bool"""
    old_log_prob: Tensor
    """log π_θo(a_t | s_t) of the sampling policy (the denominator of eq. 17)"""
    old_value: Tensor
    """V(s_t) of the sampling policy: the GAE baseline and the centre of value clipping"""
    rewards: Tensor
    """per-step rewards r_t"""
    advantages: Tensor | None = None
    """Â_t, filled by :meth:`with_advantages` (normalised when the config says so)"""
    returns: Tensor | None = None
    """value targets v̂_t, filled by :meth:`with_advantages`"""

    @property
    def batch_size(self) -> int:
        return int(self.mask.shape[0])

    def with_advantages(self, cfg: PPOConfig) -> Rollout:
        """A copy with advantages (GAE, eq. 18) and value targets (per ``cfg.value_target``) filled in."""
        mask = self.mask.bool()
        rewards = self.rewards.detach()
        values = self.old_value.detach().to(rewards.dtype)
        advantages, returns = gae(rewards, values, mask, cfg.gamma, cfg.lam)
        if cfg.value_target == "discounted":  # eq. 19: v̂_t = Σ_k γ^k r_{t+k}, i.e. GAE with V ≡ 0, λ = 1
            returns, _ = gae(rewards, torch.zeros_like(values), mask, cfg.gamma, 1.0)
        elif cfg.value_target != "lambda":
            raise ValueError(f"unknown value_target {cfg.value_target!r}")
        if cfg.normalize_advantages:
            advantages = standardised(advantages, mask)
        return dataclasses.replace(self, advantages=advantages, returns=returns)

    def select(self, idx: Tensor) -> Rollout:
        """The episodes ``idx`` (a 1-d index tensor) of every tensor and field."""
        def opt(x: Tensor | None) -> Tensor | None:
            return None if x is None else _take(x, idx)

        return Rollout(
            fields={k: _take(v, idx) for k, v in self.fields.items()},
            actions=_take(self.actions, idx), mask=_take(self.mask, idx),
            old_log_prob=_take(self.old_log_prob, idx), old_value=_take(self.old_value, idx),
            rewards=_take(self.rewards, idx), advantages=opt(self.advantages), returns=opt(self.returns),
        )


def standardised(advantages: Tensor, mask: Tensor) -> Tensor:
    """Advantages at the valid steps scaled to mean 0 and std 1 (0 elsewhere): PPO's usual normalisation."""
    valid = advantages[mask]
    if valid.numel() == 0:
        return advantages
    mean, std = valid.mean(), valid.std(unbiased=False)
    return torch.where(mask, (advantages - mean) / (std + 1e-8), torch.zeros_like(advantages))


def _masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over the True entries of ``mask`` (0 when there are none)."""
    return torch.where(mask, x, torch.zeros_like(x)).sum() / mask.sum().clamp(min=1)


def ppo_loss(log_prob: Tensor, entropy: Tensor, value: Tensor, rollout_slice: Rollout,
             cfg: PPOConfig) -> tuple[Tensor, dict[str, float]]:
    """The loss to minimise, −J^PPO (eq. 20) − ent_coef·entropy, as masked means over the valid steps.

    Padded entries of every input (new or old) are replaced by constants before use, so whatever they hold,
    NaN included, reaches neither the loss nor the gradient. Stats: policy_loss, value_loss, entropy,
    approx_kl (E[(r − 1) − log r]), clip_fraction (share of steps with |r − 1| > ε), loss.
    """
    r = rollout_slice
    if r.advantages is None or r.returns is None:
        raise ValueError("rollout has no advantages: call rollout.with_advantages(cfg) first")
    mask = r.mask.bool()
    for name, x in (("log_prob", log_prob), ("entropy", entropy), ("value", value)):
        if x.shape != mask.shape:
            raise ValueError(f"{name} has shape {tuple(x.shape)}, the mask {tuple(mask.shape)}")

    def clean(x: Tensor) -> Tensor:
        return torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))

    log_prob, entropy, value = clean(log_prob), clean(entropy), clean(value)
    old_log_prob, old_value = clean(r.old_log_prob.detach()), clean(r.old_value.detach())
    adv, ret = clean(r.advantages.detach()), clean(r.returns.detach())

    log_ratio = log_prob - old_log_prob
    ratio = log_ratio.exp()  # Pr_t (eq. 17)
    surrogate = torch.min(ratio * adv, ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv)  # eq. 16
    policy_loss = -_masked_mean(surrogate, mask)

    value_err = (value - ret) ** 2  # eq. 19
    if cfg.clip_value:
        clipped = old_value + (value - old_value).clamp(-cfg.clip, cfg.clip)
        value_err = torch.max(value_err, (clipped - ret) ** 2)
    value_loss = _masked_mean(value_err, mask)
    mean_entropy = _masked_mean(entropy, mask)

    loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * mean_entropy  # −(eq. 20) − bonus
    with torch.no_grad():
        stats = {
            "policy_loss": float(policy_loss.detach()),
            "value_loss": float(value_loss.detach()),
            "entropy": float(mean_entropy.detach()),
            "approx_kl": float(_masked_mean((ratio - 1) - log_ratio, mask)),
            "clip_fraction": float(_masked_mean(((ratio - 1).abs() > cfg.clip).to(ratio.dtype), mask)),
            "loss": float(loss.detach()),
        }
    return loss, stats


def ppo_update(evaluate: Callable[[Rollout], tuple[Tensor, Tensor, Tensor]], params: Iterable[Tensor],
               optimizer: torch.optim.Optimizer, rollout: Rollout, cfg: PPOConfig, *,
               generator: torch.Generator | None = None) -> dict[str, float]:
    """cfg.epochs × cfg.minibatches gradient steps on ``rollout``; returns the stats averaged over the steps.

    Advantages are computed first when the rollout has none. Each epoch shuffles the episodes (with
    ``generator``, else torch's global generator; no shuffle, and no random draw, with one minibatch) and
    splits them into cfg.minibatches near-equal minibatches. ``params`` are the tensors whose gradient norm
    is clipped to cfg.max_grad_norm when that is set.
    """
    params = list(params)
    if rollout.advantages is None or rollout.returns is None:
        rollout = rollout.with_advantages(cfg)
    n = rollout.batch_size
    totals: dict[str, float] = {}
    steps = 0
    for _ in range(cfg.epochs):
        if cfg.minibatches > 1:
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        for idx in torch.tensor_split(order, cfg.minibatches):
            if idx.numel() == 0:
                continue
            batch = rollout if cfg.minibatches == 1 else rollout.select(idx)
            log_prob, entropy, value = evaluate(batch)
            loss, stats = ppo_loss(log_prob, entropy, value, batch, cfg)
            optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm is not None:
                stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm))
            optimizer.step()
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v
            steps += 1
    return {k: v / max(steps, 1) for k, v in totals.items()}
