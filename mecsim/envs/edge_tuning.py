"""The edge fine-tuning system (mecsim.systems.edge_tuning) as a PettingZoo ParallelEnv and a Gymnasium env.

**Two agents, one after the other (HMPPO §IV).** Agent ``case`` chooses z (server or local) for every UE;
agent ``emulator`` chooses E for every UE *after seeing z* (§IV-A: s_2 holds a_1^t). A parallel env
steps all live agents at once, so the dependency is realised as two env steps per system step:

1. the case agent's turn: its z is recorded (nothing is simulated; both rewards are 0), and the next
   observation of the emulator agent carries z;
2. the emulator agent's turn: (z, E) answer the N decision points of the step, the simulator runs the
   transfers, and both agents get the team reward R_t (§IV-C) of that step.

Each observation ends with a ``turn`` flag, 1 when that agent's action will be applied; the other
agent's action is ignored (any valid action will do). ``scenario`` is the loaded spec. ``state()`` is
the centralised critic's input (see :data:`STATE_DOC`). An episode is T system steps, i.e. 2T env
steps; both agents terminate together.

Observations (float32, clipped to ±10), see mecsim.systems.edge_tuning.observation:
  case      [s_1 (4N), turn]   s_1 = gains, complexities, data sizes, cached emulators
  emulator  [s_2 (3N), turn]   s_2 = cached emulators, z (zeros on the case turn), complexities
Actions:
  case      MultiBinary(N): z_n = 1 trains UE n's task on the server
  emulator  Box(−1, 1, (N,)): E_n = E_min + (a_n + 1)/2 · (E_max − E_min)

:class:`EdgeTuningEnv` (``mecsim/EdgeTuning-v0``) is the single-agent view: one step per system step,
observation s_1, action ``{"z": MultiBinary(N), "E": Box(−1, 1, (N,))}``.

Seeding: ``reset(seed=s)`` runs the scenario with seed s (the same workload and channels as
``mecsim run --seed s``); ``reset()`` draws the next seed from the env's generator.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from mecsim.scenario.load import scenario_from_document
from mecsim.scenario.source import Document, apply_overrides, flow_yaml, load_yaml, parse_yaml
from mecsim.systems.edge_tuning import EdgeTuningSpec, TuningSimulation, StepRecord, case_state, emulator_state
from mecsim.systems.edge_tuning.observation import case_dim, emulator_dim

__all__ = ["EdgeTuningParallelEnv", "EdgeTuningEnv", "TuningDriver", "load_spec", "retention", "case_observation",
           "emulator_observation", "critic_state", "STATE_DOC"]

LIMIT = 10.0
STATE_DOC = ("state() = [s_1, t/T]: every UE's gain, complexity, data size and cached emulator, and the share of "
             "the buffers done. Eq. (22) feeds the critic [s_1; s_2]; s_2's cached emulators and complexities are "
             "already in s_1, and its z is agent 1's own action, which a state-value baseline must not see (it "
             "would cancel agent 1's advantage), so the critic gets s_1 ∪ s_2 without z. t/T is not in the "
             "paper's states, but an episode has T steps, so the value depends on the steps left; without it "
             "the advantages carry the time-to-go trend and lose the action's effect")
DEFAULT = "name: edge-tuning\nsystem: edge_tuning\n"    # every key at its §VI-A default, N = 6


def load_spec(scenario: str | Path | EdgeTuningSpec | None = None, **overrides: Any) -> EdgeTuningSpec:
    """A scenario file (or the §VI-A defaults) with keyword overrides; nested keys use ``__``:
    ``load_spec(path, ues=7, reward__delay_weight=0.7)``. Values are validated like the file's."""
    if isinstance(scenario, EdgeTuningSpec):
        if overrides:
            raise ValueError("overrides need a scenario file, not a loaded spec")
        return scenario
    doc: Document = load_yaml(scenario) if scenario is not None else parse_yaml(DEFAULT, "<edge_tuning defaults>")
    if overrides:
        doc = apply_overrides(doc, [f"{k.replace('__', '.')}={flow_yaml(v)}" for k, v in overrides.items()])
    spec = scenario_from_document(doc, Path(scenario).parent if scenario is not None else Path("."))
    if not isinstance(spec, EdgeTuningSpec):
        raise ValueError(f"{doc.file}: system must be edge_tuning, got {spec.system!r}")
    return spec


