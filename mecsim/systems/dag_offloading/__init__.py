"""DAG task offloading (MRLCO §3, MRLATO §III-C): applications as task graphs, decided task by task.

``spec`` and ``load`` read the scenario, ``infrastructure`` builds devices, access points, servers and
links from the engine's parts, ``process`` holds the SimPy processes of an application and its tasks,
``simulation`` runs a scenario, ``result`` is what a run produced, ``context`` what its controllers
see, ``observation`` the MRLCO §4.2 embeddings, ``analytic`` the closed form (MRLCO eqs. 4-8) and
``optimal`` the exact optimum over it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mecsim.scenario.source import Document
from mecsim.sizing import RunSize
from mecsim.systems.dag_offloading.analytic import CostModel, PlanState, evaluate_plan, id_order, rank_order, task_times
from mecsim.systems.dag_offloading.context import LiveState, OffloadAction, OffloadContext, OffloadController, Outcome
from mecsim.systems.dag_offloading.load import load
from mecsim.systems.dag_offloading.result import AppRecord, DagResult
from mecsim.systems.dag_offloading.simulation import DagSimulation, check_run, load_graphs, run_size
from mecsim.systems.dag_offloading.spec import DagScenario
from mecsim.trace import TraceStream

__all__ = ["SYSTEM", "AppRecord", "CostModel", "DagResult", "DagScenario", "DagSimulation", "LiveState",
           "OffloadAction", "OffloadContext", "OffloadController", "Outcome", "PlanState", "evaluate_plan", "id_order",
           "load", "load_graphs", "rank_order", "task_times"]


class DagOffloadingSystem:
    """The :class:`mecsim.systems.System` of DAG offloading."""

    name = "dag_offloading"
    context = OffloadContext
    streams_trace = True

    def load(self, doc: Document, base: Path) -> DagScenario:
        return load(doc, base)

    def simulation(self, spec: DagScenario, controller: OffloadController | None = None, *,
                   seed: int | None = None, trace: bool | TraceStream = True,
                   controller_name: str = "") -> DagSimulation:
        return DagSimulation(spec, controller, seed=seed, trace=trace, controller_name=controller_name)

    def check(self, spec: DagScenario, controller: Any, seed: int) -> None:
        check_run(spec, controller, seed)

    def describe(self, spec: DagScenario) -> str:
        return f"{spec.devices.count} device(s), {len(spec.servers)} server(s)"

    def size(self, spec: DagScenario) -> RunSize:
        return run_size(spec)

    def env(self, spec: DagScenario) -> Any:
        from mecsim.envs.dag_offload import DagOffloadEnv
        return DagOffloadEnv(spec)


SYSTEM = DagOffloadingSystem()
