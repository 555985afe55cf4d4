"""Edge fine-tuning of foundation models (Yu, Chua, Zhao: HMPPO paper §II-IV) on the engine.

N UEs each work through a buffer of T fine-tuning tasks; per step the orchestrator decides, per UE,
where the adapter is trained (z: server or UE) and which emulator the UE uses (E: layer retention).
``spec`` reads the scenario, ``model`` holds the closed forms (perplexity, rates, reward),
``simulation`` the SimPy processes, ``observation`` the agents' views, ``result`` the outputs.
"""
from mecsim.systems.edge_tuning.observation import case_state, emulator_state
from mecsim.systems.edge_tuning.result import StepRecord, TaskRecord, TuningResult
from mecsim.systems.edge_tuning.simulation import Simulation, TuneContext
from mecsim.systems.edge_tuning.spec import EdgeTuningSpec, load

__all__ = ["load", "Simulation", "EdgeTuningSpec", "TuneContext", "TuningResult", "TaskRecord", "StepRecord",
           "case_state", "emulator_state"]
