"""What a DAG-offloading controller is given: its context, its actions, the outcome told afterwards.

A decision point of this system has ``kind`` "offload", ``key`` (app, task) with the task's id (its
0-based index in the graph, as in apps.csv and trace.csv) and ``label`` "app A task T" with the
same ids (not the .gv file's node label), so messages and outputs number tasks alike. Its answer is an
:data:`OffloadAction`; ``observe`` errors are labelled "app A".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from mecsim.decision import Controller
from mecsim.systems.dag_offloading.analytic import CostModel
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["OffloadAction", "OffloadContext", "OffloadController", "Outcome"]

OffloadAction = int
"""Where the task runs: 0 = the device, k = edge server k, K+1 = the cloud when there is one."""


class OffloadContext(NamedTuple):
    """What an offloading controller may know at decision time (domain objects, never the simulator).

    ``cost_model`` holds the nominal speeds and rates seen from this device now (no fading, no
    queueing by others): planners evaluate the closed form with it. ``server_load[k]`` is the number
    of jobs waiting or in service at server k+1 (its VM for this device, or its pool).
    """

    app: int                         # the application's index in the run (apps.csv's app)
    task: int                        # the task being decided (its id in graph)
    graph: TaskGraph
    order: tuple[int, ...]           # the schedule order of this application's tasks
    position: int                    # index in `order` of the task being decided
    plan: tuple[int, ...]            # actions of order[:position], in schedule order
    device: int
    servers: tuple[str, ...]         # names of actions 1..K
    cost_model: CostModel
    server_load: tuple[int, ...]


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
