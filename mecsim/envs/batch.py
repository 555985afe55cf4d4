"""Many DAGs per call: padded embeddings in, per-step rewards out (for batched policy training).

A policy that plans a whole DAG in one forward pass (MRLCO's seq2seq) needs, per batch of DAGs, the
encoder input and, after decoding, the per-step rewards of the plans. :class:`DagBatch` gives both,
with the same semantics as :class:`DagOffloadEnv` (same embeddings, same rewards, same fast path).
A decoder that sees the schedule (the ``schedule`` features) gets them from a :class:`ScheduleTracker`,
one decoding step at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mecsim.systems.dag_offloading.analytic import CostModel, PlanState, task_times
from mecsim.envs.dag_offload import DagOffloadEnv, schedule_dim, schedule_features
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["DagBatch", "ScheduleTracker"]


@dataclass
class DagBatch:
    """A batch of DAGs of one environment. Plans and rewards are indexed by schedule position."""

    env: DagOffloadEnv
    indices: Sequence[int]

    def __post_init__(self) -> None:
        env = self.env
        self.tasks = np.empty((len(self.indices), env.max_tasks, env.task_features), dtype=np.float32)
        self.mask = np.zeros((len(self.indices), env.max_tasks), dtype=bool)
        self.orders: list[list[int]] = []
        for b, k in enumerate(self.indices):
            tasks, order = env.encoded(int(k))
            self.tasks[b] = tasks
            self.mask[b, :len(order)] = True
            self.orders.append(order)

    def rewards(self, plans: np.ndarray) -> np.ndarray:
        """(B, N) rewards in seconds (the env's ``reward="seconds"``) of plans (B, N) (actions by
        position; padding ignored, reward 0 there)."""
        env = self.env
        out = np.zeros(plans.shape, dtype=np.float64)
        for b, k in enumerate(self.indices):
            graph, order = env.graphs[int(k)], self.orders[b]
            if env.fast:
                state, last = PlanState(graph, env.model, task_times(graph, env.model)), 0.0
                for pos, task in enumerate(order):
                    state.apply(task, int(plans[b, pos]))
                    out[b, pos], last = -(state.makespan - last), state.makespan
            else:   # the env's DES path, in seconds whatever its reward scale
                env.reset(options={"graph": int(k)})
                last = 0.0
                for pos in range(graph.n):
                    latency = env.step(int(plans[b, pos]))[4]["latency"]
                    out[b, pos], last = -(latency - last), latency
        return out

    def latencies(self, plans: np.ndarray) -> np.ndarray:
        """(B,) application latencies of the plans (= minus the return)."""
        return -self.rewards(plans).sum(axis=1)


class ScheduleTracker:
    """The ``schedule_features`` of a batch of partial plans, advanced one decoding step at a time.

    A decoder calls it at step j with the actions of step j − 1 (ignored at j = 0); it applies them to
    each graph's closed-form :class:`PlanState` and returns the features of step j, (B, F), zero past a
    graph's n. ``features`` keeps every step's, (B, N, F): stored with a rollout for teacher forcing.
    """

    def __init__(self, graphs: Sequence[TaskGraph], orders: Sequence[Sequence[int]], model: CostModel,
                 max_tasks: int) -> None:
        self.orders = [list(o) for o in orders]
        self.states = [PlanState(g, model) for g in graphs]
        self.features = np.zeros((len(graphs), max_tasks, schedule_dim(model.servers)), dtype=np.float32)

    @classmethod
    def of(cls, batch: DagBatch) -> "ScheduleTracker":
        env = batch.env
        return cls([env.graphs[int(k)] for k in batch.indices], batch.orders, env.model, env.max_tasks)

    def __call__(self, j: int, prev: Sequence[int] | np.ndarray) -> np.ndarray:
        for b, (state, order) in enumerate(zip(self.states, self.orders)):
            if j < len(order):
                if j > 0:
                    state.apply(order[j - 1], int(prev[b]))
                self.features[b, j] = schedule_features(state, order[j])
        return self.features[:, j]

    def replay(self, plans: np.ndarray) -> np.ndarray:
        """Every step's features along known plans (B, N) by position (teacher forcing, e.g. cloning)."""
        for j in range(self.features.shape[1]):
            self(j, plans[:, j - 1] if j else ())
        return self.features
