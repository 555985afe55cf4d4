"""Heuristic controllers: the offloading baselines (MRLCO §5.2, as the authors' code runs them) and the
edge-tuning Random baseline (HMPPO §VI-B). None of them imports torch.

Every controller answers one decision at a time; planners that need the whole application plan it
at the application's first decision with the closed form (``mecsim.systems.dag_offloading.analytic``) and replay the plan.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from mecsim.systems.dag_offloading.analytic import earliest_finish_plan, task_times
from mecsim.decision import DecisionPoint
from mecsim.systems.dag_offloading.context import OffloadContext
from mecsim.errors import ConfigError
from mecsim.systems.dag_offloading.optimal import MAX_LOG2_PLANS, optimal_plan

__all__ = ["PLANNERS", "Local", "Remote", "Random", "RoundRobin", "LeastLoaded", "Greedy", "Heft", "Optimal",
           "RandomTuning", "LocalKeepEmulator"]


class Local:
    """Every task on the device."""

    def act(self, point: DecisionPoint) -> int:
        return 0


class Remote:
    """Every task offloaded; with several targets, to the one with the fewest jobs queued now."""

    def act(self, point: DecisionPoint) -> int:
        loads = point.context.server_load
        if len(loads) == 1:
            return 1
        return 1 + min(range(len(loads)), key=lambda k: (loads[k], k))


class Random:
    """A uniformly random target per task, from the controller's own random stream."""

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def act(self, point: DecisionPoint) -> int:
        return int(self.rng.integers(point.actions))


class RoundRobin:
    """Targets in turn along the schedule order: 1, 2, …, K, 0, 1, … (the authors offload the tasks
    at even positions of the rank order, i.e. 1, 0, 1, 0 with one server)."""

    def act(self, point: DecisionPoint) -> int:
        return (point.context.position + 1) % point.actions


class LeastLoaded:
    """Every task to the target where it would finish first given the queues now (each job ahead taken as long).

    The estimate per target is its stages' service times (MRLCO eq. 4 with the cost model's rates)
    each stretched by the jobs already waiting or in service there plus one: the device's CPU for
    local, else uplink, server (or cloud) and downlink, plus any wired legs; a stage that never
    queues (``parallel`` sharing) is not stretched. The device wins ties. Meant for
    ``decisions: when_ready``, where the queues are those of the moment the task can start; at
    arrival it sees the load before any of the application's tasks run.
    """

    def act(self, point: DecisionPoint) -> int:
        ctx: OffloadContext = point.context
        model, live, i = ctx.cost_model, ctx.live, ctx.task
        t = task_times(ctx.graph, model)
        up = 1 if model.uplink == "parallel" else live.uplink_queue + 1
        down = 1 if model.downlink == "parallel" else live.downlink_queue + 1
        finish = [(live.cpu_queue + 1) * float(t.local[i])]
        for k, load in enumerate(ctx.server_load):
            finish.append(up * float(t.up[k, i]) + float(t.wired_up[k, i]) + (load + 1) * float(t.mec[k, i])
                          + float(t.wired_down[k, i]) + down * float(t.down[k, i]))
        return min(range(len(finish)), key=lambda a: (finish[a], a))


class _PlannedPerApplication:
    """Plans a whole application at its first decision (``plan``, action per task id), then replays it."""

    decisions = ("at_arrival",)    # a plan made at arrival: the when_ready mode's live state would go unread

    def __init__(self) -> None:
        self._app: int | None = None
        self._plan: list[int] = []

    def plan(self, ctx: OffloadContext) -> list[int]:
        raise NotImplementedError

    def act(self, point: DecisionPoint) -> int:
        if self._app != point.context.app:
            self._app, self._plan = point.context.app, list(self.plan(point.context))
        return self._plan[point.context.task]


PLANNERS = ("authors", "model")


class _EarliestFinish(_PlannedPerApplication):
    """Put each task where its estimated finish time is earliest; the device wins only if strictly
    earlier (the authors' rule). Planned with the closed form at the application's first decision.

    ``planner`` says which model the estimates come from; it matters only under the authors'
    entry-upload quirk (``compat.entry_upload_bypass``, cost model uplink "entry_parallel"):

    * ``"authors"`` (default): as the authors' code plans (metarl-offloading ``greedy_solution``, notes
      ``mrlco_authors_code.md`` §2c), on its serial-uplink estimate, whatever the model in force; the
      simulator then scores the plan in the model in force. This is how the paper's HEFT-based and
      Greedy columns were produced (MRLCO Table 3).
    * ``"model"``: on the closed form of the model in force, quirk included: a stronger baseline under
      the quirk, which the paper never ran.

    Without the quirk both plan on the same (serial or parallel) uplink and give the same plan.
    """

    def __init__(self, planner: str = "authors") -> None:
        super().__init__()
        if planner not in PLANNERS:
            raise ConfigError(f"must be one of {', '.join(PLANNERS)}, got {planner!r}",
                              path="controller_params.planner")
        self.planner = planner

    def plan(self, ctx: OffloadContext) -> list[int]:
        model = ctx.cost_model
        if self.planner == "authors" and model.uplink == "entry_parallel":
            model = dataclasses.replace(model, uplink="serial")
        return earliest_finish_plan(ctx.graph, model, ctx.order)


class Greedy(_EarliestFinish):
    """MRLCO's "Greedy": earliest finish, tasks visited (and so scheduled) in id order."""

    schedule_order = "id"


class Heft(_EarliestFinish):
    """MRLCO's "HEFT-based": earliest finish, tasks visited in upward-rank order (eq. 10)."""

    schedule_order = "rank"


class Optimal(_PlannedPerApplication):
    """Exhaustive optimum of the closed form (branch and bound), planned per application.

    With several devices sharing resources this is only a per-application oracle: it assumes the
    application is alone, as the closed form does.
    """

    max_log2_plans = MAX_LOG2_PLANS

    def plan(self, ctx: OffloadContext) -> list[int]:
        return optimal_plan(ctx.graph, ctx.cost_model, ctx.order)[1]

    def check(self, tasks: int, actions: int) -> None:
        """Raise ValueError before a run if an application is too large to search exhaustively."""
        if tasks * np.log2(actions) > self.max_log2_plans + 1e-9:
            raise ValueError(f"optimal searches {actions}^n plans and refuses more than "
                             f"2^{self.max_log2_plans}, got n = {tasks} with {actions - 1} target(s). "
                             f"Hint: use heft or greedy for large DAGs")


class RandomTuning:
    """§VI-B's Random baseline: both agents act uniformly at random, from the controller's own stream."""

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def act(self, point: DecisionPoint) -> tuple[int, float]:
        ctx = point.context
        return int(self.rng.integers(2)), float(self.rng.uniform(ctx.e_min, ctx.e_max))


class LocalKeepEmulator:
    """Edge fine-tuning's fixed reference policy: every UE trains locally on the largest emulator E_max.

    Each UE downloads its emulator once and keeps the cached copy (no switch after the first step). Under
    HMPPO eq. (9) and the §VI-A fit f(E) = 25.2E² − 43.1E + 31.9, f falls on [0.2, 0.8] and f(1) = 14.0 >
    f(0.8) = 13.55, so training on the server costs an upload and buys a worse perplexity: this policy is
    the bar a learned tuner has to reach in the paper's own model."""

    def act(self, point: DecisionPoint) -> tuple[int, float]:
        return 0, float(point.context.e_max)
