"""A service station: the one queueing primitive behind channels, links and processors.

Jobs bring an amount of work (bits for a channel, cycles for a processor). A *rate function* says how
fast a job is served given its share of the station, and until when that rate holds (fading blocks,
mobility updates); between changes every rate is constant, so the station advances in closed form and
wakes only when a job ends or a rate changes. Where a job's rate can never change (a constant rate and
no sharing: fifo, schedule_order, parallel), its end is known when it starts: one timeout then carries
the job from start to end, and a job that starts at once is served by that timeout alone (the event
its process waits on), so such a station costs one event per job. Disciplines:

* ``fifo``: ``capacity`` jobs in service, the rest wait in arrival order;
* ``schedule_order``: as fifo, but jobs start in the order they were *reserved* within their group
  (the papers' recurrences: a task never overtakes one scheduled before it, MRLCO eqs. 5-7);
  among groups, the earliest submitted ready head goes first;
* ``parallel``: no queueing, every job served at full rate;
* ``fdma`` / ``processor_sharing``: every job in service at once; with n jobs each gets a share
  1/n (fdma: of the bandwidth) or min(1, capacity/n) (processor sharing: of one core). With a
  constant rate or a :class:`mecsim.sharing.FactoredRate` these serve through :mod:`mecsim.sharing`
  (a virtual clock; one batched re-rating), any other rate function through the integrating path.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any, Callable, Hashable

import simpy

from mecsim.sharing import FactoredRate, FactoredShare, VirtualShare, arm, next_wake

__all__ = ["Station", "Job", "DISCIPLINES", "RateFn", "constant_rate"]

DISCIPLINES = ("fifo", "schedule_order", "parallel", "fdma", "processor_sharing")
SHARED = ("fdma", "processor_sharing")
INF = math.inf

# rate_fn(owner, share, now) -> (rate in work units per second, time until which it holds)
RateFn = Callable[[Any, float, float], "tuple[float, float]"]


def constant_rate(rate: float) -> RateFn:
    """A rate that never changes: share × rate.

    The function carries ``constant = rate``, so a station computes ``rate * share`` itself (the same
    float) instead of calling it for every job at every update.
    """
    def fn(owner: Any, share: float, now: float) -> tuple[float, float]:
        return rate * share, INF
    fn.constant = rate  # type: ignore[attr-defined]
    return fn


class Job:
    """One piece of work at a station; ``done`` succeeds with (submitted, started, finished)."""

    __slots__ = ("work", "left", "eps", "owner", "group", "ticket", "hold", "done", "submitted", "started",
                 "rate", "until", "seq", "coef")
    # None only while a fixed-rate job is being submitted: serve or _start sets it before anyone waits
    done: simpy.Event | None

    def __init__(self, work: float, owner: Any, group: Hashable, ticket: Hashable, hold: bool,
                 done: simpy.Event | None, submitted: float, seq: int) -> None:
        self.work, self.left, self.owner, self.group, self.hold = work, work, owner, group, hold
        self.eps = 1e-9 * (work if work > 1.0 else 1.0)     # done when no more than this is left
        self.ticket = ticket
        self.done, self.submitted, self.seq = done, submitted, seq
        self.started = -1.0
        self.rate, self.until = 0.0, INF
        self.coef = 0.0                 # a FactoredRate's coefficient (mecsim.sharing)


class Station:
    """Serves jobs with one discipline; tracks busy time for utilisation."""

    __slots__ = ("env", "name", "discipline", "capacity", "rate_fn", "_active", "_waiting",
                 "_order", "_pending", "_last", "_timer", "_wake", "_seq", "busy_integral", "served",
                 "_in_service", "_shared", "_unbounded", "_by_ticket", "_constant", "_jobs", "_fixed",
                 "_ended", "_timers", "_units", "_rate", "_pool")

    def __init__(self, env: simpy.Environment, name: str, discipline: str, capacity: int | None,
                 rate_fn: RateFn) -> None:
        if discipline not in DISCIPLINES:
            raise ValueError(f"{name}: discipline must be one of {DISCIPLINES}, got {discipline!r}")
        if discipline in ("fifo", "schedule_order", "processor_sharing") and (capacity or 0) < 1:
            raise ValueError(f"{name}: capacity must be >= 1, got {capacity!r}")
        self.env, self.name, self.discipline, self.rate_fn = env, name, discipline, rate_fn
        self.capacity = capacity if discipline in ("fifo", "schedule_order", "processor_sharing") else None
        self._units: int = self.capacity or 0   # the capacity where _unbounded is False (then never None)
        self._active: dict[Job, None] = {}    # jobs being served (advancing), in start order (fixed: rate 0)
        self._in_service = 0                  # jobs holding a unit of capacity
        self._waiting: deque[Job] = deque()   # fifo queue
        self._order: dict[Hashable, deque] = {}     # schedule_order: group -> reserved tickets
        self._pending: dict[Hashable, dict] = {}    # schedule_order: group -> ticket -> job
        self._last = 0.0
        self._timer: simpy.Event | None = None    # the one wake-up that counts; older ones are ignored
        self._wake = self._on_timer               # bound once: one callback object for every timer
        self._ended = self._on_end                # the same, for fixed jobs' timeouts
        self._timers: dict[simpy.Event, Job] = {}   # fixed jobs in service, by their timeout
        self._seq = 0
        self._jobs = 0                        # jobs waiting or in service (queue_length)
        # the discipline's properties, read on every update
        self._shared = discipline in SHARED
        self._unbounded = self.capacity is None or self._shared
        self._by_ticket = discipline == "schedule_order"
        self._constant: float | None = getattr(rate_fn, "constant", None)   # see constant_rate
        self._fixed = self._constant is not None and not self._shared   # every job's end known at its start
        self._rate: float = self._constant or 0.0   # the constant where _fixed is True (then never None)
        self.busy_integral = 0.0              # ∫ (units busy) dt, for utilisation
        self.served = 0
        # shared stations whose rates have a known structure serve through mecsim.sharing instead of _update
        self._pool: VirtualShare | FactoredShare | None = None
        if self._shared and self._constant is not None:
            self._pool = VirtualShare(self, self._constant)
        elif self._shared and isinstance(rate_fn, FactoredRate):
            self._pool = FactoredShare(self, rate_fn)

    # -- the public verbs -------------------------------------------------------------------------
    def reserve(self, group: Hashable, ticket: Hashable) -> None:
        """schedule_order: announce that `ticket` of `group` will come, after those reserved before."""
        self._order.setdefault(group, deque()).append(ticket)

    def serve(self, work: float, owner: Any = None, *, group: Hashable = None, ticket: Hashable = None,
              hold: bool = True) -> simpy.Event:
        """Submit `work`; the returned event succeeds with (submitted, started, finished).

        ``hold=False``: the job waits for its turn like any other, but once started it does not keep
        the station busy (the authors' entry-upload quirk).
        """
        env = self.env
        now = env.now
        self._seq += 1
        self._jobs += 1
        if self._pool is not None:
            done = simpy.Event(env)
            self._pool.add(Job(float(work), owner, group, ticket, hold, done, now, self._seq), now)
            return done
        fixed = self._fixed     # the end is known at the start: see _start
        job = Job(float(work), owner, group, ticket, hold, None if fixed else simpy.Event(env), now, self._seq)
        if self._by_ticket:
            self._pending.setdefault(group, {})[ticket] = job
        elif fixed and not self._waiting and (self._unbounded or self._in_service < self._units):
            self._start(job, now)                   # a unit is free only when nobody waits
        else:
            self._waiting.append(job)
        if not fixed:
            self._update()
        elif self._by_ticket:
            self._admit(now)
        if job.done is None:                        # fixed and still waiting: its start succeeds this event
            job.done = simpy.Event(env)
        return job.done

    def forget(self, group: Hashable) -> None:
        """Drop a group's reservations and waiting jobs (its application was dropped)."""
        if self._pool is not None:      # every job of a shared station is in service: nothing waits
            return
        self._order.pop(group, None)
        self._jobs -= len(self._pending.pop(group, ()))
        if group is not None:
            kept = deque(j for j in self._waiting if j.group != group)
            self._jobs -= len(self._waiting) - len(kept)
            self._waiting = kept
        if self._fixed:
            self._admit(self.env.now)
        else:
            self._update()

    @property
    def queue_length(self) -> int:
        """Jobs waiting or in service (a load signal for controllers)."""
        return self._jobs

    def utilisation(self, horizon: float) -> float:
        """Busy unit-seconds up to `horizon` (at most now) over the units' time."""
        units = self.capacity or 1
        busy = self.busy_integral
        if self._pool is not None:
            busy = self._pool.busy(min(horizon, self.env.now))
        elif self._fixed:     # fixed jobs add their busy time when they end: count those in service too
            until = min(horizon, self.env.now)
            jobs = [*self._timers.values(), *self._active]
            busy += sum(until - job.started for job in jobs if job.hold and until > job.started)
        else:                 # the integrating path counts busy time at its updates: add the time since
            until = min(horizon, self.env.now)
            if until > self._last:
                held = min(len(self._active), units) if self._shared else self._in_service
                busy += held * (until - self._last)
        return busy / (units * horizon) if horizon > 0 else 0.0

    # -- the machinery ----------------------------------------------------------------------------
    # _update runs at every submit and every wake-up of a shared or time-varying station: hot code, so
    # the advance, the finish test and the admission test are written out in it rather than called.
    # Fixed stations (_fixed) never call it: _start schedules a job's end and _on_end admits the next.
    def _admit(self, now: float) -> None:
        free = INF if self._unbounded else self._units - self._in_service
        if self._by_ticket:
            while free > 0:
                best = None
                for group, tickets in self._order.items():
                    if tickets:
                        job = self._pending.get(group, {}).get(tickets[0])
                        if job is not None and (best is None or job.seq < best.seq):
                            best = job
                if best is None:
                    break
                group = best.group
                self._order[group].popleft()
                del self._pending[group][best.ticket]
                if not self._order[group]:          # a finished group leaves no trace behind
                    del self._order[group]
                if not self._pending[group]:
                    del self._pending[group]
                free -= self._start(best, now)
        else:
            while free > 0 and self._waiting:
                free -= self._start(self._waiting.popleft(), now)

    def _start(self, job: Job, now: float) -> int:
        job.started = now
        if self._fixed:
            rate = self._rate                     # what rate_fn(owner, 1.0, now) gives; it never changes
            delay = job.work / rate if rate > 0 else INF
            if delay < INF:
                timer = self.env.timeout(delay, (job.submitted, now, now + delay))
                if job.done is None:      # starts as it is submitted: the timeout is the job's own event
                    job.done = timer
                self._timers[timer] = job
                timer.callbacks.append(self._ended)   # before any waiter's resume
            else:                                 # a zero rate never ends it
                self._active[job] = None
                if job.done is None:
                    job.done = simpy.Event(self.env)
        else:
            self._active[job] = None
        if job.hold:
            self._in_service += 1
            return 1
        return 0

    def _on_end(self, timer: simpy.Event) -> None:
        """A fixed job's timeout fired: free its unit, admit the next ones, then its waiter resumes."""
        job = self._timers.pop(timer)
        if job.hold:
            self._in_service -= 1
            self.busy_integral += self.env.now - job.started
        self.served += 1
        self._jobs -= 1
        done = job.done
        if done is not timer:                     # it waited: its own event is not the timeout
            assert done is not None               # serve gave it one when it had to wait
            done.succeed(timer.value)
        if self._waiting or self._order:
            self._admit(self.env.now)

    def _update(self) -> None:
        """Bring every job to now, finish the ones done, admit, re-rate, schedule the next wake."""
        env = self.env
        now = env.now
        active = self._active
        dt = now - self._last
        self._last = now
        if active:
            if dt > 0:                          # advance: the work done since the last update
                for job in active:
                    job.left -= job.rate * dt
                if self._shared:
                    self.busy_integral += min(len(active), self.capacity or 1) * dt
                else:
                    self.busy_integral += self._in_service * dt
            # done: nothing left, or so little that its end would not move the clock (float resolution)
            finished = None
            for job in active:
                if job.left <= job.eps or (job.rate > 0 and now + job.left / job.rate <= now):
                    if finished is None:
                        finished = [job]
                    else:
                        finished.append(job)
            if finished is not None:
                for job in finished:
                    del active[job]
                    if job.hold:
                        self._in_service -= 1
                    self.served += 1
                    self._jobs -= 1
                    done = job.done
                    assert done is not None       # every job in service has its event (serve, _start)
                    done.succeed((job.submitted, job.started, now))
        if (self._waiting or self._order) and (self._unbounded or self._in_service < self._units):
            self._admit(now)
        if not active:
            return
        # re-rate: a job's share changes with the jobs present (fdma, processor sharing) or its rate with time
        if self.discipline == "fdma":
            held = sum(1 for j in active if j.hold)
            share = 1.0 / held if held else 1.0
        elif self.discipline == "processor_sharing":
            share = min(1.0, (self.capacity or 1) / len(active))
        else:
            share = 1.0
        constant = self._constant
        if constant is None:
            rate_fn = self.rate_fn
            for job in active:
                job.rate, job.until = rate_fn(job.owner, share if job.hold else 1.0, now)
        else:
            for job in active:
                job.rate = constant * (share if job.hold else 1.0)
        self._timer = arm(env, now, next_wake(active, now), self._wake)

    def _on_timer(self, timer: simpy.Event) -> None:
        if timer is self._timer:
            self._update()
