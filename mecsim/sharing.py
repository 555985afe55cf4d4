"""Shared service (FDMA, processor sharing) without re-rating every job one by one at every event.

Under FDMA equal shares or processor sharing, every job in service is served at once and each start
or end changes every job's share. The station's general path integrates each job's rate between
events (O(n) Python work per event). Two structures here do the same service exactly, to float
rounding, at a lower cost:

* :class:`VirtualShare`, for a constant rate: all held jobs progress at the same rate c·share(n), so
  one *virtual clock* V (work done per held job since the station last went idle) describes them all.
  A job that starts at V₀ with work w ends when V reaches V₀ + w: its tag in a heap. An arrival or a
  departure costs O(log n); the next end is the heap's top.
* :class:`FactoredShare`, for a :class:`FactoredRate` (Shannon FDMA: rate = B·s·log2(1 + c/N(B·s))
  with a per-owner coefficient c = P·g·h). Unequal coefficients make a share change the rates by
  unequal factors, so no single clock exists: every rate does change at every event, and that stays
  O(n). What is cut is the constant: a coefficient is recomputed only when its owner's conditions
  change (a fading block, a position update), in one batch call for all owners due at that moment,
  and an event costs one ``rates`` call plus a few float operations per job.

Both keep the station's counters (busy time, served, jobs) and its event contract: a job's event
succeeds with (submitted, started, finished); jobs that end at one instant succeed in start order.
"""
from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence, runtime_checkable

import simpy

if TYPE_CHECKING:
    from mecsim.station import Job, Station

__all__ = ["FactoredRate", "VirtualShare", "FactoredShare", "next_wake", "arm"]

INF = math.inf


@runtime_checkable
class FactoredRate(Protocol):
    """A rate ``rates(c, share)`` shared by all owners, with a per-owner coefficient ``c``.

    ``coefficients`` returns each owner's coefficient now and until when it holds (for all owners at
    once: path loss vectorises); ``rates`` maps coefficients and a share to rates. A station whose rate function is one of these
    re-rates its jobs in one call when the share changes.
    """

    def coefficients(self, owners: Sequence[Any], now: float) -> tuple[list[float], list[float]]: ...

    def rates(self, coefficients: list[float], share: float) -> list[float]: ...


def _share(station: Station, held: int, present: int) -> float:
    """A held job's share: 1/held of the band (fdma), min(1, cores/present) of a core (processor sharing)."""
    if station.discipline == "fdma":
        return 1.0 / held if held else 1.0
    return min(1.0, (station.capacity or 1) / present) if present else 1.0


def next_wake(jobs: Iterable[Job], now: float) -> float:
    """The earliest end of `jobs` at their current rates, or an earlier time their rates change."""
    wake = INF
    for job in jobs:
        rate = job.rate
        if rate > 0:
            end = now + job.left / rate
            if end < wake:
                wake = end
        if job.until < wake:
            wake = job.until
    return wake


def arm(env: simpy.Environment, now: float, wake: float, callback: Callable[[simpy.Event], None]
        ) -> simpy.Event | None:
    """One wake-up timer at `wake` (None for never); callers ignore all but the last they armed."""
    if wake == INF:
        return None
    timer = env.timeout(wake - now if wake > now else 0.0)
    timer.callbacks.append(callback)
    return timer


def _finish(station: Station, jobs: list[Job], now: float) -> None:
    """End `jobs` at `now` in start order (as the general path does), keeping the station's counters."""
    jobs.sort(key=lambda j: j.seq)
    for job in jobs:
        station.served += 1
        station._jobs -= 1
        done = job.done
        assert done is not None
        done.succeed((job.submitted, job.started, now))


