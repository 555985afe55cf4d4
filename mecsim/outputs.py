"""Run outputs: summary.json, the system's tables (apps.csv, ...), trace.csv, trace.json and gantt.png.

Each file is written atomically. Every system's result summarises itself (``summary()``, ``tables()``,
``headline()``: :class:`mecsim.systems.Result`), so nothing here knows which system ran.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mecsim.fileio import atomic_write_text
from mecsim.systems import Result
from mecsim.trace import Activity, TraceStream, plot_gantt, write_chrome_trace, write_trace_csv

__all__ = ["write_outputs", "format_summary"]


def write_outputs(result: Result, out: str | Path, *, gantt: bool = False, traces: bool = True) -> dict[str, Any]:
    """Write every output into `out` (trace.csv/trace.json only with `traces`); returns the summary.

    A streamed trace (:class:`mecsim.trace.TraceStream`) is closed into its own file instead, and
    there is no trace.json: the Chrome trace needs every activity at once.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    tables = result.tables()
    trace = result.trace
    activities: list[Activity] = []
    if isinstance(trace, TraceStream):
        if gantt:
            raise ValueError("gantt: needs the whole trace in memory, not a TraceStream")
        trace.close()            # the stream's own file (under `out`, where its caller put it) is the trace
    else:
        if traces or gantt:
            activities = trace.sorted()
        if traces:
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


def format_summary(result: Result) -> str:
    """The result's headline as a short table for the terminal."""
    return _table(result.headline())


def _table(rows: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
