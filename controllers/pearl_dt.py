"""PEARL-DT (§IV-C, IV-D, Algorithm 1): an off-policy meta-policy trained on digital twins, which adapts
to a new AI-model condition from a few transitions, without a gradient step.

Read top to bottom: the config, the context encoder q_φ(z|c), contexts, one training iteration
(Algorithm 1), adaptation and evaluation, the acting controller.

- **Encoder** (PEARL, as in the reference implementation): each context transition is mapped to a
  Gaussian factor (μ_n, σ²_n = softplus); the posterior is their product (permutation invariant);
  the prior N(0, I) enters only through the KL term β·KL(q(z|c) ‖ p(z)) (eqs. 20, 29, β = 0.1),
  summed over the meta-batch's conditions. z is appended to the state of the actor and the critics.
  The critic loss and the KL train the encoder; the actor and the temperature see z detached.
- **Context** c = (s, a, r, ℓ): the slot's observation, the one-hot action, the reward and the
  per-ED latencies observed. The paper writes (s, a, r, s'); here s' does not depend on (s, a) (§V
  draws states at random), so it says nothing about the condition, while the per-ED latencies
  ℓ_u = T_u of eq. (5) (data observed in the physical system) reveal the models' complexity directly.
- **Training data**: per training condition (a digital twin, see :func:`mecsim.controllers.service_training.
  digital_twins`) a replay buffer B_k and a window of its most recent transitions c_k. A context for
  the encoder is a random-size sample (1 .. ``context_max``) of c_k, so the encoder learns both from
  few and from many transitions, as adaptation will use it.
- **Algorithm 1**: per outer step, one slot per condition with z ~ q(z|c_k) (uniformly random actions
  until the condition's buffer holds ``warmup`` transitions); then T_train epochs on |K'| = 2 random
  conditions: critic + encoder every epoch, temperature every λ1, actor every λ2, soft updates
  (:func:`mecsim.controllers.sac_discrete.sac_epoch`). The twins' slots of an outer step can run on worker
  processes or Ray actors with the same result (``backend``, ``workers``; see :func:`train`).
- **Adaptation** on a new condition: start from the meta-policy, act for ``adapt_steps`` slots with z
  drawn from the posterior of the transitions so far (the prior at first), then fix z to the posterior
  mean of the collected context and act greedily. No parameter changes.

What it does on ``scenarios/pearl_dt/paper.yaml`` is in RESULTS.md (Fig. 3): with twins that emulate
their condition (``twins: {states: generated}``), a few slots of context lower the latency on the unseen
test conditions against the prior z, and PEARL-DT then stays below SAC_DTs on each of them. With twins
that replay the few states observed (``observed``), the state alone identifies the twin, the critic fits
each twin without z and the posterior stays at the prior.

The SAC learner is :mod:`controllers.sac_discrete`; the twins, rollout workers and evaluation runs it
shares with the SAC baselines are :mod:`controllers.service_training`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from mecsim.controllers.sac_discrete import (BUDGETS as SAC_BUDGETS, FactoredActor, FactoredSAC, Optimizers, ReplayBuffer,
                                      SACConfig, merge, mlp, sac_epoch)
from mecsim.controllers.service_training import (BASELINES, PolicyController, RolloutSpec, Rollouts, SlotJob, collect, condition_env,
                                          eval_seed, evaluation_setup, hash_seed, heuristic_rows, latency_on,
                                          training_setup)
from mecsim.checkpoint import TrainingRun, load_checkpoint
from mecsim.decision import DecisionPoint
from mecsim.parallel import check_backend, dispatcher
from mecsim.systems.service_management import ServiceScenario, ServiceSimulation, World, observation
from mecsim.trainer import Trainer, budget_names

__all__ = ["PearlConfig", "BUDGETS", "ContextEncoder", "Context", "train", "evaluate", "adapt_and_run", "PearlDT"]


@dataclass(frozen=True)
class PearlConfig:
    """PEARL-DT's hyperparameters: its SAC part and the encoder's."""

    sac: SACConfig = field(default_factory=SACConfig)
    """the SAC part: actor, twin critics and temperature with z appended to the state (eqs. 21-28; Table I)"""
    latent: int = 5
    """dimension of z (the paper is silent; PEARL's default)"""
    beta: float = 0.1
    """KL weight β of the encoder's loss (eqs. 20, 29; Table I)"""
    encoder_hidden: int = 200
    """width of the encoder's hidden layers (the paper is silent; PEARL's 200)"""
    encoder_layers: int = 3
    """hidden layers of the encoder (the paper is silent; PEARL's 3)"""
    window: int = 256
    """recent transitions per condition kept as its context c_k (Algorithm 1 line 5; the paper is silent)"""
    context_max: int = 64
    """largest context the encoder is trained on (contexts are 1 .. context_max transitions of c_k)"""
    adapt_steps: int = 5
    """slots of context collected on a new condition for the training curves (the paper is silent)"""


BUDGETS: dict[str, PearlConfig] = {
    "paper": PearlConfig(),
    "smoke": PearlConfig(sac=SAC_BUDGETS["smoke"], encoder_hidden=64, encoder_layers=2, window=64, context_max=16),
}


# -- the context encoder ------------------------------------------------------------------------------

class ContextEncoder(nn.Module):
    """q_φ(z|c): a Gaussian factor per transition, multiplied into the posterior (PEARL)."""

    def __init__(self, context_dim: int, latent: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.latent = latent
        self.net = mlp([context_dim] + [hidden] * layers + [2 * latent])

    def posterior(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, context_dim) → mean and variance of the product of the N Gaussian factors; with no
        transition, the prior N(0, I)."""
        if context.shape[0] == 0:
            return torch.zeros(self.latent), torch.ones(self.latent)
        out = self.net(context)
        mu, var = out[:, :self.latent], nn.functional.softplus(out[:, self.latent:]).clamp(min=1e-7)
        var_post = 1.0 / (1.0 / var).sum(0)
        return var_post * (mu / var).sum(0), var_post


def kl_to_prior(mu: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) summed over the latent dimensions."""
    return 0.5 * (var + mu ** 2 - 1.0 - var.log()).sum()


class Context:
    """Transitions of one condition, encoded as the encoder's input rows."""

    def __init__(self, nvec: Sequence[int]) -> None:
        self.nvec = [int(n) for n in nvec]
        self.rows: list[np.ndarray] = []

    def row(self, obs: np.ndarray, action: np.ndarray, reward: float, latency: np.ndarray) -> np.ndarray:
        """(s, one-hot a, r, ℓ) flattened; rewards and latencies in units of 0.1 s."""
        onehot = [np.eye(n, dtype=np.float32)[action[:, k]] for k, n in enumerate(self.nvec)]
        return np.concatenate([np.asarray(obs, np.float32).ravel(), np.concatenate(onehot, 1).ravel(),
                               [reward * 10.0], np.asarray(latency, np.float32) * 10.0]).astype(np.float32)

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, latency: np.ndarray) -> None:
        self.rows.append(self.row(obs, action, reward, latency))

    def tensor(self) -> torch.Tensor:
        if not self.rows:
            return torch.zeros((0, 0))
        return torch.from_numpy(np.stack(self.rows))


def context_dim(obs_shape: Sequence[int], nvec: Sequence[int]) -> int:
    u, f = obs_shape
    return u * f + u * sum(nvec) + 1 + u


def buffer_context(buffer: ReplayBuffer, index: np.ndarray, nvec: Sequence[int]) -> torch.Tensor:
    """Encoder rows of some transitions of a replay buffer (vectorised Context.row)."""
    onehot = [np.eye(n, dtype=np.float32)[buffer.action[index, :, k]] for k, n in enumerate(nvec)]
    b = index.shape[0]
    parts = [buffer.obs[index].astype(np.float32).reshape(b, -1), np.concatenate(onehot, 2).reshape(b, -1),
             buffer.reward[index, None] * 10.0, buffer.latency[index] * 10.0]
    return torch.from_numpy(np.concatenate(parts, 1).astype(np.float32))


def window_index(buffer: ReplayBuffer, window: int) -> np.ndarray:
    """Indices of the condition's most recent transitions (its context c_k)."""
    n = min(window, buffer.size)
    return (buffer.next - 1 - np.arange(n)) % buffer.capacity


# -- training (Algorithm 1) ---------------------------------------------------------------------------

@dataclass
class Learner:
    """Everything that trains: the SAC agent with z, the encoder and their optimisers."""

    agent: FactoredSAC
    encoder: ContextEncoder
    opt: Optimizers
    enc_opt: torch.optim.Optimizer


def build_learner(cfg: PearlConfig, shape: Sequence[int], nvec: Sequence[int]) -> Learner:
    agent = FactoredSAC(shape, nvec, cfg.sac, latent=cfg.latent)
    encoder = ContextEncoder(context_dim(shape, nvec), cfg.latent, cfg.encoder_hidden, cfg.encoder_layers)
    return Learner(agent, encoder, Optimizers.build(agent, cfg.sac.lr),
                   torch.optim.AdamW(encoder.parameters(), lr=cfg.sac.lr))


def sample_z(learner: Learner, context: torch.Tensor, gen: torch.Generator, *, mean: bool = False) -> torch.Tensor:
    """z ~ q(z|c) (the prior for an empty context), as a (1, latent) tensor, without gradients."""
    with torch.no_grad():
        mu, var = learner.encoder.posterior(context)
        if mean:
            return mu[None]
        return (mu + var.sqrt() * torch.randn(mu.shape, generator=gen))[None]


ACTION_STREAM = 0xAC7
"""Tag of the per-slot action seeds, hash_seed(seed, ACTION_STREAM, twin, iteration, outer step)."""


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, overrides: Sequence[str] = (), backend: str = "local", workers: int | None = None,
          address: str | None = None, iterations: int | None = None) -> Path:
    """Meta-train PEARL-DT on the digital twins of the scenario's training conditions (Algorithm 1).

    The twins' slots of an outer step run on ``workers`` processes (``backend`` local: spawned
    processes; ray: Ray actors on the cluster at ``address`` or a local Ray); the result does not
    depend on where they run. Algorithm 1 lines 1-5 take one action per twin per outer step t' with
    the current θ and z ~ q_φ(z|c_k), and lines 6-19 update θ before the next t', so one dispatch is
    one outer step: a slot on every twin at once. (The original PEARL collects several transitions
    per task with a fixed posterior sample; batching slots that way here would hold θ fixed over
    several t', which this Algorithm 1 does not do.) Everything random is drawn before dispatch: the
    context and z in this process, in twin order, from the run's streams; the slot's actions from a
    generator seeded with hash_seed(seed, ACTION_STREAM, twin, iteration, t'). Each twin's episode
    lives on one worker; the transitions come back in twin order and join the buffers in that order.
    A resumed run restarts the twins' episodes (the simulations in progress are not checkpointed);
    everything else continues exactly.

    A slot costs much less than the T_train update epochs that follow it (BENCHMARKS.md, PEARL-DT twin
    rollouts), so workers move the twins' simulations off this process but do not shorten training on
    one machine. ``iterations`` replaces the budget's iteration count."""
    check_backend(backend, workers)
    cfg = BUDGETS[budget]
    if iterations is not None:
        cfg = replace(cfg, sac=replace(cfg.sac, iterations=iterations))
    sac = cfg.sac
    out, sc, world, dts = training_setup(scenario, out, overrides, seed)
    twins = list(dts.twins)
    tests = [c.name for c in world.test]
    probe = condition_env(sc, world, dts, twins[0])
    shape, nvec = probe.observation_space.shape, probe.nvec.tolist()
    torch.manual_seed(seed)
    learner = build_learner(cfg, shape, nvec)
    buffers = {c: ReplayBuffer(sac.buffer, shape) for c in twins}
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    run = TrainingRun(out, "pearl_dt", ["sample_latency_s", "critic_loss", "kl", "alpha", "entropy",
                                        *[f"test_{t}_s" for t in tests]], sac.iterations,
                      rng=rng, generator=gen, resume=resume, progress=progress)
    episodes = [hash_seed(seed, 0, j) for j in range(len(twins))]        # each twin's episode stream
    if (ck := run.checkpoint) is not None:
        learner.agent.load_state_dict(ck["agent"])
        learner.encoder.load_state_dict(ck["encoder"])
        learner.opt.load_state_dict(ck["opt"])
        learner.enc_opt.load_state_dict(ck["enc_opt"])
        for c in twins:
            buffers[c].load_state_dict(ck["buffers"][c])
        episodes = [hash_seed(seed, 0, j, ck["iteration"]) for j in range(len(twins))]   # episodes restart
    with dispatcher(collect, RolloutSpec(sc, world, dts), setup=Rollouts, backend=backend, workers=workers,
                    address=address) as slots:
        for it in run.remaining():
            rewards, stats = [], {}
            for step in range(sac.outer_steps):
                jobs = []
                for j, c in enumerate(twins):                # Algorithm 1 lines 2-5
                    warm = buffers[c].size >= sac.warmup
                    z = sample_z(learner, _random_context(buffers[c], cfg, nvec, rng), gen) if warm else None
                    jobs.append(SlotJob(c, episodes[j], hash_seed(seed, ACTION_STREAM, j, it, step), z,
                                        uniform=not warm))
                for c, t in zip(twins, slots(learner.agent.actor, jobs)):
                    buffers[c].add(*t)
                    rewards.append(t.reward)
                run.env_steps += len(twins)
                if min(b.size for b in buffers.values()) < sac.warmup:
                    continue
                for epoch in range(1, sac.updates + 1):      # lines 6-19
                    stats = _meta_epoch(learner, cfg, epoch, buffers, twins, nvec, rng, gen)
            row: dict[str, Any] = {"sample_latency_s": -float(np.mean(rewards)),
                                   "alpha": float(learner.agent.alpha.detach()), **stats}
            if it % sac.eval_every == 0 or it == sac.iterations:
                for k, t in enumerate(tests):
                    row[f"test_{t}_s"] = adapt_and_run(learner.agent.actor, learner.encoder, sc, world, t,
                                                              cfg.adapt_steps, seed, k, sac.eval_slots, nvec)
            run.end_iteration(it, {
                "config": asdict(cfg), "obs_shape": list(shape), "nvec": nvec, "budget": budget,
                "agent": learner.agent.state_dict(), "encoder": learner.encoder.state_dict(),
                "opt": learner.opt.state_dict(), "enc_opt": learner.enc_opt.state_dict(),
                "buffers": {c: b.state_dict() for c, b in buffers.items()}}, row)
    run.close()
    return out


