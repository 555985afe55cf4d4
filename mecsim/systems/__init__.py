"""The systems that run on the engine, and the contract each follows.

A system is a package under ``mecsim/systems/`` (or anywhere importable) whose module exposes
``SYSTEM``, an object that satisfies :class:`System`. ``mecsim run``, ``validate``, ``sweep``, the
outputs and the scenario loader call only these members, so they never know which system they drive;
a scenario names its system with ``system:`` (default ``dag_offloading``): a name registered in
:data:`SYSTEMS` (:func:`register_system` adds one) or the dotted name of any module with a ``SYSTEM``
(``system: mylab.queueing``), as controllers may be named ``module:Class``.

The three systems of the papers: ``dag_offloading`` (MRLCO/MRLATO), ``service_management``
(PEARL-DT) and ``edge_tuning`` (HMPPO).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, runtime_checkable

from mecsim.decision import Controller, DecisionBridge
from mecsim.scenario.checks import suggest
from mecsim.scenario.source import Document
from mecsim.sizing import RunSize
from mecsim.trace import TraceRecorder, TraceStream

__all__ = ["SYSTEMS", "Spec", "Result", "Run", "System", "get_system", "register_system"]


class Spec(Protocol):
    """A system's scenario: its own frozen, validated dataclass, with at least these fields."""

    name: str
    file: str
    seed: int
    system: str
    controller: str
    controller_params: Mapping[str, Any]
    horizon_s: float | None


class Result(Protocol):
    """What a run returns; :mod:`mecsim.outputs` writes it without knowing the system."""

    scenario: Any
    seed: int
    controller: str
    trace: TraceRecorder | TraceStream

    def summary(self) -> dict[str, Any]:
        """The content of summary.json."""
        ...

    def tables(self) -> Mapping[str, str | Iterable[str]]:
        """The system's own tables: file name (``apps.csv``, ...) → its text, or its text in chunks
        (written in order, never held whole: a long run's graphs.jsonl)."""
        ...

    def headline(self) -> list[tuple[str, str]]:
        """The lines ``mecsim run`` prints, as (label, value)."""
        ...


class Run(Protocol):
    """One simulation of a spec. Without a controller its decisions wait on :attr:`bridge`."""

    bridge: DecisionBridge

    def step(self) -> bool:
        """Process one event; False when nothing is left or the horizon is reached."""
        ...

    def run(self, progress: bool = False) -> Result:
        """Run to the end with the attached controller."""
        ...


@runtime_checkable
class System(Protocol):
    """The contract of a system (see the module's docstring)."""

    name: str
    context: type
    """the type of ``DecisionPoint.context`` its controllers receive"""
    streams_trace: bool
    """whether its runs accept a :class:`mecsim.trace.TraceStream` for ``trace`` (long horizons)"""

    def load(self, doc: Document, base: Path) -> Spec:
        """The scenario document as the system's spec; errors follow the ``FILE:LINE: key: ...`` recipe
        (:class:`mecsim.scenario.checks.Node`); paths are relative to `base`."""
        ...

    def simulation(self, spec: Any, controller: Controller | None = None, *, seed: int | None = None,
                   trace: bool | TraceStream = True, controller_name: str = "") -> Run:
        """A fresh run of `spec` (seed None: the spec's own)."""
        ...

    def check(self, spec: Any, controller: Controller, seed: int) -> None:
        """Refuse, before any simulation, a controller that cannot serve this spec (ConfigError)."""
        ...

    def describe(self, spec: Any) -> str:
        """A few words on the spec's size for ``mecsim validate`` (``3 device(s), 2 server(s)``)."""
        ...

    def size(self, spec: Any) -> RunSize:
        """The run's estimated events and the memory its model takes, before anything is built
        (:mod:`mecsim.sizing`: a notice for long runs, a refusal of ones that cannot fit)."""
        ...

    def env(self, spec: Any) -> Any:
        """The system's Gymnasium environment over `spec`."""
        ...


SYSTEMS: dict[str, str] = {
    "dag_offloading": "mecsim.systems.dag_offloading",
    "service_management": "mecsim.systems.service_management",
    "edge_tuning": "mecsim.systems.edge_tuning",
}


def register_system(name: str, module: str) -> None:
    """Make ``system: name`` in scenario files load `module`'s ``SYSTEM``."""
    SYSTEMS[name] = module


def get_system(name: str) -> System:
    """The SYSTEM of a registered name or a module's dotted name; ValueError (one line) otherwise."""
    target = SYSTEMS.get(name)
    if target is None and "." not in name:
        close = suggest(name, SYSTEMS)
        hint = f"; did you mean {close!r}?" if close else ""
        raise ValueError(f"must be one of {', '.join(SYSTEMS)} or a module's dotted name, got {name!r}{hint}")
    target = target or name
    try:
        module = importlib.import_module(target)
    except ImportError as exc:
        raise ValueError(f"cannot import system module {target!r}: {exc}") from None
    system = getattr(module, "SYSTEM", None)
    if not isinstance(system, System):
        raise ValueError(f"module {target!r} has no SYSTEM following the mecsim.systems.System protocol")
    return system
