"""mecsim: a discrete-event simulator of mobile edge computing with a controller hook."""
from mecsim.analytic import CostModel, PlanState, evaluate_plan, id_order, rank_order, task_times
from mecsim.decision import Controller, DecisionPoint, OffloadContext, Outcome
from mecsim.errors import ConfigError, MecsimError, UnknownControllerError
from mecsim.registry import make_controller, resolve
from mecsim.scenario.load import load_scenario
from mecsim.simulation import RunResult, Simulation
from mecsim.workload.gv import AttributeMap, read_gv, write_gv
from mecsim.workload.taskgraph import TaskGraph

__all__ = [
    "AttributeMap", "ConfigError", "Controller", "CostModel", "DecisionPoint", "MecsimError",
    "OffloadContext", "Outcome", "PlanState", "RunResult", "Simulation", "TaskGraph",
    "UnknownControllerError", "evaluate_plan", "id_order", "load_scenario", "make_controller",
    "rank_order", "read_gv", "resolve", "task_times", "write_gv",
]
__version__ = "0.1.0"
