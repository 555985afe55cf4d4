"""Wireless channels and wired links on top of :class:`mecsim.station.Station`, for every system.

A :class:`Channel` is one direction (uplink or downlink) of a radio: messages share it by a
discipline (fifo, schedule_order, parallel, fdma) at the rate its rate function gives. A
:class:`RadioChannel` takes that rate from a :class:`mecsim.net.spec.ChannelSpec`: for a device and
its share of the channel, the bit rate now and until when it holds:

* ``fixed``: ``bps`` × share;
* ``shannon``: B·share · log2(1 + P·g(d)·h / N(B·share)), with path loss g from the device's distance
  to the access point, block fading h and thermal noise over the device's part of the band (FDMA).
  A mobile device's distance is re-read every ``update_s``; fading changes at block boundaries.
"""
from __future__ import annotations

import math
from typing import Any, Generator, Hashable, Protocol, Sequence

import numpy as np
import simpy

from mecsim.net import pathloss as pl
from mecsim.net.fading import Fading, NoFading, RayleighBlockFading
from mecsim.net.spec import ChannelSpec, PathLossSpec, RateSpec
from mecsim.station import RateFn, Station, constant_rate

__all__ = ["Radio", "Channel", "RadioChannel", "ShannonRate", "WiredLink", "path_gain", "path_gains", "nominal_rate_bps"]

_UNKNOWN = (0.0, -math.inf)     # a signal not computed yet: stale at any time
Stamps = tuple[float, float, float]     # (submitted, started, finished) of a message


class Radio(Protocol):
    """What a channel needs of a device: where it is and its fading towards this channel."""

    index: int

    def position_at(self, t: float) -> tuple[float, float]: ...

    def fading_for(self, channel: str) -> Fading: ...

    def next_move_after(self, t: float) -> float: ...


def path_gain(spec: PathLossSpec, distance_m: float, los: bool | None = None) -> float:
    """Linear channel gain (1 / path loss) at a 2-D distance."""
    d = max(distance_m, 1.0)
    if spec.model == "free_space":
        loss = pl.free_space_db(d, spec.frequency_hz)
    elif spec.model == "log_distance":
        loss = pl.log_distance_db(d, spec.frequency_hz, spec.exponent, spec.reference_m)
    else:
        condition: pl.Condition = spec.condition if los is None else ("los" if los else "nlos")
        loss = pl.rma_db(d, spec.frequency_hz, spec.h_bs, spec.h_ut, spec.street_width,
                         spec.building_height, condition=condition)
    return 10.0 ** (-loss / 10.0)


def _noise_w(spec: RateSpec, bandwidth_hz: float) -> float:
    if spec.noise_dbm is not None:  # a total figure for the whole band, split with the band
        assert spec.bandwidth_hz is not None    # shannon specs carry a bandwidth (the loader checks)
        return pl.dbm_to_w(spec.noise_dbm) * bandwidth_hz / spec.bandwidth_hz
    return pl.noise_power_w(bandwidth_hz, spec.noise_density_dbm_hz, spec.noise_figure_db)


def nominal_rate_bps(spec: RateSpec, distance_m: float, share: float = 1.0, los: bool | None = None,
                     fading_gain: float = 1.0) -> float:
    """The rate a device gets at `distance_m` with `share` of the channel (no fading: gain 1)."""
    if spec.model == "fixed":
        assert spec.bps is not None
        return spec.bps * share
    assert spec.bandwidth_hz is not None and spec.tx_power_dbm is not None and spec.pathloss is not None
    band = spec.bandwidth_hz * share
    signal = pl.dbm_to_w(spec.tx_power_dbm) * path_gain(spec.pathloss, distance_m, los) * fading_gain
    return band * math.log2(1.0 + signal / _noise_w(spec, band))


def next_tick(now: float, step: float) -> float:
    """The first multiple of `step` strictly after `now` (division may round across a multiple)."""
    k = math.floor(now / step) + 1
    while k * step <= now:
        k += 1
    return k * step


def path_gains(spec: PathLossSpec, distance_m: np.ndarray, los: np.ndarray | None = None) -> np.ndarray:
    """:func:`path_gain` over an array of distances (and per-element LOS states where given)."""
    d = np.maximum(distance_m, 1.0)
    if spec.model == "free_space":
        loss = pl.free_space_db(d, spec.frequency_hz)
    elif spec.model == "log_distance":
        loss = pl.log_distance_db(d, spec.frequency_hz, spec.exponent, spec.reference_m)
    else:
        def rma(condition: pl.Condition) -> np.ndarray:
            return np.asarray(pl.rma_db(d, spec.frequency_hz, spec.h_bs, spec.h_ut, spec.street_width,
                                        spec.building_height, condition=condition))
        loss = rma(spec.condition) if los is None else np.where(los, rma("los"), rma("nlos"))
    return 10.0 ** (-np.asarray(loss, dtype=float) / 10.0)


