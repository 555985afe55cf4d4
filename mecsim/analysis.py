"""Study a finished run from its folder: where each application's latency went, how busy each resource
was over time, latency CDFs, and A/B tables of several runs (``mecsim report``).

Everything is computed from the files a run writes (summary.json, trace.csv, apps.csv, graphs.jsonl),
so a report can be made long after the run, on another machine, with numpy only.

Stage breakdown. An application's latency is split along its *critical path*, walked backwards from
its finish: start from the task that ended last; its activities (uplink, queue, exec, ...) are laid
back to back down to its first one; the task it then waited for is the predecessor (from the DAG in
graphs.jsonl) that ended last, and so on until the arrival. Each step moves one time pointer
backwards and every stretch of time it passes over is given to exactly one stage, so the stages add up
to ``finish - arrival``, the latency, by construction. Stretches no activity of the path covers (the
gap between a predecessor's end and its successor's start, and any time before the first task
started) count as dependency wait. Without graphs.jsonl the predecessor is the application's task
that ended last before that point (a reconstruction from the trace alone, said in the report).
For systems with no apps.csv (pearl_dt, edge_tuning), an application's latency is the span of its
activities in the trace.

Energy (a run with an ``energy:`` block, :mod:`mecsim.energy`): beside each latency the J its
activities cost (all of them, not only the critical path's: energy adds up, time overlaps), per
resource the J spent on it, and the run's totals from summary.json.
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mecsim.errors import ConfigError
from mecsim.fileio import atomic_write, atomic_write_text
from mecsim.naming import natural_key
from mecsim.plotting import figure, save_png
from mecsim.trace import SERVICE_KINDS, Activity, plot_gantt, read_trace_csv

__all__ = [
    "STAGES", "Run", "Breakdown", "load_run", "load_runs", "breakdowns", "resource_table",
    "over_time", "latency_cdf", "compare", "write_report",
]

# The stages of a latency, in the order tables show them; forward and propagate are the backhaul.
STAGES: tuple[str, ...] = ("wait", "queue", "uplink", "backhaul", "exec", "downlink", "local")
_STAGE_OF: dict[str, str] = {"wait": "wait", "queue": "queue", "uplink": "uplink", "forward": "backhaul",
                             "propagate": "backhaul", "exec": "exec", "downlink": "downlink", "local": "local"}
WAIT_RESOURCE = "(dependency wait)"


@dataclass
class Run:
    """One run folder, read: its summary, trace, completed applications and DAG edges (if written)."""

    folder: Path
    label: str
    summary: dict
    activities: list[Activity]
    # app -> (arrival_s, finish_s, latency_s) of completed applications; None: no apps.csv
    apps: dict[int, tuple[float, float, float]] | None
    # app -> (predecessor lists per task); None: no graphs.jsonl
    preds: dict[int, list[list[int]]] | None = None
    by_app: dict[int, list[Activity]] = field(default_factory=dict, repr=False)

    @property
    def horizon(self) -> float:
        return float(self.summary["sim_time_s"])

    @property
    def version(self) -> str:
        return str(self.summary["provenance"]["versions"]["mecsim"])

    @property
    def energy(self) -> dict | None:
        """summary.json's energy totals; None when the run accounted no energy."""
        return self.summary.get("energy")


class Breakdown(NamedTuple):
    """One application's latency split into :data:`STAGES` along its critical path."""

    app: int
    latency_s: float
    stages: dict[str, float]
    resources: dict[str, float]     # seconds of the path per resource (queueing counts for its resource)
    path: list[int]                 # the critical path's tasks, first to last
    energy_j: float = 0.0           # what all its activities cost (0 without energy accounting)


