"""What the two agents of HMPPO §IV-A observe, built once per step and shared by every decision point.

A step's observation is a dict of float32 arrays, one entry per UE, scaled to O(1):

``gain``        h_{t-1}: the mean channel gain over the previous step, in dB relative to the path gain at
                the mean distance, / 10 (at t = 0: one block's gain)
``complexity``  c_t / E[c]
``data``        D_t / E[D]
``cached``      retention of the cached emulator, 0 before the first download
``progress``    (one value) t/T, the share of every buffer already done

Agent 1 (case decisions) sees s_1 = [gain, complexity, data, cached]; agent 2 (emulator configuration)
sees s_2 = [cached, z, complexity], z being agent 1's action of the same step (§IV-A); the centralised
critic of eq. (22) sees [s_1; s_2]. ``progress`` is not in the paper's states; critics need it, since with
T steps the value depends on the steps left (mecsim.envs.edge_tuning.STATE_DOC).
"""
from __future__ import annotations

import math

import numpy as np

from mecsim.systems.edge_tuning.model import path_gain
from mecsim.systems.edge_tuning.spec import EdgeTuningSpec

__all__ = ["Scales", "case_state", "emulator_state", "case_dim", "emulator_dim"]


class Scales:
    """The constants that bring a scenario's raw values to O(1)."""

    __slots__ = ("gain_db", "complexity", "data_mb")

    def __init__(self, spec: EdgeTuningSpec) -> None:
        self.gain_db = 10.0 * math.log10(path_gain(spec.radio.distance_m.mean, spec.radio))
        self.complexity = spec.complexity.mean
        self.data_mb = spec.data_mb.mean

    def observation(self, gain: np.ndarray, complexity: np.ndarray, data_mb: np.ndarray,
                    cached: np.ndarray, progress: float) -> dict[str, np.ndarray]:
        obs = {"gain": (10.0 * np.log10(gain) - self.gain_db) / 10.0, "complexity": complexity / self.complexity,
               "data": data_mb / self.data_mb, "cached": cached, "progress": [progress]}
        out = {}
        for key, value in obs.items():
            value = np.asarray(value, dtype=np.float32)
            value.flags.writeable = False          # one dict is shared by the step's N decision points
            out[key] = value
        return out


def case_dim(ues: int) -> int:
    return 4 * ues


def emulator_dim(ues: int) -> int:
    return 3 * ues


def case_state(obs: dict[str, np.ndarray]) -> np.ndarray:
    """s_1 (§IV-A): gains, complexities, data sizes, cached emulators of all UEs."""
    return np.concatenate([obs["gain"], obs["complexity"], obs["data"], obs["cached"]]).astype(np.float32)


def emulator_state(obs: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """s_2 (§IV-A): cached emulators, agent 1's case decisions z, complexities of all UEs."""
    return np.concatenate([obs["cached"], np.asarray(z, dtype=np.float32), obs["complexity"]]).astype(np.float32)
