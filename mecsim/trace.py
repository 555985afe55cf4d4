"""Timing trace: every activity (a task holding a resource from one time to another).

The recorder sits on the simulator's hot path, so ``record`` only appends a plain tuple; all
formatting, sorting and checking happens later, in the writers. Every writer puts activities in one
canonical order and goes through :func:`mecsim.fileio.atomic_write`, so the same activities give
byte-identical files and a failure never leaves a partial one.

For long horizons :class:`TraceStream` takes the recorder's place: it keeps at most ``batch``
activities in memory and appends them to a CSV (or Parquet) file, so memory stays flat however
long the run. Its rows are those of the in-memory trace, in recording order (when each activity
ended), not the canonical order: sorting a file too big for memory is left to the reader
(e.g. ``sort_values(["start_s", "end_s", "resource", "app", "task", "kind"])``).
"""
from __future__ import annotations

import csv
import fnmatch
import heapq
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from operator import itemgetter
from typing import IO, Any, NamedTuple

from mecsim.errors import ConfigError
from mecsim.fileio import atomic_write, publish, temp_beside
from mecsim.naming import natural_key
from mecsim.plotting import figure, save_png

__all__ = [
    "KINDS",
    "SERVICE_KINDS",
    "TRACE_COLUMNS",
    "ENERGY_COLUMN",
    "Activity",
    "TraceRecorder",
    "TraceStream",
    "STREAM_FORMATS",
    "write_trace_csv",
    "busy_seconds",
    "canonical",
    "read_trace_csv",
    "write_chrome_trace",
    "lanes",
    "plot_gantt",
]

# wait: a task blocked on its predecessors (resource: its device); queue: waiting for a resource;
# forward: a wired link transmitting; propagate: its propagation delay after that (the link is free).
KINDS: tuple[str, ...] = ("wait", "local", "uplink", "queue", "exec", "downlink", "forward", "propagate")
# the kinds during which a resource is busy: what utilisation counts
SERVICE_KINDS: frozenset[str] = frozenset(("local", "uplink", "exec", "downlink", "forward"))
TRACE_COLUMNS: tuple[str, ...] = (
    "app", "task", "device", "kind", "resource", "start_s", "end_s", "bytes", "cycles", "cut",
)
# the column a run with energy accounting (mecsim.energy) adds after TRACE_COLUMNS; absent otherwise
ENERGY_COLUMN = "energy_j"


class Activity(NamedTuple):
    """One task using one resource over ``[start_s, end_s]`` (simulated seconds).

    ``cut`` is 1 when the horizon ended the run while the activity was still going: ``end_s`` is then
    the horizon, not the activity's end. ``energy_j``: what it cost (:mod:`mecsim.energy`), 0 when the
    run accounts no energy.
    """

    app: int
    task: int
    device: int
    kind: str
    resource: str
    start_s: float
    end_s: float
    bytes: float
    cycles: float
    cut: int = 0
    energy_j: float = 0.0


# An activity as recorded: Activity's fields in a plain tuple.
_Row = tuple[int, int, int, str, str, float, float, float, float, int, float]
# (start_s, end_s, resource, app, task, kind) as a C-level key: works on Activity and plain tuples.
_SORT_KEY = itemgetter(5, 6, 4, 0, 1, 3)
# Builds an Activity from a recorded 11-tuple without the Python-level NamedTuple constructor.
_as_activity = partial(tuple.__new__, Activity)


