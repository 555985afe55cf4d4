"""What an edge_tuning run produced: per (step, UE) decisions and outcomes, per-step rewards, totals."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import astuple, dataclass, fields
from typing import Any

import numpy as np

from mecsim.energy import Meter, energy_line
from mecsim.systems.edge_tuning.spec import EdgeTuningSpec
from mecsim.trace import TraceRecorder, TraceStream

__all__ = ["TaskRecord", "StepRecord", "TuningResult"]


@dataclass(frozen=True)
class TaskRecord:
    """One UE's task of one step (a row of steps.csv)."""

    step: int
    ue: int
    z: int
    """1: trained on the server (upload D), 0: trained locally on an emulator"""
    E: float
    """the retention asked for"""
    E_applied: float
    """the kept-layer share actually used (1 on the server, eq. 9)"""
    switch: int
    """I_n^t of eq. (4): a local task whose emulator differs from the cached one (so it is downloaded)"""
    delay_s: float
    """d_n^t of eq. (8): the upload, or the download when switching, 0 otherwise"""
    perplexity: float
    """κ_n^t (eq. 9, §VI-A)"""
    data_mb: float
    complexity: float
    power_w: float


@dataclass(frozen=True)
class StepRecord:
    """One step (a row of rewards.csv): all UEs decided at start_s, the last finished at end_s."""

    step: int
    start_s: float
    end_s: float
    delay_s: float
    """max_n d_n^t, the system latency of the step (eq. 8, P2 eq. 11)"""
    perplexity: float
    """mean_n κ_n^t"""
    switches: int
    reward: float
    """R_t (§IV-C)"""


def _csv(rows: list[Any], cls: type, energy: dict[tuple[int, int], list[float]] | None = None) -> str:
    """One row per record; with `energy` ((step, ue) -> [J, ...]), its energy_j column after them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in fields(cls)] + ([] if energy is None else ["energy_j"]))
    for row in rows:
        cells = [repr(v) if isinstance(v, float) else v for v in astuple(row)]
        if energy is not None:
            cells.append(repr(float(energy.get((row.step, row.ue), (0.0,))[0])))
        writer.writerow(cells)
    return out.getvalue()


@dataclass
class TuningResult:
    """The result contract of mecsim.systems: summary(), tables(), headline()."""

    scenario: EdgeTuningSpec
    seed: int
    controller: str
    trace: TraceRecorder | TraceStream
    tasks: list[TaskRecord]
    steps: list[StepRecord]
    sim_time_s: float
    wall_s: float
    events: int
    decisions: int
    energy: Meter | None = None        # None: the scenario accounts no energy

    def totals(self) -> dict[str, float]:
        """Table I / Fig. 2 metrics: episode reward, total delay Σ_t max_n d (P2), mean perplexity,
        emulator switches, and the share of tasks trained on the server."""
        return {
            "reward": float(sum(s.reward for s in self.steps)),
            "total_delay_s": float(sum(s.delay_s for s in self.steps)),
            "perplexity": float(np.mean([t.perplexity for t in self.tasks])) if self.tasks else float("nan"),
            "switches": int(sum(t.switch for t in self.tasks)),
            "server_share": float(np.mean([t.z for t in self.tasks])) if self.tasks else float("nan"),
        }

    def summary(self) -> dict[str, Any]:
        """summary.json (means over no task, when a horizon cut the first step, are null)."""
        totals = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in self.totals().items()}
        return {
            "scenario": self.scenario.name,
            "system": "edge_tuning",
            "seed": self.seed,
            "controller": self.controller,
            "ues": self.scenario.ues,
            "steps": len(self.steps),
            **totals,
            **({} if self.energy is None else {"energy": self.energy.summary(self.sim_time_s)}),
            "sim_time_s": self.sim_time_s,
            "decisions": self.decisions,
            "events": self.events,
            "wall_s": round(self.wall_s, 3),
        }

    def tables(self) -> dict[str, str]:
        """steps.csv (with energy: the J of each UE's task), rewards.csv."""
        energy = None if self.energy is None else self.energy.task_j
        return {"steps.csv": _csv(self.tasks, TaskRecord, energy), "rewards.csv": _csv(self.steps, StepRecord)}

    def headline(self) -> list[tuple[str, str]]:
        t = self.totals()
        return [("scenario", self.scenario.name), ("controller", self.controller), ("seed", str(self.seed)),
                ("steps", f"{len(self.steps)} of {self.scenario.tasks}, {self.scenario.ues} UEs"),
                ("reward", f"{t['reward']:.3f}"),
                ("total delay", f"{t['total_delay_s'] / 60.0:.2f} min"),
                ("perplexity", f"{t['perplexity']:.3f} (mean over tasks)"),
                ("switches", f"{t['switches']} emulator downloads, {t['server_share']:.0%} of tasks on the server"),
                *(() if self.energy is None else [("energy J", energy_line(self.energy.summary(self.sim_time_s)))]),
                ("simulated", f"{self.sim_time_s:.1f} s"),
                ("wall", f"{self.wall_s:.2f} s ({self.events} events)")]
