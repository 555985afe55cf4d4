"""The fine-tuning DRL baseline (MRLCO §5.2): one seq2seq PPO policy pre-trained on all training tasks.

Each iteration samples tasks like MRLCO's meta-batch and takes the PPO steps on each of them with one
shared policy and optimizer (plain multi-task training, no meta-gradient). On a new task it is
fine-tuned with the same PPO steps as MRLCO's adaptation (``mecsim eval --adapt-steps``).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from controllers.mrlco import BUDGETS as MRLCO_BUDGETS
from controllers.mrlco import with_iterations
from controllers.offload_rl import ADAPTATIONS, HEURISTICS, LearnedOffloader, evaluator, mean_stats, sample, train_loop
from controllers.offload_rl import evaluate_checkpoint as evaluate
from controllers.ppo import ppo_update
from mecsim.trainer import Trainer, budget_names

__all__ = ["BUDGETS", "train", "evaluate", "DRL"]

BUDGETS = MRLCO_BUDGETS   # same network, PPO and sampling budget as MRLCO, for a like-for-like baseline


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, overrides: Sequence[str] = (), iterations: int | None = None) -> Path:
    cfg = with_iterations(BUDGETS[budget], iterations)
    ppo = replace(cfg.ppo, lr=cfg.inner_lr, epochs=cfg.inner_steps)

    def pretrain_iteration(policy, optimizer, tasks, rng, gen):
        chosen = rng.choice(len(tasks), size=min(cfg.meta_batch, len(tasks)), replace=False)
        stats, env_steps = [], 0
        for k in chosen:
            rollout, latency = sample(policy, tasks[k].env, cfg.episodes, rng, gen)
            env_steps += int(rollout.mask.sum())
            result = ppo_update(evaluator(policy), policy.parameters(), optimizer, rollout, ppo, generator=gen)
            stats.append({**result, "sample_latency": latency})
        return mean_stats(stats), env_steps

    return train_loop(scenario, out, cfg, name="drl", seed=seed, resume=resume, progress=progress,
                      overrides=overrides, lr=cfg.inner_lr, iteration=pretrain_iteration)


class DRL(LearnedOffloader):
    """The acting DRL-baseline controller (loads a `mecsim train --controller drl` checkpoint)."""

    controller_name = "drl"


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), HEURISTICS, adaptations=tuple(ADAPTATIONS))
