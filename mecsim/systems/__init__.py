"""The papers' systems, each a set of SimPy processes on the engine, named by a scenario's ``system:``.

``dag_offloading`` (MRLCO/MRLATO) is built into the scenario model and :class:`mecsim.Simulation`.
Every other system is a module that supplies three things, so ``mecsim run``, ``validate``, ``train``
and the environments treat all systems alike:

- ``load(doc, base) -> spec``: the scenario document (:class:`mecsim.scenario.source.Document`) as
  the system's own frozen, validated dataclass. The spec has at least ``name``, ``file``, ``seed``,
  ``system``, ``controller``, ``controller_params`` and ``horizon_s``; errors follow the scenario
  recipe (``FILE:LINE: key.path: ...``) through :class:`mecsim.scenario.checks.Node`.
- ``Simulation(spec, controller=None, *, seed=None, trace=True, controller_name="")`` with
  ``bridge`` (:class:`mecsim.decision.DecisionBridge`), ``step() -> bool`` and
  ``run(progress=False) -> result``.
- the result: ``scenario``, ``seed``, ``controller``, ``trace`` (:class:`mecsim.trace.TraceRecorder`),
  ``summary() -> dict`` (summary.json), ``tables() -> dict[str, str]`` (file name → CSV text) and
  ``headline() -> list[tuple[str, str]]`` (the lines ``mecsim run`` prints).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from mecsim.scenario.checks import suggest

__all__ = ["SYSTEMS", "system_module"]

SYSTEMS: dict[str, str] = {
    "dag_offloading": "mecsim.systems.dag_offloading",
    "service_management": "mecsim.systems.service_management",
    "edge_tuning": "mecsim.systems.edge_tuning",
}


def system_module(name: str) -> ModuleType:
    """The module of a registered system; ValueError (with a suggestion) for an unknown name."""
    target = SYSTEMS.get(name)
    if target is None:
        close = suggest(name, SYSTEMS)
        hint = f"; did you mean {close!r}?" if close else ""
        raise ValueError(f"must be one of {', '.join(SYSTEMS)}, got {name!r}{hint}")
    return importlib.import_module(target)