class ShannonRate:
    """A Shannon channel's rate, factored for shared stations (:class:`mecsim.sharing.FactoredRate`):
    rate = B·s · log2(1 + c / N(B·s)) with c = P·g(d)·h per device, the same formula for everyone.

    A device's coefficient holds until its fading block ends or, for a moving device, until the next
    multiple of ``update_s`` (positions are sampled on that grid, the same instants for every device,
    whatever else happens on the channel). Called as a :data:`RateFn`, it rates one job.
    """

    __slots__ = ("channel", "_band_noise")

    def __init__(self, channel: RadioChannel) -> None:
        self.channel = channel
        self._band_noise: dict[float, tuple[float, float]] = {}   # share -> its band (Hz), noise over it (W)

    def coefficients(self, owners: Sequence[Radio], now: float) -> tuple[list[float], list[float]]:
        channel = self.channel
        name, update = channel.name, channel.spec.update_s
        coefs, untils = [], []
        for owner, signal in zip(owners, channel.signal_w(owners, now)):
            fading = owner.fading_for(name)
            coefs.append(signal * fading.gain_at(now))
            end = fading.next_change_after(now)
            if owner.next_move_after(now) < math.inf:
                end = min(end, next_tick(now, update))
            untils.append(end)
        return coefs, untils

    def rates(self, coefficients: list[float], share: float) -> list[float]:
        band_noise = self._band_noise.get(share)
        if band_noise is None:
            spec = self.channel.spec.rate
            assert spec.bandwidth_hz is not None
            band = spec.bandwidth_hz * share
            band_noise = self._band_noise[share] = (band, _noise_w(spec, band))
        band, noise = band_noise
        log2 = math.log2
        return [band * log2(1.0 + c / noise) for c in coefficients]

    def __call__(self, owner: Radio, share: float, now: float) -> tuple[float, float]:
        coef, until = self.coefficients([owner], now)
        return self.rates(coef, share)[0], until[0]


class Channel:
    """One direction of a radio: a station whose jobs are messages (bits), shared by `sharing`.

    ``packet_bytes`` splits a message into packets queued one after another, so the transfers of
    several owners interleave (not under schedule_order, which orders whole messages).
    """

    __slots__ = ("name", "sharing", "packet_bytes", "station")

    def __init__(self, env: simpy.Environment, name: str, sharing: str, rate_fn: RateFn,
                 packet_bytes: int | None = None) -> None:
        self.name, self.sharing, self.packet_bytes = name, sharing, packet_bytes
        self.station = Station(env, name, sharing, 1, rate_fn)

    def send(self, bits: float, owner: Any = None) -> simpy.Event:
        """One message as one job; the event succeeds with (submitted, started, finished)."""
        return self.station.serve(bits, owner)

    def transfer(self, nbytes: float, device: Any, *, group: Hashable = None,
                 ticket: Hashable = None, hold: bool = True) -> Generator[simpy.Event, Any, Stamps]:
        """Send `nbytes` for `device` (in packets with ``packet_bytes``); returns (submitted, started, finished)."""
        station, size = self.station, self.packet_bytes
        if not size or self.sharing == "schedule_order" or nbytes <= size:
            return (yield station.serve(nbytes * 8.0, device, group=group, ticket=ticket, hold=hold))
        left, first = nbytes, None
        while left > 0:
            piece = min(size, left)
            submitted, started, finished = yield station.serve(piece * 8.0, device, hold=hold)
            first = first or (submitted, started)
            left -= piece
        assert first is not None    # nbytes > size > 0: at least one packet was sent
        return first[0], first[1], finished


