"""Large-scale path loss, noise power and Shannon rate as pure functions.

Every distance argument may be a float or a numpy array; the result is a float for a scalar input and
an array of the same shape otherwise, so a whole cell can be evaluated in one call.

The 3GPP TR 38.901 Rural Macro (RMa) model follows Table 7.4.1-1 (path loss) and §7.4.2 (LOS
probability). Shadow fading is not included: it is a separate random term with its own correlation.
"""
from __future__ import annotations

import math
from typing import Any, Literal, TypeVar, Union, cast

import numpy as np

__all__ = [
    "SPEED_OF_LIGHT_M_S",
    "free_space_db",
    "log_distance_db",
    "rma_breakpoint_m",
    "rma_los_db",
    "rma_nlos_db",
    "rma_los_probability",
    "rma_db",
    "noise_power_w",
    "dbm_to_w",
    "w_to_dbm",
    "db_to_linear",
    "linear_to_db",
    "shannon_rate_bps",
]

ArrayLike = Union[float, np.ndarray]
# A function of one distance (or power, or ratio) gives a float for a float and an array for an array
# (and either for either).
FloatOrArray = TypeVar("FloatOrArray", float, np.ndarray, ArrayLike)
Condition = Literal["expected", "los", "nlos", "random"]

SPEED_OF_LIGHT_M_S = 299_792_458.0
# TR 38.901 rounds c to 3e8 m/s inside its constants (20log10(40*pi*d*fc/3) with fc in GHz); the RMa
# functions use the same value so that d_BP and PL1 stay consistent with the published tables.
_C_38901 = 3.0e8
_RMA_MIN_D2D_M = 10.0
_RMA_FREQ_RANGE_HZ = (0.5e9, 30e9)
_CONDITIONS = ("expected", "los", "nlos", "random")


def _array(name: str, value: ArrayLike, *, low: float = 0.0, strict: bool = True) -> np.ndarray:
    """Float array of ``value``; every element finite and > low (>= low when not strict)."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number or an array of numbers, got {value!r}") from None
    bad = ~np.isfinite(a) | ((a <= low) if strict else (a < low))
    if bad.any():
        bound = "" if low == -math.inf else f" and {'>' if strict else '>='} {low:g}"
        raise ValueError(f"{name}: must be finite{bound}, got {float(a[bad].flat[0])!r}")
    return a


def _scalar(name: str, value: float, *, low: float = 0.0, strict: bool = True) -> float:
    """A finite float > low (>= low when not strict); arrays are rejected for model parameters."""
    if np.ndim(value) != 0:
        raise ValueError(f"{name}: must be a scalar, got an array of shape {np.shape(value)}")
    return float(_array(name, value, low=low, strict=strict))


def _out(a: np.ndarray) -> Any:
    """A float for 0-d results so scalar callers never see numpy scalars.

    Typed Any: which of the two it is depends on the input's shape, which the public functions'
    FloatOrArray signatures carry to their callers.
    """
    return float(a) if a.ndim == 0 else a


def free_space_db(distance_m: FloatOrArray, frequency_hz: float) -> FloatOrArray:
    """Friis free-space loss 20·log10(4π d f / c) in dB (positive means attenuation)."""
    d = _array("distance_m", distance_m)
    f = _scalar("frequency_hz", frequency_hz)
    return _out(20.0 * np.log10(4.0 * math.pi * d * f / SPEED_OF_LIGHT_M_S))


def log_distance_db(distance_m: FloatOrArray, frequency_hz: float, exponent: float,
                    reference_m: float = 1.0) -> FloatOrArray:
    """Free-space loss at ``reference_m`` plus 10·n·log10(d/d0): the simplest tunable-slope model."""
    d = _array("distance_m", distance_m)
    n = _scalar("exponent", exponent)
    d0 = _scalar("reference_m", reference_m)
    ref = free_space_db(d0, frequency_hz)
    return _out(ref + 10.0 * n * np.log10(d / d0))


def rma_breakpoint_m(frequency_hz: float, h_bs: float = 35.0, h_ut: float = 1.5) -> float:
    """RMa breakpoint distance 2π·h_BS·h_UT·f/c (actual heights, not effective ones)."""
    f = _rma_frequency(frequency_hz)
    hb = _scalar("h_bs", h_bs)
    hu = _scalar("h_ut", h_ut)
    return 2.0 * math.pi * hb * hu * f / _C_38901


def _rma_frequency(frequency_hz: float) -> float:
    f = _scalar("frequency_hz", frequency_hz)
    lo, hi = _RMA_FREQ_RANGE_HZ
    if not lo <= f <= hi:
        raise ValueError(f"frequency_hz: RMa is defined for {lo:g}..{hi:g} Hz, got {f!r}"
                         " (a value in GHz passed as Hz?)")
    return f


def _rma_d2d(d2d: ArrayLike) -> np.ndarray:
    """Distances below the model's 10 m lower bound are clamped to 10 m."""
    return np.maximum(_array("d2d", d2d, strict=False), _RMA_MIN_D2D_M)


