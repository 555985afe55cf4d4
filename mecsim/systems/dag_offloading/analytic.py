"""Closed-form latency of a DAG offloading plan: MRLCO eqs. (4)-(8) as the authors' code evaluates them.

This is the special case "one device, every resource serving its tasks in schedule order" of the
DES. It is the test oracle for the engine and the fast path for planners (HEFT, Greedy, Optimal).

Semantics (MRLCO §3, made exact by the authors' evaluator, see ``shared/data/mrlco/README.md``):

* resources serve tasks strictly in schedule order: M_i = max(M_{i-1}, FT_{i-1})   (eqs. 5-7);
* a local task starts after its local parents finish and its remote parents' results are downloaded;
* an offloaded task's upload starts after its local parents finish and its offloaded parents'
  uploads finish; its execution on server k starts after its upload and the executions of its parents
  on server k; a parent on another server sends its result through the device, so the upload also
  waits for that parent's download (this only arises with several servers);
* every offloaded task downloads its result; latency = the last finish time, downloads included (eq. 8);
* a server behind wired links (another access point's server, the cloud) adds, each way, the route's
  serialisation (bits × Σ 1/rate over its links) and propagation delay, as a pipe that never queues:
  exact while transfers on a link do not overlap (mecsim's extension; the papers have one AP); an
  upload counts as finished for the children when its data reaches the server;
* ``uplink="entry_parallel"`` is the authors' quirk: an offloaded task without parents starts its upload
  when the uplink is free (after the uploads scheduled before it) but does not occupy it: later uploads
  do not wait for it. With it, Optimal on set 8 at 7 Mbps gives the paper's 679.31 (Table 3). ``downlink="parallel"``: downloads never queue (the authors').
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mecsim.workload.taskgraph import TaskGraph

__all__ = ["CostModel", "TaskTimes", "PlanState", "evaluate_plan", "earliest_finish_plan", "rank_order", "id_order",
           "ORDERS", "schedule_order",
           "task_times"]

UPLINK_MODES = ("serial", "entry_parallel", "parallel")
DOWNLINK_MODES = ("serial", "parallel")


@dataclass(frozen=True)
class CostModel:
    """Speeds and rates of one device and its servers (SI units: cycles/s and bit/s).

    ``server_hz[k]``, ``uplink_bps[k]`` and ``downlink_bps[k]`` are those of server k+1 (action k+1).
    ``route_up[k]`` and ``route_down[k]`` are the wired legs between the device's access point and
    server k+1, each (seconds per bit, propagation seconds); empty: no wired leg anywhere.
    """

    local_hz: float
    server_hz: tuple[float, ...]
    uplink_bps: tuple[float, ...]
    downlink_bps: tuple[float, ...]
    uplink: str = "serial"
    downlink: str = "parallel"
    route_up: tuple[tuple[float, float], ...] = ()
    route_down: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.uplink not in UPLINK_MODES:
            raise ValueError(f"uplink: must be one of {UPLINK_MODES}, got {self.uplink!r}")
        if self.downlink not in DOWNLINK_MODES:
            raise ValueError(f"downlink: must be one of {DOWNLINK_MODES}, got {self.downlink!r}")
        if not (len(self.server_hz) == len(self.uplink_bps) == len(self.downlink_bps) >= 1):
            raise ValueError("server_hz, uplink_bps and downlink_bps need one entry per server")
        if len(self.route_up) != len(self.route_down) or len(self.route_up) not in (0, len(self.server_hz)):
            raise ValueError("route_up and route_down need one entry per server, or none")

    @property
    def servers(self) -> int:
        return len(self.server_hz)


@dataclass(frozen=True)
class TaskTimes:
    """Service times per task (eq. 4): local[i], and per server k: up[k, i], mec[k, i], down[k, i];
    wired_up[k, i] and wired_down[k, i]: the wired legs to and from server k (0 without one)."""

    local: np.ndarray
    up: np.ndarray
    mec: np.ndarray
    down: np.ndarray
    wired_up: np.ndarray
    wired_down: np.ndarray


def task_times(graph: TaskGraph, model: CostModel) -> TaskTimes:
    """MRLCO eq. (4): T^ul = data^s / R_ul, T^s = C / f_vm, T^dl = data^r / R_dl, plus T^UE = C / f_UE."""
    up_bits, down_bits = graph.up_bytes * 8.0, graph.down_bytes * 8.0

    def wired(route: tuple[tuple[float, float], ...], bits: np.ndarray) -> np.ndarray:
        if not route:
            return np.zeros((model.servers, graph.n))
        legs = np.array(route)      # (servers, 2): seconds per bit, delay
        return bits * legs[:, :1] + legs[:, 1:]

    def column(values: tuple[float, ...]) -> np.ndarray:     # one row per server, broadcast over tasks
        return np.array(values, dtype=float)[:, None]

    return TaskTimes(
        local=graph.cycles / model.local_hz,
        up=up_bits / column(model.uplink_bps),
        mec=graph.cycles / column(model.server_hz),
        down=down_bits / column(model.downlink_bps),
        wired_up=wired(model.route_up, up_bits),
        wired_down=wired(model.route_down, down_bits),
    )


def rank_order(graph: TaskGraph, times: TaskTimes, weight: str = "min") -> list[int]:
    """Descending upward rank: rank_i = w_i + max over children of rank_j.

    ``weight="min"``: MRLCO eq. (10) with the authors' w_i = min(local, best remote time).
    ``weight="remote"``: MRLATO eq. (13), t_i = "the total time to complete the entire execution
    process", read as the offloaded pipeline upload + execution + download (best server); the
    paper does not spell t_i out further. Ties go to the lower task id, so the order is deterministic.
    """
    remote = (times.up + times.wired_up + times.mec + times.wired_down + times.down).min(axis=0)
    if weight == "min":
        w = np.minimum(times.local, remote)
    elif weight == "remote":
        w = remote
    else:
        raise ValueError(f"weight: must be 'min' or 'remote', got {weight!r}")
    rank = np.zeros(graph.n)
    for i in reversed(graph.topological_order()):
        rank[i] = w[i] + max((rank[j] for j in graph.children[i]), default=0.0)
    return sorted(range(graph.n), key=lambda i: (-rank[i], i))


def id_order(graph: TaskGraph) -> list[int]:
    """Tasks in id order, the order of the papers' Greedy (valid: every edge goes low -> high id)."""
    order = list(range(graph.n))
    if any(b < a for a, b in graph.edges):
        return graph.topological_order()
    return order


