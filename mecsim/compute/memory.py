"""Memory: a pool of units (bytes, or a system's memory unit) that tasks take and give back."""
from __future__ import annotations

import simpy

__all__ = ["memory_pool"]


def memory_pool(env: simpy.Environment, units: int) -> simpy.Container:
    """A full pool of `units` (whole units: float sums would drift and block a later release)."""
    return simpy.Container(env, capacity=units, init=units)
