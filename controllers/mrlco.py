"""MRLCO (Wang et al., TPDS 2021): first-order meta-RL over DAG sets with a seq2seq PPO policy.

Algorithm 1: per iteration, sample n learning tasks; for each, start from the meta-policy θ, sample
trajectories D with it, take m Adam steps of the PPO objective (eq. 20) on D, giving θ_i'; then move
θ along g = (1/n) Σ (θ_i' − θ) / α / m (eq. 22) with Adam (learning rate β). MRLATO reuses this loop
with its own network and ordering (controllers/mrlato.py).

The n inner loops of an iteration are independent, so they can run in parallel (``backend`` local:
spawned processes; ray: Ray actors; see :mod:`mecsim.parallel`). Each is the pure function
:func:`inner_loop` of the meta-weights and a seed drawn for it from the iteration's random stream before
dispatch, and the parent sums the results in task order, so 1 and N workers (and either backend) give
identical weights.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from mecsim.controllers.offload_rl import (ADAPTATIONS, BASELINES, FEATURES, LearnedOffloader, LearningTask,
                                           OffloadTraining, clone, evaluate_actions, load_tasks, mean_stats, sample)
from mecsim.controllers.offload_rl import evaluate_checkpoint as evaluate
from mecsim.controllers.ppo import PPOConfig, ppo_update
from mecsim.controllers.seq2seq import Seq2SeqPolicy
from mecsim.controllers.threads import set_threads
from mecsim.parallel import check_backend, dispatcher
from mecsim.trainer import Trainer, budget_names

__all__ = ["MetaConfig", "BUDGETS", "with_iterations", "train", "inner_loop", "evaluate", "MRLCO"]


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
    features: str = "paper"
    """network inputs (controllers/offload_rl.py FEATURES): paper (§4.2) or schedule (beyond the paper)"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """clip 0.2, c1 0.5, γ 0.99, λ 0.95 (Table 2)"""


BUDGETS = {
    "paper": MetaConfig(),
    # smoke: about 2 minutes on 2 CPU cores (200 iterations of 4 tasks × 20 DAGs, 64 units); enough to
    # beat random and all-local on a held-out set, far from the paper's budget (see RESULTS.md)
    "smoke": MetaConfig(iterations=200, meta_batch=4, inner_steps=3, episodes=20, hidden=64),
    # laptop (beyond the paper): the smoke network with five times the DAGs per task, Adam steps of 1e-3
    # and an entropy bonus of 0.05 that keeps the policy exploring (without one it turns deterministic
    # within about 80 iterations and adaptation stops moving it, issue 14); 300 iterations, about a
    # quarter of an hour on one core (RESULTS.md)
    "laptop": MetaConfig(iterations=300, meta_batch=4, inner_steps=3, episodes=100, hidden=64, inner_lr=1e-3,
                         outer_lr=1e-3, ppo=PPOConfig(ent_coef=0.05)),
}

TaskSource = tuple[str, tuple[str, ...], str]
"""(absolute scenario path, overrides, schedule order): what a worker needs to load the learning tasks"""
InnerResult = tuple[list[torch.Tensor], dict[str, float], int]
"""(θ_i' − θ per parameter, the inner loop's stats, env steps sampled)"""

_TASKS: dict[TaskSource, list[LearningTask]] = {}
"""Learning tasks loaded once per process (workers get a path, never environments)."""


def inner_loop(meta: Seq2SeqPolicy, source: TaskSource, cfg: MetaConfig, task: int, seed: int) -> InnerResult:
    """Algorithm 1 lines 5-7 for one task: θ_i ← θ, sample D, m PPO/Adam steps; returns θ_i' − θ.

    Pure: its own numpy and torch generators from ``seed``, a fresh Adam, tasks from the process cache."""
    set_threads()
    if source not in _TASKS:
        _TASKS[source] = load_tasks(source[0], source[2], source[1])["train"]
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    inner = clone(meta)                                                           # θ_i ← θ (line 5)
    rollout, latency = sample(inner, _TASKS[source][task].env, cfg.episodes, rng, gen)  # D (line 6)
    opt = torch.optim.Adam(inner.parameters(), lr=cfg.inner_lr)
    ppo = replace(cfg.ppo, lr=cfg.inner_lr, epochs=cfg.inner_steps)
    result = ppo_update(evaluate_actions(inner), inner.parameters(), opt, rollout, ppo, generator=gen)  # m steps (line 7)
    delta = [new.detach() - old.detach() for new, old in zip(inner.parameters(), meta.parameters())]
    return delta, {**result, "sample_latency": latency}, int(rollout.mask.sum())


def _inner_job(spec: tuple[TaskSource, MetaConfig], meta: Seq2SeqPolicy, job: tuple[int, int]) -> InnerResult:
    """One inner loop as a :func:`mecsim.parallel.dispatcher` job: (task, seed) with the meta-weights."""
    source, cfg = spec
    return inner_loop(meta, source, cfg, *job)


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, config: MetaConfig | None = None, name: str = "mrlco",
          overrides: Sequence[str] = (), iterations: int | None = None, backend: str = "local",
          workers: int | None = None, address: str | None = None, features: str | None = None) -> Path:
    """Meta-train on the scenario's `training.train` tasks; checkpoint every iteration in `out`.

    ``iterations`` replaces the budget's count (resuming with a larger one trains on). ``backend``
    (local | ray), ``workers`` (default 1 for local; for ray, one per CPU of the cluster) and ``address``
    (a Ray cluster; default a local Ray) say where the inner loops run; the result does not depend on them.
    ``features`` replaces the budget's network inputs (paper | schedule)."""
    cfg = with_iterations(config or BUDGETS[budget], iterations, features)
    check_backend(backend, workers)
    source: TaskSource = (str(Path(scenario).resolve()), tuple(overrides), cfg.order)

    t = OffloadTraining.start(scenario, out, cfg, name=name, seed=seed, resume=resume, progress=progress,
                              overrides=overrides, lr=cfg.outer_lr)
    _TASKS[source] = t.tasks                             # this process has them already
    meta, outer, rng = t.policy, t.optimizer, t.rng
    with dispatcher(_inner_job, (source, cfg), backend=backend, workers=workers, address=address) as run:
        for it in t.run.remaining():
            chosen = rng.choice(len(t.tasks), size=min(cfg.meta_batch, len(t.tasks)), replace=False)   # line 3
            seeds = rng.integers(2 ** 63 - 1, size=len(chosen))  # one stream per inner loop, drawn before dispatch
            results = run(meta, [(int(k), int(s)) for k, s in zip(chosen, seeds)])                      # lines 4-8
            step = [torch.zeros_like(p) for p in meta.parameters()]
            for delta, _, _ in results:                  # in task order, whatever the worker count
                for acc, d in zip(step, delta):
                    acc += d / (cfg.inner_lr * cfg.inner_steps * len(chosen))    # eq. (22)
            outer.zero_grad()
            for p, g in zip(meta.parameters(), step):
                p.grad = -g                                                       # θ ← θ + β g (line 9)
            outer.step()
            t.end_iteration(it, mean_stats([r[1] for r in results]), sum(r[2] for r in results))
    t.run.close()
    return t.out


def with_iterations(cfg: MetaConfig, iterations: int | None, features: str | None = None) -> MetaConfig:
    """The budget with its iteration count and feature set replaced where given."""
    if features is not None:
        if features not in FEATURES:
            raise ValueError(f"features: must be one of {', '.join(FEATURES)}, got {features!r}")
        cfg = replace(cfg, features=features)
    if iterations is None:
        return cfg
    if iterations < 1:
        raise ValueError(f"iterations: must be >= 1, got {iterations}")
    return replace(cfg, iterations=iterations)


class MRLCO(LearnedOffloader):
    """The acting MRLCO controller: `mecsim run ... --controller mrlco --set controller_params.checkpoint=DIR`."""

    controller_name = "mrlco"


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), BASELINES, parallel=True, adaptations=tuple(ADAPTATIONS),
                  features=FEATURES)
