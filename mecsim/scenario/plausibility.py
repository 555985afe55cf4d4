"""Plausible ranges of scenario values by their unit: a value far outside them is legal but most
likely a unit slip (``bandwidth_hz: 10`` meant 10 MHz), so it gets a one-line PlausibilityWarning.

The rule is chosen by the YAML key name (the nearest named part of the path, so list items of
``position`` and the bounds of a distribution under ``x`` are covered too); every system's loader
reads numbers through :class:`mecsim.scenario.checks.Node`, which warns with :func:`message`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

__all__ = ["Range", "RANGES", "message"]


@dataclass(frozen=True, slots=True)
class Range:
    """Magnitudes outside [low, high] are implausible; `hint` names the likely slip."""

    low: float | None
    high: float | None
    hint: str


_BANDWIDTH = Range(1e3, None, "the unit is Hz, e.g. 10 MHz is 1e7")
_CPU = Range(1e6, None, "the unit is cycles/s (Hz), e.g. 2 GHz is 2e9")
_CARRIER = Range(1e6, None, "the unit is Hz, e.g. 2.4 GHz is 2.4e9")
_FLOPS = Range(1e6, None, "the unit is FLOP/s, e.g. 10 GFLOPS is 1e10")
_RATE = Range(1e3, None, "the unit is bit/s, e.g. 10 Mbit/s is 1e7")
_DISTANCE = Range(None, 1e6, "the unit is m, e.g. 2 km is 2000")
_COUNT = Range(None, 1e7, "a run this large is unlikely to finish; check the exponent")
_POWER_DBM = Range(None, 100, "the unit is dBm, e.g. 0.1 W is 20 dBm and 40 W is 46 dBm")
_KAPPA = Range(1e-32, 1e-22, "κ is in J/(cycle·Hz²): MEC papers use 1e-27 to 1e-28")
_RADIO_W = Range(None, 10.0, "the unit is W, e.g. 23 dBm is 0.2 W")
_BATTERY = Range(1.0, None, "the unit is J, not Wh or mAh: 15 Wh is 54000 J")

RANGES: Mapping[str, Range] = {
    "bandwidth_hz": _BANDWIDTH,
    "speed_hz": _CPU, "vm_speed_hz": _CPU, "flops": _FLOPS,
    "frequency_hz": _CARRIER,
    "bps": _RATE, "rate_bps": _RATE,
    "distance_m": _DISTANCE, "reference_m": _DISTANCE, "position": _DISTANCE, "area": _DISTANCE,
    "x": _DISTANCE, "y": _DISTANCE,
    "count": _COUNT,
    "tx_power_dbm": _POWER_DBM,
    "kappa": _KAPPA, "tx_w": _RADIO_W, "rx_w": _RADIO_W, "battery_j": _BATTERY,
}
"""Key name -> plausible magnitude range (values are compared by absolute value; 0 is not checked)."""

_DEPTH = 3   # how far up the path a key name may be (position[0], x.uniform[1])


def _range(path: tuple) -> tuple[str, Range] | None:
    for part in reversed(path[-_DEPTH:]):
        if isinstance(part, str):
            found = RANGES.get(part)
            if found is not None:
                return part, found
    return None


def message(path: tuple, value: float) -> str | None:
    """The warning text for `value` at `path`, or None when it is plausible (or has no rule)."""
    found = _range(path)
    if found is None or value == 0:
        return None
    key, rule = found
    size = abs(value)
    if rule.low is not None and size < rule.low:
        return f"is implausibly small for {key} (below {rule.low:g}), got {value:g}. Hint: {rule.hint}"
    if rule.high is not None and size > rule.high:
        return f"is implausibly large for {key} (above {rule.high:g}), got {value:g}. Hint: {rule.hint}"
    return None

