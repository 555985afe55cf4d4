"""Summary statistics that every system's summary.json reports the same way."""
from __future__ import annotations

import numpy as np

__all__ = ["latency_stats", "latency_line"]


def latency_stats(values: np.ndarray) -> dict[str, float | None]:
    """mean, p50, p95 and max of `values` (None for each when there are none)."""
    if not values.size:
        return {"mean": None, "p50": None, "p95": None, "max": None}
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}


def latency_line(stats: dict[str, float | None]) -> str:
    """The statistics of :func:`latency_stats` over latencies in seconds on one line, in ms, as
    ``mecsim run`` prints them (files hold seconds; people read ms)."""
    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v * 1e3:.2f}"
    return f"mean {fmt(stats['mean'])}  p50 {fmt(stats['p50'])}  p95 {fmt(stats['p95'])}  max {fmt(stats['max'])}"