def _rma_pl1(d: np.ndarray, f_ghz: float, h: float) -> np.ndarray:
    return (20.0 * np.log10(40.0 * math.pi * d * f_ghz / 3.0)
            + min(0.03 * h ** 1.72, 10.0) * np.log10(d)
            - min(0.044 * h ** 1.72, 14.77)
            + 0.002 * math.log10(h) * d)


def _rma_los(d2d: np.ndarray, f: float, h_bs: float, h_ut: float, h: float) -> np.ndarray:
    d3d = np.hypot(d2d, h_bs - h_ut)
    d_bp = 2.0 * math.pi * h_bs * h_ut * f / _C_38901
    f_ghz = f / 1e9
    near = _rma_pl1(d3d, f_ghz, h)
    far = _rma_pl1(np.asarray(d_bp), f_ghz, h) + 40.0 * np.log10(d3d / d_bp)
    return np.where(d2d <= d_bp, near, far)


def _rma_nlos(d2d: np.ndarray, f: float, h_bs: float, h_ut: float, w: float, h: float) -> np.ndarray:
    d3d = np.hypot(d2d, h_bs - h_ut)
    nlos_prime = (161.04 - 7.1 * math.log10(w) + 7.5 * math.log10(h)
                  - (24.37 - 3.7 * (h / h_bs) ** 2) * math.log10(h_bs)
                  + (43.42 - 3.1 * math.log10(h_bs)) * (np.log10(d3d) - 3.0)
                  + 20.0 * math.log10(f / 1e9)
                  - (3.2 * math.log10(11.75 * h_ut) ** 2 - 4.97))
    return np.maximum(_rma_los(d2d, f, h_bs, h_ut, h), nlos_prime)


def rma_los_db(d2d: FloatOrArray, frequency_hz: float, h_bs: float = 35.0, h_ut: float = 1.5,
               building_height: float = 5.0) -> FloatOrArray:
    """TR 38.901 RMa line-of-sight loss: PL1 up to the breakpoint, then a 40 dB/decade slope."""
    f = _rma_frequency(frequency_hz)
    hb, hu = _scalar("h_bs", h_bs), _scalar("h_ut", h_ut)
    h = _scalar("building_height", building_height)
    return _out(_rma_los(_rma_d2d(d2d), f, hb, hu, h))


def rma_nlos_db(d2d: FloatOrArray, frequency_hz: float, h_bs: float = 35.0, h_ut: float = 1.5,
                street_width: float = 20.0, building_height: float = 5.0) -> FloatOrArray:
    """TR 38.901 RMa non-line-of-sight loss, max(PL_LOS, PL'_NLOS) so NLOS is never better than LOS."""
    f = _rma_frequency(frequency_hz)
    hb, hu = _scalar("h_bs", h_bs), _scalar("h_ut", h_ut)
    w = _scalar("street_width", street_width)
    h = _scalar("building_height", building_height)
    return _out(_rma_nlos(_rma_d2d(d2d), f, hb, hu, w, h))


def rma_los_probability(d2d: FloatOrArray) -> FloatOrArray:
    """TR 38.901 §7.4.2 RMa: 1 within 10 m, then exp(-(d-10)/1000)."""
    d = _array("d2d", d2d, strict=False)
    return _out(np.where(d <= _RMA_MIN_D2D_M, 1.0, np.exp(-(d - _RMA_MIN_D2D_M) / 1000.0)))


