"""MRLCO (Wang et al., TPDS 2021): first-order meta-RL over DAG sets with a seq2seq PPO policy.

Algorithm 1: per iteration, sample n learning tasks; for each, start from the meta-policy θ, sample
trajectories D with it, take m Adam steps of the PPO objective (eq. 20) on D, giving θ_i'; then move
θ along g = (1/n) Σ (θ_i' − θ) / α / m (eq. 22) with Adam (learning rate β). MRLATO reuses this loop
with its own network and ordering (controllers/mrlato.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import torch

from controllers.offload_rl import LearnedOffloader, clone, evaluator, mean_stats, sample, train_loop
from controllers.offload_rl import evaluate_checkpoint as evaluate
from controllers.ppo import PPOConfig, ppo_update

__all__ = ["MetaConfig", "BUDGETS", "with_iterations", "train", "evaluate", "MRLCO"]


@dataclass(frozen=True)
class MetaConfig:
    iterations: int = 2000
    """outer iterations K (the authors' code: n_itr = 2000)"""
    meta_batch: int = 10
    """tasks sampled per iteration n (experiment 1: 10; experiment 2: 5)"""
    inner_steps: int = 3
    """m: Adam steps of eq. (20) per task (Table 2)"""
    episodes: int = 100
    """DAGs sampled per task per iteration (one pass over a set of 100; the paper is silent)"""
    inner_lr: float = 5e-4
    """α (Table 2)"""
    outer_lr: float = 5e-4
    """β (Table 2)"""
    hidden: int = 256
    """LSTM units (Table 2: 256)"""
    attention: str = "additive"
    """MRLCO eqs. (12)-(15)"""
    heads: int = 8
    """multihead attention only"""
    order: str = "rank"
    """schedule order: rank (eq. 10) or recursive_rank (MRLATO eq. 13)"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """clip 0.2, c1 0.5, γ 0.99, λ 0.95 (Table 2)"""


BUDGETS = {
    "paper": MetaConfig(),
    # smoke: about 2 minutes on 2 CPU cores (200 iterations of 4 tasks × 20 DAGs, 64 units); enough to
    # beat random and all-local on a held-out set, far from the paper's budget (see RESULTS.md)
    "smoke": MetaConfig(iterations=200, meta_batch=4, inner_steps=3, episodes=20, hidden=64),
}


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, config: MetaConfig | None = None, name: str = "mrlco",
          overrides: Sequence[str] = (), iterations: int | None = None) -> Path:
    """Meta-train on the scenario's `training.train` tasks; checkpoint every iteration in `out`.

    ``iterations`` replaces the budget's count (resuming with a larger one trains on)."""
    cfg = with_iterations(config or BUDGETS[budget], iterations)
    ppo = replace(cfg.ppo, lr=cfg.inner_lr, epochs=cfg.inner_steps)

    def meta_iteration(meta, outer, tasks, rng, gen) -> tuple[dict[str, float], int]:
        chosen = rng.choice(len(tasks), size=min(cfg.meta_batch, len(tasks)), replace=False)
        theta = [p.detach().clone() for p in meta.parameters()]
        step = [torch.zeros_like(p) for p in theta]
        stats, env_steps = [], 0
        for k in chosen:
            inner = clone(meta)                                                   # θ_i ← θ (line 5)
            rollout, latency = sample(inner, tasks[k].env, cfg.episodes, rng, gen)  # D (line 6)
            env_steps += int(rollout.mask.sum())
            opt = torch.optim.Adam(inner.parameters(), lr=cfg.inner_lr)
            result = ppo_update(evaluator(inner), inner.parameters(), opt, rollout, ppo, generator=gen)  # m steps (line 7)
            for acc, new, old in zip(step, inner.parameters(), theta):
                acc += (new.detach() - old) / (cfg.inner_lr * cfg.inner_steps * len(chosen))   # eq. (22)
            stats.append({**result, "sample_latency": latency})
        outer.zero_grad()
        for p, g in zip(meta.parameters(), step):
            p.grad = -g                                                           # θ ← θ + β g (line 9)
        outer.step()
        return mean_stats(stats), env_steps

    return train_loop(scenario, out, cfg, name=name, seed=seed, resume=resume, progress=progress,
                      overrides=overrides, lr=cfg.outer_lr, iteration=meta_iteration)


def with_iterations(cfg: MetaConfig, iterations: int | None) -> MetaConfig:
    if iterations is None:
        return cfg
    if iterations < 1:
        raise ValueError(f"iterations: must be >= 1, got {iterations}")
    return replace(cfg, iterations=iterations)


class MRLCO(LearnedOffloader):
    """The acting MRLCO controller: `mecsim run ... --controller mrlco --set controller_params.checkpoint=DIR`."""

    controller_name = "mrlco"
