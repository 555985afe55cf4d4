"""ServiceManagementEnv: PEARL-DT's service-management MDP (§IV-C) as a Gymnasium environment.

One step = one time slot of :mod:`mecsim.systems.service_management`: the observation is eq. (16)
for every ED, the action is eq. (17) (per ED a data method DS, a placement TA — 0 local, h server h —
and a model MS), the reward is eq. (19) with the sign of §IV-D: minus the mean latency of the slot's
requests, in seconds, measured in the DES after the accuracy repair and the per-server P2 selection.
An episode is ``episode_slots`` slots of one AI-model condition (an MDP of the multi-task problem,
§IV-A); it ends by truncation.

``reset(options={"condition": k})`` picks the condition by index into
``ServiceScenario.condition_names`` (training conditions first, then test) or by name; without it,
the condition of the previous episode (initially ``condition`` or the first). ``states`` makes the
env a digital twin's emulation: slot states are drawn from that pool of observed states.

Observation: Box (EDs, H + 6) float32 in [0, 1] (one-hot RAN, B_u, N_u, Υ_u, V^T, V^R, τ scaled by
their scenario ranges). Action: MultiDiscrete, flat, [DS, TA, MS] per ED.
``info``: ``condition``; after a step also ``latency_s`` and ``placement`` (per ED: 0 local, h server h,
H + 1 cloud), the data PEARL-DT's context is built from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mecsim.scenario.load import load_scenario
from mecsim.systems.service_management import ServiceScenario, ServiceSimulation, SlotState, World, build_world, features

__all__ = ["ServiceManagementEnv"]


class ServiceManagementEnv(gym.Env):
    """See the module docstring. ``scenario``: a path or a loaded ServiceScenario."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: str | Path | ServiceScenario | None = None, *, condition: int | str | None = None,
                 episode_slots: int | None = None, states: Sequence[SlotState] | None = None,
                 world: World | None = None) -> None:
        if scenario is None:
            scenario = Path(__file__).with_name("service_management.yaml")
        self.scenario = scenario if isinstance(scenario, ServiceScenario) else load_scenario(scenario)
        if self.scenario.system != "service_management":
            raise ValueError(f"scenario: must be a service_management scenario, got system {self.scenario.system!r}")
        self.world = world if world is not None else build_world(self.scenario)
        self.names = self.scenario.condition_names
        self.condition = self._name(0 if condition is None else condition)
        self.episode_slots = episode_slots or self.scenario.episode_slots
        self.states = list(states) if states else None
        n, h = self.scenario.devices.count, len(self.scenario.servers)
        self.nvec = np.array([self.scenario.aisf.data_methods, h + 1, self.scenario.aisf.models], dtype=np.int64)
        self.observation_space = spaces.Box(0.0, 1.0, (n, features(self.scenario)), np.float32)
        self.action_space = spaces.MultiDiscrete(np.tile(self.nvec, n))
        self.sim: ServiceSimulation | None = None
        self._obs = np.zeros(self.observation_space.shape, np.float32)

    def _name(self, condition: int | str) -> str:
        if isinstance(condition, (int, np.integer)) and not isinstance(condition, bool):
            if not 0 <= condition < len(self.names):
                raise ValueError(f"condition: must be in 0..{len(self.names) - 1}, got {condition}")
            return self.names[int(condition)]
        if condition not in self.names:
            raise ValueError(f"condition: must be one of {', '.join(self.names)} or an index, got {condition!r}")
        return str(condition)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options and "condition" in options:
            self.condition = self._name(options["condition"])
        run_seed = int(self.np_random.integers(2**31 - 1))
        self.sim = ServiceSimulation(self.scenario, None, seed=run_seed, trace=False, condition=self.condition,
                              states=self.states, slots=self.episode_slots, world=self.world)
        self.sim.advance()
        point = self.sim.bridge.pending
        assert point is not None        # a new episode stops at its first slot's decision
        self._obs = point.observation
        return self._obs, {"condition": self.condition}

    def step(self, action):
        if self.sim is None or self.sim.bridge.pending is None:
            raise RuntimeError("call reset() before step(), and again after an episode ends")
        self.sim.bridge.answer(np.asarray(action, dtype=np.int64))
        self.sim.advance()
        record = self.sim.records[-1]
        pending = self.sim.bridge.pending
        if pending is not None:
            self._obs = pending.observation
        info = {"condition": self.condition, "latency_s": record.latency_s, "placement": record.plan.placement}
        return self._obs, record.reward, False, pending is None, info