def rma_db(d2d: FloatOrArray, frequency_hz: float, h_bs: float = 35.0, h_ut: float = 1.5,
           street_width: float = 20.0, building_height: float = 5.0,
           condition: Condition = "expected",
           rng: np.random.Generator | None = None) -> FloatOrArray:
    """RMa path loss for a link condition.

    ``"expected"`` blends in dB, P_LOS·PL_LOS + (1-P_LOS)·PL_NLOS, a deterministic average for
    scenarios that do not track LOS state; ``"random"`` draws LOS with probability P_LOS per distance
    from ``rng`` (one uniform per element, in array order).
    """
    if condition not in _CONDITIONS:
        raise ValueError(f"condition: must be one of {', '.join(map(repr, _CONDITIONS))}, "
                         f"got {condition!r}")
    if condition == "random" and rng is None:
        raise ValueError("rng: a numpy.random.Generator is required when condition='random', got None")
    f = _rma_frequency(frequency_hz)
    hb, hu = _scalar("h_bs", h_bs), _scalar("h_ut", h_ut)
    w = _scalar("street_width", street_width)
    h = _scalar("building_height", building_height)
    d = _rma_d2d(d2d)
    if condition == "los":
        return _out(_rma_los(d, f, hb, hu, h))
    los = _rma_los(d, f, hb, hu, h)
    nlos = _rma_nlos(d, f, hb, hu, w, h)
    if condition == "nlos":
        return _out(nlos)
    p_los = np.asarray(rma_los_probability(d))
    if condition == "expected":
        return _out(p_los * los + (1.0 - p_los) * nlos)
    assert rng is not None
    is_los = rng.random(d.shape) < p_los
    return _out(np.where(is_los, los, nlos))


def dbm_to_w(dbm: FloatOrArray) -> FloatOrArray:
    """Power in dBm to watts (0 dBm = 1 mW)."""
    a = np.asarray(dbm, dtype=float)
    if np.isnan(a).any():
        raise ValueError(f"dbm: must not be NaN, got {dbm!r}")
    return _out(10.0 ** ((a - 30.0) / 10.0))


def w_to_dbm(watts: FloatOrArray) -> FloatOrArray:
    """Power in watts to dBm; 0 W maps to -inf dBm."""
    a = _array("watts", watts, strict=False)
    with np.errstate(divide="ignore"):
        return _out(10.0 * np.log10(a) + 30.0)


def db_to_linear(db: FloatOrArray) -> FloatOrArray:
    """A ratio in dB to a linear power ratio."""
    a = np.asarray(db, dtype=float)
    if np.isnan(a).any():
        raise ValueError(f"db: must not be NaN, got {db!r}")
    return _out(10.0 ** (a / 10.0))


def linear_to_db(ratio: FloatOrArray) -> FloatOrArray:
    """A linear power ratio to dB; 0 maps to -inf dB."""
    a = _array("ratio", ratio, strict=False)
    with np.errstate(divide="ignore"):
        return _out(10.0 * np.log10(a))


def noise_power_w(bandwidth_hz: FloatOrArray, density_dbm_hz: float = -174.0,
                  noise_figure_db: float = 0.0) -> FloatOrArray:
    """Thermal noise N = density + 10·log10(B) + NF (dBm), returned in watts."""
    b = _array("bandwidth_hz", bandwidth_hz)
    n0 = _scalar("density_dbm_hz", density_dbm_hz, low=-math.inf, strict=False)
    nf = _scalar("noise_figure_db", noise_figure_db, strict=False)
    return cast(FloatOrArray, dbm_to_w(n0 + 10.0 * np.log10(b) + nf))   # b has the input's shape


def shannon_rate_bps(bandwidth_hz: ArrayLike, tx_power_w: ArrayLike, gain_linear: ArrayLike,
                     noise_w: ArrayLike) -> ArrayLike:
    """Shannon capacity B·log2(1 + P·g/N): the rate an ideal code reaches at this SNR."""
    b = _array("bandwidth_hz", bandwidth_hz)
    p = _array("tx_power_w", tx_power_w, strict=False)
    g = _array("gain_linear", gain_linear, strict=False)
    n = _array("noise_w", noise_w)
    return _out(b * np.log2(1.0 + p * g / n))
