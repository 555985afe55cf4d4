"""What a DAG-offloading run produced: per-application records, utilisation, and the files made of them."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mecsim.mobility import Sample
from mecsim.energy import Meter, energy_line
from mecsim.net.handover import HandoverRecord
from mecsim.stats import latency_line, latency_stats
from mecsim.systems.dag_offloading.spec import DagScenario
from mecsim.trace import TraceRecorder, TraceStream
from mecsim.workload.jsonl import graph_lines
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["AppRecord", "DagResult", "APPS_COLUMNS"]

APPS_COLUMNS = ("app", "device", "source", "arrival_s", "finish_s", "latency_s", "status", "reason", "plan")
ENERGY_COLUMNS = ("energy_j", "server_energy_j")     # after APPS_COLUMNS when the run accounts energy


@dataclass
class AppRecord:
    """One application's fate (a row of apps.csv)."""

    app: int
    device: int
    source: str
    arrival_s: float
    finish_s: float | None = None
    status: str = "in_flight"       # in_flight | completed | dropped
    reason: str = ""
    plan: list[int] = field(default_factory=list)
    graph: TaskGraph | None = field(default=None, repr=False, compare=False)   # for graphs.jsonl

    @property
    def latency_s(self) -> float | None:
        return None if self.finish_s is None else self.finish_s - self.arrival_s


@dataclass
class DagResult:
    """Everything a run produced (written to files by :mod:`mecsim.outputs`)."""

    scenario: DagScenario
    seed: int
    controller: str
    apps: list[AppRecord]
    trace: TraceRecorder | TraceStream
    utilisation: dict[str, float]
    sim_time_s: float
    wall_s: float
    events: int
    decisions: int
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    handovers: list[HandoverRecord] | None = None     # None: the scenario has no handover rule
    positions: list[tuple[int, list[Sample]]] | None = None   # (device, trajectory corners); None: nobody moves
    energy: Meter | None = None                        # None: the scenario accounts no energy

    def summary(self) -> dict[str, Any]:
        """The summary.json content: counts, latency statistics (s), utilisation, the resources it is
        computed over (``units``; ``limit``: the jobs counted busy at once, null for no limit), speed."""
        apps = self.apps
        lat = np.array([a.latency_s for a in apps if a.status == "completed"], dtype=float)
        stats = latency_stats(lat)
        util = self.utilisation
        devices = [v for k, v in util.items() if k.startswith("device")]
        others = {k: round(v, 6) for k, v in sorted(util.items()) if not k.startswith("device")}
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "controller": self.controller,
            "counts": {
                "arrived": len(apps),
                "completed": sum(a.status == "completed" for a in apps),
                "dropped": sum(a.status == "dropped" for a in apps),
                "in_flight": sum(a.status == "in_flight" for a in apps),
            },
            "latency_s": stats,
            "utilisation": {"device_cpu_mean": float(np.mean(devices)) if devices else None, **others},
            "resources": {k: self.resources[k] for k in sorted(self.resources)},
            **({} if self.handovers is None else {"handovers": len(self.handovers)}),
            **({} if self.energy is None else {"energy": self.energy.summary(self.sim_time_s)}),
            "sim_time_s": self.sim_time_s,
            "decisions": self.decisions,
            "events": self.events,
            "wall_s": round(self.wall_s, 3),
            "events_per_s": round(self.events / self.wall_s, 1) if self.wall_s > 0 else None,
        }

    def tables(self) -> dict[str, str | Iterable[str]]:
        """apps.csv: one row per application (times in s, plan = action per task id; with energy, the J
        its activities cost its device and the servers); graphs.jsonl:
        each application's DAG (:mod:`mecsim.workload.jsonl`), written line by line; handovers.csv
        where the scenario has a handover rule; positions.csv where devices move: every device's
        trajectory corners up to the horizon, straight lines between them (a ``trace`` mobility file)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        meter = self.energy
        writer.writerow(APPS_COLUMNS + (() if meter is None else ENERGY_COLUMNS))
        spent = {} if meter is None else meter.per_app()
        for a in self.apps:
            lat = a.latency_s
            writer.writerow([a.app, a.device, a.source, repr(a.arrival_s),
                             "" if a.finish_s is None else repr(a.finish_s),
                             "" if lat is None else repr(lat), a.status, a.reason,
                             " ".join(map(str, a.plan)),
                             *(() if meter is None else map(repr, spent.get(a.app, (0.0, 0.0))))])
        tables: dict[str, str | Iterable[str]] = {"apps.csv": out.getvalue(), "graphs.jsonl": graph_lines(self.apps)}
        if self.handovers is not None:      # handovers.csv: every re-attachment, in time order
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["time_s", "device", "from", "to"])
            for h in self.handovers:
                writer.writerow([repr(h.time_s), h.device, h.source, h.target])
            tables["handovers.csv"] = out.getvalue()
        if self.positions is not None:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["time_s", "device", "x", "y"])
            for device, corners in self.positions:
                writer.writerows([repr(t), device, repr(x), repr(y)] for t, x, y in corners)
            tables["positions.csv"] = out.getvalue()
        return tables

    def headline(self) -> list[tuple[str, str]]:
        """The lines ``mecsim run`` prints."""
        s = self.summary()
        c, lat = s["counts"], s["latency_s"]
        return [("scenario", s["scenario"]), ("controller", s["controller"]), ("seed", str(s["seed"])),
                ("apps", f"{c['arrived']} arrived, {c['completed']} completed, {c['dropped']} dropped, "
                         f"{c['in_flight']} in flight"),
                ("latency ms", latency_line(lat)),
                *(() if self.energy is None else [("energy J", energy_line(s["energy"]))]),
                ("simulated", f"{s['sim_time_s']:.3f} s"),
                ("wall", f"{s['wall_s']:.2f} s ({s['events']} events)")]

