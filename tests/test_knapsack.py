"""The exact knapsack DP (PEARL-DT P2, eq. 15) against scipy's MILP solver as the oracle."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from mecsim.knapsack import knapsack


def milp_optimum(values: np.ndarray, weights: np.ndarray, caps: np.ndarray) -> float:
    res = milp(-values, integrality=np.ones(len(values)), bounds=Bounds(0, 1),
               constraints=LinearConstraint(weights.T, -np.inf, caps), options={"mip_rel_gap": 0.0})
    assert res.success
    return float(-res.fun)


@st.composite
def instances(draw):
    n = draw(st.integers(0, 14))
    d = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(-0.2, 1.0, n), 3)        # some items not worth keeping
    weights = rng.integers(0, 9, (n, d))
    caps = rng.integers(0, 25, d)
    return values, weights, caps


@settings(max_examples=150, deadline=None)
@given(instances())
def test_dp_equals_milp_optimum(instance):
    values, weights, caps = instance
    sel = knapsack(values, weights, caps)
    chosen = list(sel.chosen)
    # the chosen set is feasible and its value is what the DP reports
    assert (weights[chosen].sum(axis=0) <= caps).all() if chosen else True
    assert sel.value == pytest.approx(values[chosen].sum(), abs=1e-12)
    if len(values):
        assert sel.value == pytest.approx(milp_optimum(values, weights, caps), abs=1e-9)
    else:
        assert sel.value == 0.0


def test_paper_sized_server_instance():
    """80 users on a 32-core, 32 GB server in 128 MB units (the largest server of §V)."""
    rng = np.random.default_rng(7)
    n = 80
    values = rng.uniform(0.0, 0.3, n)
    weights = np.column_stack([np.ones(n, int), rng.integers(2, 17, n)])
    caps = np.array([32, 250])
    sel = knapsack(values, weights, caps)
    assert sel.value == pytest.approx(milp_optimum(values, weights, caps), abs=1e-9)
    assert len(sel.chosen) <= 32


def test_everything_fits_keeps_every_positive_item():
    sel = knapsack([0.5, -1.0, 0.25, 0.0], [[1, 2], [1, 1], [1, 1], [1, 1]], [10, 10])
    assert sel.chosen == (0, 2)
    assert sel.value == 0.75


def test_bad_capacities_rejected():
    with pytest.raises(ValueError, match="capacities"):
        knapsack([1.0], [[1]], [-1])