def load_run(folder: str | Path, label: str | None = None) -> Run:
    """Read a run folder; ConfigError (one line) when it is not one this mecsim can read."""
    folder = Path(folder)
    summary_path, trace_path = folder / "summary.json", folder / "trace.csv"
    if not folder.is_dir():
        raise ConfigError(f"report: {folder}: must be a mecsim run folder, got no such folder")
    if not summary_path.is_file() or not trace_path.is_file():
        missing = [p.name for p in (summary_path, trace_path) if not p.is_file()]
        raise ConfigError(f"report: {folder}: must be a mecsim run folder with summary.json and trace.csv, "
                          f"got no {' or '.join(missing)} (a run with --no-trace cannot be reported)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        summary["provenance"]["versions"]["mecsim"]
        float(summary["sim_time_s"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"report: {summary_path}: must be a mecsim summary with sim_time_s and "
                          f"provenance.versions.mecsim, got one without (a run of an older mecsim?)") from None
    try:
        activities = read_trace_csv(trace_path)
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"report: {trace_path}: must be a mecsim trace, got {exc}") from None
    run = Run(folder, label or folder.name, summary, activities, _read_apps(folder / "apps.csv"),
              _read_preds(folder / "graphs.jsonl"))
    for act in activities:
        run.by_app.setdefault(act.app, []).append(act)
    return run


def load_runs(folders: Sequence[str | Path]) -> list[Run]:
    """Several runs, labelled by folder name (by position where names repeat); one mecsim version."""
    names = [Path(f).name for f in folders]
    labels = names if len(set(names)) == len(names) else [f"{i}:{n}" for i, n in enumerate(names)]
    runs = [load_run(f, label) for f, label in zip(folders, labels)]
    versions = sorted({run.version for run in runs})
    if len(versions) > 1:
        raise ConfigError(f"report: runs must come from one mecsim version, got {', '.join(versions)}")
    return runs


def _read_apps(path: Path) -> dict[int, tuple[float, float, float]] | None:
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", newline="") as handle:
        try:
            return {int(r["app"]): (float(r["arrival_s"]), float(r["finish_s"]), float(r["latency_s"]))
                    for r in csv.DictReader(handle) if r["status"] == "completed"}
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"report: {path}: must have app, arrival_s, finish_s, latency_s and status "
                              f"columns, got {exc}") from None


def _read_preds(path: Path) -> dict[int, list[list[int]]] | None:
    if not path.is_file():
        return None
    preds: dict[int, list[list[int]]] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                doc = json.loads(line)
                lists: list[list[int]] = [[] for _ in doc["tasks"]]
                for a, b in doc["edges"]:
                    lists[int(b)].append(int(a))
            except (ValueError, KeyError, TypeError, IndexError):
                raise ConfigError(f"report: {path}:{number}: must be a graph line with tasks and edges, "
                                  f"got {line[:60]!r}") from None
            preds[int(doc["app"])] = lists
    return preds


# ---------------------------------------------------------------------------------------------
# per application


def breakdowns(run: Run) -> list[Breakdown]:
    """The stage breakdown of every completed application (all applications of the trace when the
    run has no apps.csv), in application order; see the module docstring for the attribution."""
    out = []
    for app in sorted(run.by_app if run.apps is None else run.apps):
        acts = [a for a in run.by_app.get(app, ()) if a.kind != "wait"]     # (waits cost no energy)
        if run.apps is None:
            if not acts:
                continue
            arrival, finish = min(a.start_s for a in acts), max(a.end_s for a in acts)
            latency = finish - arrival
        else:
            arrival, finish, latency = run.apps[app]
        preds = None if run.preds is None else run.preds.get(app)
        out.append(_breakdown(app, acts, arrival, finish, latency, preds))
    return out


def _breakdown(app: int, acts: list[Activity], arrival: float, finish: float, latency: float,
               preds: list[list[int]] | None) -> Breakdown:
    tasks: dict[int, list[Activity]] = {}
    for act in acts:
        tasks.setdefault(act.task, []).append(act)
    for own in tasks.values():
        own.sort(key=lambda a: (a.end_s, a.start_s))
    end = {task: own[-1].end_s for task, own in tasks.items()}
    spans: list[tuple[str, str, float]] = []        # (stage, resource, seconds), last first

    def cover(stage: str, resource: str, lo: float, hi: float) -> None:
        if hi > lo:
            spans.append((stage, resource, hi - lo))

    t, path = finish, []
    current = max(end, key=lambda k: (end[k], k)) if end else None
    while current is not None:
        path.append(current)
        for act in reversed(tasks[current]):
            hi = min(act.end_s, t)
            lo = max(min(act.start_s, hi), arrival)
            cover("wait", WAIT_RESOURCE, hi, t)
            cover(_STAGE_OF.get(act.kind, act.kind), act.resource, lo, hi)
            t = lo
        done = set(path)
        options = preds[current] if preds is not None and current < len(preds) else \
            [k for k in end if k not in done]
        ready = [k for k in options if k in end and k not in done and end[k] <= t]
        current = max(ready, key=lambda k: (end[k], k)) if ready else None
        if current is not None:
            cover("wait", WAIT_RESOURCE, end[current], t)
            t = end[current]
    cover("wait", WAIT_RESOURCE, arrival, t)
    stages = dict.fromkeys(STAGES, 0.0)
    resources: dict[str, float] = {}
    for stage, resource, seconds in spans:
        stages[stage] = stages.get(stage, 0.0) + seconds
        resources[resource] = resources.get(resource, 0.0) + seconds
    # the stretches tile [arrival, finish]; the rounding of their sum is spread over no stage
    return Breakdown(app, latency, stages, resources, path[::-1], math.fsum(a.energy_j for a in acts))


