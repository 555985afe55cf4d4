"""Run outputs: summary.json, the system's tables (apps.csv, ...), trace.csv, trace.json and gantt.png.

Each file is written atomically. DAG runs (:class:`RunResult`) are summarised here; the results of the
other systems summarise themselves (``summary()``, ``tables()``, ``headline()``; see mecsim.systems).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from mecsim.fileio import atomic_write_text
from mecsim.simulation import RunResult
from mecsim.trace import TraceStream, plot_gantt, write_chrome_trace, write_trace_csv

__all__ = ["summarize", "summary_of", "write_outputs", "format_summary"]

APPS_COLUMNS = ("app", "device", "source", "arrival_s", "finish_s", "latency_ms", "status", "reason", "plan")


def summarize(result: RunResult) -> dict[str, Any]:
    """The summary.json content: counts, latency statistics (ms), utilisation, speed."""
    apps = result.apps
    lat = np.array([a.latency_s for a in apps if a.status == "completed"], dtype=float) * 1e3
    stats = ({"mean": float(lat.mean()), "p50": float(np.percentile(lat, 50)),
              "p95": float(np.percentile(lat, 95)), "max": float(lat.max())}
             if lat.size else {"mean": None, "p50": None, "p95": None, "max": None})
    util = result.utilisation
    devices = [v for k, v in util.items() if k.startswith("device")]
    others = {k: round(v, 6) for k, v in sorted(util.items()) if not k.startswith("device")}
    return {
        "scenario": result.scenario.name,
        "seed": result.seed,
        "controller": result.controller,
        "counts": {
            "arrived": len(apps),
            "completed": sum(a.status == "completed" for a in apps),
            "dropped": sum(a.status == "dropped" for a in apps),
            "in_flight": sum(a.status == "in_flight" for a in apps),
        },
        "latency_ms": stats,
        "utilisation": {"device_cpu_mean": float(np.mean(devices)) if devices else None, **others},
        "sim_time_s": result.sim_time_s,
        "decisions": result.decisions,
        "events": result.events,
        "wall_s": round(result.wall_s, 3),
        "events_per_s": round(result.events / result.wall_s, 1) if result.wall_s > 0 else None,
    }


def summary_of(result: Any) -> dict[str, Any]:
    """The summary.json content of any system's result."""
    return summarize(result) if isinstance(result, RunResult) else result.summary()


def _apps_csv(result: RunResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(APPS_COLUMNS)
    for a in result.apps:
        lat = a.latency_s
        writer.writerow([a.app, a.device, a.source, repr(a.arrival_s),
                         "" if a.finish_s is None else repr(a.finish_s),
                         "" if lat is None else repr(lat * 1e3), a.status, a.reason,
                         " ".join(map(str, a.plan))])
    return out.getvalue()


def write_outputs(result: Any, out: str | Path, *, gantt: bool = False, traces: bool = True) -> dict[str, Any]:
    """Write every output into `out` (trace.csv/trace.json only with `traces`); returns the summary.

    A streamed trace (:class:`mecsim.trace.TraceStream`) is closed into its own file instead, and
    there is no trace.json: the Chrome trace needs every activity at once.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_of(result)
    tables = {"apps.csv": _apps_csv(result)} if isinstance(result, RunResult) else result.tables()
    streamed = isinstance(result.trace, TraceStream)
    if streamed and gantt:
        raise ValueError("gantt: needs the whole trace in memory, not a TraceStream")
    activities = result.trace.sorted() if (traces or gantt) and not streamed else []
    if streamed:
        result.trace.close()     # the stream's own file (under `out`, where its caller put it) is the trace
    elif traces:
        write_trace_csv(activities, out / "trace.csv")
        write_chrome_trace(activities, out / "trace.json",
                           metadata={"scenario": result.scenario.name, "seed": result.seed,
                                     "controller": result.controller})
    for name, text in tables.items():
        atomic_write_text(out / name, text)
    if gantt:
        plot_gantt(activities, out / "gantt.png", title=f"{result.scenario.name} · {result.controller}")
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def format_summary(summary: dict[str, Any], result: Any = None) -> str:
    """A short table for the terminal (the result's own ``headline()`` for systems other than DAG)."""
    if result is not None and not isinstance(result, RunResult):
        return _table(result.headline())
    c, lat = summary["counts"], summary["latency_ms"]
    fmt = (lambda v: "-" if v is None else f"{v:.2f}")
    rows = [("scenario", summary["scenario"]), ("controller", summary["controller"]),
            ("seed", summary["seed"]),
            ("apps", f"{c['arrived']} arrived, {c['completed']} completed, {c['dropped']} dropped, "
                     f"{c['in_flight']} in flight"),
            ("latency ms", f"mean {fmt(lat['mean'])}  p50 {fmt(lat['p50'])}  p95 {fmt(lat['p95'])}  "
                           f"max {fmt(lat['max'])}"),
            ("simulated", f"{summary['sim_time_s']:.3f} s"),
            ("wall", f"{summary['wall_s']:.2f} s ({summary['events']} events)")]
    return _table(rows)


def _table(rows: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
