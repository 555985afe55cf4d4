"""DagOffloadEnv: MRLCO's offloading MDP (§4.2) as a Gymnasium environment over the mecsim engine.

One episode = one DAG application on one device, alone (as in the papers' experiments). One step per
task in schedule order (MRLCO eq. 10 rank; MRLATO eq. 13 with ``order="recursive_rank"``). The action
is the task's target (0 = device, k = server k, K+1 = cloud). The reward is minus the increase of the
latency of the partial plan, r_i = −(T(A_{1:i}) − T(A_{1:i−1})) (MRLCO §4.2), so an episode's return
is minus the application's latency. ``reward="scaled"`` (the default) divides it by the episode
graph's all-local time Σ_i C_i / f_UE (its latency with every task on one device core), so the return
is minus the latency relative to all-local (all-local: −1, HEFT on the authors' data about −0.5): O(1)
for any learner, and a positive factor per graph leaves the best plan of each graph unchanged.
``reward="seconds"`` gives the paper's raw seconds (one step's reward is then about −70 on the
authors' data). ``info["latency"]`` is the partial plan's latency in seconds after every step.

Latencies come from the simulator. Where the scenario is in the configuration in which the DES is
proven equal to the closed form (one device, resources served in schedule order, fixed rates, no
cloud or backhaul, no memory limits; ``tests/test_des_vs_closed_form.py``), the closed form is used as
the fast path; otherwise every partial plan is run in the DES. ``fast_path=False`` forces the DES.

Observation (a Dict):
  ``tasks``   (N, 5 + 2p) float32: per task in schedule order, [position / n, local time, upload time,
              execution time, download time] (times divided by the graph's largest local time; with
              several servers, the best server's), then the positions of up to p parents and p
              children (MRLCO §4.2, p = 12), padded with -1. Rows past the graph's n are all -1.
  ``plan``    (N,) int64: the actions decided so far, -1 for the rest.
  ``step``    Discrete(N): the position of the task being decided.
  ``mask``    (N,) int8: 1 for real tasks, 0 for padding (N = ``max_tasks``).
  ``task``    (5,) float32: the profile of the task being decided (its row of ``tasks``, first 5 columns).
  ``parents`` (p,) int64: the actions already chosen for its parents (its first p parents by position,
              as in ``tasks``), -1 for empty slots.
The last two repeat what ``tasks`` and ``plan`` hold, up front: a generic learner (an MLP over the
flattened Dict) cannot find the current row of a (N, 5 + 2p) matrix from the step index alone, and
MRLCO's seq2seq never needed them (it reads the whole sequence). They are beyond the paper.
With ``features="schedule"`` (beyond the paper) the Dict also holds
  ``schedule`` (2K + 3,) float32: :func:`schedule_features` of the partial plan for the task being
              decided (its finish time per action and the resources' free times, relative to the
              current makespan); the closed form's, exact where ``fast`` holds and an estimate elsewhere.
"""
from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mecsim.systems.dag_offloading.analytic import ORDERS, PlanState, schedule_order, task_times
from mecsim.decision import DecisionPoint
from mecsim.scenario.load import load_scenario
from mecsim.systems.dag_offloading.spec import DagScenario
from mecsim.errors import ConfigError
from mecsim.systems.dag_offloading.simulation import DagSimulation, load_graphs
from mecsim.systems.dag_offloading.observation import PROFILE, embed
from mecsim.rng import RandomStreams
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["DagOffloadEnv", "REWARDS", "FEATURES", "schedule_dim", "schedule_features"]

REWARDS = ("scaled", "seconds")
FEATURES = ("paper", "schedule")


def schedule_dim(servers: int) -> int:
    """Length of :func:`schedule_features` with `servers` servers (5 with one)."""
    return 2 * servers + 3


def schedule_features(state: PlanState, task: int) -> np.ndarray:
    """The schedule state of a partial plan before `task` is decided (issue 14; beyond the papers).

    Per action a (0 device, k server k), the finish time `task` would get (``PlanState.finish_if``), then
    the device's, the uplink's and each server's free time; each minus the current makespan and divided
    by the graph's largest local time (the scale of the §4.2 embedding). HEFT's rule is a comparison of
    the first K + 1 numbers, which the §4.2 embedding alone does not give a network."""
    m = state.makespan
    out = [state.finish_if(task, a) - m for a in range(state.model.servers + 1)]
    out += [state.local_avail - m, state.ul_avail - m] + [v - m for v in state.mec_avail]
    return np.asarray(out, dtype=np.float32) / (float(state.times.local.max()) or 1.0)


