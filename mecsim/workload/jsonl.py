"""The workload as a run's output: one JSON object per application, its DAG included (graphs.jsonl).

A line holds everything needed to recompute the application's critical path or to replay it alone:
``app``, ``device``, ``source`` (where the graph came from: a file, a data set entry, ``generated/k``),
``arrival_s``, ``graph`` (its name), ``tasks`` (per task in index order, as trace.csv's ``task``:
``label``, the id in its file; ``cycles``; ``up_bytes``, sent when offloaded; ``down_bytes``, the
result returned) and ``edges`` (``[parent, child]`` task indices). In this model data sizes belong
to tasks, not edges: an offloaded task uploads its ``up_bytes`` once whatever its parents.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from mecsim.workload.taskgraph import TaskGraph

__all__ = ["graph_fields", "graph_lines", "read_graph"]

_dumps = json.JSONEncoder(sort_keys=False, separators=(",", ":"), allow_nan=False).encode


class _Application(Protocol):
    app: int
    device: int
    source: str
    arrival_s: float
    graph: TaskGraph | None


def graph_fields(graph: TaskGraph) -> dict[str, Any]:
    """``graph``, ``tasks`` and ``edges`` of a line (:mod:`mecsim.workload.jsonl`)."""
    cycles, up, down = graph.floats
    return {"graph": graph.name,
            "tasks": [{"label": graph.labels[i], "cycles": cycles[i], "up_bytes": up[i], "down_bytes": down[i]}
                      for i in range(graph.n)],
            "edges": [[a, b] for a, b in graph.edges]}


def graph_lines(applications: Iterable[_Application]) -> Iterator[str]:
    """One line (with its newline) per application that has a graph, in the given order. A graph
    shared by many applications is encoded once."""
    encoded: dict[int, tuple[TaskGraph, str]] = {}
    for rec in applications:
        graph = rec.graph
        if graph is None:
            continue
        known = encoded.get(id(graph))
        if known is None or known[0] is not graph:
            known = encoded[id(graph)] = (graph, _dumps(graph_fields(graph))[1:])
        head = _dumps({"app": rec.app, "device": rec.device, "source": rec.source, "arrival_s": rec.arrival_s})
        yield f"{head[:-1]},{known[1]}\n"


def read_graph(line: str) -> TaskGraph:
    """The TaskGraph of one graphs.jsonl line (for replaying an application alone)."""
    obj = json.loads(line)
    tasks = obj["tasks"]
    return TaskGraph.from_edges(obj["graph"], [t["cycles"] for t in tasks], [t["up_bytes"] for t in tasks],
                                [t["down_bytes"] for t in tasks], [tuple(e) for e in obj["edges"]],
                                labels=[t["label"] for t in tasks])
