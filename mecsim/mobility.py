"""User mobility as piecewise-linear trajectories queried at non-decreasing times.

A model answers ``position_at(t)`` and ``next_leg_end(t)``, the time its velocity next changes, so the
simulator can recompute distances (and path loss) only when needed, and ``corners(until)``, the
trajectory as timed points with straight lines between them: a run writes them as positions.csv in
the format :func:`read_trace` reads, so a run's movement can be replayed as a ``trace``.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["Static", "RandomWaypoint", "TracePath", "read_trace"]

Point = tuple[float, float]
Sample = tuple[float, float, float]     # (time s, x m, y m)


def _point(name: str, value: Any) -> Point:
    """`value` as an (x, y) of finite floats; anything else (not a pair, not numbers) is a ValueError."""
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a pair of numbers (x, y), got {value!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{name}: coordinates must be finite, got {value!r}")
    return x, y


def _time(t: float) -> float:
    t = float(t)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"t: must be finite and >= 0, got {t!r}")
    return t


class Static:
    """A user that never moves."""

    __slots__ = ("position",)

    def __init__(self, position: Point) -> None:
        self.position = _point("position", position)

    def position_at(self, t: float) -> Point:
        _time(t)
        return self.position

    def next_leg_end(self, t: float) -> float:
        _time(t)
        return math.inf

    def corners(self, until: float) -> list[Sample]:
        return [(0.0, *self.position)]


class RandomWaypoint:
    """Random waypoint: walk straight to a uniform point in ``area`` at a uniform speed, pause, repeat.

    Time starts at 0 at ``start`` (drawn uniformly in the area when None). Each leg draws the waypoint
    (x, then y) and then the speed from ``rng``, so a seed fixes the trajectory. ``vmin`` must be > 0:
    with vmin = 0 the mean speed decays towards 0 over time. Note the first leg starts from the start
    point, not from the model's (centre-heavy) stationary distribution.
    Queries must not go back before the start of the current leg.
    """

    __slots__ = ("area", "speed", "pause_s", "_rng", "_t0", "_p0", "_p1", "_t_arrive", "_t_leave", "_corners")

    def __init__(self, area: tuple[Point, Point], speed: tuple[float, float], pause_s: float,
                 rng: np.random.Generator, start: Point | None = None) -> None:
        try:
            lo_raw, hi_raw = area
        except (TypeError, ValueError):
            raise ValueError(f"area: must be ((x0, y0), (x1, y1)), got {area!r}") from None
        lo, hi = _point("area[0]", lo_raw), _point("area[1]", hi_raw)
        if hi[0] < lo[0] or hi[1] < lo[1] or (hi[0] == lo[0] and hi[1] == lo[1]):
            raise ValueError(f"area: needs x0 <= x1, y0 <= y1 and a non-zero extent, got {area!r}")
        try:
            vmin, vmax = (float(v) for v in speed)
        except (TypeError, ValueError):
            raise ValueError(f"speed: must be a pair (vmin, vmax) in m/s, got {speed!r}") from None
        if not (0 < vmin <= vmax < math.inf):
            raise ValueError(f"speed: needs 0 < vmin <= vmax < inf, got {speed!r}")
        pause = float(pause_s)
        if not (math.isfinite(pause) and pause >= 0):
            raise ValueError(f"pause_s: must be finite and >= 0, got {pause_s!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
        self.area = (lo, hi)
        self.speed = (vmin, vmax)
        self.pause_s = pause
        self._rng = rng
        if start is None:
            p0 = self._uniform_point()
        else:
            p0 = _point("start", start)
            if not (lo[0] <= p0[0] <= hi[0] and lo[1] <= p0[1] <= hi[1]):
                raise ValueError(f"start: must lie inside area {self.area!r}, got {start!r}")
        # The current leg: leave _p0 at _t0, reach _p1 at _t_arrive, pause there until _t_leave.
        self._t0 = 0.0
        self._p0 = p0
        self._p1 = p0
        self._t_arrive = 0.0
        self._t_leave = 0.0
        self._corners: list[Sample] = []     # every leg's start and arrival, as drawn
        self._new_leg(0.0, p0)

    def _uniform_point(self) -> Point:
        (x0, y0), (x1, y1) = self.area
        return float(self._rng.uniform(x0, x1)), float(self._rng.uniform(y0, y1))

    def _new_leg(self, t0: float, p0: Point) -> None:
        p1 = self._uniform_point()
        v = float(self._rng.uniform(self.speed[0], self.speed[1]))
        self._t0, self._p0, self._p1 = t0, p0, p1
        self._t_arrive = t0 + math.hypot(p1[0] - p0[0], p1[1] - p0[1]) / v
        self._t_leave = self._t_arrive + self.pause_s
        if not self._corners or self._corners[-1][0] < t0:     # without a pause a leg starts where one ended
            self._corners.append((t0, *p0))
        self._corners.append((self._t_arrive, *p1))

    def _advance(self, t: float) -> float:
        """Move the current leg forward to the one containing ``t``; returns ``t`` as a float."""
        t = _time(t)
        if t < self._t0:
            raise ValueError(f"t: queries must not go back before the current leg (starts at "
                             f"{self._t0!r}), got {t!r}")
        while t >= self._t_leave:
            self._new_leg(self._t_leave, self._p1)
        return t

    def position_at(self, t: float) -> Point:
        """Position at ``t``: on the straight segment while moving, at the waypoint while paused."""
        t = self._advance(t)
        if t >= self._t_arrive:
            return self._p1
        frac = (t - self._t0) / (self._t_arrive - self._t0)
        (x0, y0), (x1, y1) = self._p0, self._p1
        (ax, ay), (bx, by) = self.area
        # Clip: the interpolation may round one ulp outside the area.
        x = min(max(x0 + frac * (x1 - x0), ax), bx)
        y = min(max(y0 + frac * (y1 - y0), ay), by)
        return x, y

    def next_leg_end(self, t: float) -> float:
        """Next time > t the velocity changes: arrival at the waypoint, or the end of the pause."""
        t = self._advance(t)
        return self._t_arrive if t < self._t_arrive else self._t_leave

    def corners(self, until: float) -> list[Sample]:
        """The corners from time 0 through the first at or after `until` (drawing the legs up to it)."""
        if until >= self._t0:       # (a query may have drawn legs past `until` already)
            self._advance(until)
        return _through(self._corners, until)


class TracePath:
    """A recorded trajectory: straight lines between timed samples, still before the first and after
    the last. Queries must not go back in time (a cursor walks the samples)."""

    __slots__ = ("samples", "_k")

    def __init__(self, samples: Sequence[Sample]) -> None:
        if not samples:
            raise ValueError("samples: need at least one (time, x, y), got none")
        times = [t for t, _, _ in samples]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("samples: times must increase strictly")
        self.samples = tuple((float(t), float(x), float(y)) for t, x, y in samples)
        self._k = 0     # samples[_k] is the last one at or before the latest query (or the first)

    def _seek(self, t: float) -> int:
        t = _time(t)
        samples, k = self.samples, self._k
        while k + 1 < len(samples) and samples[k + 1][0] <= t:
            k += 1
        self._k = k
        return k

    def position_at(self, t: float) -> Point:
        k = self._seek(t)
        t0, x0, y0 = self.samples[k]
        if t <= t0 or k + 1 == len(self.samples):
            return x0, y0
        t1, x1, y1 = self.samples[k + 1]
        frac = (t - t0) / (t1 - t0)
        return x0 + frac * (x1 - x0), y0 + frac * (y1 - y0)

    def next_leg_end(self, t: float) -> float:
        """The next sample time after ``t`` (the velocity changes there); inf after the last."""
        k = self._seek(t)
        samples = self.samples
        if t < samples[k][0]:
            return samples[k][0]
        return samples[k + 1][0] if k + 1 < len(samples) else math.inf

    def corners(self, until: float) -> list[Sample]:
        return _through(self.samples, until)


def _through(corners: Sequence[Sample], until: float) -> list[Sample]:
    """`corners` up to and including the first at or after `until` (the segment that reaches it)."""
    out = []
    for corner in corners:
        out.append(corner)
        if corner[0] >= until:
            break
    return out


def read_trace(path: str | Path, devices: int) -> dict[int, list[Sample]]:
    """A mobility trace CSV with a header ``time_s,device,x,y`` (device ids 0..devices-1, metres):
    each device's samples in time order. Errors name the file and line: ``FILE:LINE: what, got value``."""
    out: dict[int, list[Sample]] = {}
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["time_s", "device", "x", "y"]:
            raise ValueError(f"{path}:1: header must be time_s,device,x,y, got {header!r}")
        for line, row in enumerate(reader, start=2):
            try:
                t, d, x, y = float(row[0]), int(row[1]), float(row[2]), float(row[3])
            except (ValueError, IndexError):
                raise ValueError(f"{path}:{line}: must be time_s,device,x,y numbers, got {row!r}") from None
            if not (0 <= d < devices):
                raise ValueError(f"{path}:{line}: device must be in 0..{devices - 1}, got {d}")
            if not all(map(math.isfinite, (t, x, y))) or t < 0:
                raise ValueError(f"{path}:{line}: time must be finite and >= 0, positions finite, got {row!r}")
            track = out.setdefault(d, [])
            if track and t <= track[-1][0]:
                raise ValueError(f"{path}:{line}: device {d}'s times must increase, got {t:g} after "
                                 f"{track[-1][0]:g}")
            track.append((t, x, y))
    return out
