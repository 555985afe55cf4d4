"""Read and write DAG applications in daggen's Graphviz (``.gv``) layout.

The reader accepts the DOT subset daggen writes (``//`` comments, one ``digraph``, node statements
``id [k="v", ...]`` and edge statements ``a -> b [k="v"]``). Task profiles come from node attributes
through an :class:`AttributeMap` (MRLCO's files: cycles = ``size``, upload bytes = ``size``, result
bytes = ``expect_size``). The writer emits daggen's exact layout, so a file read and written back is
byte-identical.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mecsim.errors import ConfigError
from mecsim.fileio import atomic_write_text
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["AttributeMap", "read_gv", "parse_gv", "write_gv", "format_gv"]

_NODE = re.compile(r'^\s*("?[\w.]+"?)\s*\[(.*)\]\s*;?\s*$')
_EDGE = re.compile(r'^\s*("?[\w.]+"?)\s*->\s*("?[\w.]+"?)\s*(?:\[(.*)\])?\s*;?\s*$')
_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class AttributeMap:
    """Which node attribute gives each task quantity, and the factor it is multiplied by."""

    cycles: str = "size"
    cycles_factor: float = 1.0
    up_bytes: str = "size"
    up_factor: float = 1.0
    down_bytes: str = "expect_size"
    down_factor: float = 1.0


def read_gv(path: str | Path, attributes: AttributeMap = AttributeMap()) -> TaskGraph:
    """Parse one ``.gv`` file; any problem raises ConfigError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=str(path)) from None
    return parse_gv(text, str(path), attributes)


def parse_gv(text: str, source: str, attributes: AttributeMap = AttributeMap()) -> TaskGraph:
    """Parse the text of one ``.gv`` file; `source` names it in errors, its stem names the graph."""
    header: list[str] = []
    index: dict[str, int] = {}
    labels: list[str] = []
    raw: list[dict[str, str]] = []
    edges: list[tuple[str, str, dict[str, str], int]] = []
    opened = closed = False
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("//"):
            if not opened:
                header.append(line)
            continue
        if not opened:
            if re.match(r"^(strict\s+)?digraph\b.*\{$", stripped):
                opened = True
                continue
            raise ConfigError(f"expected 'digraph NAME {{', got {stripped!r}", file=source, line=lineno)
        if stripped == "}":
            closed = True
            continue
        if closed:
            raise ConfigError(f"text after the closing brace: {stripped!r}", file=source, line=lineno)
        edge = _EDGE.match(line)
        if edge:
            a, b = edge.group(1).strip('"'), edge.group(2).strip('"')
            edges.append((a, b, dict(_ATTR.findall(edge.group(3) or "")), lineno))
            continue
        node = _NODE.match(line)
        if node:
            label = node.group(1).strip('"')
            if label in index:
                raise ConfigError(f"task {label} is defined twice", file=source, line=lineno)
            index[label] = len(labels)
            labels.append(label)
            raw.append(dict(_ATTR.findall(node.group(2))))
            continue
        raise ConfigError(f"not a node or edge statement: {stripped!r}", file=source, line=lineno)
    if not opened or not closed:
        raise ConfigError("no complete 'digraph { ... }' block", file=source)
    if not labels:
        raise ConfigError("the graph has no tasks", file=source)

    def quantity(i: int, key: str, factor: float) -> float:
        value = raw[i].get(key)
        if value is None:
            raise ConfigError(f"task {labels[i]} has no attribute {key!r}", file=source)
        try:
            number = float(value) * factor
        except ValueError:
            raise ConfigError(f"task {labels[i]} attribute {key!r} must be a number, got {value!r}",
                              file=source) from None
        if not number >= 0:
            raise ConfigError(f"task {labels[i]} attribute {key!r} must be >= 0, got {value!r}",
                              file=source)
        return number

    edge_pairs: list[tuple[int, int]] = []
    edge_raw: list[tuple[int, int, dict[str, str]]] = []
    for a, b, attrs, lineno in edges:
        for end in (a, b):
            if end not in index:
                raise ConfigError(f"edge {a} -> {b} names unknown task {end}", file=source, line=lineno)
        pair = (index[a], index[b])
        edge_pairs.append(pair)
        edge_raw.append((pair[0], pair[1], attrs))
    n = len(labels)
    a = attributes
    try:
        return TaskGraph.from_edges(
            name=Path(source).stem,
            cycles=[quantity(i, a.cycles, a.cycles_factor) for i in range(n)],
            up_bytes=[quantity(i, a.up_bytes, a.up_factor) for i in range(n)],
            down_bytes=[quantity(i, a.down_bytes, a.down_factor) for i in range(n)],
            edges=edge_pairs, labels=labels, raw=raw, edge_raw=edge_raw, header=header)
    except ValueError as exc:
        raise ConfigError(str(exc), file=source) from None


def format_gv(graph: TaskGraph) -> str:
    """daggen's layout: header comments, each node followed by its outgoing edges."""
    lines = list(graph.header) + ["digraph G {"]
    out_edges: dict[int, list[tuple[int, dict[str, str]]]] = {i: [] for i in range(graph.n)}
    if graph.edge_raw:  # the file's own edge statements, in order, duplicates included
        for a, b, attrs in graph.edge_raw:
            out_edges[a].append((b, dict(attrs)))
    else:
        for a, b in graph.edges:
            out_edges[a].append((b, {"size": f"{graph.down_bytes[a]:.0f}"}))
    for i in range(graph.n):
        attrs = graph.raw[i] if graph.raw else {
            "size": f"{graph.cycles[i]:.0f}", "expect_size": f"{graph.down_bytes[i]:.0f}"}
        body = ", ".join(f'{k}="{v}"' for k, v in attrs.items())
        lines.append(f"  {graph.labels[i]} [{body}] ")
        for j, eattrs in out_edges[i]:
            ebody = ", ".join(f'{k} ="{v}"' for k, v in eattrs.items())
            lines.append(f"  {graph.labels[i]} -> {graph.labels[j]} [{ebody}]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_gv(graph: TaskGraph, path: str | Path) -> None:
    atomic_write_text(path, format_gv(graph))
