"""Shared test fixtures: small scenarios built from YAML text, random DAGs, fixed-plan controllers."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import yaml

from mecsim.decision import DecisionPoint
from mecsim.scenario.load import scenario_from_document
from mecsim.systems.dag_offloading.spec import DagScenario
from mecsim.scenario.source import parse_yaml
from mecsim.workload.taskgraph import TaskGraph

M = 2 ** 20

BASE = {
    "name": "tiny",
    "seed": 0,
    "devices": {"count": 1, "cpu": {"cores": 1, "speed_hz": M, "discipline": "schedule_order"}},
    "access_points": [{
        "name": "ap0",
        "uplink": {"rate": {"model": "fixed", "bps": 7 * M}, "sharing": "schedule_order"},
        "downlink": {"rate": {"model": "fixed", "bps": 7 * M}, "sharing": "parallel"},
    }],
    "servers": [{"name": "mec0", "cores": 1, "speed_hz": 10 * M, "discipline": "schedule_order"}],
    "workload": {"dags": {"generate": {"n": 8, "fat": 0.6, "density": 0.6, "regularity": 0.5,
                                       "ccr": 0.4, "count": 4}}},
}


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def scenario(extra: dict | None = None) -> DagScenario:
    data = deep_merge(BASE, extra or {})
    return scenario_from_document(parse_yaml(yaml.safe_dump(data), "tiny.yaml"))


def random_dag(rng: np.random.Generator, n: int, p_edge: float = 0.3) -> TaskGraph:
    edges = [(a, b) for a in range(n) for b in range(a + 1, n) if rng.random() < p_edge]
    size = rng.uniform(1e7, 1.75e8, n)
    return TaskGraph.from_edges("rand", size, size, size * rng.uniform(0.3, 0.5, n), edges)


class FixedPlan:
    """Answers plan[task] for every application (plan indexed by task id)."""

    def __init__(self, plan: Sequence[int], order: str = "rank") -> None:
        self.plan, self.schedule_order = list(plan), order

    def act(self, point: DecisionPoint) -> int:
        return self.plan[point.context.task]


def nesting_violations(doc: dict) -> list[tuple[dict, dict]]:
    """Pairs of complete ("X") slices of a Chrome trace on one thread that overlap without nesting.

    The Trace Event Format requires the slices of a thread to nest (one inside the other) or be
    disjoint; viewers drop or mis-draw the rest. Times are compared in integer nanoseconds, as
    Perfetto's trace processor stores them.
    """
    threads: dict[tuple[int, int], list[tuple[int, int, dict]]] = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            start = round(e["ts"] * 1000)
            threads.setdefault((e["pid"], e["tid"]), []).append((start, round((e["ts"] + e["dur"]) * 1000), e))
    bad = []
    for slices in threads.values():
        slices.sort(key=lambda s: (s[0], -s[1]))
        stack: list[tuple[int, int, dict]] = []
        for start, end, event in slices:
            while stack and stack[-1][1] <= start:
                stack.pop()
            if stack and end > stack[-1][1]:
                bad.append((stack[-1][2], event))
            stack.append((start, end, event))
    return bad
