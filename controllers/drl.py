"""The fine-tuning DRL baseline (MRLCO §5.2): one seq2seq PPO policy pre-trained on all training tasks.

Each iteration samples tasks like MRLCO's meta-batch and takes the PPO steps on each of them with one
shared policy and optimizer (plain multi-task training, no meta-gradient). On a new task it is
fine-tuned with the same PPO steps as MRLCO's adaptation (``mecsim eval --adapt-steps``).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from mecsim.controllers.mrlco import BUDGETS as MRLCO_BUDGETS
from mecsim.controllers.mrlco import with_iterations
from mecsim.controllers.offload_rl import (ADAPTATIONS, BASELINES, FEATURES, LearnedOffloader, OffloadTraining,
                                           evaluate_actions, mean_stats, sample)
from mecsim.controllers.offload_rl import evaluate_checkpoint as evaluate
from mecsim.controllers.ppo import ppo_update
from mecsim.trainer import Trainer, budget_names

__all__ = ["BUDGETS", "train", "evaluate", "DRL"]

BUDGETS = MRLCO_BUDGETS   # same network, PPO and sampling budget as MRLCO, for a like-for-like baseline


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, overrides: Sequence[str] = (), iterations: int | None = None,
          features: str | None = None) -> Path:
    cfg = with_iterations(BUDGETS[budget], iterations, features)
    ppo = replace(cfg.ppo, lr=cfg.inner_lr, epochs=cfg.inner_steps)

    t = OffloadTraining.start(scenario, out, cfg, name="drl", seed=seed, resume=resume, progress=progress,
                              overrides=overrides, lr=cfg.inner_lr)
    for it in t.run.remaining():                      # plain PPO on a few training tasks per iteration
        chosen = t.rng.choice(len(t.tasks), size=min(cfg.meta_batch, len(t.tasks)), replace=False)
        stats, env_steps = [], 0
        for k in chosen:
            rollout, latency = sample(t.policy, t.tasks[k].env, cfg.episodes, t.rng, t.generator)
            env_steps += int(rollout.mask.sum())
            result = ppo_update(evaluate_actions(t.policy), t.policy.parameters(), t.optimizer, rollout, ppo,
                                generator=t.generator)
            stats.append({**result, "sample_latency": latency})
        t.end_iteration(it, mean_stats(stats), env_steps)
    t.run.close()
    return t.out


class DRL(LearnedOffloader):
    """The acting DRL-baseline controller (loads a `mecsim train --controller drl` checkpoint)."""

    controller_name = "drl"


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), BASELINES, adaptations=tuple(ADAPTATIONS),
                  features=FEATURES)