def retention(action: np.ndarray, e_min: float, e_max: float) -> np.ndarray:
    """Box(−1, 1) actions → E in [e_min, e_max] (values outside ±1 are clipped)."""
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    return e_min + (a + 1.0) / 2.0 * (e_max - e_min)


class TuningDriver:
    """Drives a controller-less TuningSimulation one system step at a time: the envs' shared core."""

    def __init__(self, spec: EdgeTuningSpec) -> None:
        self.spec = spec
        self.sim: TuningSimulation | None = None
        self.obs: dict[str, np.ndarray] | None = None

    def reset(self, seed: int) -> dict[str, np.ndarray]:
        self.sim = TuningSimulation(self.spec, None, seed=seed, trace=False)
        point = self.sim.run_until_decision()
        assert point is not None, "an episode starts with a decision"
        self.obs = point.observation
        return self.obs

    def apply(self, z: np.ndarray, e: np.ndarray) -> StepRecord | None:
        """Answer every UE's decision of the current step, run the step; its record (None if the horizon
        cut it). Afterwards ``obs`` is the next step's observation, or None when the episode is over."""
        sim = self.sim
        if sim is None or self.obs is None:
            raise RuntimeError("call reset() before step(), and again after the episode ends")
        done = len(sim.steps)
        for n in range(self.spec.ues):
            point = sim.bridge.pending
            assert point is not None and cast("tuple[int, int]", point.key)[1] == n   # key: (step, ue)
            sim.bridge.answer((int(z[n]), float(e[n])))
            point = sim.run_until_decision()
        self.obs = None if point is None else point.observation
        return sim.steps[done] if len(sim.steps) > done else None

    @property
    def truncated(self) -> bool:
        """The episode ended before T steps (a scenario horizon)."""
        return self.obs is None and self.sim is not None and len(self.sim.steps) < self.spec.tasks


def _bounded(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -LIMIT, LIMIT).astype(np.float32)


def case_observation(obs: dict[str, np.ndarray]) -> np.ndarray:
    """Agent 1's input s_1 as the env gives it (without the turn flag): also the critic's state."""
    return _bounded(case_state(obs))


def critic_state(obs: dict[str, np.ndarray]) -> np.ndarray:
    """The centralised critic's input (STATE_DOC): s_1 and t/T."""
    return np.append(case_observation(obs), obs["progress"])


