"""A processor: cores that serve cycles (or FLOPs) at a constant speed each, for every system."""
from __future__ import annotations

import simpy

from mecsim.station import Station, constant_rate

__all__ = ["processor"]


def processor(env: simpy.Environment, name: str, cores: int | None, speed: float,
              discipline: str = "fifo") -> Station:
    """`cores` units at `speed` work units per second each, served by `discipline`.

    ``parallel`` has no units to wait for (``cores`` None): every job runs at full speed at once.
    """
    return Station(env, name, discipline, cores, constant_rate(speed))
