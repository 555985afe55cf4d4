"""Applications as DAGs of tasks: the networkx graph plus the per-task arrays the hot path reads."""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import networkx as nx
import numpy as np

__all__ = ["TaskGraph"]


@dataclass(frozen=True, eq=False)
class TaskGraph:
    """A DAG application. Tasks are 0..n-1; ``labels[i]`` is task i's id as written in its file.

    ``cycles`` (CPU cycles), ``up_bytes`` (bytes sent when offloaded) and ``down_bytes`` (result bytes
    returned) are float arrays. ``parents`` / ``children`` are tuples of task indices. ``raw`` keeps the
    file's own attribute strings per task (and ``edge_raw`` its edge statements in file order,
    duplicates included) so a graph read from a ``.gv`` file is written back unchanged. ``header`` holds the file's comment lines (the daggen command).
    """

    name: str
    cycles: np.ndarray
    up_bytes: np.ndarray
    down_bytes: np.ndarray
    parents: tuple[tuple[int, ...], ...]
    children: tuple[tuple[int, ...], ...]
    labels: tuple[str, ...]
    raw: tuple[Mapping[str, str], ...] = ()
    edge_raw: tuple[tuple[int, int, Mapping[str, str]], ...] = ()
    header: tuple[str, ...] = ()

    @classmethod
    def from_edges(cls, name: str, cycles: Sequence[float] | np.ndarray, up_bytes: Sequence[float] | np.ndarray,
                   down_bytes: Sequence[float] | np.ndarray, edges: Sequence[tuple[int, int]], *,
                   labels: Sequence[str] | None = None, raw: Sequence[Mapping[str, str]] = (),
                   edge_raw: Sequence[tuple[int, int, Mapping[str, str]]] = (),
                   header: Sequence[str] = ()) -> "TaskGraph":
        """Build and check a graph: equal-length profiles, edges inside 0..n-1, no cycle."""
        n = len(cycles)
        if not (len(up_bytes) == len(down_bytes) == n):
            raise ValueError("cycles, up_bytes and down_bytes must have the same length")
        parents: list[list[int]] = [[] for _ in range(n)]
        children: list[list[int]] = [[] for _ in range(n)]
        for a, b in edges:
            if not (0 <= a < n and 0 <= b < n) or a == b:
                raise ValueError(f"edge {a}->{b}: endpoints must be distinct tasks in 0..{n - 1}")
            if b not in children[a]:
                children[a].append(b)
                parents[b].append(a)
        graph = cls(
            name=name,
            cycles=np.asarray(cycles, dtype=float),
            up_bytes=np.asarray(up_bytes, dtype=float),
            down_bytes=np.asarray(down_bytes, dtype=float),
            parents=tuple(tuple(sorted(p)) for p in parents),
            children=tuple(tuple(sorted(c)) for c in children),
            labels=tuple(labels) if labels is not None else tuple(str(i + 1) for i in range(n)),
            raw=tuple(raw),
            edge_raw=tuple(edge_raw),
            header=tuple(header),
        )
        cycle = [] if graph._is_acyclic() else graph.find_cycle()
        if cycle:
            names = " -> ".join(graph.labels[i] for i in cycle)
            raise ValueError(f"the graph has a cycle: {names}")
        for arr, what in ((graph.cycles, "cycles"), (graph.up_bytes, "up_bytes"),
                          (graph.down_bytes, "down_bytes")):
            if n and (not np.all(np.isfinite(arr)) or arr.min() < 0):
                raise ValueError(f"{what}: must be finite and >= 0")
        return graph

    @property
    def n(self) -> int:
        return len(self.cycles)

    @cached_property
    def floats(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """(cycles, up_bytes, down_bytes) as Python floats, the same values: the simulator reads one
        per activity, and a numpy scalar costs several times a float to index and compute with."""
        return tuple(self.cycles.tolist()), tuple(self.up_bytes.tolist()), tuple(self.down_bytes.tolist())

    @property
    def edges(self) -> list[tuple[int, int]]:
        return [(a, b) for a in range(self.n) for b in self.children[a]]

    def to_networkx(self) -> nx.DiGraph:
        """A fresh networkx view (node attributes cycles/up_bytes/down_bytes/label)."""
        g = nx.DiGraph(name=self.name)
        for i in range(self.n):
            g.add_node(i, cycles=float(self.cycles[i]), up_bytes=float(self.up_bytes[i]),
                       down_bytes=float(self.down_bytes[i]), label=self.labels[i])
        g.add_edges_from(self.edges)
        return g

    def _is_acyclic(self) -> bool:
        """Kahn's count, linear time: cheap enough to run on every graph built."""
        indegree = [len(p) for p in self.parents]
        ready = [i for i, d in enumerate(indegree) if d == 0]
        seen = 0
        while ready:
            i = ready.pop()
            seen += 1
            for j in self.children[i]:
                indegree[j] -= 1
                if indegree[j] == 0:
                    ready.append(j)
        return seen == self.n

    def find_cycle(self) -> list[int]:
        """Task indices of one directed cycle, or [] for a DAG."""
        try:
            return [a for a, _ in nx.find_cycle(self.to_networkx())]
        except nx.NetworkXNoCycle:
            return []

    def topological_order(self) -> list[int]:
        """Parents before children, the lowest ready id first (networkx's lexicographical order)."""
        return list(self._topological)

    @cached_property
    def _topological(self) -> tuple[int, ...]:
        # once per graph: the simulator ranks every application's tasks with it
        indegree = [len(p) for p in self.parents]
        ready = [i for i, d in enumerate(indegree) if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            order.append(i)
            for j in self.children[i]:
                indegree[j] -= 1
                if indegree[j] == 0:
                    heapq.heappush(ready, j)
        return tuple(order)

    def exits(self) -> list[int]:
        return [i for i in range(self.n) if not self.children[i]]
