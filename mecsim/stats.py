"""Summary statistics that every system's summary.json reports the same way."""
from __future__ import annotations

import numpy as np

__all__ = ["latency_stats"]


def latency_stats(values: np.ndarray) -> dict[str, float | None]:
    """mean, p50, p95 and max of `values` (None for each when there are none)."""
    if not values.size:
        return {"mean": None, "p50": None, "p95": None, "max": None}
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}
