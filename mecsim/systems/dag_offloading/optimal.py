"""Exact optimum of the closed form (MRLCO's "Optimal" baseline) by vectorised branch and bound.

Decisions are made in schedule order; a batch of partial plans is expanded by every action at once
(numpy), partial plans whose lower bound cannot beat the incumbent are dropped, and large batches are
split and explored depth first so memory stays bounded. The incumbent starts from the best of the
earliest-finish (HEFT-style) plan, all-local and all-remote, so the search only has to prove or improve it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from mecsim.systems.dag_offloading.analytic import CostModel, TaskTimes, earliest_finish_plan, evaluate_plan, task_times
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["optimal_plan", "MAX_LOG2_PLANS"]

MAX_LOG2_PLANS = 24          # refuse searches over more than 2^24 plans (n > 24 with one server)
_CHUNK = 1 << 15             # partial plans expanded at once


class _Batch:
    """Partial plans of equal depth, one row each."""

    __slots__ = ("depth", "local", "ul", "dl", "mec", "ft_local", "ft_ul", "ft_mec", "ft_dl",
                 "where", "span")
    depth: int
    local: NDArray[np.float64]       # (rows,): the busy-until of the device, uplink, downlink; the latency so far
    ul: NDArray[np.float64]
    dl: NDArray[np.float64]
    span: NDArray[np.float64]
    mec: NDArray[np.float64]         # (rows, servers): each server's busy-until
    ft_local: NDArray[np.float64]    # (rows, n): finish times per task and stage
    ft_ul: NDArray[np.float64]
    ft_mec: NDArray[np.float64]
    ft_dl: NDArray[np.float64]
    where: NDArray[np.int8]          # (rows, n): -1 undecided, 0 local, k server k

    def take(self, idx: np.ndarray) -> "_Batch":
        out = _Batch()
        out.depth = self.depth
        for name in _Batch.__slots__[1:]:
            setattr(out, name, getattr(self, name)[idx])
        return out


def _tails(graph: TaskGraph, t: TaskTimes) -> np.ndarray:
    """A lower bound on the time from a task's start to the end of the application."""
    own = np.minimum(t.local, t.mec.min(axis=0))
    last = np.minimum(t.local, (t.mec + t.down).min(axis=0))
    tail = np.zeros(graph.n)
    for i in reversed(graph.topological_order()):
        kids = graph.children[i]
        tail[i] = own[i] + max(tail[j] for j in kids) if kids else last[i]
    return tail


def _incumbent(graph: TaskGraph, model: CostModel, order: Sequence[int],
               times: TaskTimes) -> tuple[float, list[int]]:
    """The best of the earliest-finish plan, all-local and all-remote: the bound to beat."""
    candidates = [earliest_finish_plan(graph, model, order, times), [0] * graph.n, [1] * graph.n]
    return min(((evaluate_plan(graph, model, order, p, times), p) for p in candidates), key=lambda s: s[0])


def optimal_plan(graph: TaskGraph, model: CostModel, order: Sequence[int]) -> tuple[float, list[int]]:
    """(latency, plan) minimising the closed-form latency over all (1+K)^n plans."""
    n, actions = graph.n, model.servers + 1
    if n * np.log2(actions) > MAX_LOG2_PLANS + 1e-9:
        raise ValueError(f"optimal: {actions}^{n} plans exceed the limit of 2^{MAX_LOG2_PLANS} "
                         f"(n <= {int(MAX_LOG2_PLANS / np.log2(actions))} with {actions - 1} server(s))")
    t = task_times(graph, model)
    tails = _tails(graph, t)
    best, best_plan = _incumbent(graph, model, order, t)
    root = _Batch()
    root.depth = 0
    root.local, root.ul, root.dl, root.span = (np.zeros(1) for _ in range(4))
    root.mec = np.zeros((1, model.servers))
    root.ft_local, root.ft_ul, root.ft_mec, root.ft_dl = (np.zeros((1, n)) for _ in range(4))
    root.where = np.full((1, n), -1, dtype=np.int8)
    stack = [root]
    while stack:
        batch = stack.pop()
        i = order[batch.depth]
        child = _expand(batch, i, graph, model, t, actions)
        child.depth = batch.depth + 1
        bound = _lower_bound(child, graph, order, tails)
        keep = np.flatnonzero(bound < best)
        if keep.size == 0:
            continue
        child = child.take(keep)
        if child.depth == n:
            j = int(np.argmin(child.span))
            best, best_plan = float(child.span[j]), [int(a) for a in child.where[j]]
            continue
        for start in range(0, len(keep), _CHUNK)[::-1]:
            stack.append(child.take(np.arange(start, min(start + _CHUNK, len(keep)))))
    return best, best_plan


def _expand(b: _Batch, i: int, graph: TaskGraph, model: CostModel, t: TaskTimes,
            actions: int) -> _Batch:
    """Every row of `b` extended by every action for task i (rows: action-major)."""
    rows = len(b.span)
    out = b.take(np.tile(np.arange(rows), actions))
    parents = graph.parents[i]
    for a in range(actions):
        sl = slice(a * rows, (a + 1) * rows)
        if a == 0:
            ready = np.zeros(rows)
            for p in parents:
                ready = np.maximum(ready, np.maximum(b.ft_local[:, p], b.ft_dl[:, p]))
            finish = np.maximum(b.local, ready) + t.local[i]
            out.ft_local[sl, i] = finish
            out.local[sl] = finish
        else:
            k = a - 1
            up_ready, exec_ready = np.zeros(rows), np.zeros(rows)
            for p in parents:
                wp = b.where[:, p]
                same = wp == a
                other = np.maximum(b.ft_ul[:, p], b.ft_dl[:, p])
                up_ready = np.maximum(up_ready, np.where(wp == 0, b.ft_local[:, p],
                                                         np.where(same, b.ft_ul[:, p], other)))
                exec_ready = np.maximum(exec_ready, np.where(same, b.ft_mec[:, p], 0.0))
            bypass = model.uplink == "parallel" or (model.uplink == "entry_parallel" and not parents)
            sent = (up_ready if model.uplink == 'parallel' else np.maximum(b.ul, up_ready)) + t.up[k, i]
            ft_ul = sent + t.wired_up[k, i]                      # the data is at the server
            ft_mec = np.maximum(np.maximum(b.mec[:, k], ft_ul), exec_ready) + t.mec[k, i]
            back = ft_mec + t.wired_down[k, i]
            dl_start = back if model.downlink == "parallel" else np.maximum(b.dl, back)
            finish = dl_start + t.down[k, i]
            out.ft_ul[sl, i], out.ft_mec[sl, i], out.ft_dl[sl, i] = ft_ul, ft_mec, finish
            if not bypass:
                out.ul[sl] = sent
            out.mec[sl, k] = ft_mec
            if model.downlink == "serial":
                out.dl[sl] = finish
        out.where[sl, i] = a
        out.span[sl] = np.maximum(b.span, finish)
    return out


def _lower_bound(b: _Batch, graph: TaskGraph, order: Sequence[int], tails: np.ndarray) -> np.ndarray:
    """max(makespan so far, earliest start of each undecided task + its tail)."""
    bound = b.span.copy()
    decided = set(order[: b.depth])
    for j in order[b.depth:]:
        est = np.zeros(len(bound))
        for p in graph.parents[j]:
            if p in decided:
                local = b.where[:, p] == 0
                est = np.maximum(est, np.where(local, b.ft_local[:, p], b.ft_mec[:, p]))
        bound = np.maximum(bound, est + tails[j])
    return bound