def _random_context(buffer: ReplayBuffer, cfg: PearlConfig, nvec: Sequence[int], rng: np.random.Generator
                    ) -> torch.Tensor:
    """A random-size sample of the condition's recent window c_k."""
    recent = window_index(buffer, cfg.window)
    n = int(rng.integers(1, min(cfg.context_max, recent.size) + 1))
    return buffer_context(buffer, rng.choice(recent, size=n, replace=False), nvec)


def _meta_epoch(learner: Learner, cfg: PearlConfig, epoch: int, buffers: dict[str, ReplayBuffer],
                twins: Sequence[str], nvec: Sequence[int], rng: np.random.Generator,
                gen: torch.Generator) -> dict[str, float]:
    """Algorithm 1 lines 8-19 for one epoch over |K'| random conditions."""
    sac = cfg.sac
    chosen = rng.choice(list(twins), size=min(sac.conditions_per_batch, len(twins)), replace=False)
    batches, zs, kl = [], [], torch.zeros(())
    for c in chosen:
        mu, var = learner.encoder.posterior(_random_context(buffers[c], cfg, nvec, rng))
        z = mu + var.sqrt() * torch.randn(mu.shape, generator=gen)           # reparameterised
        kl = kl + kl_to_prior(mu, var)
        batches.append(buffers[c].batch(buffers[c].sample(sac.batch, rng), nvec, sac))
        zs.append(z.expand(sac.batch, -1))
    out = sac_epoch(learner.agent, learner.opt, sac, epoch, merge(batches), torch.cat(zs),
                    extra_loss=cfg.beta * kl, extra_opt=learner.enc_opt)
    out["kl"] = float(kl.detach())
    return out