# ---------------------------------------------------------------------------------------------
# per resource


def _units(run: Run) -> dict[str, tuple[int, float | None]]:
    """(units, concurrency limit) per resource of the trace: summary.json's, 1 and no limit otherwise."""
    specs = dict(run.summary.get("resources") or {})
    cpu = specs.pop("device_cpu", None)
    table: dict[str, tuple[int, float | None]] = {}
    for act in run.activities:
        res = act.resource
        if res in table:
            continue
        spec = specs.get(res)
        if spec is None and cpu is not None and res.startswith("device") and res.endswith("/cpu"):
            spec = cpu
        table[res] = (int(spec["units"]), spec["limit"]) if spec else (1, None)
    return table


def over_time(run: Run, bins: int = 60, queue: bool = False) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Bin edges over [0, horizon] and, per resource, its utilisation in each bin (busy unit-seconds
    over units × bin width, with summary.json's concurrency limit), or with `queue` its mean queue
    length (tasks waiting for it). One bin gives the run's utilisation, as summary.json counts it."""
    if bins < 1:
        raise ConfigError(f"report: bins must be >= 1, got {bins}")
    horizon = run.horizon
    edges = np.linspace(0.0, horizon, bins + 1)
    width = horizon / bins if horizon > 0 else 1.0
    points: dict[str, list[tuple[float, int]]] = {}
    for act in run.activities:
        if (act.kind == "queue") if queue else (act.kind in SERVICE_KINDS):
            points.setdefault(act.resource, []).extend(((act.start_s, 1), (act.end_s, -1)))
    units = _units(run)
    series: dict[str, np.ndarray] = {}
    for res, steps in points.items():
        count, limit = units[res]
        cap = math.inf if queue or limit is None else float(limit)
        times, area = [0.0], [0.0]
        level, last, total = 0, 0.0, 0.0
        for time, step in sorted(steps):
            total += min(level, cap) * (time - last)
            level, last = level + step, time
            times.append(time)
            area.append(total)
        # the integral of a step function is piecewise linear: interpolating it at the edges is exact
        cumulative = np.interp(edges, times, area)
        series[res] = np.diff(cumulative) / (width * (1 if queue else count))
    return edges, dict(sorted(series.items(), key=lambda kv: natural_key(kv[0])))


def resource_table(run: Run, parts: Sequence[Breakdown] | None = None) -> list[dict]:
    """Per resource: utilisation, mean queue length, and the seconds and share of all applications'
    latency it caused along their critical paths, busiest first."""
    parts = breakdowns(run) if parts is None else parts
    _, util = over_time(run, 1)
    _, queue = over_time(run, 1, queue=True)
    caused: dict[str, float] = {}
    for part in parts:
        for res, seconds in part.resources.items():
            caused[res] = caused.get(res, 0.0) + seconds
    total = math.fsum(p.latency_s for p in parts)
    names = sorted(set(util) | set(queue) | set(caused), key=natural_key)
    rows = [{"resource": res, "utilisation": float(util[res][0]) if res in util else 0.0,
             "mean_queue": float(queue[res][0]) if res in queue else 0.0,
             "critical_s": caused.get(res, 0.0),
             "latency_share": caused.get(res, 0.0) / total if total > 0 else 0.0} for res in names]
    if run.energy is not None:      # the J of every activity on it
        spent: dict[str, list[float]] = {}
        for act in run.activities:
            spent.setdefault(act.resource, []).append(act.energy_j)
        for row, res in zip(rows, names):
            row["energy_j"] = math.fsum(spent.get(res, ()))
    return sorted(rows, key=lambda r: (-r["latency_share"], -r["utilisation"], natural_key(r["resource"])))


def latency_cdf(parts: Sequence[Breakdown]) -> tuple[np.ndarray, np.ndarray]:
    """Latencies sorted and their empirical CDF (i / n)."""
    values = np.sort(np.array([p.latency_s for p in parts], dtype=float))
    return values, np.arange(1, len(values) + 1) / max(len(values), 1)


# ---------------------------------------------------------------------------------------------
# several runs


def _metrics(run: Run, parts: Sequence[Breakdown]) -> dict[str, float]:
    """The numbers an A/B table puts side by side: latency statistics, mean stage seconds, utilisation."""
    lat = np.array([p.latency_s for p in parts], dtype=float)
    row: dict[str, float] = {"applications": float(len(parts))}
    if len(lat):
        row.update({"latency_mean_s": float(lat.mean()), "latency_p50_s": float(np.percentile(lat, 50)),
                    "latency_p95_s": float(np.percentile(lat, 95)), "latency_max_s": float(lat.max())})
        for stage in STAGES:
            row[f"{stage}_mean_s"] = math.fsum(p.stages[stage] for p in parts) / len(parts)
        if run.energy is not None:
            row["energy_mean_j"] = math.fsum(p.energy_j for p in parts) / len(parts)
    if run.energy is not None:
        row.update({"energy devices_j": float(run.energy["devices"]["total_j"]),
                    "energy servers_j": float(run.energy["servers_total_j"])})
    util = over_time(run, 1)[1]
    names = set(util) | set(run.summary.get("resources") or {}) - {"device_cpu"}
    for res in sorted(names, key=natural_key):     # a resource nothing used is idle, not unknown
        row[f"utilisation {res}"] = float(util[res][0]) if res in util else 0.0
    return row


def compare(runs: Sequence[Run]) -> list[dict]:
    """One row per metric, a column per run and ``RUN - FIRST`` differences for the runs after the first."""
    table = [_metrics(run, breakdowns(run)) for run in runs]
    names = list(dict.fromkeys(key for row in table for key in row))
    rows = []
    for name in names:
        row: dict = {"metric": name}
        for run, values in zip(runs, table):
            row[run.label] = values.get(name, math.nan)
        for run, values in zip(runs[1:], table[1:]):
            row[f"{run.label} - {runs[0].label}"] = values.get(name, math.nan) - table[0].get(name, math.nan)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# files


def _text(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _write_csv(path: Path, rows: Sequence[Mapping], columns: Sequence[str]) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(row[c]) for c in columns] for row in rows)


