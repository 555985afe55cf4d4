"""The service-management training harness shared by PEARL-DT and the SAC baselines of §V.

Read top to bottom: the setup of a training run (scenario, world, the digital twins of §IV-C and the
environment of each condition), the rollout workers that take one slot at a time (Algorithm 1 lines
2-5), the seeds, and the evaluation runs in the engine. The algorithm the data feeds is
:mod:`controllers.sac_discrete`; its users are :mod:`controllers.sac_baselines` and
:mod:`controllers.pearl_dt`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import torch

from mecsim.controllers.sac_discrete import FactoredActor
from mecsim.controllers.threads import set_threads
from mecsim.decision import DecisionPoint
from mecsim.envs.service_management import ServiceManagementEnv
from mecsim.registry import make_controller
from mecsim.scenario.load import load_scenario
from mecsim.systems.service_management import ServiceScenario, ServiceSimulation, TwinSystem, World, build_world

__all__ = ["BASELINES", "digital_twins", "training_setup", "evaluation_setup", "condition_env", "Transition",
           "Worker", "uniform_policy", "RolloutSpec", "SlotJob", "Rollouts", "collect", "hash_seed", "eval_seed",
           "PolicyController", "latency_on", "heuristic_rows"]

BASELINES = ("random", "local")   # the engine's generic baselines, scored next to learned controllers


# -- setup ---------------------------------------------------------------------------------------------

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


def evaluation_setup(scenario: str | Path, overrides: Sequence[str]) -> tuple[ServiceScenario, World, list[str]]:
    """What evaluating a checkpoint starts from: the scenario, its world and its test conditions."""
    set_threads()
    sc = load_scenario(scenario, overrides)
    world = build_world(sc)
    return sc, world, [c.name for c in world.test]


def condition_env(sc: ServiceScenario, world: World, dts: TwinSystem, condition: str) -> ServiceManagementEnv:
    """A twin's emulation when the condition has a twin, else the condition itself (a test condition)."""
    twin = dts.twins.get(condition)
    return ServiceManagementEnv(sc, condition=condition, states=twin.replayed if twin else None, world=world)


# -- rollouts ------------------------------------------------------------------------------------------

class Transition(NamedTuple):
    """One slot of experience, in the order of :meth:`mecsim.controllers.sac_discrete.ReplayBuffer.add`."""

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


def uniform_policy(nvec: Sequence[int], eds: int, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """Uniformly random choices for every ED (the warm-up before learning)."""
    return lambda obs: (rng.random((eds, 3)) * np.asarray(nvec)).astype(np.int64)


@dataclass(frozen=True)
class RolloutSpec:
    """What a rollout worker builds its environments from: data, never live environments."""

    sc: ServiceScenario
    """the scenario the twins were built from"""
    world: World
    """its fixed parameters (devices' speeds, links), drawn once"""
    dts: TwinSystem
    """the digital twins of the training conditions"""


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
            def policy(obs: np.ndarray) -> np.ndarray:
                return actor.act(obs, job.z, generator=gen)
        return worker.step(policy)


def collect(rollouts: Rollouts, actor: FactoredActor, job: SlotJob) -> Transition:
    """A :func:`mecsim.parallel.dispatcher` job: one slot of ``job`` with the actor's weights."""
    return rollouts.step(actor, job)


# -- seeds ---------------------------------------------------------------------------------------------

def hash_seed(*parts: int) -> int:
    """A seed for a worker from (training seed, agent, condition, ...): independent streams."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def eval_seed(seed: int, k: int) -> int:
    """Evaluation run seeds, apart from training's (which draw from numpy generators seeded by `seed`)."""
    return 1_000_003 * (seed + 1) + k


# -- evaluation in the engine --------------------------------------------------------------------------

class PolicyController:
    """An engine controller that answers each decision point with ``policy(point)``."""

    def __init__(self, policy: Callable[[DecisionPoint], Any]) -> None:
        self.policy = policy

    def act(self, point: DecisionPoint) -> Any:
        return self.policy(point)


def latency_on(sc: ServiceScenario, world: World, condition: str, policy: Callable[[DecisionPoint], Any],
               seed: int, slots: int) -> float:
    """Mean request latency (s) of `policy` on a condition (the scenario's distributions, run seed)."""
    result = ServiceSimulation(sc, PolicyController(policy), seed=seed, trace=False, condition=condition, slots=slots,
                        world=world).run()
    return float(result.latencies_s().mean())


def heuristic_rows(sc: ServiceScenario, world: World, heuristics: Sequence[str] | None, tests: Sequence[str],
                   seeds: Sequence[int], slots: int) -> list[dict[str, Any]]:
    """The engine's heuristics (None: :data:`BASELINES`) on the same test inputs (same run seeds) as the
    learned controllers."""
    rows = []
    for h in BASELINES if heuristics is None else heuristics:
        for t in tests:
            for s in seeds:
                ctrl = make_controller(h, {}, np.random.default_rng(s))
                lat = latency_on(sc, world, t, ctrl.act, eval_seed(s, 0), slots)
                rows.append({"controller": h, "test_set": t, "adapt_steps": 0, "seed": s, "latency_s": lat})
    return rows
