"""The MRLCO §4.2 task embeddings: what the learned offloading policies observe of a DAG."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from mecsim.systems.dag_offloading.analytic import CostModel, TaskTimes, task_times
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["PROFILE", "embed"]

PROFILE = 5   # embedding columns before the parent/child positions: position + four service times


def embed(graph: TaskGraph, order: Sequence[int], model: CostModel, max_tasks: int, p: int = 12,
          times: TaskTimes | None = None) -> np.ndarray:
    """MRLCO §4.2 task embeddings in schedule order, padded to `max_tasks` rows of -1.

    Per task: [position / n, local, upload, execution, download time] (times divided by the graph's
    largest local time; with several servers, the best server's), then the positions of up to p
    parents and p children, padded with -1.
    """
    t = times if times is not None else task_times(graph, model)
    idx = np.asarray(order)                  # the schedule order as an index array
    n = graph.n
    best = np.argmin(t.up + t.mec + t.down, axis=0)[idx]
    scale = float(t.local.max()) or 1.0
    out = np.full((max_tasks, PROFILE + 2 * p), -1.0, dtype=np.float32)
    out[:n, 0] = np.arange(n) / n
    out[:n, 1] = t.local[idx] / scale
    for col, part in enumerate((t.up, t.mec, t.down), 2):
        out[:n, col] = part[best, idx] / scale
    position = [0] * n                       # plain ints: this loop is per application, on the hot path
    for k, task in enumerate(idx.tolist()):
        position[task] = k
    for k, task in enumerate(idx.tolist()):
        parents = sorted(position[q] for q in graph.parents[task])[:p]
        children = sorted(position[c] for c in graph.children[task])[:p]
        out[k, PROFILE:PROFILE + len(parents)] = parents
        out[k, PROFILE + p:PROFILE + p + len(children)] = children
    return out
