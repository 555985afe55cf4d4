"""The SAC baselines of PEARL-DT §V: three ways of training the factored discrete SAC, one checkpoint.

SAC_AiSF trains one agent per test condition on that condition, SAC_DTs one agent over the digital twins
of the training conditions, SAC_TM one agent over the twins and the test conditions; each keeps its best
weights by a validation latency and stops early (``patience``). ``mecsim train --controller
sac_baselines`` trains all of them in one checkpoint; ``sac_aisf``, ``sac_dts`` and ``sac_tm`` are the
acting controllers. Read top to bottom: the agents and their plan, training (Algorithm 1 without z),
evaluation, the acting controllers. The learner is :mod:`controllers.sac_discrete`, the harness
(twins, workers, evaluation runs) :mod:`controllers.service_training`.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from mecsim.controllers.sac_discrete import (BUDGETS, FactoredActor, FactoredSAC, Optimizers, ReplayBuffer, SACConfig, merge,
                                      sac_epoch)
from mecsim.controllers.service_training import (BASELINES, Worker, condition_env, eval_seed, evaluation_setup, hash_seed,
                                          heuristic_rows, latency_on, training_setup, uniform_policy)
from mecsim.checkpoint import TrainingRun, load_checkpoint
from mecsim.decision import DecisionPoint
from mecsim.systems.service_management import ServiceScenario, World
from mecsim.trainer import Trainer, budget_names

__all__ = ["BUDGETS", "Baseline", "baseline_plan", "train", "load_actor", "evaluate", "SacAisf", "SacDTs", "SacTM"]


# -- the agents --------------------------------------------------------------------------------------------

@dataclass
class Baseline:
    """One SAC agent of §V with its training conditions, validation set and early-stopping state."""

    name: str                         # sac_aisf/t1, sac_dts, sac_tm
    conditions: list[str]
    validation: list[str]
    agent: FactoredSAC
    opt: Optimizers
    best: dict[str, torch.Tensor]
    workers: dict[str, Worker]
    buffers: dict[str, ReplayBuffer]
    best_latency: float = math.inf
    bad_evals: int = 0
    stopped: bool = False


def baseline_plan(twins: Sequence[str], tests: Sequence[str]) -> dict[str, tuple[list[str], list[str]]]:
    """name → (training conditions, validation conditions) for the three baselines of §V."""
    plan = {f"sac_aisf/{t}": ([t], [t]) for t in tests}
    plan["sac_dts"] = (list(twins), list(twins))
    plan["sac_tm"] = (list(twins) + list(tests), list(twins) + list(tests))
    return plan


def _policy(actor: FactoredActor | FactoredSAC) -> Callable[[DecisionPoint], Any]:
    """Greedy choices of an actor (or an agent's) for the engine's decision points."""
    return lambda point: actor.act(point.observation, greedy=True)


# -- training ----------------------------------------------------------------------------------------------

def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, overrides: Sequence[str] = (), iterations: int | None = None) -> Path:
    """Train SAC_AiSF (one agent per test condition), SAC_DTs and SAC_TM side by side (§V); each
    agent collects its own data in its own environments. ``iterations`` replaces the budget's count."""
    cfg = BUDGETS[budget] if iterations is None else replace(BUDGETS[budget], iterations=iterations)
    out, sc, world, dts = training_setup(scenario, out, overrides, seed)
    tests = [c.name for c in world.test]
    probe = condition_env(sc, world, dts, tests[0] if tests else next(iter(dts.twins)))
    shape, nvec = probe.observation_space.shape, probe.nvec.tolist()
    torch.manual_seed(seed)
    baselines: dict[str, Baseline] = {}
    for k, (name, (conds, val)) in enumerate(baseline_plan(list(dts.twins), tests).items()):
        agent = FactoredSAC(shape, nvec, cfg)
        workers = {c: Worker(condition_env(sc, world, dts, c), hash_seed(seed, k, j)) for j, c in enumerate(conds)}
        baselines[name] = Baseline(name, conds, val, agent, Optimizers.build(agent, cfg.lr),
                                   copy.deepcopy(agent.actor.state_dict()), workers,
                                   {c: ReplayBuffer(cfg.buffer, shape) for c in conds})
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    metrics = [f"{b}_{m}" for b in baselines for m in ("sample_latency_s", "critic_loss", "alpha", "val_latency_s",
                                                       "stopped")]
    metrics += [f"{b}_{t}_s" for b in baselines for t in tests if b in ("sac_dts", "sac_tm") or b.endswith(t)]
    run = TrainingRun(out, "sac_baselines", metrics, cfg.iterations, rng=rng, generator=gen, resume=resume,
                      progress=progress)
    if (ck := run.checkpoint) is not None:
        for k, (name, b) in enumerate(baselines.items()):
            state = ck["agents"][name]
            b.agent.load_state_dict(state["agent"])
            b.opt.load_state_dict(state["opt"])
            b.best, b.best_latency = state["best"], float(state["best_latency"])
            b.bad_evals, b.stopped = int(state["bad_evals"]), bool(state["stopped"])
            for j, (c, buf) in enumerate(b.buffers.items()):
                buf.load_state_dict(state["buffers"][c])
                b.workers[c].rng = np.random.default_rng(hash_seed(seed, k, j, ck["iteration"]))  # episodes restart
    for it in run.remaining():
        row: dict[str, Any] = {}
        for b in baselines.values():
            if b.stopped:
                row[f"{b.name}_stopped"] = 1
                continue
            rewards, stats = [], {}
            for _ in range(cfg.outer_steps):
                for c, w in b.workers.items():           # Algorithm 1 lines 2-5, without z
                    warm = b.buffers[c].size < cfg.warmup
                    policy = uniform_policy(nvec, shape[0], rng) if warm else \
                        (lambda obs, a=b.agent: a.act(obs, generator=gen))
                    t = w.step(policy)
                    b.buffers[c].add(*t)
                    rewards.append(t.reward)
                    run.env_steps += 1
                if min(buf.size for buf in b.buffers.values()) < cfg.warmup:
                    continue
                for epoch in range(1, cfg.updates + 1):   # lines 6-19
                    chosen = rng.choice(b.conditions, size=min(cfg.conditions_per_batch, len(b.conditions)),
                                        replace=False)
                    batch = merge([b.buffers[c].batch(b.buffers[c].sample(cfg.batch, rng), nvec, cfg)
                                   for c in chosen])
                    stats = sac_epoch(b.agent, b.opt, cfg, epoch, batch)
            row[f"{b.name}_sample_latency_s"] = -float(np.mean(rewards))
            row[f"{b.name}_critic_loss"] = stats.get("critic_loss", "")
            row[f"{b.name}_alpha"] = float(b.agent.alpha.detach())
            if it % cfg.eval_every == 0 or it == cfg.iterations:
                _evaluate_baseline(b, sc, world, tests, cfg, seed, row)
            row[f"{b.name}_stopped"] = int(b.stopped)
        run.end_iteration(it, {
            "config": asdict(cfg), "obs_shape": list(shape), "nvec": nvec, "budget": budget,
            "agents": {n: {"agent": b.agent.state_dict(), "opt": b.opt.state_dict(), "best": b.best,
                           "best_latency": b.best_latency, "bad_evals": b.bad_evals, "stopped": b.stopped,
                           "buffers": {c: buf.state_dict() for c, buf in b.buffers.items()}}
                       for n, b in baselines.items()}}, row)
        if all(b.stopped for b in baselines.values()):
            break
    run.close()
    return out


def _evaluate_baseline(b: Baseline, sc: ServiceScenario, world: World, tests: list[str], cfg: SACConfig, seed: int,
                       row: dict[str, Any]) -> None:
    """Validation latency for early stopping (best weights kept) and the test curves of Fig. 3."""
    if b.stopped:
        return
    val = float(np.mean([latency_on(sc, world, c, _policy(b.agent), eval_seed(seed, k), cfg.eval_slots)
                         for k, c in enumerate(b.validation)]))
    row[f"{b.name}_val_latency_s"] = val
    if val < b.best_latency:
        b.best_latency, b.bad_evals = val, 0
        b.best = copy.deepcopy(b.agent.actor.state_dict())
    else:
        b.bad_evals += 1
        b.stopped = b.bad_evals >= cfg.patience
    for k, t in enumerate(tests):
        key = f"{b.name}_{t}_s"
        if b.name in ("sac_dts", "sac_tm") or b.name.endswith(t):
            row[key] = latency_on(sc, world, t, _policy(b.agent), eval_seed(seed, 100 + k), cfg.eval_slots)


# -- evaluation --------------------------------------------------------------------------------------------

def load_actor(payload: dict[str, Any], name: str) -> FactoredActor:
    """The best actor of a baseline from a ``sac_baselines`` checkpoint payload."""
    cfg = SACConfig(**payload["config"])
    shape, nvec = payload["obs_shape"], payload["nvec"]
    actor = FactoredActor(shape[0] * shape[1], shape[0], nvec, cfg.hidden, cfg.layers)
    actor.load_state_dict(payload["agents"][name]["best"])
    actor.eval()
    return actor


def evaluate(scenario: str | Path, checkpoint: str | Path, *, adapt_steps: Sequence[int], seeds: Sequence[int],
             heuristics: Sequence[str] | None = None, overrides: Sequence[str] = (),
             progress: bool = True) -> list[dict[str, Any]]:
    """Every baseline's best weights on every test condition (no adaptation: one row at 0 steps)."""
    payload = load_checkpoint(checkpoint, "sac_baselines")
    sc, world, tests = evaluation_setup(scenario, overrides)
    cfg = SACConfig(**payload["config"])
    rows = heuristic_rows(sc, world, heuristics, tests, seeds, cfg.eval_slots)
    for t in tests:
        for name in (f"sac_aisf/{t}", "sac_dts", "sac_tm"):
            actor = load_actor(payload, name)
            for s in seeds:
                lat = latency_on(sc, world, t, _policy(actor), eval_seed(s, 0), cfg.eval_slots)
                rows.append({"controller": name.split("/")[0], "test_set": t, "adapt_steps": 0, "seed": s,
                             "latency_s": lat})
    return rows


# -- acting controllers ------------------------------------------------------------------------------------

class _SacController:
    """Acts greedily with a baseline's best weights from a ``sac_baselines`` checkpoint."""

    baseline = ""

    def __init__(self, checkpoint: str, condition: str | None = None) -> None:
        payload = load_checkpoint(checkpoint, "sac_baselines")
        name = self.baseline
        if name == "sac_aisf":
            agents = sorted(k for k in payload["agents"] if k.startswith("sac_aisf/"))
            name = f"sac_aisf/{condition}" if condition else agents[0]
            if name not in payload["agents"]:
                raise ValueError(f"condition: must be one of {', '.join(a.split('/')[1] for a in agents)}, "
                                 f"got {condition!r}")
        self.actor = load_actor(payload, name)

    def act(self, point: DecisionPoint) -> np.ndarray:
        return self.actor.act(point.observation, greedy=True)


class SacAisf(_SacController):
    """SAC_AiSF: the agent trained on one test condition (``condition``: which, default the first)."""

    baseline = "sac_aisf"


class SacDTs(_SacController):
    """SAC_DTs: the agent trained over the digital twins."""

    baseline = "sac_dts"


class SacTM(_SacController):
    """SAC_TM: the agent trained over the twins and the test conditions."""

    baseline = "sac_tm"


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), BASELINES)
