"""The controller hook: decision points, the Controller protocol, and the decision event.

A system process reaches a decision and does ``action = yield sim.decide(point)``. With a controller
the event succeeds at once with ``controller.act(point)``; without one it stays pending until an
external driver (a Gymnasium env) calls :meth:`DecisionBridge.answer`. Same simulator, two drivers.

An exception in the controller's ``act`` or ``observe`` becomes one :class:`mecsim.errors.ControllerError`
line naming the controller, the simulated time and the decision's ``label`` (the original chained).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Hashable, NamedTuple, Protocol, TypeVar, runtime_checkable

import simpy

from mecsim.errors import MecsimError, raised

__all__ = ["Controller", "DecisionPoint", "DecisionBridge"]

C_co = TypeVar("C_co", covariant=True)        # a system's context type (a point is read-only)
C_contra = TypeVar("C_contra", contravariant=True)
A_co = TypeVar("A_co", covariant=True)        # the actions a system accepts


class DecisionPoint(NamedTuple, Generic[C_co]):
    """One decision: ``kind`` names the system's question, ``context`` (of the system's own type)
    what a controller may know then; the simulator itself is never in it.

    ``key`` identifies the decision within the run and ``label`` says it in words for messages; each
    system documents both (DAG offloading: (app, task) and "app A task T"). ``actions`` counts the
    valid choices of a discrete decision (0 .. actions-1). ``observation`` is what the system's
    Gymnasium environment would observe here.

    Points are named tuples: read-only like a frozen dataclass and cheaper to build (the DAG system
    builds one per task on its hot path; BENCHMARKS.md).
    """

    kind: str
    time: float
    key: Hashable
    label: str
    actions: int
    context: C_co
    observation: Any = None


@runtime_checkable
class Controller(Protocol[C_contra, A_co]):
    """A class with one method: ``Controller[Context, Action]`` answers a system's decision points
    with its actions (each system names its pair, e.g. ``OffloadController``). ``observe(outcome)``
    is optional: systems that report results after the fact call it (online adaptation)."""

    def act(self, point: DecisionPoint[C_contra]) -> A_co: ...


@dataclass
class DecisionBridge:
    """Turns decision points into SimPy events answered by a controller or an external agent.

    ``name`` is the controller's in error messages (default its class name; ``mecsim run`` sets the
    name the user gave)."""

    env: simpy.Environment
    controller: Controller | None = None
    pending: DecisionPoint | None = None
    _event: simpy.Event | None = field(default=None, repr=False)
    decisions: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name and self.controller is not None:
            self.name = type(self.controller).__name__

    def decide(self, point: DecisionPoint) -> simpy.Event:
        event = self.env.event()
        self.decisions += 1
        if self.controller is not None:
            # a try block costs nothing until something raises (CPython 3.11+): no per-decision layer
            try:
                action = self.controller.act(point)
            except MecsimError:
                raise
            except Exception as exc:
                raise raised(self.name, exc, f"at t={self.env.now:g} s, {point.label}") from exc
            event.succeed(action)
        else:
            if self.pending is not None:
                raise RuntimeError("two decisions pending at once: answer the first one")
            self.pending, self._event = point, event
        return event

    def refused(self, answer: Any, rule: str, point: DecisionPoint) -> MecsimError:
        """The one-line error for an answer that breaks the action rule: who answered what, when, to what
        (the answer's repr on one line, at most 80 characters: an array's can run to pages)."""
        shown = " ".join(repr(answer).split())
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return MecsimError(f"{self.name or 'the driver'}: answered {shown} at t={self.env.now:g} s, "
                           f"{point.label}: {rule}")

    def answer(self, action: Any) -> None:
        """Answer the pending decision (used by Gymnasium/PettingZoo drivers)."""
        if self._event is None:
            raise RuntimeError("no decision is pending")
        event, self.pending, self._event = self._event, None, None
        event.succeed(action)

    def observe(self, outcome: Any, label: str) -> None:
        """Tell the controller a result after the fact, if it defines ``observe`` (the system's type);
        `label` says what the outcome is about in words, for error messages (DAG: "app A")."""
        observe = getattr(self.controller, "observe", None)
        if observe is not None:
            try:
                observe(outcome)
            except MecsimError:
                raise
            except Exception as exc:
                raise raised(self.name, exc, f"in observe at t={self.env.now:g} s, {label}") from exc
