"""Discrete soft actor-critic for factored actions (PEARL-DT §IV-D eqs. 21-28): the algorithm.

Read top to bottom: the config, the networks, the losses (:class:`FactoredSAC`), the replay buffer and
one update epoch (:func:`sac_epoch`). The service-management harness that feeds it (digital twins, rollout
workers, evaluation runs) is :mod:`controllers.service_training`; its users are the SAC baselines of §V
(:mod:`controllers.sac_baselines`) and PEARL-DT (:mod:`controllers.pearl_dt`).

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
  reward, literally eq. (21). per_ed learns a better policy (RESULTS.md, PEARL-DT, credit of the
  critics), because one scalar per slot leaves the split of the credit among the EDs to be learned.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SACConfig", "BUDGETS", "mlp", "FactoredActor", "FactoredCritic", "joint_probs", "entropy", "joint_index",
           "FactoredSAC", "ReplayBuffer", "merge", "Optimizers", "sac_epoch"]


@dataclass(frozen=True)
class SACConfig:
    """Hyperparameters of the factored discrete SAC (and of PEARL-DT's SAC part)."""

    hidden: int = 700
    """width of every hidden layer (PEARL-DT Table I, hidden size)"""
    layers: int = 5
    """hidden layers of every network (Table I)"""
    lr: float = 3e-5
    """AdamW learning rate of every network (Table I)"""
    batch: int = 256
    """transitions per condition in a batch (Table I)"""
    gamma: float = 0.5
    """discount (the paper is silent; see the module docstring)"""
    tau: float = 0.005
    """soft target update rate of Algorithm 1 line 19 (the paper is silent; SAC's usual value)"""
    updates: int = 40
    """T_train: update epochs per outer step (Algorithm 1 line 7; Table I)"""
    alpha_every: int = 10
    """λ1: temperature update period in epochs (Algorithm 1 line 14; Table I)"""
    policy_every: int = 40
    """λ2: actor update period in epochs (Algorithm 1 line 16; Table I)"""
    entropy_ratio: float = 0.4
    """target entropy H̄ as a fraction of the maximum (eq. 28; the reference notes advise 0.3-0.6)"""
    init_alpha: float = 1.0
    """initial temperature ξ (the paper is silent; entropy per ED and Q_u are both of order one)"""
    buffer: int = 20_000
    """replay capacity per condition, B_k of Algorithm 1 line 5 (the paper is silent)"""
    conditions_per_batch: int = 2
    """|K'|: conditions sampled for each update epoch (Algorithm 1 line 6; §V)"""
    warmup: int = 256
    """uniformly random transitions per condition before learning (the paper is silent)"""
    outer_steps: int = 10
    """Algorithm 1 outer steps (t') per logged iteration"""
    iterations: int = 300
    """logged iterations (one checkpoint and one progress.csv row each)"""
    eval_every: int = 5
    """iterations between evaluations (the validation and test curves of Fig. 3)"""
    eval_slots: int = 20
    """slots per evaluation run"""
    patience: int = 20
    """evaluations without improvement before a baseline stops (§V's early stopping; the paper gives no count)"""
    credit: str = "per_ed"
    """per_ed: each Q_u learns its ED's latency; joint: Σ_u Q_u learns r (eq. 21; see the module docstring)"""
    reward_unit_s: float = 0.1
    """latency unit of the critics' rewards in seconds (see the module docstring)"""


BUDGETS: dict[str, SACConfig] = {
    # paper: Table I's networks; on CPUs far beyond a few hours (RESULTS.md, PEARL-DT, budget).
    # Checkpoints hold the replay buffers for exact resume.
    "paper": SACConfig(),
    # smoke: small networks and a faster learning rate, so a few minutes on 2 CPU cores show the
    # whole pipeline (collection, updates, evaluation, early stopping, checkpoints) and some learning
    "smoke": SACConfig(hidden=128, layers=2, lr=3e-4, batch=64, updates=8, alpha_every=2, policy_every=2,
                       buffer=4000, warmup=16, outer_steps=4, iterations=20, eval_every=4, eval_slots=5,
                       patience=3),
}


# -- networks ----------------------------------------------------------------------------------------

def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLUs between them (none after the last)."""
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


# -- losses ------------------------------------------------------------------------------------------

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


# -- replay buffer -----------------------------------------------------------------------------------

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
    """One batch from the batches of several conditions (they share γ)."""
    return {k: (batches[0][k] if k == "gamma" else torch.cat([b[k] for b in batches])) for k in batches[0]}


# -- the update step ----------------------------------------------------------------------------------

@dataclass
class Optimizers:
    """AdamW per part (Table I); PEARL-DT's encoder has its own, stepped with the critics' (:func:`sac_epoch`)."""

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


def __getattr__(name: str) -> Any:
    """The §V acting controllers live in :mod:`controllers.sac_baselines`; a scenario that names one by
    its earlier path (``controllers.sac_discrete:SacDTs``) still gets it."""
    if name in ("SacAisf", "SacDTs", "SacTM"):
        from controllers import sac_baselines
        return getattr(sac_baselines, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
