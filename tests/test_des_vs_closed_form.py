"""The DES equals the closed form (MRLCO eqs. 4-8) where the papers' assumptions hold."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mecsim.systems.dag_offloading.analytic import CostModel, evaluate_plan, id_order, rank_order, task_times
from mecsim.systems.dag_offloading.simulation import DagSimulation
from tests.helpers import M, FixedPlan, random_dag, scenario


def _des_latency(graph, plan, *, order="rank", bypass=False, downlink="parallel", servers=1):
    extra = {"compat": {"entry_upload_bypass": bypass},
             "access_points": [{"name": "ap0",
                                "uplink": {"rate": {"model": "fixed", "bps": 7 * M}, "sharing": "schedule_order"},
                                "downlink": {"rate": {"model": "fixed", "bps": 5 * M}, "sharing": downlink}}],
             "servers": [{"name": f"mec{k}", "cores": 1, "speed_hz": (10 + 3 * k) * M,
                          "discipline": "schedule_order"} for k in range(servers)]}
    sim = DagSimulation(scenario(extra), FixedPlan(plan, order), graphs=[("g", graph)])
    result = sim.run()
    (app,) = result.apps
    assert app.status == "completed"
    return app.latency_s, result


def _closed_form(graph, plan, *, order="rank", bypass=False, downlink="parallel", servers=1):
    model = CostModel(M, tuple((10 + 3 * k) * M for k in range(servers)), (7 * M,) * servers,
                      (5 * M,) * servers, uplink="entry_parallel" if bypass else "serial",
                      downlink="serial" if downlink == "schedule_order" else "parallel")
    sequence = rank_order(graph, task_times(graph, model)) if order == "rank" else id_order(graph)
    return evaluate_plan(graph, model, sequence, plan)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 14), servers=st.integers(1, 2),
       bypass=st.booleans(), downlink=st.sampled_from(["parallel", "schedule_order"]),
       order=st.sampled_from(["rank", "id"]), p_edge=st.floats(0.0, 0.8))
def test_des_equals_closed_form(seed, n, servers, bypass, downlink, order, p_edge):
    rng = np.random.default_rng(seed)
    graph = random_dag(rng, n, p_edge)
    plan = rng.integers(0, servers + 1, n).tolist()
    kw = dict(order=order, bypass=bypass, downlink=downlink, servers=servers)
    des, _ = _des_latency(graph, plan, **kw)
    exact = _closed_form(graph, plan, **kw)
    assert des == pytest.approx(exact, rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12))
def test_latency_at_least_own_service_times(seed, n):
    """Every task's activities fit between arrival and finish; service times add up per task."""
    rng = np.random.default_rng(seed)
    graph = random_dag(rng, n)
    plan = rng.integers(0, 2, n).tolist()
    latency, result = _des_latency(graph, plan)
    per_task = {}
    for a in result.trace:
        assert 0.0 <= a.start_s <= a.end_s <= latency + 1e-9
        if a.kind != "queue":
            per_task[a.task] = per_task.get(a.task, 0.0) + (a.end_s - a.start_s)
    assert set(per_task) == set(range(n))
    for busy in per_task.values():
        assert latency >= busy - 1e-9


# -- servers behind wired links (another access point's server, the cloud) ------------------------------

def _remote_servers(link_bps, delay_s, cloud=True):
    """mec0 on the device's ap0, mec1 on ap1 behind one link, and (optionally) the cloud behind its link."""
    fast = {"rate": {"model": "fixed", "bps": 7 * M}, "sharing": "schedule_order"}
    extra = {"devices": {"access_point": "ap0"},
             "access_points": [{"name": "ap0", "uplink": fast,
                                "downlink": {"rate": {"model": "fixed", "bps": 5 * M}, "sharing": "parallel"}},
                               {"name": "ap1", "uplink": fast, "downlink": fast}],
             "servers": [{"name": "mec0", "cores": 1, "speed_hz": 10 * M, "discipline": "schedule_order"},
                         {"name": "mec1", "access_point": "ap1", "cores": 1, "speed_hz": 13 * M,
                          "discipline": "schedule_order"}],
             "links": [{"a": "ap0", "b": "ap1", "rate_bps": link_bps, "delay_s": delay_s}]}
    if cloud:
        extra["cloud"] = {"cores": 1, "speed_hz": 40 * M, "rate_bps": link_bps, "delay_s": 2 * delay_s,
                          "discipline": "fifo"}
    return scenario(extra)


def _both(sc, graph, plan):
    sim = DagSimulation(sc, FixedPlan(plan), graphs=[("g", graph)])
    model = sim.system.cost_model(sim.infra.devices[0])
    (app,) = sim.run().apps
    assert app.status == "completed"
    return app.latency_s, evaluate_plan(graph, model, rank_order(graph, task_times(graph, model)), plan), model


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), p_edge=st.floats(0.0, 0.8),
       delay=st.floats(0.0, 0.5))
def test_des_equals_closed_form_with_backhaul_delays(seed, n, p_edge, delay):
    """Links fast enough never to queue: the closed form's wired legs (propagation) equal the DES."""
    rng = np.random.default_rng(seed)
    graph = random_dag(rng, n, p_edge)
    plan = rng.integers(0, 4, n).tolist()
    des, exact, _ = _both(_remote_servers(1e18, delay), graph, plan)
    assert des == pytest.approx(exact, rel=1e-9)


def test_one_task_over_a_slow_link_pays_its_serialisation_both_ways():
    graph = random_dag(np.random.default_rng(1), 1)
    des, exact, model = _both(_remote_servers(2 * M, 0.01, cloud=False), graph, [2])
    bits_up, bits_down = graph.up_bytes[0] * 8, graph.down_bytes[0] * 8
    assert model.route_up == ((0.0, 0.0), (1 / (2 * M), 0.01)) == model.route_down
    hand = bits_up / (7 * M) + bits_up / (2 * M) + 0.01 + graph.cycles[0] / (13 * M) \
        + bits_down / (2 * M) + 0.01 + bits_down / (5 * M)
    assert des == pytest.approx(hand, rel=1e-12) and exact == pytest.approx(hand, rel=1e-12)


def test_heft_prefers_the_near_server_when_the_far_one_is_behind_a_slow_link():
    """The planners see the backhaul: with mec1 a little faster but behind a slow link, HEFT keeps to mec0."""
    from mecsim.controllers.heuristics import Heft
    graph = random_dag(np.random.default_rng(2), 10, 0.3)
    plans = []
    for link in (1e18, M / 4):
        sim = DagSimulation(_remote_servers(link, 0.0, cloud=False), Heft(), graphs=[("g", graph)])
        (app,) = sim.run().apps
        plans.append(app.plan)
    assert 2 in plans[0] and 2 not in plans[1]