def _subgraph(graph: TaskGraph, order: Sequence[int], upto: int) -> TaskGraph:
    """The first `upto` tasks of `order`, relabelled by position (so id order = schedule order)."""
    keep = list(order[:upto])
    where = {t: k for k, t in enumerate(keep)}
    edges = [(where[a], where[b]) for a, b in graph.edges if a in where and b in where]
    return TaskGraph.from_edges(graph.name, graph.cycles[keep], graph.up_bytes[keep],
                                graph.down_bytes[keep], edges, labels=[graph.labels[t] for t in keep])


class _Answer:
    """Controller for DES replays: the plan, by position in the relabelled subgraph."""

    schedule_order = "id"

    def __init__(self, plan: Sequence[int]) -> None:
        self.plan = plan

    def act(self, point: DecisionPoint) -> int:
        return self.plan[point.context.task]


class DagOffloadEnv(gym.Env):
    """See the module docstring. ``scenario``: a path or a DagScenario (its first device and access point)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: str | Path | DagScenario | None = None, *, graphs: Sequence[TaskGraph] | None = None,
                 order: str = "rank", max_tasks: int | None = None, p: int = 12, fast_path: bool = True,
                 reward: str = "scaled", features: str = "paper") -> None:
        if order not in ORDERS:
            raise ValueError(f"order: must be one of {ORDERS}, got {order!r}")
        if reward not in REWARDS:
            raise ValueError(f"reward: must be one of {REWARDS}, got {reward!r}")
        if features not in FEATURES:
            raise ValueError(f"features: must be one of {FEATURES}, got {features!r}")
        self.reward_kind, self.features = reward, features
        if scenario is None:
            scenario = Path(__file__).with_name("default_dag.yaml")
        self.scenario = scenario if isinstance(scenario, DagScenario) else load_scenario(scenario)
        if self.scenario.decisions != "at_arrival":
            # an episode decides one application's tasks in schedule order, rewarded by its partial plan
            raise ConfigError("must be at_arrival for DagOffloadEnv (an episode decides one application's tasks "
                              f"in schedule order), got {self.scenario.decisions}", file=self.scenario.file,
                              path="decisions")
        self.scenario = replace(self.scenario, devices=replace(self.scenario.devices, count=1))
        self.graphs = list(graphs) if graphs is not None else \
            [g for _, g in load_graphs(self.scenario, RandomStreams(self.scenario.seed))]
        if not self.graphs:
            raise ValueError("graphs: at least one DAG is needed")
        self.order_kind, self.p = order, p
        self.max_tasks = max_tasks or max(g.n for g in self.graphs)
        if max(g.n for g in self.graphs) > self.max_tasks:
            raise ValueError(f"max_tasks: must be >= the largest DAG ({max(g.n for g in self.graphs)}), got {max_tasks}")
        probe = DagSimulation(self.scenario, None, trace=False, graphs=[("probe", self.graphs[0])])
        device = probe.infra.devices[0]
        self.model = probe.system.cost_model(device)
        self.actions = self.model.servers + 1
        self.fast = fast_path and self._closed_form_holds()
        n, width = self.max_tasks, PROFILE + 2 * p
        self.task_features = width                                  # columns of the §4.2 embedding
        self.observation_space = spaces.Dict({
            "tasks": spaces.Box(-1.0, np.float32(max(n, 1e6)), (n, width), np.float32),
            "plan": spaces.Box(-1, self.actions - 1, (n,), np.int64),
            "step": spaces.Discrete(n),
            "mask": spaces.Box(0, 1, (n,), np.int8),
            "task": spaces.Box(-1.0, np.float32(max(n, 1e6)), (PROFILE,), np.float32),
            "parents": spaces.Box(-1, self.actions - 1, (p,), np.int64),
            **({"schedule": spaces.Box(-1e6, 1e6, (schedule_dim(self.model.servers),), np.float32)}
               if features == "schedule" else {}),
        })
        self.action_space = spaces.Discrete(self.actions)
        self._graph: TaskGraph | None = None
        self._encoded: dict[int, tuple[np.ndarray, list[int]]] = {}

    def _closed_form_holds(self) -> bool:
        """The configuration the DES = closed-form property test covers."""
        sc = self.scenario
        ap = sc.access_points[0]
        return (sc.cloud is None and len(sc.access_points) == 1 and sc.workload.task_memory_bytes is None
                and sc.devices.cpu.discipline == "schedule_order" and sc.devices.cpu.cores == 1
                and ap.uplink.rate.model == ap.downlink.rate.model == "fixed"
                and ap.uplink.sharing == "schedule_order" and ap.downlink.sharing in ("schedule_order", "parallel")
                and not ap.uplink.packet_bytes
                and all(s.discipline == "schedule_order" and s.vms == "dedicated" and not s.memory_bytes
                        for s in sc.servers))

    # -- gymnasium API ------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        k = (options or {}).get("graph")
        k = int(self.np_random.integers(len(self.graphs))) if k is None else int(k)
        self._graph = graph = self.graphs[k]
        self._tasks, self._order = self.encoded(k)
        self._plan = np.full(self.max_tasks, -1, dtype=np.int64)
        self._pos, self._latency = 0, 0.0
        self._reward_scale = 1.0 if self.reward_kind == "seconds" else self.model.local_hz / float(graph.cycles.sum())
        self._state = PlanState(graph, self.model) if self.fast or self.features == "schedule" else None
        return self._obs(), {"graph": k, "order": list(self._order), "n": graph.n}

    def step(self, action):
        if self._graph is None:
            raise RuntimeError("call reset() before step()")
        action = int(action)
        if not 0 <= action < self.actions:
            raise ValueError(f"action: must be in 0..{self.actions - 1}, got {action}")
        graph, pos = self._graph, self._pos
        self._plan[pos] = action
        if self._state is not None:
            self._state.apply(self._order[pos], action)
        latency = self._state.makespan if self.fast else self._des_latency(pos + 1)
        reward = -(latency - self._latency) * self._reward_scale   # MRLCO §4.2: minus the latency increase
        self._latency, self._pos = latency, pos + 1
        done = self._pos == graph.n
        return self._obs(), float(reward), done, False, {"latency": latency}

    @cached_property
    def mean_local_latency(self) -> float:
        """Mean all-local latency over the task's DAGs (trainers scale rewards by it)."""
        return float(np.mean([g.cycles.sum() / self.model.local_hz for g in self.graphs]))

    def encoded(self, k: int) -> tuple[np.ndarray, list[int]]:
        """Graph k's padded embeddings and schedule order (cached: batched training asks often)."""
        cache = self._encoded
        if k not in cache:
            graph = self.graphs[k]
            times = task_times(graph, self.model)
            order = schedule_order(graph, times, self.order_kind)
            cache[k] = (embed(graph, order, self.model, self.max_tasks, self.p, times), order)
        return cache[k]

    # -- helpers ------------------------------------------------------------------------------------
    def _des_latency(self, upto: int) -> float:
        assert self._graph is not None                              # an episode is running
        sub = _subgraph(self._graph, self._order, upto)
        sim = DagSimulation(self.scenario, _Answer(list(self._plan[:upto])), trace=False, graphs=[("prefix", sub)])
        (app,) = sim.run().apps
        assert app.latency_s is not None                            # one application, run to its end
        return float(app.latency_s)

    def _obs(self) -> dict[str, np.ndarray]:
        graph = self._graph
        assert graph is not None                                    # an episode is running
        at = min(self._pos, graph.n - 1)                            # after the last step: the last task's
        row = self._tasks[at]
        where = row[PROFILE:PROFILE + self.p].astype(np.int64)     # parents' positions, -1 padded
        extra = {}
        if self.features == "schedule":
            assert self._state is not None                          # kept with schedule features
            extra["schedule"] = schedule_features(self._state, self._order[at])
        return {**extra, "tasks": self._tasks.copy(), "plan": self._plan.copy(),
                "step": min(self._pos, self.max_tasks - 1),
                "mask": (np.arange(self.max_tasks) < graph.n).astype(np.int8),
                "task": row[:PROFILE].copy(),
                "parents": np.where(where >= 0, self._plan[np.maximum(where, 0)], -1)}