# -- adaptation and evaluation --------------------------------------------------------------------------

class _Adapting:
    """Acts on a new condition: z from the posterior of the context so far (exploration) for
    ``adapt_steps`` slots, then z fixed to the posterior mean and greedy actions."""

    def __init__(self, actor: FactoredActor, encoder: ContextEncoder, nvec: Sequence[int], adapt_steps: int,
                 gen: torch.Generator) -> None:
        self.actor, self.encoder, self.adapt_steps, self.gen = actor, encoder, adapt_steps, gen
        self.context = Context(nvec)
        self.z: torch.Tensor | None = None

    def observe(self, obs: np.ndarray, action: np.ndarray, reward: float, latency: np.ndarray) -> None:
        if len(self.context.rows) < self.adapt_steps:
            self.context.add(obs, action, reward, latency)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        mu, var = self.encoder.posterior(self.context.tensor())
        if len(self.context.rows) < self.adapt_steps:
            z = (mu + var.sqrt() * torch.randn(mu.shape, generator=self.gen))[None]
            return self.actor.act(obs, z, generator=self.gen)
        return self.actor.act(obs, mu[None], greedy=True)

    def on_point(self, point: DecisionPoint) -> np.ndarray:
        """:meth:`act` on an engine decision point."""
        return self.act(point.observation)


