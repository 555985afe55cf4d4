"""A fourth system written only against the mecsim.systems.System contract: admission to an M/M/1 queue.

Jobs arrive as a Poisson stream; for each one a controller decides to admit it (1) or turn it away (0).
An admitted job queues for the one server (an engine processor) with an exponential amount of work.
Nothing outside this package knows it exists: scenarios name it ``system: tests.toy_system``.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Mapping

import gymnasium as gym
import numpy as np
import simpy

from mecsim.compute import processor
from mecsim.decision import Controller, DecisionBridge, DecisionPoint
from mecsim.rng import RandomStreams
from mecsim.scenario.checks import Node
from mecsim.scenario.source import Document
from mecsim.sizing import RunSize
from mecsim.trace import TraceRecorder


@dataclass(frozen=True)
class QueueSpec:
    name: str
    file: str
    seed: int
    system: str
    controller: str
    controller_params: Mapping[str, Any]
    horizon_s: float | None
    arrival_hz: float
    service_hz: float


@dataclass(frozen=True)
class QueueContext:
    job: int
    queue_length: int


@dataclass
class QueueResult:
    scenario: QueueSpec
    seed: int
    controller: str
    trace: TraceRecorder
    jobs: list[tuple[int, float, int, float | None, float | None]]

    def summary(self) -> dict[str, Any]:
        done = [end - arrival for _, arrival, admitted, _, end in self.jobs if admitted and end is not None]
        return {"scenario": self.scenario.name, "seed": self.seed, "controller": self.controller,
                "jobs": len(self.jobs), "admitted": sum(j[2] for j in self.jobs),
                "mean_sojourn_s": float(np.mean(done)) if done else None}

    def tables(self) -> dict[str, str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("job", "arrival_s", "admitted", "start_s", "end_s"))
        writer.writerows(self.jobs)
        return {"jobs.csv": out.getvalue()}

    def headline(self) -> list[tuple[str, str]]:
        s = self.summary()
        return [("scenario", s["scenario"]), ("jobs", f"{s['jobs']} ({s['admitted']} admitted)")]


class QueueRun:
    def __init__(self, spec: QueueSpec, controller: Controller | None, seed: int | None, trace: bool,
                 controller_name: str) -> None:
        self.spec, self.seed = spec, spec.seed if seed is None else seed
        self.env = simpy.Environment()
        self.bridge = DecisionBridge(self.env, controller)
        self.trace = TraceRecorder(trace)
        self.name = controller_name or type(controller).__name__
        self.server = processor(self.env, "server/cpu", 1, spec.service_hz)
        self.jobs: list[tuple[int, float, int, float | None, float | None]] = []
        self.earned = 0.0
        streams = RandomStreams(self.seed)
        self.env.process(self._arrivals(streams.get("arrivals"), streams.get("work")))

    def _arrivals(self, gaps: np.random.Generator, work: np.random.Generator) -> Generator:
        for job in range(10**9):
            yield self.env.timeout(float(gaps.exponential(1.0 / self.spec.arrival_hz)))
            waiting = self.server.queue_length
            point = DecisionPoint("admit", self.env.now, job, f"job {job}", 2, QueueContext(job, waiting),
                                  np.array([waiting], dtype=np.float32))
            admit = int((yield self.bridge.decide(point)))
            self.earned += -float(waiting) if admit else -5.0
            self.jobs.append((job, self.env.now, admit, None, None))
            if admit:
                self.env.process(self._serve(job, float(work.exponential(1.0))))

    def _serve(self, job: int, work: float) -> Generator:
        _, start, end = yield self.server.serve(work, job)
        self.trace.record(job, 0, 0, "exec", self.server.name, start, end, 0.0, work)
        self.jobs[job] = (*self.jobs[job][:3], start, end)

    def step(self) -> bool:
        nxt = self.env.peek()
        if nxt == float("inf") or (self.spec.horizon_s is not None and nxt > self.spec.horizon_s):
            return False
        self.env.step()
        return True

    def run(self, progress: bool = False) -> QueueResult:
        while self.step():
            pass
        return QueueResult(self.spec, self.seed, self.name, self.trace, list(self.jobs))


def _reward(run: Any) -> float:
    earned, run.earned = run.earned, 0.0
    return earned


class QueueSystem:
    name = "tests.toy_system"
    context = QueueContext
    streams_trace = False

    def load(self, doc: Document, base: Path) -> QueueSpec:
        root = Node(doc).allow("name", "seed", "system", "horizon_s", "controller", "controller_params",
                               "arrival_hz", "service_hz")
        return QueueSpec(root.str("name"), doc.file, root.int("seed", 0, min=0), self.name,
                         root.str("controller", "tests.toy_system:AdmitAll"),
                         dict(root.mapping("controller_params", default={}).value or {}),
                         root.float("horizon_s", min=0, min_open=True),
                         root.float("arrival_hz", min=0, min_open=True), root.float("service_hz", min=0, min_open=True))

    def simulation(self, spec: QueueSpec, controller: Controller | None = None, *, seed: int | None = None,
                   trace: Any = True, controller_name: str = "") -> QueueRun:
        return QueueRun(spec, controller, seed, bool(trace), controller_name)

    def check(self, spec: QueueSpec, controller: Any, seed: int) -> None:
        pass

    def describe(self, spec: QueueSpec) -> str:
        return f"M/M/1, λ = {spec.arrival_hz:g}/s, μ = {spec.service_hz:g}/s"

    def size(self, spec: QueueSpec) -> RunSize:
        jobs = spec.arrival_hz * (spec.horizon_s or 0.0)
        return RunSize(4 * jobs, f"about {jobs:g} jobs")

    def env(self, spec: QueueSpec) -> Any:
        from mecsim.envs.decision import DecisionEnv
        return DecisionEnv(self, spec, gym.spaces.Box(0.0, 1e6, (1,), np.float32), gym.spaces.Discrete(2), _reward)


SYSTEM = QueueSystem()


class AdmitAll:
    def act(self, point: DecisionPoint[QueueContext]) -> int:
        return 1


class AdmitBelow:
    def __init__(self, limit: int = 3) -> None:
        self.limit = limit

    def act(self, point: DecisionPoint[QueueContext]) -> int:
        return int(point.context.queue_length < self.limit)
