"""Each queue discipline of the Station, against hand-computed schedules."""
from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from mecsim.station import Station, constant_rate


def _run(discipline, jobs, capacity=1, rate=1.0, reserve=None, rate_fn=None):
    """jobs: list of (submit_time, work, group, ticket); returns {index: (submitted, start, end)}."""
    env = simpy.Environment()
    station = Station(env, "s", discipline, capacity, rate_fn or constant_rate(rate))
    for group, ticket in reserve or []:
        station.reserve(group, ticket)
    out = {}

    def job(k, at, work, group, ticket):
        yield env.timeout(at)
        out[k] = yield station.serve(work, group=group, ticket=ticket)

    for k, (at, work, group, ticket) in enumerate(jobs):
        env.process(job(k, at, work, group, ticket))
    env.run()
    return out, station, env


def test_fifo_serves_in_arrival_order_one_at_a_time():
    out, station, env = _run("fifo", [(0, 4, None, None), (1, 2, None, None), (1.5, 1, None, None)])
    assert out[0] == (0, 0, 4) and out[1] == (1, 4, 6) and out[2] == (1.5, 6, 7)
    assert station.utilisation(env.now) == pytest.approx(1.0)


def test_fifo_with_two_units():
    out, _, _ = _run("fifo", [(0, 4, None, None), (0, 2, None, None), (0, 1, None, None)], capacity=2)
    assert out[0][2] == 4 and out[1][2] == 2 and out[2][1:] == (2, 3)


def test_parallel_never_queues():
    out, _, _ = _run("parallel", [(0, 4, None, None), (1, 2, None, None)], capacity=None)
    assert out[0][1:] == (0, 4) and out[1][1:] == (1, 3)


@pytest.mark.parametrize("discipline, capacity", [("fifo", 1), ("fifo", 3), ("schedule_order", 2),
                                                  ("parallel", None)])
def test_constant_rate_closed_form_gives_the_general_schedule(discipline, capacity):
    """A constant rate takes the closed-form path (a job's end fixed when it starts, one timeout per job);
    the same rate as a plain rate function takes the general one (advanced at every update). Both must
    give the same schedule, up to float rounding."""
    rng = np.random.default_rng(5)
    jobs = [(float(rng.uniform(0, 20)), float(rng.uniform(0.1, 3)), f"g{k % 4}", k) for k in range(60)]
    reserve = [(g, t) for _, _, g, t in sorted(jobs, key=lambda j: j[3])] if discipline == "schedule_order" else None

    def plain(owner, share, now):
        return 2.0 * share, math.inf

    fast, fast_station, fast_env = _run(discipline, jobs, capacity, rate=2.0, reserve=reserve)
    slow, slow_station, slow_env = _run(discipline, jobs, capacity, reserve=reserve, rate_fn=plain)
    assert fast.keys() == slow.keys() == set(range(len(jobs)))
    for k in fast:
        assert fast[k] == pytest.approx(slow[k], rel=1e-12, abs=1e-12)
    assert fast_env.now == pytest.approx(slow_env.now, rel=1e-12)
    assert fast_station.utilisation(fast_env.now) == pytest.approx(slow_station.utilisation(slow_env.now), rel=1e-9)
    assert fast_station.served == slow_station.served == len(jobs) and fast_station.queue_length == 0


def test_closed_form_utilisation_counts_jobs_still_in_service():
    env = simpy.Environment()
    station = Station(env, "s", "fifo", 2, constant_rate(1.0))
    station.serve(4.0)
    env.run(until=2.0)
    assert station.utilisation(2.0) == pytest.approx(0.5)     # one of two units busy for the 2 s


def test_a_zero_rate_job_holds_its_unit_for_ever():
    env = simpy.Environment()
    station = Station(env, "s", "fifo", 1, constant_rate(0.0))
    first, second = station.serve(1.0), station.serve(1.0)
    env.run(until=3.0)
    assert not first.triggered and not second.triggered and station.queue_length == 2
    assert station.utilisation(3.0) == pytest.approx(1.0)


def test_fdma_splits_the_rate_and_recomputes():
    # job A alone for 1 s (1 unit done), then shares with B at rate 1/2 each:
    # B (work 1) ends at 1 + 2 = 3; A has 4-1-1 = 2 left at t=3, alone again -> ends at 5.
    out, station, env = _run("fdma", [(0, 4, None, None), (1, 1, None, None)], capacity=None)
    assert out[1][2] == pytest.approx(3.0) and out[0][2] == pytest.approx(5.0)
    assert station.utilisation(env.now) == pytest.approx(1.0)


def test_processor_sharing_with_cores():
    # 3 jobs of 2 units on 2 cores: each gets 2/3 of a core -> all end at 3.
    out, _, _ = _run("processor_sharing", [(0, 2, None, None)] * 3, capacity=2)
    assert all(v[2] == pytest.approx(3.0) for v in out.values())


def test_schedule_order_never_overtakes():
    # Reserved order: ticket a then b. b arrives first but must wait for a to start and finish.
    out, _, _ = _run("schedule_order", [(2, 1, "g", "a"), (0, 1, "g", "b")],
                     reserve=[("g", "a"), ("g", "b")])
    assert out[0][1:] == (2, 3) and out[1][1:] == (3, 4)


def test_schedule_order_groups_do_not_block_each_other():
    out, _, _ = _run("schedule_order", [(5, 1, "g1", 0), (0, 1, "g2", 0)],
                     reserve=[("g1", 0), ("g2", 0)])
    assert out[1][1:] == (0, 1) and out[0][1:] == (5, 6)


def test_hold_false_waits_its_turn_but_does_not_block():
    env = simpy.Environment()
    station = Station(env, "s", "schedule_order", 1, constant_rate(1.0))
    for t in ("a", "b", "c"):
        station.reserve("g", t)
    out = {}

    def go(name, work, hold):
        out[name] = yield station.serve(work, group="g", ticket=name, hold=hold)

    for name, work, hold in (("a", 2, True), ("b", 5, False), ("c", 1, True)):
        env.process(go(name, work, hold))
    env.run()
    assert out["b"][1:] == (2, 7)          # started after a, not blocking c
    assert out["c"][1:] == (2, 3)


def test_rate_changes_are_integrated():
    # rate 1 until t=2, then 3: 5 units of work end at 2 + 3/3 = 3.
    def rate(owner, share, now):
        return (1.0, 2.0) if now < 2 else (3.0, math.inf)
    env = simpy.Environment()
    station = Station(env, "s", "fifo", 1, rate)
    done = station.serve(5.0)
    env.run()
    assert done.value[2] == pytest.approx(3.0)


def test_bad_discipline_and_capacity():
    env = simpy.Environment()
    with pytest.raises(ValueError, match="discipline"):
        Station(env, "s", "lifo", 1, constant_rate(1.0))
    with pytest.raises(ValueError, match="capacity"):
        Station(env, "s", "fifo", 0, constant_rate(1.0))


def test_work_below_clock_resolution_finishes():
    """At t = 1e6 s a job of 1e-12 s cannot move the float clock; it must still finish (no spin)."""
    env = simpy.Environment(initial_time=1e6)
    station = Station(env, "s", "fifo", 1, constant_rate(1e9))
    first = station.serve(1e9)
    tiny = station.serve(1e-3)          # 1e-12 s of service: below the clock's resolution at 1e6 s
    env.run(until=1e6 + 10)
    assert first.processed and tiny.processed
