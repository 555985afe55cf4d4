"""Exact multi-dimensional 0/1 knapsack by dynamic programming (PEARL-DT P2, eq. 15).

An edge server keeps the subset of its assigned users that maximises the latency saved by staying at
the edge, Σ x_u (d^C_u − d^E_u), subject to its cores (C2, eq. 8) and memory (C3, eq. 9). Minimising
eq. (15) is the same problem: Σ_u d^C_u is a constant. Weights and capacities are non-negative
integers (cores are counts; the service-management system expresses memory in whole units of its
``memory_unit_bytes`` and rounds every model's memory up to a unit, so no discretisation error
remains). The DP is pseudo-polynomial, Θ(n · Π_k (C_k + 1)), which is small for the paper's servers
(≤ 32 cores, 32 GB in 128 MB units): one vectorised shifted maximum per item.

Ties are broken deterministically: an item is taken only when it strictly improves the best value,
and items are visited in the given order.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

__all__ = ["Selection", "knapsack"]


class Selection(NamedTuple):
    """The optimum: total value of the kept items and the kept item indices (ascending)."""

    value: float
    chosen: tuple[int, ...]


def knapsack(values: Sequence[float], weights: Sequence[Sequence[int]] | np.ndarray,
             capacities: Sequence[int]) -> Selection:
    """Maximise Σ values[i] over subsets whose summed weights stay within `capacities` in every
    dimension. ``weights`` is (n, d) integers >= 0, ``capacities`` d integers >= 0. Items with a value
    <= 0 are never kept (keeping them cannot raise the total)."""
    v = np.asarray(values, dtype=float)
    n = v.shape[0]
    caps = np.asarray(capacities, dtype=np.int64)
    if caps.ndim != 1 or (caps < 0).any():
        raise ValueError(f"capacities: must be a list of integers >= 0, got {list(capacities)!r}")
    w = np.asarray(weights, dtype=np.int64).reshape(n, caps.shape[0])
    if (w < 0).any() or not np.isfinite(v).all():
        raise ValueError("weights must be integers >= 0 and values finite")
    shape = tuple(int(c) + 1 for c in caps)
    best = np.zeros(shape)
    took = []                      # per considered item: where taking it improved the table
    items = [i for i in range(n) if v[i] > 0 and (w[i] <= caps).all()]
    for i in items:
        shift = tuple(int(x) for x in w[i])
        # F_i(c) = max(F_{i-1}(c), F_{i-1}(c - w_i) + v_i) on the cells where c >= w_i
        target = tuple(slice(s, None) for s in shift)
        source = tuple(slice(0, dim - s) for s, dim in zip(shift, shape))
        candidate = best[source] + v[i]
        better = np.zeros(shape, dtype=bool)
        better[target] = candidate > best[target]
        best[target] = np.where(better[target], candidate, best[target])
        took.append(better)
    # traceback from the full capacity, last item first
    cell = tuple(int(c) for c in caps)
    chosen = []
    for i, better in zip(reversed(items), reversed(took)):
        if better[cell]:
            chosen.append(i)
            cell = tuple(c - int(x) for c, x in zip(cell, w[i]))
    total = float(sum(v[i] for i in chosen))
    return Selection(total, tuple(sorted(chosen)))
