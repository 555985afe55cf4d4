"""Handover: moving devices re-attach to the access point they hear best.

Every ``interval_s`` the positions of all moving devices are read and, for each access point, the
downlink's nominal received power (transmit power × path gain, no fading) is computed for all of them
in one vectorised path-loss call per access point. A device re-attaches to the strongest access point
when it beats the serving one by more than ``hysteresis_db``: 3GPP's A3 event (TS 38.331 §5.5.4.4,
neighbour better than serving by an offset) without time-to-trigger. Where a downlink has no path-loss
model (a fixed rate), received power is read as inverse distance, i.e. the rule becomes "nearest, with
the hysteresis as a distance ratio in dB".

What happens to work in flight is documented in the DAG system's process: a transfer finishes on the
channel it started on; a task's result returns to the access point the device is attached to when the
result leaves the server.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generator, Protocol, Sequence

import numpy as np
import simpy

from mecsim.net import pathloss as pl
from mecsim.net.channel import RadioChannel, path_gains

__all__ = ["HandoverSpec", "Handover", "HandoverRecord"]


@dataclass(frozen=True)
class HandoverSpec:
    rule: str = "none"              # none | strongest
    hysteresis_db: float = 3.0      # the neighbour must beat the serving access point by this, dB
    interval_s: float = 1.0         # how often moving devices are checked, s


@dataclass(frozen=True)
class HandoverRecord:
    """One re-attachment (a row of handovers.csv)."""

    time_s: float
    device: int
    source: str     # access point left
    target: str     # access point joined


class Cell(Protocol):
    """What handover needs of an access point."""

    name: str
    position: tuple[float, float]
    downlink: RadioChannel


class Mobile(Protocol):
    """What handover needs of a device: where it is, and the access point it is attached to."""

    index: int
    ap: Any

    def position_at(self, t: float) -> tuple[float, float]: ...

    def next_move_after(self, t: float) -> float: ...


def received_dbm(cells: Sequence[Cell], where: np.ndarray) -> np.ndarray:
    """(devices × cells) nominal downlink received power in dBm (inverse distance where no path loss)."""
    out = np.empty((len(where), len(cells)))
    for k, cell in enumerate(cells):
        distance = np.hypot(where[:, 0] - cell.position[0], where[:, 1] - cell.position[1])
        rate = cell.downlink.spec.rate
        if rate.model == "shannon":
            assert rate.pathloss is not None and rate.tx_power_dbm is not None
            out[:, k] = rate.tx_power_dbm + np.asarray(pl.linear_to_db(path_gains(rate.pathloss, distance)))
        else:
            out[:, k] = -20.0 * np.log10(np.maximum(distance, 1.0))
    return out


class Handover:
    """The handover process of one simulation; ``records`` lists every re-attachment in time order."""

    __slots__ = ("env", "spec", "cells", "devices", "records")

    def __init__(self, env: simpy.Environment, spec: HandoverSpec, cells: Sequence[Cell],
                 devices: Sequence[Mobile]) -> None:
        self.env, self.spec, self.cells = env, spec, list(cells)
        self.devices = [d for d in devices if d.next_move_after(0.0) < math.inf]   # those that ever move
        self.records: list[HandoverRecord] = []

    def check(self, now: float) -> None:
        """Re-attach every moving device whose best access point beats its serving one by the hysteresis."""
        movers = self.devices
        if not movers:
            return
        where = np.array([d.position_at(now) for d in movers])
        power = received_dbm(self.cells, where)
        index = {id(c): k for k, c in enumerate(self.cells)}
        serving = np.array([index[id(d.ap)] for d in movers])
        best = power.argmax(axis=1)
        rows = np.arange(len(movers))
        switch = power[rows, best] > power[rows, serving] + self.spec.hysteresis_db
        for k in np.flatnonzero(switch):
            device, target = movers[k], self.cells[best[k]]
            self.records.append(HandoverRecord(now, device.index, device.ap.name, target.name))
            device.ap = target

    def process(self) -> Generator[simpy.Event, None, None]:
        while True:
            yield self.env.timeout(self.spec.interval_s)
            self.check(self.env.now)