class TraceRecorder:
    """Collects activities in memory as plain tuples (Activity). ``energy``: the files get the
    ``energy_j`` column (set by :class:`mecsim.energy.Meter` before anything is recorded)."""

    __slots__ = ("_enabled", "_rows", "_append", "energy")

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = bool(enabled)
        self.energy = False
        self._rows: list[_Row] = []
        # The bound method is cached so a record is one attribute load and one call.
        self._append = self._rows.append

    @property
    def enabled(self) -> bool:
        return self._enabled

    def record(self, app: int, task: int, device: int, kind: str, resource: str,
               start_s: float, end_s: float, bytes: float = 0.0, cycles: float = 0.0, cut: int = 0,
               energy_j: float = 0.0) -> None:
        """Append one activity; no checks here (hot path), the writers check what they need."""
        if self._enabled:
            self._append((app, task, device, kind, resource, start_s, end_s, bytes, cycles, cut, energy_j))

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Activity]:
        """Activities in recording order (named tuples are built only here, not while recording)."""
        return map(_as_activity, self._rows)

    def sorted(self) -> list[Activity]:
        """Activities by (start_s, end_s, resource, app, task, kind): the order files use."""
        return list(map(_as_activity, sorted(self._rows, key=_SORT_KEY)))


STREAM_FORMATS: tuple[str, ...] = ("csv", "parquet")


class TraceStream:
    """Activities appended to a file in batches of `batch`: memory holds at most `batch` of them.

    Same ``record`` as :class:`TraceRecorder`. The file is written under a temporary name next to
    `path` and renamed by :meth:`close` (a failed run leaves no partial trace). ``csv``: the columns
    and number format of :func:`write_trace_csv`; ``parquet`` (needs pyarrow): one row group per
    batch, int64/string/float64 columns. The header (the parquet schema) is written with the first
    rows, so ``energy`` (the ``energy_j`` column, as on :class:`TraceRecorder`) may be set until then.
    """

    __slots__ = ("path", "format", "batch", "_rows", "_append", "_written", "_tmp", "_handle", "_writer",
                 "energy", "_started", "_closed")

    def __init__(self, path: str | os.PathLike, format: str = "csv", batch: int = 8192) -> None:
        if format not in STREAM_FORMATS:
            raise ValueError(f"format: must be one of {STREAM_FORMATS}, got {format!r}")
        if batch < 1:
            raise ValueError(f"batch: must be >= 1, got {batch!r}")
        self.path, self.format, self.batch = os.fspath(path), format, int(batch)
        self._rows: list[_Row] = []
        self._append = self._rows.append
        self._written = 0
        self.energy = False
        self._started = self._closed = False
        if format == "parquet":
            try:
                import pyarrow.parquet  # noqa: F401  (fail here, not at the first write)
            except ImportError:
                raise ValueError("format parquet: needs pyarrow (pip install pyarrow); use csv") from None
        fd, self._tmp = temp_beside(self.path)
        self._handle: IO[str] | None      # the csv file; None for parquet (the writer owns its file)
        self._writer: Any                 # a csv writer or a pyarrow ParquetWriter (made by _start)
        if format == "csv":
            self._handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle, lineterminator="\n")
        else:
            os.close(fd)
            self._handle = None
            self._writer = None

    def _start(self) -> None:
        """The header (csv) or the schema (parquet), once the columns are known: at the first write."""
        self._started = True
        if self.format == "csv":
            self._writer.writerow(_columns(self.energy))
        else:
            import pyarrow.parquet as pq
            self._writer = pq.ParquetWriter(self._tmp, _arrow_schema(self.energy))

    @property
    def enabled(self) -> bool:
        return True

    @property
    def buffered(self) -> int:
        """Activities recorded but not yet written (never more than ``batch``)."""
        return len(self._rows)

    def record(self, app: int, task: int, device: int, kind: str, resource: str,
               start_s: float, end_s: float, bytes: float = 0.0, cycles: float = 0.0, cut: int = 0,
               energy_j: float = 0.0) -> None:
        """Append one activity; every `batch` activities go to the file."""
        self._append((app, task, device, kind, resource, start_s, end_s, bytes, cycles, cut, energy_j))
        if len(self._rows) >= self.batch:
            self.flush()

    def __len__(self) -> int:
        return self._written + len(self._rows)

    def flush(self) -> None:
        rows = self._rows
        if not rows or self._closed:
            return
        if not self._started:
            self._start()
        if self.format == "csv":
            self._writer.writerows(map(_formatter(self.energy), rows))
        else:
            import pyarrow as pa
            schema = _arrow_schema(self.energy)
            columns = list(zip(*rows))
            self._writer.write_table(pa.Table.from_arrays(
                [pa.array(col, type=field.type) for col, field in zip(columns, schema)], schema=schema))
        self._written += len(rows)
        rows.clear()

    def close(self) -> None:
        """Write what is left and move the file into place (idempotent)."""
        if self._closed:
            return
        if not self._started:
            self._start()
        self.flush()
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        else:
            self._writer.close()
        self._closed = True
        publish(self._tmp, self.path)

    def discard(self) -> None:
        """Give the file up (a failed run): close and delete the temporary file."""
        if self._closed:
            return
        if self._handle is not None:
            self._handle.close()
        elif self._writer is not None:
            self._writer.close()
        self._closed = True
        self._rows.clear()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)

    def __enter__(self) -> "TraceStream":
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


