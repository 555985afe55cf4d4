"""The controller hook: decision points, the Controller protocol, and the decision event.

A system process reaches a decision and does ``action = yield sim.decide(point)``. With a controller
the event succeeds at once with ``controller.act(point)``; without one it stays pending until an
external driver (a Gymnasium env) calls :meth:`DecisionBridge.answer`. Same simulator, two drivers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import simpy

from mecsim.analytic import CostModel
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["Controller", "DecisionPoint", "Outcome", "DecisionBridge", "OffloadContext"]


class OffloadContext(NamedTuple):
    """What an offloading controller may know at decision time (domain objects, never the simulator).

    ``cost_model`` holds the nominal speeds and rates seen from this device now (no fading, no
    queueing by others): planners evaluate the closed form with it. ``server_load[k]`` is the number
    of jobs waiting or in service at server k+1 (its VM for this device, or its pool).
    """

    graph: TaskGraph
    order: tuple[int, ...]           # the schedule order of this application's tasks
    position: int                    # index in `order` of the task being decided
    plan: tuple[int, ...]            # actions of order[:position], in schedule order
    device: int
    servers: tuple[str, ...]         # names of actions 1..K
    cost_model: CostModel
    server_load: tuple[int, ...]


class DecisionPoint(NamedTuple):
    """One decision. ``kind`` names the system's question ("offload": where task `task` runs).

    ``observation`` is the system's observation, as its Gymnasium environment gives it (offload: the
    MRLCO §4.2 task embeddings, the partial plan, the step and the mask; see mecsim.envs.dag_offload),
    unpadded: N is this application's number of tasks.
    ``actions`` is the number of valid actions (0 .. actions-1).

    Points and contexts are named tuples: read-only like frozen dataclasses, and cheaper to build. A
    task builds one of each: as frozen dataclasses they took 3.9 µs, as named tuples 1 µs, of the
    45 µs a task costs at 10,000 devices (BENCHMARKS.md).
    """

    kind: str
    time: float
    app: int
    task: int
    task_label: str
    actions: int
    context: OffloadContext
    observation: Any = None


@dataclass(frozen=True)
class Outcome:
    """Told to controllers that define ``observe``: an application's result after the fact."""

    app: int
    device: int
    status: str                       # completed | dropped
    latency_s: float | None
    plan: tuple[int, ...]             # action per task id
    reason: str = ""


@runtime_checkable
class Controller(Protocol):
    """A class with one method. ``observe(outcome)`` is optional (online adaptation)."""

    def act(self, point: DecisionPoint) -> int: ...


@dataclass
class DecisionBridge:
    """Turns decision points into SimPy events answered by a controller or an external agent."""

    env: simpy.Environment
    controller: Controller | None = None
    pending: DecisionPoint | None = None
    _event: simpy.Event | None = field(default=None, repr=False)
    decisions: int = 0

    def decide(self, point: DecisionPoint) -> simpy.Event:
        event = self.env.event()
        self.decisions += 1
        if self.controller is not None:
            event.succeed(self.controller.act(point))
        else:
            if self.pending is not None:
                raise RuntimeError("two decisions pending at once: answer the first one")
            self.pending, self._event = point, event
        return event

    def answer(self, action: int) -> None:
        """Answer the pending decision (used by Gymnasium/PettingZoo drivers)."""
        if self._event is None:
            raise RuntimeError("no decision is pending")
        event, self.pending, self._event = self._event, None, None
        event.succeed(action)

    def observe(self, outcome: Outcome) -> None:
        observe = getattr(self.controller, "observe", None)
        if observe is not None:
            observe(outcome)
