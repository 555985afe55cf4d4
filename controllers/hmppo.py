"""HMPPO (Yu, Chua, Zhao §V-B), its IPPO baseline and Random, for the edge fine-tuning system.

HMPPO is MAPPO with a hybrid action (CTDE): a discrete actor (agent 1: z for every UE, one Bernoulli per
UE), a continuous actor conditioned on z (agent 2: E for every UE, a Gaussian in [−1, 1] units applied
clipped, the unclipped sample's log-prob kept), and one centralised critic V(s) on the env's state()
[s_1, t/T] (mecsim.envs.edge_tuning.STATE_DOC says why z is left out of eq. (22)'s [s_1; s_2] and why
t/T is added). Both actors are
trained with their own clipped surrogate (eq. 21) on the same GAE advantage (eqs. 17-18) and the critic
on λ-returns (eq. 22) with running value normalisation (MAPPO's ValueNorm). Every network standardises
each input feature with running statistics (MAPPO's feature normalisation; the paper is silent): a
LayerNorm over each sample's features instead, the recipe before, is what kept this learner below a
standard MAPPO (RESULTS.md, HMPPO ablation). IPPO (§VI-B) is the same
but each agent has its own critic on its own observation (and t/T), hence its own advantage. The option
``critic="turns"`` reads eq. (22)'s V([s_1; s_2]) at each agent's turn instead (z only at agent 2's), with
GAE over the turns (:func:`turn_advantages`); it scored no better (RESULTS.md). Random (§VI-B)
draws z ~ Bernoulli(½), E ~ U[E_min, E_max]; it is `random_tuning` (controllers/heuristics.py, no torch).

The PPO pieces come from :mod:`controllers.ppo`: a batch holds each episode twice, once per agent (field
``agent``), so :func:`ppo_loss`'s masked mean over rows is the mean of the two agents' clipped
surrogates, each with its own ratio, while the value loss is that of the shared critic (HMPPO) or of
each agent's critic (IPPO). Read top to bottom: config and budgets, networks (running normalisation of
inputs and values, the MLP, the agents), sampling, the PPO batch, train, acting controllers, evaluate.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import yaml
from torch import Tensor, nn

from mecsim.controllers.threads import set_threads
from mecsim.controllers.ppo import PPOConfig, Rollout, gae, ppo_update, standardised
from mecsim.checkpoint import TrainingRun, load_checkpoint
from mecsim.decision import DecisionPoint
from mecsim.envs.edge_tuning import EdgeTuningParallelEnv, case_observation, emulator_observation, retention
from mecsim.errors import MecsimError
from mecsim.scenario.load import load_scenario
from mecsim.systems.edge_tuning import EdgeTuningSpec, TuningSimulation
from mecsim.systems.edge_tuning.observation import case_dim, emulator_dim
from mecsim.trainer import Trainer, budget_names

__all__ = ["HMPPOConfig", "BUDGETS", "BASELINES", "mlp", "RunningNorm", "Agents", "Episodes", "run_episodes",
           "to_rollout", "turn_advantages", "evaluate_actions", "configured", "entropy_weight", "train", "build", "LearnedTuner", "HMPPO",
           "evaluate"]


@dataclass(frozen=True)
class HMPPOConfig:
    """One training run. The paper gives the budget (§VI-A); the rest is MAPPO's defaults (Yu et al. 2022)."""

    iterations: int = 600
    """PPO iterations: 600 × 10 episodes × 50 steps = 3·10⁵ training steps (§VI-A)"""
    envs: int = 10
    """episodes sampled per iteration (one per simulator, in lockstep): 500 steps, §VI-A's eval interval"""
    critic: str = "central"
    """"central": one critic V(s) on [s_1, t/T] (HMPPO, eq. 22 without z); "turns": one critic on eq. 22's
    [s_1; s_2] as it is at each agent's turn, z zeroed at agent 1's (see :func:`critic_inputs`); "local":
    one per agent on its own observation (IPPO)"""
    hidden: int = 64
    """units of the two hidden layers of every network (MAPPO default)"""
    input_norm: str = "running"
    """"running": each input feature standardised with running statistics of the sampled inputs (updated
    after each iteration's update), clipped to ±5, as MAPPO does; "layer": a LayerNorm over each sample's
    features, the recipe before issue 19, which learns far worse (RESULTS.md, HMPPO ablation)"""
    log_std_init: float = -0.5
    """initial log σ of agent 2's Gaussian in [−1, 1] units (σ ≈ 0.6: most samples inside the range)"""
    advantage_norm: str = "joint"
    """"joint": advantages standardised over both agents' rows together; "per_agent": each agent's rows on
    their own, as a learner with one buffer per agent does. The same for one critic (both rows hold one
    advantage); for IPPO it keeps one critic's scale from setting the other agent's step size"""
    ent_schedule: str = "constant"
    """"constant": the entropy weight is ``ppo.ent_coef`` throughout; "linear": it falls linearly from
    ``ppo.ent_coef`` at the first iteration to 0 at the last (explore early, settle late)"""
    emulator_entropy: float = 0.0
    """weight of agent 2's entropy in the bonus relative to agent 1's: 0 = on the discrete head only, as the
    public H-PPO codes do (../shared/notes/mappo_hybrid_ppo_pettingzoo.md §2.2), so σ can shrink"""
    eval_every: int = 1
    """iterations between greedy evaluations logged as eval_* (§VI-A: every 500 steps)"""
    eval_episodes: int = 2
    """greedy episodes per evaluation, on fixed seeds"""
    ppo: PPOConfig = field(default_factory=lambda: PPOConfig(
        gamma=0.99, lam=0.95, clip=0.2, vf_coef=1.0, ent_coef=0.01, lr=5e-4, epochs=10, minibatches=1,
        max_grad_norm=10.0, normalize_advantages=True, clip_value=False, value_target="lambda"))
    """MAPPO: γ 0.99, λ 0.95, ε 0.2, value coefficient 1, entropy 0.01, Adam 5e-4, 10 epochs (MPE), one
    minibatch, gradient norm 10; λ-return value targets as eq. (22). A batch row is one agent's episode,
    so the loss is ½(L_1 + L_2) − 0.01·½(H_1 + w·H_2) + V: each agent's surrogate-to-entropy ratio is MAPPO's"""


