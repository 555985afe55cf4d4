"""How big a run is, estimated before it starts: a notice when it will take long, a one-line refusal
when it cannot fit in memory (``devices.count: 1e12`` would otherwise hang while the devices are built).

Each system says what drives its size (:meth:`mecsim.systems.System.size`); :func:`check_size` applies
one rule to all. The estimate is an order of magnitude (tests/test_sizing.py holds it within a factor
of 4 of the events the shipped scenarios take), not a promise.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from mecsim.errors import ConfigError, RunSizeWarning

__all__ = ["RunSize", "EVENTS_NOTICE", "check_size", "physical_memory_bytes"]

EVENTS_NOTICE = 1e8
"""above this many events a run says, before it starts, that it will take long (the engine processes
1e5-1e6 events per second per core: BENCHMARKS.md)"""


@dataclass(frozen=True)
class RunSize:
    """A run's estimated size: `events` the engine will process, `what` in the system's terms
    (``96 applications of about 15 tasks``) and a lower bound of the memory its model takes to build,
    `memory_bytes`, driven by the scenario key `memory_key` (``devices.count``)."""

    events: float
    what: str
    memory_bytes: float = 0.0
    memory_key: str = ""
    memory_value: float = 0.0


def physical_memory_bytes() -> float | None:
    """This machine's physical memory, or None where the OS does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_size(size: RunSize, file: str, memory: float | None = None) -> None:
    """Refuse (ConfigError) a run whose model alone needs more than `memory` (default: this machine's);
    warn (RunSizeWarning) about one above EVENTS_NOTICE events."""
    memory = physical_memory_bytes() if memory is None else memory
    if memory is not None and size.memory_bytes > memory:
        raise ConfigError(f"a run must fit in this machine's memory ({memory / 2**30:.3g} GiB): building it "
                          f"takes at least {size.memory_bytes / 2**30:.3g} GiB, got {size.memory_value:g}",
                          file=file, path=size.memory_key)
    if size.events > EVENTS_NOTICE:
        warnings.warn(RunSizeWarning(
            f"{file}: a large run: about {size.events:.1e} events ({size.what}); at 1e5-1e6 events/s it "
            f"takes {_duration(size.events / 1e6)} to {_duration(size.events / 1e5)}; the progress bar "
            f"counts simulated time"), stacklevel=2)


def _duration(seconds: float) -> str:
    for unit, length in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= length:
            return f"{seconds / length:.3g} {unit}"
    return f"{seconds:.3g} s"
