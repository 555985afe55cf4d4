"""The edge AI service-management system of PEARL-DT (§II-III): see :mod:`.system`.

The systems contract (:mod:`mecsim.systems`): ``load(doc, base)`` gives the frozen
:class:`ServiceScenario`, :class:`Simulation` runs it, its result summarises itself.
"""
from mecsim.systems.service_management.plan import Plan, SlotState
from mecsim.systems.service_management.spec import ServiceScenario, load
from mecsim.systems.service_management.system import (Feedback, ServiceContext, ServiceResult, Simulation,
                                                      features, observation)
from mecsim.systems.service_management.twins import DigitalTwin, TwinSystem
from mecsim.systems.service_management.world import Condition, World, build_world

__all__ = ["load", "Simulation", "ServiceScenario", "ServiceResult", "ServiceContext", "Feedback", "SlotState",
           "Plan", "Condition", "World", "build_world", "DigitalTwin", "TwinSystem", "features", "observation"]