def _arrow_schema(energy: bool = False):
    import pyarrow as pa
    types = (pa.int64(),) * 3 + (pa.string(),) * 2 + (pa.float64(),) * 4 + (pa.int64(),) + (pa.float64(),)
    return pa.schema(list(zip(_columns(energy), types)))


def _columns(energy: bool) -> tuple[str, ...]:
    """A trace file's header: TRACE_COLUMNS, then ENERGY_COLUMN when the run accounts energy."""
    return TRACE_COLUMNS + (ENERGY_COLUMN,) if energy else TRACE_COLUMNS


# ---------------------------------------------------------------------------------------------
# helpers


def canonical(activities: Iterable[Activity]) -> list[Activity]:
    """Canonical order, so a file does not depend on the order activities arrived in."""
    return sorted(activities, key=_SORT_KEY)


def _node(resource: str) -> str:
    return resource.split("/", 1)[0]


def _check_duration(act: Activity) -> None:
    """Viewers and bar charts need end_s >= start_s; anything else is a simulator bug, so say so."""
    if not act[6] >= act[5]:  # written this way so NaN fails too
        raise ValueError(f"trace activity: end_s must be >= start_s, got {tuple(act)!r}")


def _format_row(act: _Row) -> list[str]:
    """Ints as ints, floats as shortest round-trip text (``repr``), so output is deterministic."""
    return [
        str(int(act[0])), str(int(act[1])), str(int(act[2])), str(act[3]), str(act[4]),
        repr(float(act[5])), repr(float(act[6])), repr(float(act[7])), repr(float(act[8])),
        str(int(act[9])),
    ]


def _format_energy_row(act: _Row) -> list[str]:
    return _format_row(act) + [repr(float(act[10]))]


def _formatter(energy: bool) -> Callable[[_Row], list[str]]:
    return _format_energy_row if energy else _format_row


def busy_seconds(activities: Iterable[Activity], limits: Mapping[str, float | None]) -> dict[str, float]:
    """Per resource of `limits`, ∫ min(service activities at t, limit) dt (None: no limit): the busy
    unit-seconds a station counts (summary.json's ``resources``: utilisation = busy / (units × time))."""
    edges: dict[str, list[tuple[float, int]]] = {res: [] for res in limits}
    for act in activities:
        points = edges.get(str(act[4]))
        if points is not None and act[3] in SERVICE_KINDS:
            points += ((float(act[5]), 1), (float(act[6]), -1))
    busy: dict[str, float] = {}
    for res, points in edges.items():
        limit = limits[res]
        cap = math.inf if limit is None else limit
        total, level, last = 0.0, 0, 0.0
        for t, step in sorted(points):
            total += min(level, cap) * (t - last)
            level, last = level + step, t
        busy[res] = total
    return busy


# ---------------------------------------------------------------------------------------------
# CSV


