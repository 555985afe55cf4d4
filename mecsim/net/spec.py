"""Radio specifications: path loss, fading, rate model and sharing of one channel direction.

Frozen and validated by the loader of the system that reads them, so the channels can trust them.
SI units: Hz, dBm, bit/s, byte, s, m.
"""
from __future__ import annotations

from dataclasses import dataclass

from mecsim.net.pathloss import Condition

__all__ = ["PathLossSpec", "FadingSpec", "RateSpec", "ChannelSpec", "CHANNEL_SHARING"]

CHANNEL_SHARING = ("fifo", "schedule_order", "parallel", "fdma")


@dataclass(frozen=True)
class PathLossSpec:
    model: str                      # free_space | log_distance | 3gpp_rma
    frequency_hz: float
    exponent: float = 3.0           # log_distance only
    reference_m: float = 1.0        # log_distance only
    condition: Condition = "expected"   # 3gpp_rma: los | nlos | expected | random (drawn per device)
    h_bs: float = 35.0              # 3gpp_rma: base-station height, m
    h_ut: float = 1.5               # 3gpp_rma: device height, m
    street_width: float = 20.0      # 3gpp_rma: W, m
    building_height: float = 5.0    # 3gpp_rma: h, m


@dataclass(frozen=True)
class FadingSpec:
    model: str = "none"             # none | rayleigh (block fading)
    coherence_s: float = 0.01       # rayleigh: block length, s


@dataclass(frozen=True)
class RateSpec:
    model: str                      # fixed | shannon
    bps: float | None = None        # fixed: rate, bit/s
    bandwidth_hz: float | None = None
    tx_power_dbm: float | None = None
    noise_dbm: float | None = None  # total noise power; else density + figure over the bandwidth
    noise_density_dbm_hz: float = -174.0
    noise_figure_db: float = 0.0
    pathloss: PathLossSpec | None = None
    fading: FadingSpec = FadingSpec()


@dataclass(frozen=True)
class ChannelSpec:
    rate: RateSpec
    sharing: str = "fifo"           # fifo | schedule_order | parallel | fdma
    packet_bytes: int | None = None  # None: a message is one transfer; else packets of this size
    update_s: float = 1.0           # mobile devices: how often the distance is re-read, s
