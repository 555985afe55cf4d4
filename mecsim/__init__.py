"""mecsim: a discrete-event simulator of mobile edge computing with a controller hook."""
from mecsim.decision import Controller, DecisionPoint
from mecsim.errors import ConfigError, MecsimError, UnknownControllerError
from mecsim.registry import make_controller, resolve
from mecsim.scenario.load import load_scenario
from mecsim.systems import System, get_system, register_system
from mecsim.systems.dag_offloading import (CostModel, DagResult, DagScenario, DagSimulation, OffloadContext, Outcome,
                                           PlanState, evaluate_plan, id_order, rank_order, task_times)
from mecsim.workload.gv import AttributeMap, read_gv, write_gv
from mecsim.workload.taskgraph import TaskGraph

from mecsim import analysis  # noqa: E402  (study a run folder: `mecsim report`)

__all__ = [
    "AttributeMap", "ConfigError", "Controller", "CostModel", "DagResult", "DagScenario", "DagSimulation",
    "DecisionPoint", "MecsimError", "OffloadContext", "Outcome", "PlanState", "System", "TaskGraph",
    "UnknownControllerError", "analysis", "evaluate_plan", "get_system", "id_order", "load_scenario", "make_controller",
    "rank_order", "read_gv", "register_system", "resolve", "task_times", "write_gv",
]
__version__ = "0.1.0"