BUDGETS = {
    "paper": HMPPOConfig(),
    # smoke: 40 iterations × 10 episodes = 2·10⁴ steps, a check that training runs: learning has barely
    # started (RESULTS.md, "Table I at smoke budget"); tools/reproduce_hmppo.py runs the paper budget
    "smoke": HMPPOConfig(iterations=40, eval_every=5),
}
BASELINES = ("random_tuning", "local_keep_emulator")   # the baselines `mecsim eval` scores next to a tuner
CRITICS = ("central", "turns", "local")
INPUT_NORMS = ("layer", "running")
ADVANTAGE_NORMS = ("joint", "per_agent")
ENT_SCHEDULES = ("constant", "linear")
METRICS = ["reward", "total_delay_min", "perplexity", "switches", "server_share", "policy_loss", "value_loss",
           "entropy", "approx_kl", "eval_reward", "eval_total_delay_min", "eval_perplexity", "eval_switches"]


# -- networks ---------------------------------------------------------------------------------------------

class RunningNorm(nn.Module):
    """Running mean and variance of a quantity of shape ``shape`` (exact pooled moments over every update).

    The value norm (MAPPO's ValueNorm: the critic learns standardised targets) and, with
    ``input_norm="running"``, the first layer of every network (then ``forward`` standardises and clips)."""

    def __init__(self, shape: tuple[int, ...] = (), clip: float = 5.0) -> None:
        super().__init__()
        self.shape, self.clip = shape, clip
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    def update(self, x: Tensor) -> None:
        x = x.detach().double().reshape(-1, *self.shape)
        n, mean, var = float(x.shape[0]), x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = mean - self.mean
        self.var.copy_((self.var * self.count + var * n + delta ** 2 * self.count * n / total) / total)
        self.mean.copy_(self.mean + delta * n / total)
        self.count.copy_(total)

    def _std(self) -> Tensor:
        return self.var.clamp(min=1e-4).sqrt()

    def normalize(self, x: Tensor) -> Tensor:
        return ((x.double() - self.mean) / self._std()).to(x.dtype)

    def denormalize(self, x: Tensor) -> Tensor:
        return (x.double() * self._std() + self.mean).to(x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        return self.normalize(x).clamp(-self.clip, self.clip)


def mlp(inputs: int, outputs: int, hidden: int, gain: float, input_norm: str) -> nn.Sequential:
    """Input normalisation (``input_norm``), two ReLU layers, orthogonal init (gain `gain` on the output),
    zero biases."""
    norm = nn.LayerNorm(inputs) if input_norm == "layer" else RunningNorm((inputs,))
    net = nn.Sequential(norm, nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                        nn.Linear(hidden, outputs))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for k, layer in enumerate(linears):
        nn.init.orthogonal_(layer.weight, gain if k == len(linears) - 1 else math.sqrt(2))
        nn.init.zeros_(layer.bias)
    return net


class Agents(nn.Module):
    """Agent 1's Bernoulli actor, agent 2's Gaussian actor, and the critic(s) with their value norms."""

    def __init__(self, ues: int, hidden: int, critic: str, log_std_init: float, input_norm: str) -> None:
        super().__init__()
        for name, value, allowed in (("critic", critic, CRITICS), ("input_norm", input_norm, INPUT_NORMS)):
            if value not in allowed:
                raise ValueError(f"{name}: must be one of {allowed}, got {value!r}")
        self.ues, self.critic = ues, critic
        self.case = mlp(case_dim(ues), ues, hidden, 0.01, input_norm)
        self.emulator = mlp(emulator_dim(ues), ues, hidden, 0.01, input_norm)
        self.log_std = nn.Parameter(torch.full((ues,), log_std_init))
        # the inputs of critic_inputs: central V([s_1, t/T]); turns V([s_1, z or 0, turn, t/T]);
        # local V_1([s_1, t/T]) and V_2([s_2, t/T])
        dims = {"central": [case_dim(ues) + 1], "turns": [case_dim(ues) + ues + 2],
                "local": [case_dim(ues) + 1, emulator_dim(ues) + 1]}[critic]
        self.critics = nn.ModuleList([mlp(d, 1, hidden, 1.0, input_norm) for d in dims])
        self.norms = nn.ModuleList([RunningNorm() for _ in self.critics])

    def case_log_prob(self, s1: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """Σ_n log π_1(z_n | s_1) and the summed Bernoulli entropy."""
        logits = self.case(s1)
        log_p, log_q = nn.functional.logsigmoid(logits), nn.functional.logsigmoid(-logits)
        entropy = -(torch.sigmoid(logits) * log_p + torch.sigmoid(-logits) * log_q)
        return (z * log_p + (1 - z) * log_q).sum(-1), entropy.sum(-1)

    def emulator_log_prob(self, s2: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """Σ_n log N(u_n; μ_n(s_2), σ_n) and the summed Gaussian entropy."""
        dist = torch.distributions.Normal(self.emulator(s2), self.log_std.exp())
        return dist.log_prob(u).sum(-1), dist.entropy().sum(-1).expand(u.shape[:-1])

    def critic_inputs(self, state: Tensor, s2: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """What the critic sees at agent 1's turn and at agent 2's; ``state`` is the env's [s_1, t/T].

        "turns" evaluates eq. (22)'s V([s_1; s_2]) at both turns of a step: at agent 1's, z is not yet
        chosen (zeros, turn flag 0, as the env's s_2 on that turn); at agent 2's it holds z (flag 1). So
        agent 1's baseline does not see its own action and agent 2's does (s_2's cached emulators and
        complexities are already in s_1)."""
        progress = state[..., -1:]
        if self.critic == "central":
            return state, state
        if self.critic == "local":
            return state, torch.cat([s2, progress], -1)
        s1 = state[..., :-1]
        return (torch.cat([s1, torch.zeros_like(z), torch.zeros_like(progress), progress], -1),
                torch.cat([s1, z, torch.ones_like(progress), progress], -1))

    def values(self, first: Tensor, second: Tensor) -> tuple[Tensor, Tensor]:
        """The critic's outputs (normalised units) on agent 1's and agent 2's inputs (critic_inputs); the
        central critic's two inputs are the same, so it runs once."""
        v1 = self.critics[0](first).squeeze(-1)
        return (v1, v1) if self.critic == "central" else (v1, self.critics[-1](second).squeeze(-1))

    def observe(self, ep: Episodes) -> None:
        """Update every running input norm (``input_norm="running"``) with the inputs of the sampled episodes."""
        state, s2 = torch.stack(ep.state, 1), torch.stack(ep.s2, 1)
        first, second = self.critic_inputs(state, s2, torch.stack(ep.z, 1))
        inputs = [(self.case, torch.stack(ep.s1, 1)), (self.emulator, s2)]
        if self.critic == "local":
            inputs += [(self.critics[0], first), (self.critics[1], second)]
        else:                               # one critic: "turns" sees both turns' inputs, "central" one copy
            inputs.append((self.critics[0], torch.cat([first, second]) if self.critic == "turns" else first))
        for net, x in inputs:
            if isinstance(net[0], RunningNorm):
                net[0].update(x)

    def act_case(self, s1: Tensor, greedy: bool, generator: torch.Generator | None) -> Tensor:
        logits = self.case(s1)
        return (logits > 0).float() if greedy else torch.bernoulli(torch.sigmoid(logits), generator=generator)

    def act_emulator(self, s2: Tensor, greedy: bool, generator: torch.Generator | None) -> Tensor:
        mu = self.emulator(s2)
        if greedy:
            return mu
        return mu + self.log_std.exp() * torch.randn(mu.shape, generator=generator)


# -- sampling ---------------------------------------------------------------------------------------------

@dataclass
class Episodes:
    """K episodes run in lockstep: per step (K, …) arrays, plus their Table I metrics."""

    state: list[Tensor] = field(default_factory=list)
    s1: list[Tensor] = field(default_factory=list)
    s2: list[Tensor] = field(default_factory=list)
    z: list[Tensor] = field(default_factory=list)
    u: list[Tensor] = field(default_factory=list)
    rewards: list[np.ndarray] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def run_episodes(model: Agents, envs: Sequence[EdgeTuningParallelEnv], seeds: Sequence[int], greedy: bool,
                 generator: torch.Generator | None = None) -> Episodes:
    """One episode per env (seeded), both agents acting in turn: z ~ π_1(s_1), then E ~ π_2(s_2 with z)."""
    out = Episodes()
    obs = [env.reset(seed=int(s))[0] for env, s in zip(envs, seeds)]
    delay = perplexity = switches = server = 0.0
    rewards = np.zeros(len(envs))
    with torch.no_grad():
        while envs[0].agents:
            s1 = torch.from_numpy(np.stack([o["case"][:-1] for o in obs]))
            state = torch.from_numpy(np.stack([env.state() for env in envs]))
            z = model.act_case(s1, greedy, generator)
            obs = [env.step({"case": zk.numpy().astype(np.int8), "emulator": np.zeros(model.ues, np.float32)})[0]
                   for env, zk in zip(envs, z)]
            s2 = torch.from_numpy(np.stack([o["emulator"][:-1] for o in obs]))
            u = model.act_emulator(s2, greedy, generator)
            step = [env.step({"case": zk.numpy().astype(np.int8), "emulator": np.clip(uk.numpy(), -1, 1)})
                    for env, zk, uk in zip(envs, z, u)]
            obs = [s[0] for s in step]
            r = np.array([s[1]["case"] for s in step])
            infos = [s[4]["case"] for s in step]
            for store, value in ((out.state, state), (out.s1, s1), (out.s2, s2), (out.z, z), (out.u, u),
                                 (out.rewards, r)):
                store.append(value)
            rewards += r
            delay += sum(i["delay_s"] for i in infos)
            perplexity += sum(i["perplexity"] for i in infos)
            switches += sum(i["switches"] for i in infos)
            server += float(z.mean()) * len(envs)
    k, steps = len(envs), len(out.rewards)
    out.metrics = {"reward": float(rewards.mean()), "total_delay_min": delay / k / 60.0,
                   "perplexity": perplexity / (k * steps), "switches": switches / k,
                   "server_share": server / (k * steps)}
    return out


def to_rollout(model: Agents, ep: Episodes, cfg: PPOConfig, advantage_norm: str = "joint") -> Rollout:
    """The episodes as a PPO batch with each episode twice (agent 1's rows, then agent 2's), advantages
    from raw values (standardised as ``advantage_norm`` says, when ``cfg`` standardises), and value
    targets and old values in each critic's normalised units."""
    state, s1, s2 = torch.stack(ep.state, 1), torch.stack(ep.s1, 1), torch.stack(ep.s2, 1)   # (K, T, d)
    z, u = torch.stack(ep.z, 1), torch.stack(ep.u, 1)                        # (K, T, N)
    k, t = s1.shape[:2]
    rewards = torch.from_numpy(np.stack(ep.rewards, 1)).float()
    first, second = model.critic_inputs(state, s2, z)
    with torch.no_grad():
        lp1, _ = model.case_log_prob(s1, z)
        lp2, _ = model.emulator_log_prob(s2, u)
        out1, out2 = model.values(first, second)
    raw1, raw2 = model.norms[0].denormalize(out1), model.norms[-1].denormalize(out2)
    rollout = Rollout(
        fields={"s1": torch.cat([s1, s1]), "s2": torch.cat([s2, s2]), "critic_first": torch.cat([first, first]),
                "critic_second": torch.cat([second, second]),
                "agent": torch.cat([torch.zeros(k, dtype=torch.long), torch.ones(k, dtype=torch.long)])},
        actions=torch.cat([z, u]), mask=torch.ones(2 * k, t, dtype=torch.bool),
        old_log_prob=torch.cat([lp1, lp2]), old_value=torch.cat([raw1, raw2]),   # central: V twice
        rewards=torch.cat([rewards, rewards]),
    )
    per_agent = advantage_norm == "per_agent" and cfg.normalize_advantages
    raw_cfg = dataclasses.replace(cfg, normalize_advantages=False) if per_agent else cfg
    if model.critic == "turns":
        rollout = dataclasses.replace(rollout, **turn_advantages(rewards, raw1, raw2, raw_cfg))
    else:
        rollout = rollout.with_advantages(raw_cfg)
    if per_agent:
        every = torch.ones(k, t, dtype=torch.bool)
        rollout = dataclasses.replace(rollout, advantages=torch.cat(
            [standardised(rollout.advantages[:k], every), standardised(rollout.advantages[k:], every)]))
    # (rows the norm learns from, rows it normalises): central's targets are the same twice
    groups = {"central": [(slice(0, k), slice(0, 2 * k))], "turns": [(slice(0, 2 * k), slice(0, 2 * k))],
              "local": [(slice(0, k), slice(0, k)), (slice(k, 2 * k), slice(k, 2 * k))]}[model.critic]
    returns = rollout.returns.clone()
    for norm, (source, rows) in zip(model.norms, groups):
        norm.update(rollout.returns[source])
        returns[rows] = norm.normalize(rollout.returns[rows])
    # MAPPO: targets in the updated normalisation, old values as the critic gave them when sampling
    return dataclasses.replace(rollout, returns=returns, old_value=torch.cat([out1, out2]))


def turn_advantages(rewards: Tensor, first: Tensor, second: Tensor, cfg: PPOConfig) -> dict[str, Tensor]:
    """GAE (eqs. 17-18) over the 2T turns of each episode: agent 1's turn (reward 0, value ``first``), then
    agent 2's (R_t, value ``second``). Per turn γ and λ are √γ and √λ, so a whole step is discounted by γ
    and λ as in the paper. Returns the (2K, T) advantages and λ-return targets, agent 1's rows first."""
    if cfg.value_target != "lambda":
        raise ValueError(f"the turns critic learns λ-returns, got value_target {cfg.value_target!r}")
    k, t = rewards.shape
    turns = torch.stack([torch.zeros_like(rewards), rewards], -1).reshape(k, 2 * t)
    values = torch.stack([first, second], -1).reshape(k, 2 * t).to(rewards.dtype)
    adv, ret = gae(turns, values, torch.ones(k, 2 * t, dtype=torch.bool), math.sqrt(cfg.gamma), math.sqrt(cfg.lam))
    adv, ret = adv.reshape(k, t, 2), ret.reshape(k, t, 2)
    advantages = torch.cat([adv[..., 0], adv[..., 1]])
    if cfg.normalize_advantages:
        advantages = standardised(advantages, torch.ones_like(advantages, dtype=torch.bool))
    return {"advantages": advantages, "returns": torch.cat([ret[..., 0], ret[..., 1]])}


def evaluate_actions(model: Agents, emulator_entropy: float = 1.0):
    """ppo_update's callable: each row's agent log-prob and entropy (agent 2's × ``emulator_entropy``), and
    its critic's value."""
    def evaluate(r: Rollout) -> tuple[Tensor, Tensor, Tensor]:
        s1, s2, first = r.fields["s1"], r.fields["s2"], (r.fields["agent"] == 0)[:, None]
        lp1, h1 = model.case_log_prob(s1, r.actions)
        lp2, h2 = model.emulator_log_prob(s2, r.actions)
        v1, v2 = model.values(r.fields["critic_first"], r.fields["critic_second"])
        return torch.where(first, lp1, lp2), torch.where(first, h1, emulator_entropy * h2), torch.where(first, v1, v2)
    return evaluate


# -- training -----------------------------------------------------------------------------------------------

def configured(cfg: HMPPOConfig, settings: Sequence[str]) -> HMPPOConfig:
    """``cfg`` with fields set from ``KEY=VALUE`` strings (YAML values; ``ppo.KEY`` for the PPO part), e.g.
    ``input_norm=running`` or ``ppo.ent_coef=0.02``: what ``tools/reproduce_hmppo.py --config`` passes."""
    for item in settings:
        key, sep, text = item.partition("=")
        *parent, leaf = key.split(".")
        target = cfg.ppo if parent == ["ppo"] else cfg if not parent else None
        names = {f.name: f for f in dataclasses.fields(target)} if target is not None else {}
        if not sep or leaf not in names or leaf == "ppo":
            raise MecsimError(f"config: must be KEY=VALUE with KEY a field of HMPPOConfig or ppo.FIELD, got {item!r}")
        value = yaml.safe_load(text)
        old = getattr(target, leaf)
        if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not (old is None or type(value) is type(old) or value is None and "None" in str(names[leaf].type)):
            raise MecsimError(f"config: {key} must be a {type(old).__name__}, got {text!r}")
        target = dataclasses.replace(target, **{leaf: value})
        cfg = dataclasses.replace(cfg, ppo=target) if parent else target
    return cfg


def entropy_weight(cfg: HMPPOConfig, iteration: int) -> float:
    """The entropy bonus weight at ``iteration`` (1-based) under ``cfg.ent_schedule``."""
    if cfg.ent_schedule == "linear":
        return cfg.ppo.ent_coef * (cfg.iterations - iteration) / max(cfg.iterations - 1, 1)
    return cfg.ppo.ent_coef


EVAL_SEEDS = 1_000_003    # greedy evaluations run on seeds EVAL_SEEDS + k, the same every time


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, overrides: Sequence[str] = (), iterations: int | None = None,
          config: HMPPOConfig | None = None, name: str = "hmppo", settings: Sequence[str] = ()) -> Path:
    """Train on the scenario (episodes on fresh seeds); checkpoint and a progress.csv row every iteration.

    ``resume`` continues from ``out``'s checkpoint: the iteration count, the weights, the optimizer and
    the random streams go on, so a crash loses at most one iteration. ``iterations`` replaces the
    budget's count (resuming with a larger one trains on); ``settings`` are config fields as
    ``KEY=VALUE`` (:func:`configured`)."""
    cfg = configured(config or BUDGETS[budget], settings)
    if iterations is not None:
        cfg = dataclasses.replace(cfg, iterations=iterations)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    set_threads()
    spec = load_scenario(scenario, overrides)
    if not isinstance(spec, EdgeTuningSpec):
        raise MecsimError(f"{scenario}: {name} trains on edge_tuning scenarios, got system {spec.system!r}")
    if spec.horizon_s is not None:
        raise MecsimError(f"{scenario}: horizon_s must be null to train (every episode is T steps), "
                          f"got {spec.horizon_s:g}")
    envs = [EdgeTuningParallelEnv(spec) for _ in range(cfg.envs)]
    evals = [EdgeTuningParallelEnv(spec) for _ in range(cfg.eval_episodes)]
    torch.manual_seed(seed)
    network = {"ues": spec.ues, "hidden": cfg.hidden, "critic": cfg.critic, "log_std_init": cfg.log_std_init,
               "input_norm": cfg.input_norm}
    for key, value, allowed in (("advantage_norm", cfg.advantage_norm, ADVANTAGE_NORMS),
                                ("ent_schedule", cfg.ent_schedule, ENT_SCHEDULES)):
        if value not in allowed:
            raise MecsimError(f"config: {key} must be one of {', '.join(allowed)}, got {value!r}")
    model = Agents(**network)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.ppo.lr, eps=1e-5)
    rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    run = TrainingRun(out, name, METRICS, cfg.iterations, rng=rng, generator=gen, resume=resume, progress=progress)
    if run.checkpoint is not None:
        model.load_state_dict(run.checkpoint["model"])
        optimizer.load_state_dict(run.checkpoint["optimizer"])
    for it in run.remaining():
        episodes = run_episodes(model, envs, rng.integers(2 ** 31 - 1, size=cfg.envs), False, gen)
        ppo_cfg = dataclasses.replace(cfg.ppo, ent_coef=entropy_weight(cfg, it))
        batch = to_rollout(model, episodes, ppo_cfg, cfg.advantage_norm)
        stats = ppo_update(evaluate_actions(model, cfg.emulator_entropy), model.parameters(), optimizer, batch, ppo_cfg,
                           generator=gen)
        model.observe(episodes)            # the next iteration samples with the input norms updated
        run.env_steps += cfg.envs * len(episodes.rewards)
        metrics = {**episodes.metrics, **{k: stats[k] for k in ("policy_loss", "value_loss", "entropy", "approx_kl")}}
        if it % cfg.eval_every == 0 or it == cfg.iterations:
            greedy = run_episodes(model, evals, [EVAL_SEEDS + k for k in range(cfg.eval_episodes)], True)
            metrics.update({f"eval_{k}": v for k, v in greedy.metrics.items() if k != "server_share"})
        run.end_iteration(it, {"network": network, "model": model.state_dict(), "config": asdict(cfg),
                               "optimizer": optimizer.state_dict()}, metrics,
                          show={"reward": f"{metrics['reward']:.2f}"})
    run.close()
    return out


def build(payload: dict[str, Any]) -> Agents:
    """The trained agents of a checkpoint, in eval mode (checkpoints from before ``input_norm`` used LayerNorm)."""
    model = Agents(**{"input_norm": "layer", **payload["network"]})
    model.load_state_dict(payload["model"])
    return model.eval()


# -- acting -------------------------------------------------------------------------------------------------

class LearnedTuner:
    """Acts with trained agents: at each step's first decision, z for every UE from s_1, then E from s_2
    with those z (CTDE execution: no critic); each UE's decision point then gets its (z, E).

    ``checkpoint`` is a folder written by ``mecsim train``; ``greedy`` takes the most likely z and the
    mean E (else samples, from ``rng``)."""

    controller_name = ""

    def __init__(self, checkpoint: str, greedy: bool = True, rng: np.random.Generator | None = None) -> None:
        self.model = build(load_checkpoint(checkpoint, self.controller_name or None))
        self.greedy = greedy
        seed = int((rng or np.random.default_rng(0)).integers(2 ** 31 - 1))
        self.generator = torch.Generator().manual_seed(seed)
        self._actions: list[tuple[int, float]] = []

    def act(self, point: DecisionPoint) -> tuple[int, float]:
        ctx = point.context
        if ctx.ues != self.model.ues:
            raise MecsimError(f"the checkpoint was trained for {self.model.ues} UEs, the scenario has {ctx.ues}")
        if ctx.ue == 0:
            obs = point.observation
            with torch.no_grad():
                z = self.model.act_case(torch.from_numpy(case_observation(obs))[None], self.greedy, self.generator)[0]
                s2 = torch.from_numpy(emulator_observation(obs, z.numpy()))[None]
                u = self.model.act_emulator(s2, self.greedy, self.generator)[0].numpy()
            e = retention(u, ctx.e_min, ctx.e_max)
            self._actions = [(int(zn), float(en)) for zn, en in zip(z.tolist(), e)]
        return self._actions[ctx.ue]


class HMPPO(LearnedTuner):
    """The acting HMPPO controller: ``mecsim run ... --controller hmppo --set controller_params.checkpoint=DIR``."""

    controller_name = "hmppo"


# -- evaluation ---------------------------------------------------------------------------------------------

def evaluate(scenario: str | Path, checkpoint: str | Path, *, adapt_steps: Sequence[int], seeds: Sequence[int],
             heuristics: Sequence[str] | None = None, overrides: Sequence[str] = (),
             progress: bool = True) -> list[dict[str, Any]]:
    """One greedy episode per seed of the trained tuner, and of each baseline on the same seeds, in the engine.

    The tuners do not adapt at test time, so only ``adapt_steps`` 0 is reported. Rows: controller,
    test_set (N UEs), adapt_steps, seed, latency_s (the episode's total delay Σ_t max_n d, eq. 11),
    reward, total_delay_min, perplexity, switches, server_share."""
    from mecsim.registry import make_controller
    from mecsim.rng import RandomStreams
    payload = load_checkpoint(checkpoint)
    name = payload["controller"]
    spec = load_scenario(scenario, overrides)
    if not isinstance(spec, EdgeTuningSpec):
        raise MecsimError(f"{scenario}: {name} evaluates on edge_tuning scenarios, got system {spec.system!r}")
    controllers = [name, *(BASELINES if heuristics is None else heuristics)]
    rows = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(seeds) * len(controllers), desc=f"eval {name}", unit="episode")
    for s in seeds:
        for ctrl in controllers:
            params = {"checkpoint": str(checkpoint)} if ctrl == name else {}
            controller = make_controller(ctrl, params, RandomStreams(s).get("controller"))
            totals = TuningSimulation(spec, controller, seed=s, trace=False, controller_name=ctrl).run().totals()
            rows.append({"controller": ctrl, "test_set": f"N={spec.ues}", "adapt_steps": 0, "seed": s,
                         "latency_s": totals["total_delay_s"], "reward": totals["reward"],
                         "total_delay_min": totals["total_delay_s"] / 60.0, "perplexity": totals["perplexity"],
                         "switches": totals["switches"], "server_share": totals["server_share"]})
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return rows


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), BASELINES)