def write_trace_csv(activities: Iterable[Activity], path: str | os.PathLike, *, energy: bool = False) -> None:
    """One row per activity in canonical order, header ``TRACE_COLUMNS`` (and ``energy_j`` with
    `energy`), ``\\n`` line ends."""
    rows = canonical(activities)
    fmt = _formatter(energy)
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(_columns(energy))
        for act in rows:
            writer.writerow(fmt(act))


def read_trace_csv(path: str | os.PathLike) -> list[Activity]:
    """The activities of a trace.csv, in file order (floats come back exactly: they were written
    with ``repr``; ``energy_j`` 0 where the file has no such column); ValueError naming the file when
    its header is neither ``TRACE_COLUMNS`` nor those and ``energy_j``."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header not in (_columns(False), _columns(True)):
            raise ValueError(f"{path}: header must be {','.join(TRACE_COLUMNS)}[,{ENERGY_COLUMN}], "
                             f"got {','.join(header)}")
        energy = len(header) > len(TRACE_COLUMNS)
        return [_as_activity((int(r[0]), int(r[1]), int(r[2]), r[3], r[4], float(r[5]), float(r[6]),
                              float(r[7]), float(r[8]), int(r[9]), float(r[10]) if energy else 0.0))
                for r in reader]


# ---------------------------------------------------------------------------------------------
# Chrome / Perfetto trace


# One shared encoder: json.dumps() with options builds a new encoder per call, which dominates the
# cost per event. allow_nan=False: NaN/inf are not JSON and viewers reject them; fail instead.
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False).encode


# Waiting is drawn apart from service: a resource's queue, a link's propagation and a device's
# dependency waits get lanes of their own, so such a slice never lands among those it would overlap.


def lanes(activities: Sequence[Activity]) -> list[str]:
    """The lane (Chrome trace thread) of each activity, given in canonical order: ``"RESOURCE #k"``
    for service, ``"RESOURCE KIND #k"`` for the other kinds (queue, wait, propagate).

    Greedy interval partitioning per (resource, service or waiting): each activity takes the
    lowest-numbered lane free at its start (in microseconds, the unit the file holds), so the slices
    of one lane never overlap and as few lanes are used as the peak concurrency needs.
    """
    busy: dict[tuple[str, str], list[tuple[float, int]]] = {}    # (end_us, lane) of lanes in use
    free: dict[tuple[str, str], list[int]] = {}                  # lanes freed, lowest first
    made: dict[tuple[str, str], int] = {}
    names: list[str] = []
    for act in activities:
        kind = str(act[3])
        family = "" if kind in SERVICE_KINDS else kind
        key = (str(act[4]), family)
        ts, end_us = float(act[5]) * 1e6, float(act[6]) * 1e6
        used, idle = busy.setdefault(key, []), free.setdefault(key, [])
        while used and used[0][0] <= ts:
            heapq.heappush(idle, heapq.heappop(used)[1])
        if idle:
            lane = heapq.heappop(idle)
        else:
            lane = made[key] = made.get(key, 0) + 1
        heapq.heappush(used, (end_us, lane))
        names.append(f"{key[0]} {family + ' ' if family else ''}#{lane}")
    return names


def _ids(threads: Iterable[tuple[str, str]]) -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    """pid per node and (pid, tid) per lane, from (resource, lane) pairs; 1-based, stable by natural sort."""
    node_of = dict((lane, _node(res)) for res, lane in threads)
    nodes = sorted(set(node_of.values()), key=natural_key)
    pids = {node: i for i, node in enumerate(nodes, start=1)}
    by_node: dict[str, list[str]] = {node: [] for node in nodes}
    for lane, node in node_of.items():
        by_node[node].append(lane)
    tids: dict[str, tuple[int, int]] = {}
    for node, members in by_node.items():
        for tid, res in enumerate(sorted(members, key=natural_key), start=1):
            tids[res] = (pids[node], tid)
    return pids, tids


def _metadata_events(pids: dict[str, int], tids: dict[str, tuple[int, int]]) -> list[dict]:
    events: list[dict] = []
    for node, pid in pids.items():
        events.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": node}})
        events.append({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0,
                       "args": {"sort_index": pid}})
    for res, (pid, tid) in sorted(tids.items(), key=itemgetter(1)):
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": res}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                       "args": {"sort_index": tid}})
    return events


def _complete_event(act: Activity, pid: int, tid: int) -> dict:
    ts = float(act[5]) * 1e6
    # end*1e6 >= start*1e6 whenever end >= start (rounding is monotonic), so dur is never negative.
    dur = float(act[6]) * 1e6 - ts
    cut = int(act[9])
    return {
        "name": f"app{int(act[0])}/t{int(act[1])} {act[3]}" + (" (cut)" if cut else ""),
        "cat": str(act[3]),
        "ph": "X",
        "pid": pid,
        "tid": tid,
        "ts": ts,
        "dur": dur,
        "args": {"app": int(act[0]), "task": int(act[1]), "device": int(act[2]), "resource": str(act[4]),
                 "bytes": float(act[7]), "cycles": float(act[8]), "cut": cut},
    }


def write_chrome_trace(activities: Iterable[Activity], path: str | os.PathLike, *,
                       metadata: dict | None = None, energy: bool = False) -> None:
    """Trace Event Format JSON (Perfetto, chrome://tracing): a process per node, a thread per lane
    (:func:`lanes`), so every thread's slices are disjoint, as the format requires of slices that
    do not nest.

    Times are in microseconds (the format's unit). One event per line keeps big traces diffable;
    keys are sorted so the same activities and metadata give the same bytes. `energy`: each slice's
    args carry its ``energy_j``.
    """
    rows = canonical(activities)
    for act in rows:
        _check_duration(act)
    lane = lanes(rows)
    pids, tids = _ids(zip((str(act[4]) for act in rows), lane))
    other = _dumps(metadata if metadata is not None else {})
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write('{"traceEvents":[\n')
        first = True
        for event in _metadata_events(pids, tids):
            handle.write(("" if first else ",\n") + _dumps(event))
            first = False
        for act, name in zip(rows, lane):
            pid, tid = tids[name]
            event = _complete_event(act, pid, tid)
            if energy:
                event["args"][ENERGY_COLUMN] = float(act[10])
            handle.write(("" if first else ",\n") + _dumps(event))
            first = False
        handle.write(f'\n],\n"displayTimeUnit":"ms",\n"otherData":{other}}}\n')


# ---------------------------------------------------------------------------------------------
# Gantt chart

_KIND_COLORS: dict[str, str] = {
    "wait": "#e5e5e5",
    "local": "#4c72b0",
    "uplink": "#dd8452",
    "queue": "#c7c7c7",
    "exec": "#55a868",
    "downlink": "#c44e52",
    "forward": "#8172b3",
    "propagate": "#b3a6d9",
}
_OTHER_COLOR = "#937860"


def _gantt_title(title: str, n_activities: int, n_resources: int, left_out: int) -> str:
    """The title says when rows were dropped, so a truncated chart is never mistaken for all of it."""
    heading = title or "activity trace"
    if not n_activities:
        heading += " (no activities)"
    if left_out:
        heading += f" ({left_out} of {n_resources} resources not shown)"
    return heading


def _gantt_resources(rows: Sequence[Activity], patterns: Sequence[str] | None, max_resources: int) -> list[str]:
    """The resources to draw: those matching `patterns` (names or globs), else the busiest by service
    seconds, so the servers of a run with 1,000 devices are not left out; capped at `max_resources`."""
    names = {str(act[4]) for act in rows}
    if patterns:
        names = {r for r in names if any(fnmatch.fnmatchcase(r, p) for p in patterns)}
        if not names:
            raise ConfigError(f"gantt resources: must match a resource of the trace, got {','.join(patterns)}")
    busy = dict.fromkeys(names, 0.0)
    for act in rows:
        if act[3] in SERVICE_KINDS and str(act[4]) in busy:
            busy[str(act[4])] += float(act[6]) - float(act[5])
    chosen = sorted(busy, key=lambda r: (-busy[r], natural_key(r)))[:max_resources]
    return sorted(chosen, key=natural_key)


def plot_gantt(activities: Sequence[Activity], path: str | os.PathLike, *, title: str = "",
               max_resources: int = 40, resources: Sequence[str] | None = None,
               window: tuple[float, float] | None = None) -> None:
    """PNG Gantt chart: per resource a row of service bars and, under it when there are any, a row of
    its waiting (queue, dependency wait, propagation), so waiting never hides service; bars by kind.

    `resources`: names or glob patterns (default: the ``max_resources`` busiest); `window`: (start_s,
    end_s), only activities overlapping it, clipped to it. Uses the Agg canvas directly, never
    pyplot, so it needs no display and touches no global matplotlib state that other code may rely on.
    """
    if max_resources < 1:
        raise ValueError(f"max_resources: must be >= 1, got {max_resources!r}")
    if window is not None and not window[1] > window[0]:
        raise ConfigError(f"gantt window: end must be > start, got {window[0]!r}:{window[1]!r}")
    from matplotlib.patches import Patch

    rows = canonical(activities)
    for act in rows:
        _check_duration(act)
    if window is not None:
        lo, hi = window
        rows = [act._replace(start_s=max(act[5], lo), end_s=min(act[6], hi)) for act in rows
                if act[6] >= lo and act[5] <= hi]
    n_resources = len({str(act[4]) for act in rows})
    shown = _gantt_resources(rows, resources, max_resources)
    left_out = n_resources - len(shown) if not resources else 0
    present = {(str(act[4]), act[3] not in SERVICE_KINDS) for act in rows}
    labels: list[str] = []
    row_of: dict[tuple[str, bool], int] = {}
    for res in shown:
        # a service row unless the resource only waits (a device's dependency waits), a waiting row if any
        for waiting, needed in ((False, (res, True) not in present), (True, False)):
            if needed or (res, waiting) in present:
                row_of[(res, waiting)] = len(labels)
                labels.append(f"{res} (waiting)" if waiting else res)

    # Group bars by (row, kind): one broken_barh call per group instead of one patch call per bar.
    groups: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for act in rows:
        row = row_of.get((str(act[4]), act[3] not in SERVICE_KINDS))
        if row is not None:
            start = float(act[5])
            groups.setdefault((row, str(act[3])), []).append((start, float(act[6]) - start))

    fig = figure(12.0, max(2.5, 0.3 * len(labels) + 1.5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for (row, kind), spans in sorted(groups.items()):
        color = _KIND_COLORS.get(kind, _OTHER_COLOR)
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=color, edgecolor="none")
        # A zero-width bar draws nothing; show instants as thin ticks so they stay visible.
        instants = [start for start, width in spans if width == 0.0]
        if instants:
            ax.vlines(instants, row - 0.4, row + 0.4, colors=color, linewidth=1.0)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_ylim(len(labels) - 0.5 if labels else 0.5, -0.5)
    if window is not None:
        ax.set_xlim(*window)
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", linewidth=0.5, alpha=0.5)

    kinds = {kind for _, kind in groups}
    order = [k for k in KINDS if k in kinds] + sorted(kinds.difference(KINDS))
    if order:
        handles = [Patch(facecolor=_KIND_COLORS.get(k, _OTHER_COLOR), label=k) for k in order]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                  frameon=False)
    ax.set_title(_gantt_title(title, len(rows), n_resources, left_out))
    fig.tight_layout()

    save_png(fig, path)
