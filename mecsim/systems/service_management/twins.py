"""Digital twins of the AI-model conditions the physical system has met (PEARL-DT §IV-C, Fig. 2).

A twin is a simulation instance of one encountered condition, built from the same scenario. It is
created when the physical system first runs under that condition (an AI-model upgrade) and kept in
sync with the physical system: every slot state observed there under the condition joins the twin's
pool, and the twin's simulations draw their slot states from that pool (with their own random
stream) instead of the scenario's distributions. Training draws from the twins (Algorithm 1).
"""
from __future__ import annotations

from typing import Iterable

from mecsim.decision import Controller
from mecsim.systems.service_management.plan import SlotState
from mecsim.systems.service_management.spec import ServiceScenario
from mecsim.systems.service_management.system import Simulation, SlotRecord
from mecsim.systems.service_management.world import World, build_world

__all__ = ["DigitalTwin", "TwinSystem"]


class DigitalTwin:
    """One condition's twin: the scenario, the condition and the slot states observed under it."""

    def __init__(self, scenario: ServiceScenario, world: World, condition: str) -> None:
        world.condition(condition)            # an unknown name fails here, not at the first run
        self.scenario, self.world, self.condition = scenario, world, condition
        self.states: list[SlotState] = []

    def sync(self, states: Iterable[SlotState]) -> None:
        """Add slot states observed in the physical system under this condition."""
        self.states.extend(states)

    def simulation(self, controller: Controller | None = None, *, seed: int = 0, slots: int | None = None,
                   trace: bool = False) -> Simulation:
        """An emulation run of this condition (pending decisions when no controller is given)."""
        return Simulation(self.scenario, controller, seed=seed, trace=trace, condition=self.condition,
                          states=self.states, slots=slots, world=self.world)


class TwinSystem:
    """The DT system: a twin per encountered condition, in the order they were encountered."""

    def __init__(self, scenario: ServiceScenario, world: World | None = None) -> None:
        self.scenario = scenario
        self.world = world if world is not None else build_world(scenario)
        self.twins: dict[str, DigitalTwin] = {}

    def observe(self, records: Iterable[SlotRecord]) -> None:
        """Create twins for newly met conditions and sync every twin with the slots run under it."""
        for record in records:
            twin = self.twins.get(record.condition)
            if twin is None:
                twin = self.twins[record.condition] = DigitalTwin(self.scenario, self.world, record.condition)
            twin.sync([record.state])
