"""The DAG offloading system on richer scenarios: conservation, capacity, memory, determinism."""
from __future__ import annotations

import hashlib
from collections import defaultdict

import pytest

from mecsim.controllers.heuristics import Random, Remote
from mecsim.outputs import write_outputs
from mecsim.systems.dag_offloading.simulation import DagSimulation
from tests.helpers import M, FixedPlan, random_dag, scenario

import numpy as np

RICH = {
    "seed": 3,
    "horizon_s": 400,
    "devices": {"count": 6, "cpu": {"cores": 1, "speed_hz": 4 * M, "discipline": "fifo"},
                "position": {"x": {"uniform": [10, 600]}, "y": {"uniform": [10, 600]}},
                "mobility": {"model": "random_waypoint", "area": [[0, 0], [600, 600]],
                             "speed_mps": [1, 3], "pause_s": 2}},
    "access_points": [
        {"name": "ap0", "position": [0, 0],
         "uplink": {"rate": {"model": "shannon", "bandwidth_hz": 50e6, "tx_power_dbm": 20,
                             "noise_figure_db": 5,
                             "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9, "condition": "los"},
                             "fading": {"model": "rayleigh", "coherence_s": 0.5}},
                    "sharing": "fdma"},
         "downlink": {"rate": {"model": "fixed", "bps": 100 * M}, "sharing": "fifo", "packet_bytes": 1500000}},
        {"name": "ap1", "position": [600, 600],
         "uplink": {"rate": {"model": "fixed", "bps": 80 * M}, "sharing": "fifo", "packet_bytes": 1000000},
         "downlink": {"rate": {"model": "fixed", "bps": 80 * M}, "sharing": "fdma"}}],
    "links": [{"a": "ap0", "b": "ap1", "rate_bps": 100 * M, "delay_s": 0.005}],
    "servers": [
        {"name": "mec0", "access_point": "ap0", "cores": 4, "speed_hz": 10 * M, "discipline": "fifo",
         "vms": "shared", "memory_bytes": 3e8, "memory_policy": "drop"},
        {"name": "mec1", "access_point": "ap1", "cores": 2, "speed_hz": 10 * M,
         "discipline": "processor_sharing", "vms": "shared", "memory_bytes": 2e8, "memory_policy": "wait"}],
    "cloud": {"cores": 8, "speed_hz": 40 * M, "rate_bps": 50 * M, "delay_s": 0.02},
    "workload": {"arrival": {"process": "poisson", "rate_hz": 0.02}, "pick": "random",
                 "task_memory_bytes": {"uniform": [1e7, 1.5e8]},
                 "dags": {"generate": {"n": 10, "fat": 0.6, "density": 0.6, "regularity": 0.5, "ccr": 0.4,
                                       "count": 20}}},
}


def _rich(controller=None, seed=None):
    import numpy.random as npr
    ctrl = controller or Random(npr.default_rng(5))
    return DagSimulation(scenario(RICH), ctrl, seed=seed).run()


def test_conservation_and_reasons():
    result = _rich()
    apps = result.apps
    assert len(apps) > 20
    statuses = {a.status for a in apps}
    assert statuses <= {"completed", "dropped", "in_flight"}
    assert any(a.status == "completed" for a in apps)
    for a in apps:
        if a.status == "dropped":
            assert a.reason.startswith("memory:")
        if a.status == "completed":
            assert a.latency_s > 0 and len(a.plan) == 10 and min(a.plan) >= 0
    # every task of a completed application left exactly one execution record (local or exec)
    runs = defaultdict(int)
    for act in result.trace:
        if act.kind in ("local", "exec"):
            runs[(act.app, act.task)] += 1
    for a in apps:
        if a.status == "completed":
            assert all(runs[(a.app, t)] == 1 for t in range(10))


