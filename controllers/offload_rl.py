"""Shared pieces of the learned offloading controllers (DRL baseline, MRLCO, MRLATO).

Learning tasks are a scenario's ``training`` entries (one DAG set or one rate each, MRLCO §4); each
becomes a :class:`DagOffloadEnv`. A policy plans a whole DAG in one forward pass, so a batch of DAGs
is sampled, decoded at once, and scored by :class:`DagBatch` (the simulator's rewards). PPO comes from
:mod:`controllers.ppo`, the network from :mod:`controllers.seq2seq`. :class:`LearnedOffloader` is the
acting side: it loads a checkpoint and answers the engine's decision points (greedy decoding).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from mecsim.controllers.ppo import PPOConfig, Rollout, ppo_update
from mecsim.controllers.seq2seq import Seq2SeqPolicy
from mecsim.controllers.threads import set_threads
from mecsim.checkpoint import TrainingRun, load_checkpoint
from mecsim.decision import DecisionPoint
from mecsim.envs.batch import DagBatch, ScheduleTracker
from mecsim.envs.dag_offload import DagOffloadEnv, schedule_dim
from mecsim.errors import MecsimError
from mecsim.scenario.load import load_training

__all__ = ["NetworkSpec", "LearningTask", "load_tasks", "build_policy", "decode", "sample", "adapt", "greedy_latency",
           "heuristic_latency", "BASELINES", "VARIANTS", "FEATURES", "Adaptation", "ADAPTATIONS", "evaluate_actions",
           "evaluate_checkpoint", "OffloadTraining", "LearnedOffloader", "clone", "mean_stats"]


@dataclass(frozen=True)
class NetworkSpec:
    """Constructor arguments of the Seq2SeqPolicy (kept in checkpoints to rebuild it)."""

    obs_dim: int
    """features per task of the MRLCO §4.2 embedding (mecsim.systems.dag_offloading.observation.embed)"""
    n_actions: int
    """actions per task: the device, each server, the cloud"""
    hidden: int = 256
    """LSTM units of encoder and decoder (MRLCO Table 2: 256; the authors' code: 128)"""
    layers: int = 2
    """LSTM layers of encoder and decoder (MRLCO Table 2: 2)"""
    attention: str = "additive"
    """additive (MRLCO's attention) or multihead (MRLATO's)"""
    heads: int = 8
    """multihead attention only: number of heads (MRLATO)"""
    schedule_dim: int = 0
    """decoder inputs per step from the schedule state (the ``schedule`` features); 0: the paper's network"""


FEATURES = ("paper", "schedule")
"""paper: the MRLCO §4.2 embedding; schedule: the same plus, per decoding step, the partial plan's
closed-form schedule state (mecsim.envs.dag_offload.schedule_features; beyond the papers)"""


@dataclass
class LearningTask:
    """One learning task: a name and its environment."""

    name: str
    env: DagOffloadEnv


def load_tasks(scenario: str | Path, order: str, overrides: Sequence[str] = ()) -> dict[str, list[LearningTask]]:
    """The scenario's train and test tasks, each as an environment."""
    return {split: [LearningTask(name, DagOffloadEnv(sc, order=order)) for name, sc in entries]
            for split, entries in load_training(scenario, overrides).items()}


def build_policy(spec: NetworkSpec) -> Seq2SeqPolicy:
    return Seq2SeqPolicy(spec.obs_dim, spec.n_actions, hidden=spec.hidden, layers=spec.layers,
                         attention=spec.attention, heads=spec.heads, schedule_dim=spec.schedule_dim)


def decode(policy: Seq2SeqPolicy, batch: DagBatch, *, greedy: bool = False, generator: torch.Generator | None = None
           ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decode a batch: (the rollout's fields, actions, log-probs, values). With schedule features the
    tracker computes them online and they are kept in the fields for teacher forcing."""
    fields = {"tasks": torch.from_numpy(batch.tasks), "mask": torch.from_numpy(batch.mask)}
    tracker = ScheduleTracker.of(batch) if policy.schedule_dim else None
    actions, log_prob, value = policy.act(fields["tasks"], fields["mask"], greedy=greedy, generator=generator,
                                          schedule=tracker)
    if tracker is not None:
        fields["schedule"] = torch.from_numpy(tracker.features)
    return fields, actions, log_prob, value


def sample(policy: Seq2SeqPolicy, env: DagOffloadEnv, episodes: int, rng: np.random.Generator,
           generator: torch.Generator) -> tuple[Rollout, float]:
    """`episodes` DAGs drawn from the task, decoded by sampling, scored by the simulator."""
    batch = DagBatch(env, rng.integers(len(env.graphs), size=episodes).tolist())
    fields, actions, log_prob, value = decode(policy, batch, generator=generator)
    rewards = torch.from_numpy(batch.rewards(actions.numpy())).float()
    latency = float(-rewards.sum(1).mean())
    rewards = rewards * reward_scale(env)
    rollout = Rollout(fields, actions, fields["mask"], log_prob, value, rewards)
    return rollout, latency


def reward_scale(env: DagOffloadEnv) -> float:
    """1 / the task's mean all-local latency, so returns are O(1) and the value loss does not swamp
    the policy gradient (the papers use raw seconds and are silent on scaling; a positive factor leaves
    the optimal policy unchanged)."""
    return 1.0 / env.mean_local_latency


def evaluate_actions(policy: Seq2SeqPolicy):
    """The callable ppo_update needs: teacher-forced log-probs, entropies, values of a rollout slice."""
    return lambda r: policy.evaluate(r.fields["tasks"], r.fields["mask"], r.actions, r.fields.get("schedule"))


def mean_stats(stats: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([s[k] for s in stats])) for k in METRICS}


# the baselines `mecsim eval` scores next to a learned offloader
BASELINES = ("greedy", "heft", "optimal", "greedy_model", "heft_model")
# columns that are a registered heuristic with parameters: HEFT and Greedy planned in the model in force
# (controllers/heuristics.py, planner="model"), stronger than the authors' procedure under the quirk
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {"greedy_model": ("greedy", {"planner": "model"}),
                                                   "heft_model": ("heft", {"planner": "model"})}
METRICS = ["sample_latency", "policy_loss", "value_loss", "approx_kl"]


@dataclass
class OffloadTraining:
    """What every offloading trainer starts from and ends each iteration with: the training tasks, the
    network and its optimizer, the random streams, resume, and a checkpoint after every iteration (a
    crash loses at most one). The trainers (``drl.train``, ``mrlco.train``) write their own loop."""

    out: Path
    tasks: list[LearningTask]
    spec: NetworkSpec
    policy: Seq2SeqPolicy
    optimizer: torch.optim.Optimizer
    rng: np.random.Generator
    generator: torch.Generator
    run: TrainingRun
    cfg: Any

    @classmethod
    def start(cls, scenario: str | Path, out: str | Path, cfg: Any, *, name: str, seed: int, resume: bool,
              progress: bool, overrides: Sequence[str], lr: float) -> "OffloadTraining":
        """``resume`` continues the iteration count and the random streams from the checkpoint in `out`."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        set_threads()
        tasks = load_tasks(scenario, cfg.order, overrides)["train"]
        env = tasks[0].env
        spec = NetworkSpec(env.observation_space["tasks"].shape[1], env.actions, cfg.hidden, 2, cfg.attention,
                           cfg.heads, schedule_dim(env.model.servers) if cfg.features == "schedule" else 0)
        torch.manual_seed(seed)
        policy = build_policy(spec)
        optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        run = TrainingRun(out, name, METRICS, cfg.iterations, rng=rng, generator=gen, resume=resume, progress=progress)
        if run.checkpoint is not None:
            policy.load_state_dict(run.checkpoint["policy"])
            optimizer.load_state_dict(run.checkpoint["optimizer"])
        return cls(out, tasks, spec, policy, optimizer, rng, gen, run, cfg)

    def end_iteration(self, iteration: int, metrics: dict[str, float], env_steps: int) -> None:
        """Count the iteration's env steps, checkpoint, log a progress.csv row."""
        self.run.env_steps += env_steps
        self.run.end_iteration(iteration, {**policy_state(self.policy, self.spec, self.cfg.order),
                                           "config": asdict(self.cfg), "optimizer": self.optimizer.state_dict()},
                               metrics, show={"latency": f"{metrics['sample_latency']:.4g}"})


def adapt(policy: Seq2SeqPolicy, env: DagOffloadEnv, steps: int, cfg: PPOConfig, episodes: int,
          rng: np.random.Generator, generator: torch.Generator, optimizer: torch.optim.Optimizer | None = None,
          ) -> list[dict[str, float]]:
    """`steps` PPO gradient steps on a task, each on freshly sampled DAGs (the inner loop / fine-tuning)."""
    optimizer = optimizer or torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    stats = []
    for _ in range(steps):
        rollout, latency = sample(policy, env, episodes, rng, generator)
        result = ppo_update(evaluate_actions(policy), policy.parameters(), optimizer, rollout, cfg, generator=generator)
        stats.append({**result, "sample_latency": latency})
    return stats


def greedy_latency(policy: Seq2SeqPolicy, env: DagOffloadEnv, chunk: int = 256) -> float:
    """Mean latency of greedy plans over every DAG of the task (MRLCO §4.3 inference)."""
    total = 0.0
    for start in range(0, len(env.graphs), chunk):
        batch = DagBatch(env, list(range(start, min(start + chunk, len(env.graphs)))))
        _, actions, _, _ = decode(policy, batch, greedy=True)
        total += float(batch.latencies(actions.numpy()).sum())
    return total / len(env.graphs)


def clone(policy: Seq2SeqPolicy) -> Seq2SeqPolicy:
    return copy.deepcopy(policy)


def policy_state(policy: Seq2SeqPolicy, spec: NetworkSpec, order: str) -> dict[str, Any]:
    """What a checkpoint needs to rebuild the acting policy."""
    return {"network": asdict(spec), "order": order, "policy": policy.state_dict()}


class LearnedOffloader:
    """Acts with a trained seq2seq policy: plans each application at its first decision (greedy).

    ``checkpoint`` is a folder written by ``mecsim train``. The schedule order is the one the policy
    was trained with (rank or recursive_rank).
    """

    controller_name = ""
    decisions = ("at_arrival",)    # decodes a whole plan from the application's embeddings at arrival

    def __init__(self, checkpoint: str, greedy: bool = True) -> None:
        payload = load_checkpoint(checkpoint, self.controller_name or None)
        self.spec = NetworkSpec(**payload["network"])
        self.policy = build_policy(self.spec)
        self.policy.load_state_dict(payload["policy"])
        self.policy.eval()
        self.schedule_order = payload["order"]
        self.greedy = greedy
        self._app: int | None = None
        self._plan: list[int] = []

    def act(self, point: DecisionPoint) -> int:
        ctx = point.context
        if self._app != point.context.app:
            tasks = point.observation["tasks"]           # the system's §4.2 embeddings (p = 12)
            if tasks.shape[1] != self.spec.obs_dim:
                raise MecsimError(f"checkpoint expects {self.spec.obs_dim} features per task, "
                                  f"the system gives {tasks.shape[1]}")
            mask = torch.ones((1, ctx.graph.n), dtype=torch.bool)
            tracker = ScheduleTracker([ctx.graph], [ctx.order], ctx.cost_model, ctx.graph.n) \
                if self.spec.schedule_dim else None                 # the schedule state, from the context
            actions, _, _ = self.policy.act(torch.tensor(tasks)[None], mask, greedy=self.greedy, schedule=tracker)
            self._app, self._plan = point.context.app, actions[0].tolist()
        return int(self._plan[point.context.position])


def heuristic_latency(task: LearningTask, controller: str) -> float | None:
    """Mean latency of a heuristic (a registered name or a VARIANTS column) on the task's DAGs, run in
    the engine (None if it refuses)."""
    from mecsim.registry import make_controller
    from mecsim.systems.dag_offloading.simulation import DagSimulation, check_controller
    ctrl = make_controller(*VARIANTS.get(controller, (controller, {})))
    graphs = [(g.name, g) for g in task.env.graphs]
    try:
        check_controller(ctrl, graphs, task.env.actions)
    except ValueError:
        return None
    result = DagSimulation(task.env.scenario, ctrl, trace=False, graphs=graphs).run()
    return float(np.mean([a.latency_s for a in result.apps]))


@dataclass(frozen=True)
class Adaptation:
    """What one adaptation step on a test task is ("gradient update steps", MRLCO Table 3 / Figs. 6-8).

    The papers do not say how much data a step sees; the two readings differ a hundredfold, so both are
    offered. ``None`` takes the trained controller's own value."""

    episodes: int | None
    """DAGs sampled with the current policy per step (None: the checkpoint's episodes per task)"""
    lr: float | None
    """Adam learning rate (None: the inner learning rate α of the checkpoint)"""
    epochs: int
    """PPO passes over the step's DAGs"""
    minibatches: int | None
    """minibatches per pass (None: the checkpoint's PPO setting)"""
    eps: float = 1e-8
    """Adam ε"""


ADAPTATIONS = {
    # MRLCO Algorithm 1 line 6 (the inner loop): one Adam step at α on the task's sampled DAGs
    "inner": Adaptation(episodes=None, lr=None, epochs=1, minibatches=None),
    # the authors' evaluator (meta_evaluator.py + ppo_offloading.py, ../shared/notes/mrlco_authors_code.md §2d):
    # 2000 trajectories per update, 3 epochs of minibatch-500 PPO, Adam lr 1e-4 and ε 1e-5
    "authors": Adaptation(episodes=2000, lr=1e-4, epochs=3, minibatches=4, eps=1e-5),
}


def evaluate_checkpoint(scenario: str | Path, checkpoint: str | Path, *, adapt_steps: Sequence[int],
                        seeds: Sequence[int], heuristics: Sequence[str] | None = None,
                        overrides: Sequence[str] = (), progress: bool = True,
                        adaptation: str = "inner", test_sets: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Adapt the trained policy on every `training.test` task and score it after each step count.

    One adaptation step = DAGs sampled from the test task with the current policy, then PPO (eq. 20)
    as ``adaptation`` names it (:data:`ADAPTATIONS`: "inner", one Adam step at the inner learning rate
    α, MRLCO's inner loop; "authors", the authors' evaluator's heavier step). The heuristics run on
    the same DAGs in the same model. ``test_sets`` limits the evaluation to those test tasks.
    Rows: controller, test_set, adapt_steps, seed, latency_s (the simulator's seconds).
    """
    if adaptation not in ADAPTATIONS:
        raise MecsimError(f"--adaptation: must be one of {', '.join(ADAPTATIONS)}, got {adaptation!r}")
    how = ADAPTATIONS[adaptation]
    heuristics = BASELINES if heuristics is None else heuristics
    payload = load_checkpoint(checkpoint)
    set_threads()
    name, cfg = payload["controller"], payload["config"]
    spec = NetworkSpec(**payload["network"])
    ppo = PPOConfig(**{**cfg["ppo"], "lr": how.lr or cfg["inner_lr"], "epochs": how.epochs,
                       "minibatches": how.minibatches or cfg["ppo"]["minibatches"]})
    episodes = how.episodes or cfg["episodes"]
    tests = load_tasks(scenario, payload["order"], overrides)["test"]
    if test_sets is not None:
        unknown = sorted(set(test_sets) - {t.name for t in tests})
        if unknown:
            raise MecsimError(f"test sets: {unknown[0]!r} is not a test task of {scenario} "
                              f"(known: {', '.join(t.name for t in tests)})")
        tests = [t for t in tests if t.name in test_sets]
    steps = sorted(set(int(s) for s in adapt_steps))
    rows: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tests) * (len(seeds) * (steps[-1] + 1) + 1), desc=f"eval {name}", unit="step")
    for task in tests:
        for h in heuristics:
            latency = heuristic_latency(task, h)
            if latency is not None:
                rows += [{"controller": h, "test_set": task.name, "adapt_steps": 0, "seed": s,
                          "latency_s": latency} for s in seeds]
        if bar is not None:
            bar.update(1)
        for seed in seeds:
            policy = build_policy(spec)
            policy.load_state_dict(payload["policy"])
            rng, gen = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
            optimizer = torch.optim.Adam(policy.parameters(), lr=ppo.lr, eps=how.eps)
            for s in range(steps[-1] + 1):
                if s in steps:
                    rows.append({"controller": name, "test_set": task.name, "adapt_steps": s, "seed": seed,
                                 "latency_s": greedy_latency(policy, task.env)})
                if s < steps[-1]:
                    adapt(policy, task.env, 1, ppo, episodes, rng, gen, optimizer)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    return rows
