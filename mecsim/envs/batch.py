"""Many DAGs per call: padded embeddings in, per-step rewards out (for batched policy training).

A policy that plans a whole DAG in one forward pass (MRLCO's seq2seq) needs, per batch of DAGs, the
encoder input and, after decoding, the per-step rewards of the plans. :class:`DagBatch` gives both,
with the same semantics as :class:`DagOffloadEnv` (same embeddings, same rewards, same fast path).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mecsim.systems.dag_offloading.analytic import PlanState, task_times
from mecsim.envs.dag_offload import DagOffloadEnv

__all__ = ["DagBatch"]


@dataclass
class DagBatch:
    """A batch of DAGs of one environment. Plans and rewards are indexed by schedule position."""

    env: DagOffloadEnv
    indices: Sequence[int]

    def __post_init__(self) -> None:
        env = self.env
        self.tasks = np.empty((len(self.indices), env.max_tasks, env.observation_space["tasks"].shape[1]),
                              dtype=np.float32)
        self.mask = np.zeros((len(self.indices), env.max_tasks), dtype=bool)
        self.orders: list[list[int]] = []
        for b, k in enumerate(self.indices):
            tasks, order = env.encoded(int(k))
            self.tasks[b] = tasks
            self.mask[b, :len(order)] = True
            self.orders.append(order)

    def rewards(self, plans: np.ndarray) -> np.ndarray:
        """(B, N) rewards of plans (B, N) (actions by position; padding ignored, reward 0 there)."""
        env = self.env
        out = np.zeros(plans.shape, dtype=np.float64)
        for b, k in enumerate(self.indices):
            graph, order = env.graphs[int(k)], self.orders[b]
            if env.fast:
                state, last = PlanState(graph, env.model, task_times(graph, env.model)), 0.0
                for pos, task in enumerate(order):
                    state.apply(task, int(plans[b, pos]))
                    out[b, pos], last = -(state.makespan - last), state.makespan
            else:
                env.reset(options={"graph": int(k)})
                for pos in range(graph.n):
                    out[b, pos] = env.step(int(plans[b, pos]))[1]
        return out

    def latencies(self, plans: np.ndarray) -> np.ndarray:
        """(B,) application latencies of the plans (= minus the return)."""
        return -self.rewards(plans).sum(axis=1)