def test_drop_policy_drops_and_wait_policy_waits():
    result = _rich(Remote())
    dropped = [a for a in result.apps if a.status == "dropped"]
    assert dropped, "mec0 has a drop policy and tasks up to 1.5e8 B against 3e8 B"
    waits = [a for a in result.trace if a.kind == "queue" and a.resource.endswith("/memory")]
    assert waits, "mec1 waits for memory"


def test_no_resource_serves_beyond_capacity():
    result = _rich()
    # (packetised channels are left out: their trace rows span whole messages, which interleave)
    capacity = {"mec0/cpu": 4, "ap0-ap1/link": 1, "ap1-ap0/link": 1, "ap0-cloud/link": 1}
    capacity.update({f"device{d}/cpu": 1 for d in range(6)})
    spans = defaultdict(list)
    for a in result.trace:
        if a.kind != "queue" and a.resource in capacity and a.end_s > a.start_s:
            # a forward row includes the propagation delay, during which the link sends the next one
            delay = {"ap0-ap1/link": 0.005, "ap1-ap0/link": 0.005, "ap0-cloud/link": 0.02}.get(a.resource, 0.0)
            spans[a.resource].append((a.start_s, a.end_s - delay))
    assert spans
    for resource, items in spans.items():
        events = sorted([(s, 1) for s, _ in items] + [(e, -1) for _, e in items])
        level = peak = 0
        for _, step in events:
            level += step
            peak = max(peak, level)
        assert peak <= capacity[resource], resource
    assert all(0.0 <= u <= 1.0 + 1e-9 for u in result.utilisation.values())


def _digest(tmp_path, name, seed):
    out = tmp_path / name
    write_outputs(_rich(seed=seed), out)
    return {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in ("trace.csv", "apps.csv")}


def test_same_seed_same_bytes(tmp_path):
    assert _digest(tmp_path, "a", 11) == _digest(tmp_path, "b", 11)
    assert _digest(tmp_path, "c", 12) != _digest(tmp_path, "a", 11)


def test_packets_interleave_transfers_of_two_devices():
    extra = {"devices": {"count": 2, "cpu": {"discipline": "fifo"}},
             "access_points": [{"name": "ap0",
                                "uplink": {"rate": {"model": "fixed", "bps": 8e6}, "sharing": "fifo",
                                           "packet_bytes": 100000},
                                "downlink": {"rate": {"model": "fixed", "bps": 8e6}, "sharing": "parallel"}}],
             "servers": [{"name": "mec0", "cores": 2, "speed_hz": 1e12, "vms": "shared", "discipline": "fifo"}],
             "workload": {"apps_per_device": 1}}
    rng = np.random.default_rng(0)
    g = random_dag(rng, 1)
    sim = DagSimulation(scenario(extra), FixedPlan([1]), graphs=[("g", g)])
    result = sim.run()
    ups = sorted((a for a in result.trace if a.kind == "uplink"), key=lambda a: a.start_s)
    packet_s = 100000 * 8 / 8e6
    assert len(ups) == 2 and ups[0].end_s - ups[0].start_s > 3 * packet_s
    # packets alternate: both messages start within one packet time and end within one of each other
    assert ups[1].start_s - ups[0].start_s <= packet_s + 1e-9
    assert abs(ups[0].end_s - ups[1].end_s) <= packet_s + 1e-9