def emulator_observation(obs: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """Agent 2's input s_2 for case decisions z, as the env gives it (without the turn flag)."""
    return _bounded(emulator_state(obs, z))


def _info(record: StepRecord | None) -> dict[str, Any]:
    if record is None:
        return {}
    return {"step": record.step, "delay_s": record.delay_s, "perplexity": record.perplexity,
            "switches": record.switches}


class EdgeTuningParallelEnv(ParallelEnv):
    """HMPPO's two agents over the edge fine-tuning simulator (see the module docstring)."""

    metadata = {"name": "mecsim_edge_tuning_v0", "render_modes": []}

    def __init__(self, scenario: str | Path | EdgeTuningSpec | None = None, **overrides: Any) -> None:
        self.scenario = load_spec(scenario, **overrides)
        n = self.scenario.ues
        self.possible_agents = ["case", "emulator"]
        self.agents: list[str] = []
        self.observation_spaces = {
            "case": spaces.Box(-LIMIT, LIMIT, (case_dim(n) + 1,), np.float32),
            "emulator": spaces.Box(-LIMIT, LIMIT, (emulator_dim(n) + 1,), np.float32)}
        self.action_spaces = {"case": spaces.MultiBinary(n), "emulator": spaces.Box(-1.0, 1.0, (n,), np.float32)}
        self.state_space = spaces.Box(-LIMIT, LIMIT, (case_dim(n) + 1,), np.float32)
        self.driver = TuningDriver(self.scenario)
        self._rng = np.random.default_rng(self.scenario.seed)
        self._z = np.zeros(n, dtype=np.int8)
        self._turn = "case"

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]          # the same object every call (parallel_api_test)

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        sim_seed = int(seed) if seed is not None else int(self._rng.integers(2 ** 31 - 1))
        self.driver.reset(sim_seed)
        self.agents = list(self.possible_agents)
        self._turn, self._z = "case", np.zeros(self.scenario.ues, dtype=np.int8)
        return self._observations(), {a: {"seed": sim_seed} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        if self._turn not in actions:
            raise ValueError(f"actions: it is the {self._turn} agent's turn, got actions for {sorted(actions)}")
        if self._turn == "case":
            self._z = np.asarray(actions["case"], dtype=np.int8).reshape(self.scenario.ues)
            if not np.isin(self._z, (0, 1)).all():
                raise ValueError(f"case action: must be N values in {{0, 1}}, got {actions['case']!r}")
            self._turn = "emulator"
            zero = {a: 0.0 for a in self.agents}
            return self._observations(), zero, dict.fromkeys(self.agents, False), \
                dict.fromkeys(self.agents, False), {a: {} for a in self.agents}
        emu = self.scenario.emulator
        record = self.driver.apply(self._z, retention(actions["emulator"], emu.min, emu.max))
        self._turn, self._z = "case", np.zeros(self.scenario.ues, dtype=np.int8)
        over = self.driver.obs is None
        truncated = self.driver.truncated
        obs = self._observations() if not over else {a: np.zeros(self.observation_spaces[a].shape, np.float32)
                                                      for a in self.agents}
        reward = 0.0 if record is None else float(record.reward)
        agents = self.agents
        result = (obs, {a: reward for a in agents}, {a: over and not truncated for a in agents},
                  {a: truncated for a in agents}, {a: _info(record) for a in agents})
        if over:
            self.agents = []
        return result

    def state(self) -> np.ndarray:
        if self.driver.obs is None:
            return np.zeros(self.state_space.shape, np.float32)
        return critic_state(self.driver.obs)

    def render(self) -> None:
        return None

    def _observations(self) -> dict[str, np.ndarray]:
        obs = self.driver.obs
        assert obs is not None      # only while the episode runs (reset, or a step that did not end it)
        turn = self._turn
        return {"case": np.append(case_observation(obs), np.float32(turn == "case")),
                "emulator": np.append(emulator_observation(obs, self._z), np.float32(turn == "emulator"))}


class EdgeTuningEnv(gym.Env):
    """Single-agent view: one orchestrator chooses z and E for every UE in one step (``mecsim/EdgeTuning-v0``)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: str | Path | EdgeTuningSpec | None = None, **overrides: Any) -> None:
        self.scenario = load_spec(scenario, **overrides)
        n = self.scenario.ues
        self.observation_space: spaces.Box = spaces.Box(-LIMIT, LIMIT, (case_dim(n),), np.float32)
        self.action_space = spaces.Dict({"z": spaces.MultiBinary(n), "E": spaces.Box(-1.0, 1.0, (n,), np.float32)})
        self.driver = TuningDriver(self.scenario)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        sim_seed = int(seed) if seed is not None else int(self.np_random.integers(2 ** 31 - 1))
        return case_observation(self.driver.reset(sim_seed)), {"seed": sim_seed}

    def step(self, action: dict[str, Any]):
        emu = self.scenario.emulator
        record = self.driver.apply(np.asarray(action["z"]).reshape(self.scenario.ues),
                                   retention(action["E"], emu.min, emu.max))
        next_obs = self.driver.obs
        over = next_obs is None
        obs = np.zeros(self.observation_space.shape, np.float32) if next_obs is None else case_observation(next_obs)
        reward = 0.0 if record is None else float(record.reward)
        truncated = self.driver.truncated
        return obs, reward, over and not truncated, truncated, _info(record)
