"""Shared stations (fdma, processor sharing) on their fast paths (mecsim.sharing) against the station's
general integrating path, which re-rates every job through a plain rate function at every event."""
from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from mecsim.net.channel import RadioChannel
from mecsim.net.fading import RayleighBlockFading
from mecsim.net.spec import ChannelSpec, PathLossSpec, RateSpec
from mecsim.sharing import FactoredShare, VirtualShare
from mecsim.station import Station, constant_rate


def _run(discipline, jobs, rate_fn, capacity=1, owners=None):
    """jobs: (submit time, work, hold); returns ({index: (submitted, started, finished)}, station, env)."""
    env = simpy.Environment()
    station = Station(env, "s", discipline, capacity, rate_fn)
    out = {}

    def job(k, at, work, hold):
        yield env.timeout(at)
        out[k] = yield station.serve(work, owners[k] if owners else None, hold=hold)

    for k, (at, work, hold) in enumerate(jobs):
        env.process(job(k, at, work, hold))
    env.run()
    return out, station, env


def _same(fast, slow):
    (a, sa, ea), (b, sb, eb) = fast, slow
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12)
    assert ea.now == pytest.approx(eb.now, rel=1e-9)
    assert sa.utilisation(ea.now) == pytest.approx(sb.utilisation(eb.now), rel=1e-9)
    assert sa.served == sb.served == len(a) and sa.queue_length == sb.queue_length == 0


def _workload(seed, n=300, bypass=False):
    """Bursty arrivals (several jobs at one instant), works over three orders of magnitude."""
    rng = np.random.default_rng(seed)
    times = np.round(np.cumsum(rng.exponential(0.4, n)), 1)
    works = 10.0 ** rng.uniform(-1, 2, n)
    holds = rng.random(n) > 0.2 if bypass else np.ones(n, bool)
    return [(float(t), float(w), bool(h)) for t, w, h in zip(times, works, holds)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("discipline, capacity, bypass", [("fdma", None, False), ("fdma", None, True),
                                                          ("processor_sharing", 1, False),
                                                          ("processor_sharing", 3, True)])
def test_virtual_clock_gives_the_integrated_schedule(seed, discipline, capacity, bypass):
    """A constant rate takes the virtual-clock path, the same rate as a plain function the general one."""
    jobs = _workload(seed, bypass=bypass)

    def plain(owner, share, now):
        return 7.0 * share, math.inf

    fast = _run(discipline, jobs, constant_rate(7.0), capacity)
    assert isinstance(fast[1]._pool, VirtualShare)
    _same(fast, _run(discipline, jobs, plain, capacity))


class Blocky:
    """A factored rate c·share^0.7 whose per-owner coefficient changes at the owner's own block edges."""

    def __init__(self, period):
        self.period = period

    def _one(self, owner, now):
        period = self.period[owner]
        block = math.floor(now / period)
        while (block + 1) * period <= now:    # division may round down across an edge
            block += 1
        return 1.0 + owner + 0.5 * math.sin(3.0 * block + owner), (block + 1) * period

    def coefficients(self, owners, now):
        pairs = [self._one(o, now) for o in owners]
        return np.array([c for c, _ in pairs]), np.array([u for _, u in pairs])

    def rates(self, coefficients, share):
        return [c * share ** 0.7 for c in coefficients]

    def __call__(self, owner, share, now):
        c, until = self._one(owner, now)
        return self.rates([c], share)[0], until


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("discipline, capacity, bypass", [("fdma", None, False), ("fdma", None, True),
                                                          ("processor_sharing", 2, False)])
def test_factored_rate_gives_the_integrated_schedule(seed, discipline, capacity, bypass):
    jobs = _workload(seed, bypass=bypass)
    owners = [k % 7 for k in range(len(jobs))]
    model = Blocky({o: 0.3 + 0.1 * o for o in range(7)})
    fast = _run(discipline, jobs, model, capacity, owners)
    assert isinstance(fast[1]._pool, FactoredShare)
    _same(fast, _run(discipline, jobs, lambda o, s, t: model(o, s, t), capacity, owners))


class _Phone:
    """A static device with its own Rayleigh fading stream (what RadioChannel asks of a device)."""

    def __init__(self, index, position, seed):
        self.index, self.position = index, position
        self.fading = RayleighBlockFading(0.05, np.random.default_rng(seed))

    def position_at(self, t):
        return self.position

    def fading_for(self, channel):
        return self.fading

    def next_move_after(self, t):
        return math.inf


@pytest.mark.parametrize("condition", ["expected", "random"])
def test_shannon_fdma_with_fading_gives_the_integrated_schedule(condition):
    """The radio channel's factored Shannon rate on the fast path, against the same rate function
    called per job (both see identical fading: each phone's stream is drawn lazily in block order)."""
    spec = ChannelSpec(sharing="fdma", rate=RateSpec(
        model="shannon", bandwidth_hz=10e6, tx_power_dbm=23.0, noise_figure_db=5.0,
        pathloss=PathLossSpec(model="3gpp_rma", frequency_hz=3.5e9, condition=condition)))
    jobs = [(t, w * 8e4, True) for t, w, _ in _workload(9, n=200)]

    def run(general):
        env = simpy.Environment()
        channel = RadioChannel(env, "ap/uplink", spec, (0.0, 0.0), np.random.default_rng(1))
        phones = [_Phone(k, (float(x), float(y)), 100 + k)
                  for k, (x, y) in enumerate(np.random.default_rng(3).uniform(-900, 900, (12, 2)))]
        if general:
            rate = channel.station.rate_fn
            channel.station = Station(env, "ap/uplink", "fdma", 1, lambda o, s, t: rate(o, s, t))
        out = {}

        def job(k, at, work):
            yield env.timeout(at)
            out[k] = yield channel.station.serve(work, phones[k % len(phones)])

        for k, (at, work, _) in enumerate(jobs):
            env.process(job(k, at, work))
        env.run()
        return out, channel.station, env

    fast = run(general=False)
    assert isinstance(fast[1]._pool, FactoredShare)
    _same(fast, run(general=True))
