"""The DES equals the closed form (MRLCO eqs. 4-8) where the papers' assumptions hold."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mecsim.analytic import CostModel, evaluate_plan, id_order, rank_order, task_times
from mecsim.simulation import Simulation
from tests.helpers import M, FixedPlan, random_dag, scenario


def _des_latency(graph, plan, *, order="rank", bypass=False, downlink="parallel", servers=1):
    extra = {"compat": {"entry_upload_bypass": bypass},
             "access_points": [{"name": "ap0",
                                "uplink": {"rate": {"model": "fixed", "bps": 7 * M}, "sharing": "schedule_order"},
                                "downlink": {"rate": {"model": "fixed", "bps": 5 * M}, "sharing": downlink}}],
             "servers": [{"name": f"mec{k}", "cores": 1, "speed_hz": (10 + 3 * k) * M,
                          "discipline": "schedule_order"} for k in range(servers)]}
    sim = Simulation(scenario(extra), FixedPlan(plan, order), graphs=[("g", graph)])
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
    for task, busy in per_task.items():
        assert latency >= busy - 1e-9
