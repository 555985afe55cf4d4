"""Edge fine-tuning of foundation models (Yu, Chua, Zhao: HMPPO paper §II-IV) on the engine.

N UEs each work through a buffer of T fine-tuning tasks; per step the orchestrator decides, per UE,
where the adapter is trained (z: server or UE) and which emulator the UE uses (E: layer retention).
``spec`` reads the scenario, ``model`` holds the closed forms (perplexity, rates, reward),
``simulation`` the SimPy processes, ``observation`` the agents' views, ``result`` the outputs.
A decision point has ``kind`` "tune", ``key`` (step, UE) and ``label`` "ueN/taskT"; its answer is a
:data:`TuneAction`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mecsim.scenario.source import Document
from mecsim.sizing import RunSize
from mecsim.trace import TraceStream
from mecsim.systems.edge_tuning.observation import case_state, emulator_state
from mecsim.systems.edge_tuning.result import StepRecord, TaskRecord, TuningResult
from mecsim.systems.edge_tuning.simulation import TuneAction, TuneContext, TuneController, TuningSimulation
from mecsim.systems.edge_tuning.spec import EdgeTuningSpec, load

__all__ = ["SYSTEM", "load", "TuningSimulation", "EdgeTuningSpec", "TuneAction", "TuneContext", "TuneController",
           "TuningResult", "TaskRecord", "StepRecord", "case_state", "emulator_state"]


EVENTS_PER_UE_STEP = 6
"""engine events per UE and step, about (its decision, upload or local work, download; tests/test_sizing.py)"""


class EdgeTuningSystem:
    """The :class:`mecsim.systems.System` of HMPPO's edge fine-tuning."""

    name = "edge_tuning"
    context = TuneContext
    streams_trace = True

    def load(self, doc: Document, base: Path) -> EdgeTuningSpec:
        return load(doc, base)

    def simulation(self, spec: EdgeTuningSpec, controller: TuneController | None = None, *,
                   seed: int | None = None, trace: bool | TraceStream = True, controller_name: str = "") -> TuningSimulation:
        return TuningSimulation(spec, controller, seed=seed, trace=trace, controller_name=controller_name)

    def check(self, spec: EdgeTuningSpec, controller: Any, seed: int) -> None:
        """Every answer is checked as it comes (TuningSimulation._check): nothing to vet before."""

    def describe(self, spec: EdgeTuningSpec) -> str:
        return f"{spec.ues} UE(s), {spec.tasks} step(s)"

    def size(self, spec: EdgeTuningSpec) -> RunSize:
        # the shared links' rate tables hold a rate per UE and share count: two N x N float arrays
        return RunSize(EVENTS_PER_UE_STEP * spec.ues * spec.tasks, f"{spec.ues} UEs over {spec.tasks} steps",
                       16.0 * spec.ues ** 2, "ues", spec.ues)

    def env(self, spec: EdgeTuningSpec) -> Any:
        from mecsim.envs.edge_tuning import EdgeTuningEnv
        return EdgeTuningEnv(spec)


SYSTEM = EdgeTuningSystem()