class RadioChannel(Channel):
    """A channel whose rate follows a :class:`ChannelSpec`: fixed, or Shannon over path loss and fading."""

    __slots__ = ("spec", "position", "_los", "_draw", "_signal", "_rate")

    def __init__(self, env: simpy.Environment, name: str, spec: ChannelSpec,
                 position: tuple[float, float], rng: np.random.Generator) -> None:
        self.spec, self.position = spec, position
        self._los: dict[int, bool] = {}
        self._draw = rng
        # Path loss is most of a rate's cost and cannot change for a device that stays where it is, nor
        # the band and noise of a given share of the channel: both are computed once.
        self._signal: dict[int, tuple[float, float]] = {}   # device index -> (power × path gain, until)
        self._rate = ShannonRate(self)
        super().__init__(env, name, spec.sharing, self._rate_fn(), spec.packet_bytes)

    def distance(self, device: Radio, t: float) -> float:
        x, y = device.position_at(t)
        return math.hypot(x - self.position[0], y - self.position[1])

    def los(self, device: Radio) -> bool | None:
        """3GPP `random` condition: LOS drawn once per device from P_LOS at its first distance."""
        pls = self.spec.rate.pathloss
        if pls is None or pls.model != "3gpp_rma" or pls.condition != "random":
            return None
        if device.index not in self._los:
            p = pl.rma_los_probability(max(self.distance(device, 0.0), 10.0))
            self._los[device.index] = bool(self._draw.random() < p)
        return self._los[device.index]

    def prime(self, devices: Sequence[Radio]) -> None:
        """Compute the attached devices' signals at time 0 in one vectorised call (they are cached)."""
        if self.spec.rate.model == "shannon" and devices:
            self.signal_w(devices, 0.0)

    def signal_w(self, devices: Sequence[Radio], now: float) -> list[float]:
        """Transmit power (W) × path gain of each device at `now`, in one vectorised path-loss call for
        those not cached: a device that no longer moves keeps its value, a moving one keeps it until the
        next multiple of ``update_s`` (its position is sampled on that grid)."""
        cache = self._signal
        out, stale = [], []
        for k, device in enumerate(devices):
            signal, until = cache.get(device.index, _UNKNOWN)
            out.append(signal)
            if until <= now:
                stale.append(k)
        if stale:
            spec = self.spec.rate
            assert spec.pathloss is not None and spec.tx_power_dbm is not None
            movers = [devices[k] for k in stale]
            where = np.array([device.position_at(now) for device in movers])
            distance = np.hypot(where[:, 0] - self.position[0], where[:, 1] - self.position[1])
            los = [self.los(device) for device in movers]
            gains = pl.dbm_to_w(spec.tx_power_dbm) * path_gains(
                spec.pathloss, distance, None if los[0] is None else np.array(los))
            step = self.spec.update_s
            for k, device, signal in zip(stale, movers, gains.tolist()):
                out[k] = signal
                static = device.next_move_after(now) == math.inf     # it stays where it is from now on
                cache[device.index] = (signal, math.inf if static else next_tick(now, step))
        return out

    def rate_bps(self, device: Radio, now: float, share: float = 1.0, fading_gain: float = 1.0) -> float:
        """:func:`nominal_rate_bps` for `device` at `now`, with `share` of the band and a fading gain."""
        spec = self.spec.rate
        if spec.model == "fixed":
            assert spec.bps is not None
            return spec.bps * share
        signal, until = self._signal.get(device.index, _UNKNOWN)
        if until <= now:
            signal = self.signal_w([device], now)[0]
        return self._rate.rates([signal * fading_gain], share)[0]

    def _rate_fn(self) -> RateFn:
        spec = self.spec.rate
        if spec.model == "fixed":
            assert spec.bps is not None     # fixed specs carry a rate (the loader checks)
            return constant_rate(spec.bps)
        return self._rate

    def make_fading(self, rng: np.random.Generator) -> Fading:
        fading = self.spec.rate.fading
        if self.spec.rate.model == "shannon" and fading.model == "rayleigh":
            return RayleighBlockFading(fading.coherence_s, rng)
        return NoFading()


class WiredLink:
    """A wired link: serialisation at `rate_bps` (fifo, or parallel: every transfer at full rate), then
    `delay_s` of propagation (eq. 2 of PEARL-DT)."""

    __slots__ = ("name", "station", "rate_bps", "delay_s", "env")

    def __init__(self, env: simpy.Environment, name: str, rate_bps: float, delay_s: float,
                 sharing: str = "fifo") -> None:
        self.env, self.name, self.rate_bps, self.delay_s = env, name, rate_bps, delay_s
        self.station = Station(env, name, sharing, 1, constant_rate(rate_bps))

    def send(self, bits: float, owner: object = None, *, propagate: bool = True
             ) -> Generator[simpy.Event, Any, Stamps]:
        """Returns (submitted, started, delivered); ``propagate=False`` leaves out the delay."""
        submitted, started, finished = yield self.station.serve(bits, owner)
        if propagate and self.delay_s:
            yield self.env.timeout(self.delay_s)
        return submitted, started, finished + (self.delay_s if propagate else 0.0)