def _radio_scenario(mobility=None, fading=None):
    rate = {"model": "shannon", "bandwidth_hz": 10e6, "tx_power_dbm": 20, "noise_figure_db": 5,
            "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9, "condition": "los"}}
    if fading:
        rate["fading"] = fading
    devices = {"count": 1, "position": {"x": 1000, "y": 0}, "cpu": {"discipline": "fifo"}}
    if mobility:
        devices["mobility"] = mobility
    return scenario({"devices": devices,
                     "access_points": [{"name": "ap0", "position": [0, 0],
                                        "uplink": {"rate": rate, "sharing": "fifo", "update_s": 0.5},
                                        "downlink": {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "parallel"}}],
                     "workload": {"apps_per_device": 6, "arrival": {"process": "list", "times_s": [0, 100, 200, 300, 400, 500]}}})


def test_shannon_uplink_takes_the_link_budget_time():
    """1 km LOS RMa at 3.5 GHz, 20 dBm, 10 MHz, NF 5 dB: SNR 13.5 dB, about 45.6 Mb/s (notes §4)."""
    g = random_dag(np.random.default_rng(1), 1)
    result = DagSimulation(_radio_scenario(), FixedPlan([1]), graphs=[("g", g)]).run()
    up = next(a for a in result.trace if a.kind == "uplink")
    rate = up.bytes * 8 / (up.end_s - up.start_s)
    assert rate == pytest.approx(45.6e6, rel=0.01)


def test_channel_follows_mobility_and_fading():
    g = random_dag(np.random.default_rng(1), 1)
    for extra in ({"mobility": {"model": "random_waypoint", "area": [[0, 0], [2000, 2000]], "speed_mps": [20, 30]}},
                  {"fading": {"model": "rayleigh", "coherence_s": 0.05}}):
        result = DagSimulation(_radio_scenario(**extra), FixedPlan([1]), graphs=[("g", g)]).run()
        rates = [a.bytes * 8 / (a.end_s - a.start_s) for a in result.trace if a.kind == "uplink"]
        assert len(rates) == 6 and max(rates) / min(rates) > 1.05, extra


# --- Poisson arrivals: one process for every device ------------------------------------------------
@pytest.mark.parametrize("apps_per_device", [None, 3])
def test_poisson_arrivals_are_each_devices_own_stream(apps_per_device):
    """Each device's arrival times are the running sums of its own stream (arrivals/<device>), to the
    float, and stop at its application count or the horizon, however many devices share the process."""
    from mecsim.rng import RandomStreams
    rate, horizon, devices = 0.5, 30.0, 7
    sc = scenario({"seed": 4, "horizon_s": horizon, "devices": {"count": devices},
                   "workload": {"arrival": {"process": "poisson", "rate_hz": rate},
                                "apps_per_device": apps_per_device}})
    result = DagSimulation(sc, Remote(), trace=False).run()
    seen = defaultdict(list)
    for app in result.apps:
        seen[app.device].append(app.arrival_s)
    for d in range(devices):
        stream, at, expected = RandomStreams(4).get(f"arrivals/{d}"), 0.0, []
        while apps_per_device is None or len(expected) < apps_per_device:
            at = at + float(stream.exponential(1.0 / rate))
            if at > horizon:
                break
            expected.append(at)
        assert seen[d] == expected


def test_timeout_at_fires_on_the_exact_float():
    """Even where no delay from now reaches it."""
    import simpy
    from mecsim.systems.dag_offloading.simulation import _timeout_at
    now, at = 2.0 ** -53, 1.0 + 3 * 2.0 ** -52
    assert all(now + d != at for d in (at - now, np.nextafter(at - now, 2.0)))
    env = simpy.Environment(initial_time=now)
    fired = []
    _timeout_at(env, at).callbacks.append(lambda event: fired.append(env.now))
    env.run()
    assert fired == [at]


def test_a_controller_error_stops_the_run_with_its_own_message():
    from mecsim.errors import MecsimError

    class Wrong:
        def act(self, point):
            return 99
    with pytest.raises(MecsimError, match=r"^Wrong: answered 99 at t=0 s, app 0 task \d+: must be an integer in 0..1$"):
        DagSimulation(scenario(), Wrong()).run()


def test_run_leaves_the_collector_as_it_found_it():
    import gc
    assert gc.get_freeze_count() == 0
    DagSimulation(scenario(), Remote()).run()
    assert gc.get_freeze_count() == 0           # its freeze of the built system ends with the run
    gc.freeze()
    try:
        DagSimulation(scenario(), Remote()).run()
        assert gc.get_freeze_count() > 0        # someone else's freeze is left alone (not thawed)
    finally:
        gc.unfreeze()
