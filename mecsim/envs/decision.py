"""Any system's decision points as a Gymnasium environment (a fourth system gets one for free).

``reset`` builds a run without a controller and advances it to the first pending decision; ``step``
answers it and advances to the next one. The observation is the point's ``observation``; the reward
is what the system's `reward` function says the run earned since the previous decision.
"""
from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym

from mecsim.decision import DecisionPoint
from mecsim.systems import Run, System

__all__ = ["DecisionEnv"]


class DecisionEnv(gym.Env):
    """Decisions of `system` on `spec`; episodes end when the run has no decision left."""

    metadata = {"render_modes": []}

    def __init__(self, system: System, spec: Any, observation_space: gym.Space, action_space: gym.Space,
                 reward: Callable[[Run], float]) -> None:
        self.system, self.scenario, self.reward = system, spec, reward
        self.observation_space, self.action_space = observation_space, action_space
        self.run: Run | None = None
        self._last: Any = None

    def _advance(self) -> DecisionPoint | None:
        assert self.run is not None
        while self.run.bridge.pending is None and self.run.step():
            pass
        return self.run.bridge.pending

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        run_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        self.run = self.system.simulation(self.scenario, None, seed=run_seed, trace=False)
        point = self._advance()
        if point is None:
            raise RuntimeError(f"{self.scenario.name}: the run asks for no decision at all")
        self.reward(self.run)                       # nothing earned before the first decision counts
        self._last = point.observation
        return self._last, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self.run is None or self.run.bridge.pending is None:
            raise RuntimeError("call reset() before step(), and again after the episode ends")
        self.run.bridge.answer(action)
        point = self._advance()
        reward = float(self.reward(self.run))
        if point is not None:
            self._last = point.observation
        return self._last, reward, point is None, False, {}