def adapt_and_run(actor: FactoredActor, encoder: ContextEncoder, sc: ServiceScenario, world: World, condition: str,
                  adapt_steps: int, seed: int, k: int, slots: int, nvec: Sequence[int]) -> float:
    """Mean latency (s) on `condition` after adapting from `adapt_steps` slots of context.

    The adaptation slots run first (their own run seed); the measured slots are then the same inputs
    as every other controller's (``eval_seed(seed, 0)``), acted on with z fixed."""
    policy = _Adapting(actor, encoder, nvec, adapt_steps, torch.Generator().manual_seed(hash_seed(seed, k, 7)))
    if adapt_steps:
        explore = ServiceSimulation(sc, PolicyController(policy.on_point), seed=eval_seed(seed, 50 + k), trace=False,
                             condition=condition, slots=adapt_steps, world=world).run()
        for s in explore.slots:
            policy.observe(observation(sc, s.state), s.action, s.reward, s.latency_s)
    return latency_on(sc, world, condition, policy.on_point, eval_seed(seed, 0), slots)


def load_parts(payload: dict[str, Any]) -> tuple[FactoredActor, ContextEncoder, list[int], PearlConfig]:
    cfg = PearlConfig(**{**payload["config"], "sac": SACConfig(**payload["config"]["sac"])})
    shape, nvec = payload["obs_shape"], payload["nvec"]
    agent = FactoredSAC(shape, nvec, cfg.sac, latent=cfg.latent)
    agent.load_state_dict(payload["agent"])
    encoder = ContextEncoder(context_dim(shape, nvec), cfg.latent, cfg.encoder_hidden, cfg.encoder_layers)
    encoder.load_state_dict(payload["encoder"])
    agent.actor.eval()
    encoder.eval()
    return agent.actor, encoder, nvec, cfg


