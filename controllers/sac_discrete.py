"""Discrete soft actor-critic for factored actions (PEARL-DT §IV-D eqs. 21-28), and the SAC baselines of §V.

The action of a slot is one categorical per ED per sub-action (DS, TA, MS; eq. 18), so the policy is
fully factored and its entropy is the sum of the per-factor entropies (eq. 25). The twin critics are
additive over EDs and joint within an ED, Q(s, a) = Σ_u Q_u(s, a_u) with a_u ∈ DS × TA × MS, so every
expectation over the policy is exact (no sampling): E_π Q = Σ_u Σ_{a_u} P_u(a_u) Q_u(s, a_u) with P_u the
outer product of the ED's three categoricals. Following Algorithm 1, each of T_train epochs updates the
critics, the temperature every λ1 epochs and the actor every λ2 epochs, and soft-updates the target
actor and critics; the soft value of eq. (24) uses the target actor (Algorithm 1 line 10).

Choices where the paper is silent or its text is inconsistent (pitfalls from the reference notes):
- the temperature ξ is learned towards a target entropy H̄ = ratio · |U| · Σ_k log n_k, well below the
  maximum (eq. 28 sets H̄ from the action dimensions; near-maximal targets make ξ diverge);
- the critics learn the reward in units of ``reward_unit_s`` = 0.1 s per ED, |U| · r / 0.1 s (eq. 19 is
  the mean latency; this makes each Q_u of order one, and a positive factor keeps the optimal policy);
- γ = 0.5: the next slot's state does not depend on the action (§V draws states at random), so every
  γ has the same optimal policy and a small one keeps the TD target's variance low;
- credit ``per_ed`` (default): each Q_u is regressed on its own ED's latency r_u (eq. 19's reward is
  the mean of these), the additive critic's natural target; ``joint`` regresses Σ_u Q_u on the one
  reward, literally eq. (21). On ``scenarios/pearl_dt/small.yaml`` (12 EDs, one condition, smoke
  networks, 800 slots) per_ed reached 237 ms greedy against 281 ms for joint (random: 303 ms),
  because one scalar per slot leaves the split of the credit among the EDs to be learned.

The baselines (§V) share this learner: SAC_AiSF trains one agent per test condition on that condition,
SAC_DTs one agent over the digital twins of the training conditions, SAC_TM one agent over the twins
and the test conditions; each keeps its best weights by a validation latency and stops early
(``patience``). ``mecsim train --controller sac_baselines`` trains all of them in one checkpoint;
``sac_aisf``, ``sac_dts`` and ``sac_tm`` are the acting controllers.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from controllers.offload_rl import set_threads
from mecsim.checkpoint import TrainingRun, load_checkpoint
from mecsim.decision import DecisionPoint
from mecsim.envs.service_management import ServiceManagementEnv
from mecsim.registry import make_controller
from mecsim.scenario.load import load_scenario
from mecsim.systems.service_management import ServiceScenario, ServiceSimulation, TwinSystem, World, build_world

__all__ = ["SACConfig", "BUDGETS", "FactoredSAC", "FactoredActor", "Optimizers", "ReplayBuffer", "Transition", "Worker",
           "RolloutSpec", "SlotJob", "Rollouts", "collect", "sac_epoch",
           "digital_twins", "training_setup", "condition_env", "latency_on", "hash_seed", "heuristic_rows", "train", "evaluate",
           "SacAisf", "SacDTs", "SacTM", "HEURISTICS"]

HEURISTICS = ("random", "local")   # the engine's generic baselines, scored next to learned controllers


@dataclass(frozen=True)
class SACConfig:
    """Hyperparameters of the factored discrete SAC (and of PEARL-DT's SAC part)."""

    hidden: int = 700                 # width of every hidden layer (Table I)
    layers: int = 5                   # hidden layers (Table I)
    lr: float = 3e-5                  # AdamW learning rate of every network (Table I)
    batch: int = 256                  # transitions per condition in a batch (Table I)
    gamma: float = 0.5                # discount (paper silent; see the module docstring)
    tau: float = 0.005                # soft target update rate (paper silent; SAC's usual value)
    updates: int = 40                 # T_train: epochs per outer step (Table I)
    alpha_every: int = 10             # λ1: temperature update period in epochs (Table I)
    policy_every: int = 40            # λ2: actor update period in epochs (Table I)
    entropy_ratio: float = 0.4        # target entropy as a fraction of the maximum (notes: 0.3-0.6)
    init_alpha: float = 1.0           # initial temperature ξ (entropy per ED and Q_u are both O(1))
    buffer: int = 20_000              # replay capacity per condition
    conditions_per_batch: int = 2     # |K'| (§V)
    warmup: int = 256                 # uniformly random transitions per condition before learning
    outer_steps: int = 10             # Algorithm 1 outer steps (t') per logged iteration
    iterations: int = 300             # logged iterations (one checkpoint each)
    eval_every: int = 5               # iterations between evaluations (validation and test curves)
    eval_slots: int = 20              # slots per evaluation run
    patience: int = 20                # evaluations without improvement before a baseline stops
    credit: str = "per_ed"            # per_ed: each Q_u learns its ED's latency; joint: Σ_u Q_u learns r
    reward_unit_s: float = 0.1        # latency unit of the critics' rewards (see the module docstring)


BUDGETS: dict[str, SACConfig] = {
    # paper: Table I's networks; one update epoch (batch 2 × 256, 80 EDs, 700 × 5) takes about 1 s on
    # one CPU core, so an iteration (10 outer steps × 40 epochs) takes about 400 s: far beyond a
    # 2 CPU-hour budget (about 18 iterations). Checkpoints hold the replay buffers for exact resume.
    "paper": SACConfig(),
    # smoke: small networks and a faster learning rate, so a few minutes on 2 CPU cores show the
    # whole pipeline (collection, updates, evaluation, early stopping, checkpoints) and some learning
    "smoke": SACConfig(hidden=128, layers=2, lr=3e-4, batch=64, updates=8, alpha_every=2, policy_every=2,
                       buffer=4000, warmup=16, outer_steps=4, iterations=20, eval_every=4, eval_slots=5,
                       patience=3),
}


# -- networks ----------------------------------------------------------------------------------------

def mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


class FactoredActor(nn.Module):
    """π(·|s, z): per ED, log-probabilities of the DS, TA and MS choices (eq. 18, softmax)."""

    def __init__(self, obs_dim: int, eds: int, nvec: Sequence[int], hidden: int, layers: int, latent: int = 0) -> None:
        super().__init__()
        self.eds, self.nvec = eds, [int(n) for n in nvec]
        self.net = mlp([obs_dim + latent] + [hidden] * layers + [eds * sum(self.nvec)])

    def forward(self, obs: torch.Tensor, z: torch.Tensor | None = None) -> list[torch.Tensor]:
        x = obs.flatten(1) if z is None else torch.cat([obs.flatten(1), z], 1)
        logits = self.net(x).view(obs.shape[0], self.eds, sum(self.nvec))
        return [F.log_softmax(part, -1) for part in logits.split(self.nvec, -1)]

    @torch.no_grad()
    def act(self, obs: np.ndarray, z: torch.Tensor | None = None, *, greedy: bool = False,
            generator: torch.Generator | None = None) -> np.ndarray:
        """(U, 3) choices for one observation: argmax (greedy) or sampled from π."""
        logps = self(torch.as_tensor(obs, dtype=torch.float32)[None], z)
        if greedy:
            return torch.stack([lp[0].argmax(-1) for lp in logps], 1).numpy()
        return torch.stack([torch.multinomial(lp[0].exp(), 1, generator=generator)[:, 0] for lp in logps], 1).numpy()


class FactoredCritic(nn.Module):
    """Q_u(s, z, a_u) for every ED and every joint choice a_u ∈ DS × TA × MS."""

    def __init__(self, obs_dim: int, eds: int, nvec: Sequence[int], hidden: int, layers: int, latent: int = 0) -> None:
        super().__init__()
        self.eds, self.joint = eds, int(np.prod(nvec))
        self.net = mlp([obs_dim + latent] + [hidden] * layers + [eds * self.joint])

    def forward(self, obs: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        x = obs.flatten(1) if z is None else torch.cat([obs.flatten(1), z], 1)
        return self.net(x).view(obs.shape[0], self.eds, self.joint)


def joint_probs(logps: list[torch.Tensor]) -> torch.Tensor:
    """(B, U, |DS|·|TA|·|MS|): the outer product of each ED's three categoricals (row-major)."""
    p = [lp.exp() for lp in logps]
    return (p[0][..., :, None, None] * p[1][..., None, :, None] * p[2][..., None, None, :]).flatten(2)


def entropy(logps: list[torch.Tensor]) -> torch.Tensor:
    """Eq. (25) summed over the sub-actions: (B,)."""
    return -sum((lp.exp() * lp).sum((1, 2)) for lp in logps)


def joint_index(actions: torch.Tensor, nvec: Sequence[int]) -> torch.Tensor:
    """(B, U, 3) choices → (B, U) index into the joint per-ED action (row-major, as joint_probs)."""
    return (actions[..., 0] * nvec[1] + actions[..., 1]) * nvec[2] + actions[..., 2]


class FactoredSAC(nn.Module):
    """Actor, target actor, twin critics and their targets, and the temperature (log ξ)."""

    def __init__(self, obs_shape: Sequence[int], nvec: Sequence[int], cfg: SACConfig, latent: int = 0) -> None:
        super().__init__()
        eds, feats = int(obs_shape[0]), int(obs_shape[1])
        self.nvec = [int(n) for n in nvec]
        args = (eds * feats, eds, self.nvec, cfg.hidden, cfg.layers, latent)
        self.actor = FactoredActor(*args)
        self.critic1, self.critic2 = FactoredCritic(*args), FactoredCritic(*args)
        self.actor_target = copy.deepcopy(self.actor)
        self.critic1_target, self.critic2_target = copy.deepcopy(self.critic1), copy.deepcopy(self.critic2)
        for net in (self.actor_target, self.critic1_target, self.critic2_target):
            net.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(cfg.init_alpha)))
        self.target_entropy = cfg.entropy_ratio * eds * sum(math.log(n) for n in self.nvec)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    def act(self, obs: np.ndarray, z: torch.Tensor | None = None, *, greedy: bool = False,
            generator: torch.Generator | None = None) -> np.ndarray:
        """The actor's choices (:meth:`FactoredActor.act`)."""
        return self.actor.act(obs, z, greedy=greedy, generator=generator)

    def critic_loss(self, batch: dict[str, torch.Tensor], z: torch.Tensor | None) -> torch.Tensor:
        """Eqs. (21)-(24): TD error of both critics against r + γ(1−d)(min_i E_π̂ Q̂_i + ξ H(π̂)).

        With per-ED rewards in the batch (``reward_ed``, credit ``per_ed``), each Q_u gets its own
        target r_u + γ(1−d)(min_i E_π̂ Q̂_{i,u} + ξ H_u(π̂)) instead of one target for Σ_u Q_u."""
        zt = None if z is None else z.detach()
        per_ed = "reward_ed" in batch
        with torch.no_grad():
            logps = self.actor_target(batch["next_obs"], zt)
            p = joint_probs(logps)
            v1 = (p * self.critic1_target(batch["next_obs"], zt)).sum(2)
            v2 = (p * self.critic2_target(batch["next_obs"], zt)).sum(2)
            if per_ed:
                h = -sum((lp.exp() * lp).sum(2) for lp in logps)
                v = torch.minimum(v1, v2) + self.alpha * h
                y = batch["reward_ed"] + (batch["gamma"] * (1 - batch["done"]))[:, None] * v
            else:
                v = torch.minimum(v1.sum(1), v2.sum(1)) + self.alpha * entropy(logps)
                y = batch["reward"] + batch["gamma"] * (1 - batch["done"]) * v
        a = batch["action"][..., None]
        q1 = self.critic1(batch["obs"], z).gather(2, a)[..., 0]
        q2 = self.critic2(batch["obs"], z).gather(2, a)[..., 0]
        if per_ed:      # summed over EDs, so the loss has the scale of the joint one
            return (F.mse_loss(q1, y, reduction="none") + F.mse_loss(q2, y, reduction="none")).sum(1).mean()
        return F.mse_loss(q1.sum(1), y) + F.mse_loss(q2.sum(1), y)

    def actor_loss(self, obs: torch.Tensor, z: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. (27): E[−ξ H(π) − min_i E_π Q_i]; ``z`` must come detached (the actor never trains
        the encoder). Returns the loss and the entropies."""
        logps = self.actor(obs, z)
        p, h = joint_probs(logps), entropy(logps)
        with torch.no_grad():
            q1, q2 = self.critic1(obs, z), self.critic2(obs, z)
        q = torch.minimum((p * q1).sum((1, 2)), (p * q2).sum((1, 2)))
        return (-self.alpha.detach() * h - q).mean(), h.detach()

    def alpha_loss(self, h: torch.Tensor) -> torch.Tensor:
        """Eq. (28) with a positive target: ξ grows while the entropy is below H̄."""
        return self.log_alpha * (h - self.target_entropy).mean()

    @torch.no_grad()
    def soft_update(self, tau: float) -> None:
        for net, target in ((self.actor, self.actor_target), (self.critic1, self.critic1_target),
                            (self.critic2, self.critic2_target)):
            for p, t in zip(net.parameters(), target.parameters()):
                t.lerp_(p, tau)


@dataclass
class Optimizers:
    """AdamW per part (Table I); ``extra`` trains with the critics (PEARL-DT's encoder)."""

    actor: torch.optim.Optimizer
    critic: torch.optim.Optimizer
    alpha: torch.optim.Optimizer

    @classmethod
    def build(cls, agent: FactoredSAC, lr: float) -> "Optimizers":
        return cls(torch.optim.AdamW(agent.actor.parameters(), lr=lr),
                   torch.optim.AdamW([*agent.critic1.parameters(), *agent.critic2.parameters()], lr=lr),
                   torch.optim.AdamW([agent.log_alpha], lr=lr, weight_decay=0.0))

    def state_dict(self) -> dict[str, Any]:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(), "alpha": self.alpha.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k in ("actor", "critic", "alpha"):
            getattr(self, k).load_state_dict(state[k])


def sac_epoch(agent: FactoredSAC, opt: Optimizers, cfg: SACConfig, epoch: int, batch: dict[str, torch.Tensor],
              z: torch.Tensor | None = None, extra_loss: torch.Tensor | None = None,
              extra_opt: torch.optim.Optimizer | None = None) -> dict[str, float]:
    """One epoch of Algorithm 1 lines 12-19: critics (and, through ``z`` and ``extra_loss``, the
    encoder), the temperature every λ1 epochs, the actor every λ2 epochs, then the soft updates."""
    loss_q = agent.critic_loss(batch, z)
    total = loss_q if extra_loss is None else loss_q + extra_loss
    opt.critic.zero_grad()
    if extra_opt is not None:
        extra_opt.zero_grad()
    total.backward()
    opt.critic.step()
    if extra_opt is not None:
        extra_opt.step()
    out = {"critic_loss": float(loss_q.detach())}
    zd = None if z is None else z.detach()
    if epoch % cfg.alpha_every == 0:
        with torch.no_grad():
            h = entropy(agent.actor(batch["obs"], zd))
        opt.alpha.zero_grad()
        agent.alpha_loss(h).backward()
        opt.alpha.step()
    if epoch % cfg.policy_every == 0:
        loss_pi, h = agent.actor_loss(batch["obs"], zd)
        opt.actor.zero_grad()
        loss_pi.backward()
        opt.actor.step()
        out.update(actor_loss=float(loss_pi.detach()), entropy=float(h.mean()))
    agent.soft_update(cfg.tau)
    return out


# -- data ----------------------------------------------------------------------------------------------

class ReplayBuffer:
    """A ring of transitions of one condition; per-ED latencies kept for PEARL-DT's contexts."""

    FIELDS = ("obs", "action", "reward", "next_obs", "done", "latency")

    def __init__(self, capacity: int, obs_shape: Sequence[int]) -> None:
        u, f = obs_shape
        self.capacity, self.size, self.next = capacity, 0, 0
        self.obs = np.zeros((capacity, u, f), np.float16)       # observations are in [0, 1]
        self.next_obs = np.zeros((capacity, u, f), np.float16)
        self.action = np.zeros((capacity, u, 3), np.int8)
        self.reward = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.latency = np.zeros((capacity, u), np.float32)

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, done: bool,
            latency: np.ndarray) -> None:
        i = self.next
        self.obs[i], self.action[i], self.reward[i] = obs, action, reward
        self.next_obs[i], self.done[i], self.latency[i] = next_obs, float(done), latency
        self.next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def clear(self) -> None:
        self.size = self.next = 0

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(self.size, size=n)

    def batch(self, index: np.ndarray, nvec: Sequence[int], cfg: SACConfig) -> dict[str, torch.Tensor]:
        """Tensors for the losses; rewards in the critics' unit (see the module docstring)."""
        u = self.obs.shape[1]
        out = {"obs": torch.from_numpy(self.obs[index].astype(np.float32)),
               "next_obs": torch.from_numpy(self.next_obs[index].astype(np.float32)),
               "action": joint_index(torch.from_numpy(self.action[index].astype(np.int64)), nvec),
               "reward": torch.from_numpy(self.reward[index] * (u / cfg.reward_unit_s)),
               "done": torch.from_numpy(self.done[index]), "gamma": torch.tensor(cfg.gamma)}
        if cfg.credit == "per_ed":
            out["reward_ed"] = torch.from_numpy(-self.latency[index] / cfg.reward_unit_s)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "next": self.next,
                **{k: torch.from_numpy(getattr(self, k)[:self.size].copy()) for k in self.FIELDS}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.next = int(state["size"]), int(state["next"])
        for k in self.FIELDS:
            getattr(self, k)[:self.size] = state[k].numpy()


def merge(batches: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: (batches[0][k] if k == "gamma" else torch.cat([b[k] for b in batches])) for k in batches[0]}


class Transition(NamedTuple):
    """One slot of experience, in the order of :meth:`ReplayBuffer.add`."""

    obs: np.ndarray
    action: np.ndarray
    reward: float
    next_obs: np.ndarray
    done: bool
    latency: np.ndarray


class Worker:
    """One condition's environment with its episode in progress (Algorithm 1 lines 3-5)."""

    def __init__(self, env: ServiceManagementEnv, seed: int) -> None:
        self.env, self.obs = env, None
        self.rng = np.random.default_rng(seed)

    def step(self, policy: Callable[[np.ndarray], np.ndarray]) -> Transition:
        """One slot with `policy`; an episode starts (with a seed from this worker's stream) when needed."""
        if self.obs is None:
            self.obs, _ = self.env.reset(seed=int(self.rng.integers(2**31 - 1)))
        obs, action = self.obs, policy(self.obs)
        nxt, reward, terminated, truncated, info = self.env.step(action.reshape(-1))
        self.obs = None if (terminated or truncated) else nxt
        return Transition(obs, action, float(reward), nxt, bool(terminated), info["latency_s"])


@dataclass(frozen=True)
class RolloutSpec:
    """What a rollout worker builds its environments from: data, never live environments."""

    sc: ServiceScenario
    world: World
    dts: TwinSystem


@dataclass(frozen=True)
class SlotJob:
    """One slot on one condition, with everything random drawn before dispatch (see :class:`Rollouts`)."""

    condition: str
    episodes: int                     # seed of the condition's episode stream (its Worker)
    actions: int                      # seed of this slot's action sampling
    z: torch.Tensor | None = None     # the latent appended to the state (PEARL-DT), None without one
    uniform: bool = False             # uniformly random actions (warm-up) instead of the actor's


class Rollouts:
    """A rollout worker's state: a :class:`Worker` per (condition, episode seed) it has served.

    Used through :func:`mecsim.parallel.dispatcher` with :func:`collect`: a slot depends only on the
    actor's weights, the job and the condition's episode so far, and job i always runs on the same
    worker, so the transitions do not depend on the worker count or backend."""

    def __init__(self, spec: RolloutSpec) -> None:
        set_threads()
        self.spec = spec
        self.workers: dict[tuple[str, int], Worker] = {}

    def step(self, actor: FactoredActor, job: SlotJob) -> Transition:
        key = (job.condition, job.episodes)
        if key not in self.workers:
            env = condition_env(self.spec.sc, self.spec.world, self.spec.dts, job.condition)
            self.workers[key] = Worker(env, job.episodes)
        worker = self.workers[key]
        if job.uniform:
            policy = uniform_policy(worker.env.nvec.tolist(), worker.env.observation_space.shape[0],
                                    np.random.default_rng(job.actions))
        else:
            gen = torch.Generator().manual_seed(job.actions)
            policy = (lambda obs: actor.act(obs, job.z, generator=gen))
        return worker.step(policy)


def collect(rollouts: Rollouts, actor: FactoredActor, job: SlotJob) -> Transition:
    """A :func:`mecsim.parallel.dispatcher` job: one slot of ``job`` with the actor's weights."""
    return rollouts.step(actor, job)


def uniform_policy(nvec: Sequence[int], eds: int, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    return lambda obs: (rng.random((eds, 3)) * np.asarray(nvec)).astype(np.int64)


def digital_twins(sc: ServiceScenario, world: World, seed: int) -> TwinSystem:
    """The DT system (§IV-C): run the physical system along the scenario's timeline with its own
    controller, create a twin for every condition met and keep it in sync with what was observed."""
    physical = make_controller(sc.controller, sc.controller_params, np.random.default_rng(seed))
    result = ServiceSimulation(sc, physical, seed=seed, trace=False, world=world).run()
    dts = TwinSystem(sc, world)
    dts.observe(result.slots)
    return dts


def training_setup(scenario: str | Path, out: str | Path, overrides: Sequence[str],
                   seed: int) -> tuple[Path, ServiceScenario, World, TwinSystem]:
    """What SAC and PEARL-DT training start from: the output folder, the scenario, its world and the DTs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    set_threads()
    sc = load_scenario(scenario, overrides)
    world = build_world(sc)
    return out, sc, world, digital_twins(sc, world, seed)


def condition_env(sc: ServiceScenario, world: World, dts: TwinSystem, condition: str) -> ServiceManagementEnv:
    """A twin's emulation when the condition has a twin, else the condition itself (a test condition)."""
    twin = dts.twins.get(condition)
    return ServiceManagementEnv(sc, condition=condition, states=twin.replayed if twin else None, world=world)


def latency_on(sc: ServiceScenario, world: World, condition: str, policy: Callable[[DecisionPoint], Any],
               seed: int, slots: int) -> float:
    """Mean request latency (s) of `policy` on a condition (the scenario's distributions, run seed)."""
    class _Ctrl:
        def act(self, point: DecisionPoint) -> Any:
            return policy(point)
    result = ServiceSimulation(sc, _Ctrl(), seed=seed, trace=False, condition=condition, slots=slots, world=world).run()
    return float(result.latencies_s().mean())


def eval_seed(seed: int, k: int) -> int:
    """Evaluation run seeds, apart from training's (which draw from numpy generators seeded by `seed`)."""
    return 1_000_003 * (seed + 1) + k


# -- the baselines -----------------------------------------------------------------------------------------

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


def _policy(agent: FactoredSAC) -> Callable[[DecisionPoint], Any]:
    return lambda point: agent.act(point.observation, greedy=True)


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
    metrics = [f"{b}_{m}" for b in baselines for m in ("sample_latency_ms", "critic_loss", "alpha", "val_latency_ms",
                                                       "stopped")]
    metrics += [f"{b}_{t}_ms" for b in baselines for t in tests if b in ("sac_dts", "sac_tm") or b.endswith(t)]
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
            row[f"{b.name}_sample_latency_ms"] = -1e3 * float(np.mean(rewards))
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


def hash_seed(*parts: int) -> int:
    """A seed for a worker from (training seed, agent, condition, ...): independent streams."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def _evaluate_baseline(b: Baseline, sc: ServiceScenario, world: World, tests: list[str], cfg: SACConfig, seed: int,
                       row: dict[str, Any]) -> None:
    """Validation latency for early stopping (best weights kept) and the test curves of Fig. 3."""
    if b.stopped:
        return
    val = float(np.mean([latency_on(sc, world, c, _policy(b.agent), eval_seed(seed, k), cfg.eval_slots)
                         for k, c in enumerate(b.validation)]))
    row[f"{b.name}_val_latency_ms"] = val * 1e3
    if val < b.best_latency:
        b.best_latency, b.bad_evals = val, 0
        b.best = copy.deepcopy(b.agent.actor.state_dict())
    else:
        b.bad_evals += 1
        b.stopped = b.bad_evals >= cfg.patience
    for k, t in enumerate(tests):
        key = f"{b.name}_{t}_ms"
        if b.name in ("sac_dts", "sac_tm") or b.name.endswith(t):
            row[key] = 1e3 * latency_on(sc, world, t, _policy(b.agent), eval_seed(seed, 100 + k), cfg.eval_slots)


def load_actor(payload: dict[str, Any], name: str, latent: int = 0) -> FactoredActor:
    """The best actor of a baseline (or PEARL-DT's actor) from a checkpoint payload."""
    cfg = SACConfig(**payload["config"])
    shape, nvec = payload["obs_shape"], payload["nvec"]
    actor = FactoredActor(shape[0] * shape[1], shape[0], nvec, cfg.hidden, cfg.layers, latent)
    actor.load_state_dict(payload["agents"][name]["best"] if name in payload.get("agents", {}) else payload[name])
    actor.eval()
    return actor


def heuristic_rows(sc: ServiceScenario, world: World, heuristics: Sequence[str], tests: Sequence[str],
                   seeds: Sequence[int], slots: int) -> list[dict[str, Any]]:
    """The engine's heuristics on the same test inputs (same run seeds) as the learned controllers."""
    rows = []
    for h in heuristics:
        for t in tests:
            for s in seeds:
                ctrl = make_controller(h, {}, np.random.default_rng(s))
                lat = latency_on(sc, world, t, ctrl.act, eval_seed(s, 0), slots)
                rows.append({"controller": h, "test_set": t, "adapt_steps": 0, "seed": s, "latency_ms": lat * 1e3})
    return rows


def evaluate(scenario: str | Path, checkpoint: str | Path, *, adapt_steps: Sequence[int], seeds: Sequence[int],
             heuristics: Sequence[str] | None = None, overrides: Sequence[str] = (),
             progress: bool = True) -> list[dict[str, Any]]:
    """Every baseline's best weights on every test condition (no adaptation: one row at 0 steps)."""
    payload = load_checkpoint(checkpoint, "sac_baselines")
    set_threads()
    sc = load_scenario(scenario, overrides)
    world = build_world(sc)
    cfg = SACConfig(**payload["config"])
    tests = [c.name for c in world.test]
    rows = heuristic_rows(sc, world, HEURISTICS if heuristics is None else heuristics, tests, seeds, cfg.eval_slots)
    for t in tests:
        for name in (f"sac_aisf/{t}", "sac_dts", "sac_tm"):
            actor = load_actor(payload, name)
            for s in seeds:
                lat = latency_on(sc, world, t, lambda p, a=actor: a.act(p.observation, greedy=True), eval_seed(s, 0),
                                 cfg.eval_slots)
                rows.append({"controller": name.split("/")[0], "test_set": t, "adapt_steps": 0, "seed": s,
                             "latency_ms": lat * 1e3})
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