class VirtualShare:
    """Constant-rate shared service: one virtual clock per station, job ends in a heap (O(log n)).

    A job that does not hold the station (``hold=False``) is served at the full rate whatever the
    others do, so its end is known when it starts: it waits in a second heap keyed by that time.
    The clock restarts from 0 whenever no held job is left, so its float resolution stays that of
    the work of one busy period.
    """

    __slots__ = ("station", "rate", "v", "last", "held", "free", "present", "_timer", "_wake", "_seq")

    def __init__(self, station: Station, rate: float) -> None:
        self.station, self.rate = station, rate
        self.v = 0.0                                  # work per held job since the last idle instant
        self.last = 0.0
        self.held: list[tuple[float, int, Job]] = []  # (virtual end, seq, job)
        self.free: list[tuple[float, int, Job]] = []  # not held: (real end, seq, job)
        self.present = 0                              # jobs in service, held or not
        self._timer: simpy.Event | None = None
        self._wake = self._on_timer
        self._seq = 0

    def _per_job_rate(self) -> float:
        return self.rate * _share(self.station, len(self.held), self.present)

    def add(self, job: Job, now: float) -> None:
        self._advance(now)
        job.started = now
        self.present += 1
        if job.hold:
            heapq.heappush(self.held, (self.v + job.work, job.seq, job))
        else:
            end = now + job.work / self.rate if self.rate > 0 else INF
            heapq.heappush(self.free, (end, job.seq, job))
        self._settle(now)

    def busy(self, until: float) -> float:
        """Busy unit-seconds up to `until` (>= the last event), jobs still in service included."""
        units = min(self.present, self.station.capacity or 1)
        return self.station.busy_integral + units * max(0.0, until - self.last)

    def _advance(self, now: float) -> None:
        dt = now - self.last
        if dt > 0:
            if self.held:
                self.v += self._per_job_rate() * dt
            self.station.busy_integral += min(self.present, self.station.capacity or 1) * dt
        self.last = now

    def _settle(self, now: float) -> None:
        """End what is done, then schedule the one wake-up at the next end."""
        held, free = self.held, self.free
        rate = self._per_job_rate()
        ended: list[Job] = []
        while held:
            tag, _, job = held[0]
            left = tag - self.v
            if left <= job.eps or (rate > 0 and now + left / rate <= now):
                heapq.heappop(held)
                ended.append(job)
            else:
                break
        while free and (free[0][0] - now) * self.rate <= free[0][2].eps:
            ended.append(heapq.heappop(free)[2])
        if ended:
            self.present -= len(ended)
            if not held:
                self.v = 0.0
            rate = self._per_job_rate()     # fewer jobs: a larger share, for the next wake
            _finish(self.station, ended, now)
        wake = free[0][0] if free else INF
        if held and rate > 0:
            wake = min(wake, now + (held[0][0] - self.v) / rate)
        self._timer = arm(self.station.env, now, wake, self._wake)

    def _on_timer(self, timer: simpy.Event) -> None:
        if timer is self._timer:
            now = self.station.env.now
            self._advance(now)
            self._settle(now)


class FactoredShare:
    """Shared service at a :class:`FactoredRate`: every job re-rated at each event by one call.

    Each job keeps its coefficient (``Job.coef``) until the owner's conditions change, so an event
    costs one ``rates`` call over the jobs in service and per job a few float operations, not a
    rate-function call (path loss, fading look-up) per job.
    """

    __slots__ = ("station", "model", "active", "held", "last", "_timer", "_wake")

    def __init__(self, station: Station, model: FactoredRate) -> None:
        self.station, self.model = station, model
        self.active: dict[Job, None] = {}     # in start order
        self.held = 0                         # jobs in `active` that hold the station
        self.last = 0.0
        self._timer: simpy.Event | None = None
        self._wake = self._on_timer

    def add(self, job: Job, now: float) -> None:
        self._advance(now)
        job.started = now
        job.until = -INF                      # its coefficient is computed with the others due now
        self.active[job] = None
        self.held += job.hold
        self._rerate(now)

    def busy(self, until: float) -> float:
        units = min(len(self.active), self.station.capacity or 1)
        return self.station.busy_integral + units * max(0.0, until - self.last)

    def _advance(self, now: float) -> None:
        """Bring every job to `now`, then end those with nothing left (or too little to move the clock)."""
        dt = now - self.last
        self.last = now
        active = self.active
        if not active:
            return
        if dt > 0:
            for job in active:
                job.left -= job.rate * dt
            self.station.busy_integral += min(len(active), self.station.capacity or 1) * dt
        ended = [job for job in active
                 if job.left <= job.eps or (job.rate > 0 and now + job.left / job.rate <= now)]
        if ended:
            for job in ended:
                del active[job]
                self.held -= job.hold
            _finish(self.station, ended, now)

    def _rerate(self, now: float) -> None:
        """Refresh the coefficients due, rate every job at its share, schedule the next wake-up."""
        active = self.active
        if not active:
            self._timer = None
            return
        due = [job for job in active if job.until <= now]
        if due:
            coefs, untils = self.model.coefficients([job.owner for job in due], now)
            for job, coef, until in zip(due, coefs, untils):
                job.coef, job.until = coef, until
        held = self.held
        rates = self.model.rates([job.coef for job in active], _share(self.station, held, len(active)))
        if held < len(active):      # jobs that do not hold the station are served at the full rate
            full = self.model.rates([job.coef for job in active], 1.0)
            rates = [r if job.hold else f for job, r, f in zip(active, rates, full)]
        for job, rate in zip(active, rates):
            job.rate = rate
        self._timer = arm(self.station.env, now, next_wake(active, now), self._wake)

    def _on_timer(self, timer: simpy.Event) -> None:
        if timer is self._timer:
            now = self.station.env.now
            self._advance(now)
            self._rerate(now)
