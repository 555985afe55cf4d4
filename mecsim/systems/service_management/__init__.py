"""The edge AI service-management system of PEARL-DT (§II-III): see :mod:`.system`.

``spec`` reads the scenario, ``world`` draws its fixed parameters, ``plan`` turns a decision into a
feasible plan, ``system`` runs the slots, ``twins`` the digital twins. A decision point has ``kind``
"service", ``key`` the slot index and ``label`` "slot K"; its answer is a :data:`ServiceAction`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mecsim.scenario.source import Document
from mecsim.sizing import RunSize
from mecsim.trace import TraceStream
from mecsim.systems.service_management.plan import Plan, SlotState
from mecsim.systems.service_management.spec import ServiceScenario, load
from mecsim.systems.service_management.system import (Feedback, ServiceAction, ServiceContext, ServiceController,
                                                      ServiceResult, ServiceSimulation, features, observation)
from mecsim.systems.service_management.twins import DigitalTwin, TwinSystem
from mecsim.systems.service_management.world import Condition, World, build_world

__all__ = ["SYSTEM", "load", "ServiceSimulation", "ServiceScenario", "ServiceResult", "ServiceAction",
           "ServiceContext", "ServiceController", "Feedback", "SlotState", "Plan", "Condition", "World",
           "build_world", "DigitalTwin", "TwinSystem", "features", "observation"]


EVENTS_PER_DEVICE_SLOT = 10
"""engine events per device and slot, about (its requests' transfers and executions; tests/test_sizing.py)"""
BYTES_PER_DEVICE = 1024
"""a lower bound of the memory a built device takes (2.9 kB measured with scenarios/pearl_dt/small.yaml)"""


class ServiceManagementSystem:
    """The :class:`mecsim.systems.System` of PEARL-DT's service management."""

    name = "service_management"
    context = ServiceContext
    streams_trace = True

    def load(self, doc: Document, base: Path) -> ServiceScenario:
        return load(doc, base)

    def simulation(self, spec: ServiceScenario, controller: ServiceController | None = None, *,
                   seed: int | None = None, trace: bool | TraceStream = True, controller_name: str = "") -> ServiceSimulation:
        return ServiceSimulation(spec, controller, seed=seed, trace=trace, controller_name=controller_name)

    def check(self, spec: ServiceScenario, controller: Any, seed: int) -> None:
        """Every answer is checked as it comes (ServiceSimulation.parse_action): nothing to vet before."""

    def describe(self, spec: ServiceScenario) -> str:
        return f"{spec.devices.count} device(s), {len(spec.servers)} server(s), {spec.slots} slot(s)"

    def size(self, spec: ServiceScenario) -> RunSize:
        devices = spec.devices.count
        return RunSize(EVENTS_PER_DEVICE_SLOT * devices * spec.slots, f"{devices} devices over {spec.slots} slots",
                       devices * BYTES_PER_DEVICE, "devices.count", devices)

    def env(self, spec: ServiceScenario) -> Any:
        from mecsim.envs.service_management import ServiceManagementEnv
        return ServiceManagementEnv(spec)


SYSTEM = ServiceManagementSystem()
