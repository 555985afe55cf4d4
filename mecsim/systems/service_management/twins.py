"""Digital twins of the AI-model conditions the physical system has met (PEARL-DT §IV-C, Fig. 2).

A twin is a simulation instance of one encountered condition, built from the same scenario. It is
created when the physical system first runs under that condition (an AI-model upgrade: the twin
takes the condition's AI models) and kept in sync with the physical system: every slot state
observed there under the condition joins the twin's pool. Training draws from the twins (Algorithm 1).

Where a twin's emulated slots take their states from is the scenario's ``twins.states``:

- ``generated`` (default): from the scenario's distributions, as §V generates the EDs' states "at
  each time"; the twin emulates the condition, not the few slots the physical system happened to see.
- ``observed``: from the pool of observed states (with the twin's own random stream). With a few
  slots per condition the state alone then tells the twins apart, so a critic can fit each twin
  without the context z (RESULTS.md, PEARL-DT).
"""
from __future__ import annotations

from typing import Iterable

from mecsim.decision import Controller
from mecsim.systems.service_management.plan import SlotState
from mecsim.systems.service_management.spec import ServiceScenario
from mecsim.systems.service_management.system import ServiceSimulation, SlotRecord
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

    @property
    def replayed(self) -> list[SlotState] | None:
        """The states the twin's emulations draw from: the observed pool, or None (generated)."""
        return self.states if self.scenario.twin_states == "observed" else None

    def simulation(self, controller: Controller | None = None, *, seed: int = 0, slots: int | None = None,
                   trace: bool = False) -> ServiceSimulation:
        """An emulation run of this condition (pending decisions when no controller is given)."""
        return ServiceSimulation(self.scenario, controller, seed=seed, trace=trace, condition=self.condition,
                          states=self.replayed, slots=slots, world=self.world)


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
