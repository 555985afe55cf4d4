"""What a DAG-offloading controller is given: its context, its actions, the outcome told afterwards.

A decision point of this system has ``kind`` "offload" (``decisions: at_arrival``: every task of an
application is decided at its arrival, in schedule order) or "task_ready" (``decisions: when_ready``:
each task is decided when all its parents have finished executing; tasks ready at the same moment in
schedule order), ``key`` (app, task) with the task's id (its 0-based index in the graph, as in apps.csv
and trace.csv) and ``label`` "app A task T" with the same ids (not the .gv file's node label), so
messages and outputs number tasks alike. Its answer is an :data:`OffloadAction`; ``observe`` errors are
labelled "app A".

A controller that plans whole applications at their first decision cannot serve ``when_ready``
(an application's decisions are then spread over time and interleave with other applications'): it
declares ``decisions = ("at_arrival",)`` and a when_ready run refuses it before starting. A
controller without the attribute is taken to decide task by task, in either mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from mecsim.decision import Controller
from mecsim.systems.dag_offloading.analytic import CostModel
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["LiveState", "OffloadAction", "OffloadContext", "OffloadController", "Outcome", "KINDS"]

KINDS = {"at_arrival": "offload", "when_ready": "task_ready"}
"""The decision point's ``kind`` in each ``decisions`` mode."""

OffloadAction = int
"""Where the task runs: 0 = the device, k = edge server k, K+1 = the cloud when there is one."""


class LiveState(NamedTuple):
    """The resources seen from the deciding device at decision time.

    Queue lengths count jobs waiting or in service (the device's CPU, its access point's channels;
    the servers' are ``OffloadContext.server_load``). Rates are the device's nominal ones now (its
    position, no fading, the channel to itself): reading the fading would draw from the device's
    random stream and change the run. With an ``energy:`` block (:mod:`mecsim.energy`), ``energy_j`` is
    what the device has drawn so far (its activities and idle draw, J) and ``battery_j`` its battery's
    remaining charge (None without batteries); both are None when the run accounts no energy.
    """

    cpu_queue: int
    uplink_queue: int
    downlink_queue: int
    uplink_bps: float
    downlink_bps: float
    energy_j: float | None = None
    battery_j: float | None = None


class OffloadContext(NamedTuple):
    """What an offloading controller may know at decision time (domain objects, never the simulator).

    ``cost_model`` holds the nominal speeds and rates seen from this device now (no fading, no
    queueing by others): planners evaluate the closed form with it. ``server_load[k]`` is the number
    of jobs waiting or in service at target k+1 (its VM for this device, or its pool; the cloud's CPU).
    ``order`` is fixed at the application's arrival; ``plan`` holds -1 for a task of ``order[:position]``
    not decided yet (only under ``decisions: when_ready``, where readiness can overtake schedule order).
    """

    app: int                         # the application's index in the run (apps.csv's app)
    task: int                        # the task being decided (its id in graph)
    graph: TaskGraph
    order: tuple[int, ...]           # the schedule order of this application's tasks
    position: int                    # index in `order` of the task being decided
    plan: tuple[int, ...]            # actions of order[:position], in schedule order (-1: not decided yet)
    device: int
    servers: tuple[str, ...]         # names of actions 1..K
    cost_model: CostModel
    server_load: tuple[int, ...]
    live: LiveState


OffloadController = Controller[OffloadContext, OffloadAction]


@dataclass(frozen=True)
class Outcome:
    """Told to controllers that define ``observe``: an application's result after the fact."""

    app: int
    device: int
    status: str                       # completed | dropped
    latency_s: float | None
    plan: tuple[int, ...]             # action per task id
    reason: str = ""