def _markdown(rows: Sequence[Mapping], columns: Sequence[str], limit: int | None = None) -> str:
    def cell(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    shown = rows if limit is None else rows[:limit]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in shown]
    if limit is not None and len(rows) > limit:
        lines.append(f"\n({len(rows) - limit} more rows in the CSV)")
    return "\n".join(lines) + "\n"


def _stage_rows(parts: Sequence[Breakdown]) -> list[dict]:
    return [{"app": p.app, "latency_s": p.latency_s, **{f"{s}_s": p.stages[s] for s in STAGES},
             "critical_path": " ".join(map(str, p.path)), "energy_j": p.energy_j} for p in parts]


def _energy_text(run: Run, parts: Sequence[Breakdown]) -> str:
    """report.md's energy paragraph: the run's totals by term, the mean per application."""
    energy = run.energy
    if energy is None:
        return ""
    devices = energy["devices"]
    terms = ", ".join(f"{k[:-2]} {v:.4g}" for k, v in devices.items() if k != "total_j")
    mean = math.fsum(p.energy_j for p in parts) / len(parts) if parts else 0.0
    return (f"Energy: devices {devices['total_j']:.4g} J ({terms}), servers {energy['servers_total_j']:.4g} J; "
            f"{mean:.4g} J per application on average (its activities on devices and servers: stages.csv).\n\n")


def _series_rows(edges: np.ndarray, series: Mapping[str, np.ndarray]) -> list[dict]:
    return [{"start_s": float(edges[i]), "end_s": float(edges[i + 1]),
             **{res: float(values[i]) for res, values in series.items()}} for i in range(len(edges) - 1)]


def _busiest(series: Mapping[str, np.ndarray], k: int) -> list[str]:
    return sorted(series, key=lambda r: (-float(series[r].sum()), natural_key(r)))[:k]