def evaluate(scenario: str | Path, checkpoint: str | Path, *, adapt_steps: Sequence[int], seeds: Sequence[int],
             heuristics: Sequence[str] | None = None, overrides: Sequence[str] = (),
             progress: bool = True) -> list[dict[str, Any]]:
    """PEARL-DT on every test condition after each number of adaptation slots (no gradient step),
    next to the heuristics on the same inputs."""
    payload = load_checkpoint(checkpoint, "pearl_dt")
    sc, world, tests = evaluation_setup(scenario, overrides)
    actor, encoder, nvec, cfg = load_parts(payload)
    rows = heuristic_rows(sc, world, heuristics, tests, seeds, cfg.sac.eval_slots)
    steps = sorted(set(int(s) for s in adapt_steps))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tests) * len(steps) * len(seeds), desc="eval pearl_dt", unit="run")
    for k, t in enumerate(tests):
        for n in steps:
            for s in seeds:
                lat = adapt_and_run(actor, encoder, sc, world, t, n, s, k, cfg.sac.eval_slots, nvec)
                rows.append({"controller": "pearl_dt", "test_set": t, "adapt_steps": n, "seed": s,
                             "latency_s": lat})
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    return rows


# -- the acting controller ------------------------------------------------------------------------------

class PearlDT:
    """PEARL-DT in the engine: at every AI-model upgrade (a new epoch in the decision context) the
    policy restarts from the meta-policy with an empty context, collects ``adapt_steps`` slots of
    context from what it observes, then acts greedily with z fixed. No gradient step, ever."""

    def __init__(self, checkpoint: str, adapt_steps: int = 5, seed: int = 0) -> None:
        if adapt_steps < 0:
            raise ValueError(f"adapt_steps: must be >= 0, got {adapt_steps}")
        payload = load_checkpoint(checkpoint, "pearl_dt")
        self.actor, self.encoder, self.nvec, _ = load_parts(payload)
        self.adapt_steps, self.seed = adapt_steps, seed
        self.epoch: int | None = None
        self.policy: _Adapting | None = None

    def act(self, point: DecisionPoint) -> np.ndarray:
        ctx = point.context
        if ctx.epoch != self.epoch or self.policy is None:
            self.epoch = ctx.epoch
            gen = torch.Generator().manual_seed(hash_seed(self.seed, ctx.epoch))
            self.policy = _Adapting(self.actor, self.encoder, self.nvec, self.adapt_steps, gen)
        elif ctx.previous is not None:          # the previous slot ran under this condition
            prev = ctx.previous
            self.policy.observe(prev.observation, prev.action, prev.reward, prev.latency_s)
        return self.policy.act(point.observation)


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), BASELINES, parallel=True)
