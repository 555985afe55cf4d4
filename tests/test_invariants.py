"""System invariants under hypothesis, over seeds, disciplines, core counts and loads (DESIGN: Ciw style).

Every application is accounted for (completed, dropped with a reason, or in flight at the horizon);
no processor unit or fifo link serves two jobs at once; utilisation stays within [0, 1]; every
activity of an application lies within its arrival and finish, so its latency is at least each of
its service times; a completed application ran each task exactly once.
"""
from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from mecsim.registry import make_controller
from mecsim.rng import RandomStreams
from mecsim.systems.dag_offloading.simulation import DagSimulation
from tests.helpers import scenario

CPU = ("fifo", "schedule_order", "processor_sharing")
CHANNEL = ("fifo", "schedule_order", "parallel", "fdma")
UNITS = ("fifo", "schedule_order")          # disciplines whose cores are units a job holds alone


@st.composite
def setups(draw):
    device_cpu = draw(st.sampled_from(CPU))
    server_cpu = draw(st.sampled_from(CPU))
    cores = draw(st.integers(1, 4))
    return {
        "seed": draw(st.integers(0, 2**20)),
        "horizon_s": 30.0,
        "devices": {"count": draw(st.integers(1, 5)), "cpu": {"cores": 1, "speed_hz": 2.0e8, "discipline": device_cpu},
                    "position": {"x": {"uniform": [-100, 100]}}},
        "access_points": [{"name": "ap0",
                           "uplink": {"rate": {"model": "fixed", "bps": 2.0e7}, "sharing": draw(st.sampled_from(CHANNEL))},
                           "downlink": {"rate": {"model": "fixed", "bps": 4.0e7},
                                        "sharing": draw(st.sampled_from(CHANNEL))}}],
        "servers": [{"name": "mec0", "cores": cores, "speed_hz": 1.0e9, "discipline": server_cpu,
                     "vms": draw(st.sampled_from(("dedicated", "shared")))}],
        "cloud": {"cores": 2, "speed_hz": 2.0e9, "rate_bps": 5.0e7, "delay_s": 0.01},
        "workload": {"dags": {"generate": {"n": draw(st.integers(2, 9)), "fat": 0.6, "density": 0.6,
                                           "regularity": 0.5, "ccr": 0.4, "mindata": 10000, "maxdata": 400000,
                                           "count": 5}},
                     "arrival": {"process": "poisson", "rate_hz": draw(st.sampled_from((0.05, 0.3, 1.0)))},
                     "pick": "random"},
    }, (device_cpu, server_cpu, cores)


def _peak(spans: list[tuple[float, float]]) -> int:
    level = peak = 0
    for _, step in sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans]):
        level += step
        peak = max(peak, level)
    return peak


@settings(max_examples=30, deadline=None)
@given(setups(), st.sampled_from(("random", "remote", "local", "round_robin")))
def test_invariants_hold(setup, controller):
    data, (device_cpu, server_cpu, cores) = setup
    sc = scenario(data)
    ctrl = make_controller(controller, {}, RandomStreams(sc.seed).get("controller"))
    result = DagSimulation(sc, ctrl).run()
    apps = result.apps
    assert all(a.status in ("completed", "dropped", "in_flight") for a in apps)
    assert all(a.reason for a in apps if a.status == "dropped")
    assert all(0.0 <= u <= 1.0 + 1e-9 for u in result.utilisation.values())
    by_app = {a.app: a for a in apps}
    runs = defaultdict(int)
    busy = defaultdict(list)
    for act in result.trace:
        app = by_app[act.app]
        assert act.start_s >= app.arrival_s - 1e-12 and act.end_s >= act.start_s
        if app.finish_s is not None:
            assert act.end_s <= app.finish_s + 1e-9       # latency >= every service time of the app
        if act.kind in ("local", "exec"):
            runs[(act.app, act.task)] += 1
            busy[act.resource].append((act.start_s, act.end_s))
    for a in apps:
        if a.status == "completed":
            assert all(runs[(a.app, t)] == 1 for t in range(len(a.plan)))
    capacity = {}
    if device_cpu in UNITS:
        capacity.update({f"device{d}/cpu": 1 for d in range(sc.devices.count)})
    if server_cpu in UNITS:
        shared = sc.servers[0].vms == "shared"
        capacity.update({"mec0/cpu": cores} if shared else {f"mec0/vm{d}": 1 for d in range(sc.devices.count)})
    for resource, limit in capacity.items():
        assert _peak(busy.get(resource, [])) <= limit, resource