def _plot_series(edges: np.ndarray, series: Mapping[str, np.ndarray], path: Path, ylabel: str, title: str,
                 top: int = 8) -> None:
    fig = figure(8.0, 4.0, dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    mids = (edges[:-1] + edges[1:]) / 2
    for res in _busiest(series, top):
        ax.plot(mids, series[res], label=res, linewidth=1.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title + (f" (busiest {top} of {len(series)})" if len(series) > top else ""))
    ax.grid(linewidth=0.5, alpha=0.5)
    if series:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    save_png(fig, path)


def _plot_cdf(runs: Sequence[tuple[str, Sequence[Breakdown]]], path: Path) -> None:
    fig = figure(6.0, 4.0, dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for label, parts in runs:
        values, prob = latency_cdf(parts)
        ax.step(values, prob, where="post", label=f"{label} ({len(values)} apps)")
    ax.set_xlabel("latency (s)")
    ax.set_ylabel("fraction of applications")
    ax.set_title("latency CDF")
    ax.grid(linewidth=0.5, alpha=0.5)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    save_png(fig, path)


def _plot_stages(runs: Sequence[tuple[str, Sequence[Breakdown]]], path: Path) -> None:
    """Mean seconds per stage, a stacked bar per run: where the latency of an average application went."""
    fig = figure(7.0, 1.2 + 0.6 * len(runs), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for row, (_, parts) in enumerate(runs):
        left = 0.0
        for i, stage in enumerate(STAGES):
            mean = math.fsum(p.stages[stage] for p in parts) / len(parts) if parts else 0.0
            ax.barh(row, mean, left=left, color=f"C{i}", label=stage if row == 0 else None)
            left += mean
    ax.set_yticks(range(len(runs)))
    ax.set_yticklabels([label for label, _ in runs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mean latency per application (s), by stage along the critical path")
    ax.legend(fontsize=7, ncol=len(STAGES), loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
    fig.tight_layout()
    save_png(fig, path)


def write_report(folders: Sequence[str | Path], out: str | Path, *, bins: int = 60, force: bool = False,
                 gantt_resources: Sequence[str] | None = None,
                 gantt_window: tuple[float, float] | None = None) -> Path:
    """Tables (CSV, and report.md) and figures (PNG) of one run or, given several, of each run in a
    subfolder named by its label plus compare.csv/compare.md and one CDF and stage figure for all.

    `out` must be new or empty (`force`: replace an earlier report); everything is written into a
    staging folder that becomes `out` only when complete, as a run's outputs are."""
    from mecsim.outputs import check_out, run_folder
    check_out(Path(out), force, "report.md")
    runs = load_runs(folders)
    with run_folder(out, force, "report.md") as stage:
        _write_report(runs, stage, bins, gantt_resources, gantt_window)
    return Path(out)


def _write_report(runs: Sequence[Run], out: Path, bins: int, gantt_resources: Sequence[str] | None,
                  gantt_window: tuple[float, float] | None) -> None:
    parts = [(run.label, breakdowns(run)) for run in runs]
    md = [f"# mecsim report\n\nruns: {', '.join(str(run.folder) for run in runs)}\n"]
    for run, (label, these) in zip(runs, parts):
        where = out if len(runs) == 1 else out / label
        where.mkdir(parents=True, exist_ok=True)
        energy = [] if run.energy is None else ["energy_j"]
        columns = ["app", "latency_s", *(f"{s}_s" for s in STAGES), "critical_path", *energy]
        _write_csv(where / "stages.csv", _stage_rows(these), columns)
        resources = resource_table(run, these)
        rcols = ["resource", "utilisation", "mean_queue", "critical_s", "latency_share", *energy]
        _write_csv(where / "resources.csv", resources, rcols)
        for name, queue, ylabel in (("utilisation", False, "utilisation"), ("queue", True, "mean queue length")):
            edges, series = over_time(run, bins, queue=queue)
            _write_csv(where / f"{name}_over_time.csv", _series_rows(edges, series),
                       ["start_s", "end_s", *series])
            _plot_series(edges, series, where / f"{name}.png", ylabel, f"{label}: {ylabel} over time")
        values, prob = latency_cdf(these)
        _write_csv(where / "latency_cdf.csv", [{"latency_s": float(v), "p": float(p)} for v, p in
                                               zip(values, prob)], ["latency_s", "p"])
        plot_gantt(run.activities, where / "gantt.png", title=label, resources=gantt_resources,
                   window=gantt_window)
        how = ("the DAGs of graphs.jsonl" if run.preds is not None else
               "precedence reconstructed from the trace (no graphs.jsonl)")
        latency = "apps.csv" if run.apps is not None else "the span of each application's activities"
        md.append(f"## {label}\n\n{len(these)} applications; latency from {latency}; critical paths from "
                  f"{how}.\n\n{_energy_text(run, these)}Mean seconds per application by stage:\n\n")
        means = [{"stage": s, "mean_s": math.fsum(p.stages[s] for p in these) / len(these) if these else 0.0}
                 for s in STAGES]
        md.append(_markdown(means, ["stage", "mean_s"]) + "\nResources (busiest first):\n\n")
        md.append(_markdown(resources, rcols, limit=20) + "\n")
    if len(runs) > 1:
        rows = compare(runs)
        columns = list(rows[0]) if rows else ["metric"]
        _write_csv(out / "compare.csv", rows, columns)
        atomic_write_text(out / "compare.md", _markdown(rows, columns))
        md.append("## comparison\n\n" + _markdown(rows, columns))
    _plot_cdf(parts, out / "latency_cdf.png")
    _plot_stages(parts, out / "stages.png")
    atomic_write_text(out / "report.md", "\n".join(md))

