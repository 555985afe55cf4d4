"""A run's progress in simulated time, for every system: a bar on a terminal, plain lines in a log, and
one warning when the run falls behind (its simulated time slows to a crawl while work piles up).

A system's ``run`` calls :meth:`Progress.update` every few thousand events with how far it has got (in
its own unit of simulated time: seconds, slots, steps) and, where it has one, how much work is in flight.
"""
from __future__ import annotations

import sys
import time
import warnings
from typing import Any, Callable, TextIO

from mecsim.errors import RunSizeWarning

__all__ = ["Progress", "WINDOW_S", "SLOWDOWN", "LOG_AFTER_S"]

WINDOW_S = 2.0
"""wall seconds over which the simulated-time rate is measured"""
SLOWDOWN = 10.0
"""a window this many times slower than the fastest one, with the work in flight at least doubled, is
falling behind"""
LOG_AFTER_S = 5.0
"""a run shorter than this (wall) writes no progress lines to a log"""
_LOG_EVERY_S = 60.0


class Progress:
    """Progress of one run towards `total` (its horizon, in `unit`; None when the run ends by itself)."""

    def __init__(self, label: str, total: float | None, unit: str, *, show: bool,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        """`show`: print progress (a tqdm bar if `stream` is a terminal, else lines); the falling-behind
        check runs either way."""
        self.label, self.total, self.unit, self.clock = label, total, unit, clock
        self.stream = sys.stderr if stream is None else stream
        self.start = self.window_start = clock()
        self.done = self.window_done = 0.0
        self.best_rate = 0.0
        self.best_load = 0
        self.warned = False
        self.bar: Any = None
        self.lines = False
        self.logged_at = self.start
        self.logged_tenth = 0
        if show and self.stream.isatty():
            from tqdm import tqdm
            shown = "{desc}: {percentage:3.0f}%|{bar}| {n:.4g}/{total:.4g} " + unit + " simulated [{elapsed}<{remaining}]"
            self.bar = tqdm(total=total, desc=label, unit=unit, delay=2.0, leave=False, file=self.stream,
                            bar_format=shown if total else None)
        else:
            self.lines = show

    def update(self, done: float, load: int | None = None) -> None:
        """The run has reached `done` (simulated, in `unit`) with `load` units of work in flight."""
        self.done = done
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        now = self.clock()
        if now - self.window_start >= WINDOW_S:
            self._check(now, load)
        if self.lines:
            self._log(now)

    def _check(self, now: float, load: int | None) -> None:
        rate = (self.done - self.window_done) / (now - self.window_start)
        self.window_start, self.window_done = now, self.done
        if load is None or self.warned:
            return
        if rate >= self.best_rate:
            self.best_rate, self.best_load = rate, load
        elif rate * SLOWDOWN < self.best_rate and load >= 2 * max(self.best_load, 1):
            self.warned = True
            slower = self.best_rate / rate if rate > 0 else float("inf")
            warnings.warn(RunSizeWarning(
                f"{self.label}: the run is falling behind: simulated time advances {rate:.3g} {self.unit} per "
                f"wall second, {slower:.0f}x slower than at its fastest, with {load} applications in flight "
                f"(then {self.best_load}); the offered load may exceed what the servers and channels serve"),
                stacklevel=2)

    def _log(self, now: float) -> None:
        """A plain line at each tenth of the horizon (or each minute), once the run has lasted a while."""
        if now - self.start < LOG_AFTER_S:
            return
        tenth = int(10 * self.done / self.total) if self.total else 0
        if tenth <= self.logged_tenth and now - self.logged_at < _LOG_EVERY_S:
            return
        self.logged_tenth, self.logged_at = tenth, now
        of = f" / {self.total:g}" if self.total else ""
        share = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
        print(f"mecsim: {self.label}: {self.done:g}{of} {self.unit} simulated{share}, {now - self.start:.1f} s wall",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
