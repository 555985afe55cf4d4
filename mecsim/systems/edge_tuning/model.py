"""The closed-form pieces of the edge fine-tuning model: accuracy, link rates, reward (HMPPO §II-IV).

The simulator uses these for every rate and score, and the tests use them as oracles.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from mecsim.net.fading import ergodic_rayleigh_rate_bps
from mecsim.net.pathloss import log_distance_db, noise_power_w
from mecsim.systems.edge_tuning.spec import EmulatorSpec, RadioSpec, RewardSpec

__all__ = ["f_perplexity", "perplexity", "kept_layers", "path_gain", "link_rate_bps", "uplink_rate_bps",
           "downlink_rate_bps", "step_reward"]


def f_perplexity(e: float, spec: EmulatorSpec) -> float:
    """f(E) = 25.2E² − 43.1E + 31.9 (§VI-A curve fit to Offsite-Tuning's layer-drop perplexities)."""
    a, b, c = spec.perplexity
    return a * e * e + b * e + c


def perplexity(z: int, e: float, complexity: float, spec: EmulatorSpec) -> float:
    """κ (eq. 9 with §VI-A's scaling): f(1) on the server (z = 1), f(E) locally, times (c + ι)/c."""
    return f_perplexity(1.0 if z else e, spec) * (complexity + spec.complexity_weight) / complexity


def kept_layers(e: float, spec: EmulatorSpec) -> int:
    """The emulator a retention E asks for: round(E·layers), kept within [min, max]."""
    first, last = spec.layer_range
    return min(max(round(e * spec.layers), first), last)


def path_gain(distance_m: float, radio: RadioSpec) -> float:
    """Mean power gain at a distance: log-distance loss with exponent α (§VI-A: 2) from 1 m free space."""
    return 10.0 ** (-log_distance_db(max(distance_m, 1.0), radio.frequency_hz, radio.pathloss_exponent) / 10.0)


ArrayLike = Union[float, np.ndarray]


def link_rate_bps(bandwidth_hz: ArrayLike, power_w: ArrayLike, gain: ArrayLike, radio: RadioSpec) -> ArrayLike:
    """B·log2(1 + p·h/(σ²B)) (eqs. 2, 6); under Rayleigh block fading the exact long-run (ergodic) rate.
    Arrays broadcast (the simulator tabulates every UE's rate for every FDMA share at once).

    A 300 MB upload or a multi-GB download lasts 10³-10⁴ s, i.e. 10⁵-10⁶ blocks of 10 ms, so the
    bits delivered are the ergodic rate × time up to a relative error O(blocks^-½) ≈ 10⁻³
    (../shared/notes/mappo_hybrid_ppo_pettingzoo.md §5.2-5.3); no per-block events are needed.
    """
    snr = power_w * gain / noise_power_w(bandwidth_hz, radio.noise_density_dbm_hz)
    if radio.fading == "rayleigh":
        return ergodic_rayleigh_rate_bps(bandwidth_hz, snr)
    rate = np.asarray(bandwidth_hz) * np.log2(1.0 + snr)
    return float(rate) if rate.ndim == 0 else rate


def uplink_rate_bps(share: ArrayLike, power_w: ArrayLike, gain: ArrayLike, radio: RadioSpec) -> ArrayLike:
    """Eqs. (2)-(3): a UE's share of W_u at its own transmit power."""
    return link_rate_bps(radio.uplink_hz * share, power_w, gain, radio)


def downlink_rate_bps(share: ArrayLike, gain: ArrayLike, radio: RadioSpec) -> ArrayLike:
    """Eqs. (6)-(7): the same share of W_d and of the server's P_d (so the SNR does not depend on it)."""
    return link_rate_bps(radio.downlink_hz * share, radio.downlink_power_w * share, gain, radio)


def step_reward(perplexities: Sequence[float], delays_s: Sequence[float], spec: RewardSpec) -> float:
    """§IV-C: R_t = −w_p·mean_n(κ_n)/κ_ref − w_d·max_n(d_n)/d_ref (see RewardSpec for the weights)."""
    mean_kappa = sum(perplexities) / len(perplexities)
    return -(spec.perplexity_weight * mean_kappa / spec.perplexity_ref
             + spec.delay_weight * max(delays_s) / spec.delay_ref_s)