ORDERS = ("rank", "recursive_rank", "id")


def schedule_order(graph: TaskGraph, times: TaskTimes, kind: str) -> list[int]:
    """The order tasks are decided in: ``rank`` (MRLCO eq. 10), ``recursive_rank`` (MRLATO eq. 13) or ``id``."""
    if kind == "id":
        return id_order(graph)
    return rank_order(graph, times, "remote" if kind == "recursive_rank" else "min")


class PlanState:
    """The recurrences advanced one decision at a time; HEFT and Greedy peek at both options.

    Finish times of tasks not yet decided are 0, as the paper sets them (text after eq. 5).
    """

    __slots__ = ("graph", "model", "times", "local_avail", "ul_avail", "dl_avail", "mec_avail",
                 "ft_local", "ft_ul", "ft_mec", "ft_dl", "where", "makespan")

    def __init__(self, graph: TaskGraph, model: CostModel, times: TaskTimes | None = None) -> None:
        n = graph.n
        self.graph, self.model = graph, model
        self.times = times if times is not None else task_times(graph, model)
        self.local_avail = self.ul_avail = self.dl_avail = 0.0
        self.mec_avail = [0.0] * model.servers
        self.ft_local, self.ft_ul, self.ft_mec, self.ft_dl = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
        self.where = [-1] * n
        self.makespan = 0.0

    def finish_if(self, task: int, action: int) -> float:
        """Finish time task would get with `action` (0 local, k server k), without committing."""
        return self._schedule(task, action, commit=False)

    def apply(self, task: int, action: int) -> float:
        """Commit `action` for `task`; returns its finish time (result back on the device)."""
        return self._schedule(task, action, commit=True)

    def _schedule(self, i: int, action: int, commit: bool) -> float:
        parents, t, m = self.graph.parents[i], self.times, self.model
        if action == 0:
            ready = 0.0
            for p in parents:  # eq. (7)
                ready = max(ready, self.ft_local[p], self.ft_dl[p])
            finish = max(self.local_avail, ready) + t.local[i]
            if commit:
                self.ft_local[i] = self.local_avail = finish
        else:
            k = action - 1
            up_ready = exec_ready = 0.0
            for p in parents:
                wp = self.where[p]
                if wp == 0:
                    up_ready = max(up_ready, self.ft_local[p])
                elif wp == action:
                    up_ready = max(up_ready, self.ft_ul[p])
                    exec_ready = max(exec_ready, self.ft_mec[p])
                else:  # another server: its result comes through the device
                    up_ready = max(up_ready, self.ft_ul[p], self.ft_dl[p])
            entry_bypass = (m.uplink == "entry_parallel" and not parents) or m.uplink == "parallel"
            up_start = up_ready if m.uplink == 'parallel' else max(self.ul_avail, up_ready)
            sent = up_start + t.up[k, i]                                    # eq. (5)
            ft_ul = sent + t.wired_up[k, i]                                 # the data is at the server
            ft_mec = max(self.mec_avail[k], ft_ul, exec_ready) + t.mec[k, i]  # eq. (6)
            back = ft_mec + t.wired_down[k, i]
            dl_start = back if m.downlink == "parallel" else max(self.dl_avail, back)
            finish = dl_start + t.down[k, i]
            if commit:
                self.ft_ul[i], self.ft_mec[i], self.ft_dl[i] = ft_ul, ft_mec, finish
                if not entry_bypass:
                    self.ul_avail = sent
                self.mec_avail[k] = ft_mec
                if m.downlink == "serial":
                    self.dl_avail = finish
        if commit:
            self.where[i] = action
            self.makespan = max(self.makespan, finish)                      # eq. (8)
        return finish


def evaluate_plan(graph: TaskGraph, model: CostModel, order: Sequence[int],
                  plan: Sequence[int], times: TaskTimes | None = None) -> float:
    """Latency T^c of `plan` (plan[i] = action of task i) with tasks scheduled in `order` (eq. 8)."""
    state = PlanState(graph, model, times)
    for i in order:
        state.apply(i, int(plan[i]))
    return state.makespan


def earliest_finish_plan(graph: TaskGraph, model: CostModel, order: Sequence[int],
                         times: TaskTimes | None = None) -> list[int]:
    """The papers' HEFT-based / Greedy rule: visit tasks in `order`, put each where its estimated
    finish is earliest, advancing only the chosen resources. The device wins only if strictly earlier
    (the authors' tie rule); among servers the first earliest wins. Returns the action per task id."""
    state = PlanState(graph, model, times)
    for i in order:
        finishes = [state.finish_if(i, a) for a in range(model.servers + 1)]
        best_remote = 1 + int(np.argmin(finishes[1:]))
        state.apply(i, 0 if finishes[0] < finishes[best_remote] else best_remote)
    return state.where[:]
