"""Simulation(scenario, controller, seed): build the system, run it, collect the results."""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator, Sequence

import numpy as np
import simpy

from mecsim.decision import Controller, DecisionBridge
from mecsim.errors import ConfigError
from mecsim.infrastructure import Device, Infrastructure
from mecsim.rng import RandomStreams
from mecsim.scenario.model import Scenario
from mecsim.systems.dag_offloading import AppRecord, DagOffloading
from mecsim.trace import TraceRecorder, TraceStream
from mecsim.workload.daggen import generate_dag
from mecsim.workload.gv import read_gv
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["Simulation", "RunResult", "load_graphs", "prepare", "simulation_class"]


def _natural(path: Path) -> tuple:
    """random.20.10.gv after random.20.9.gv."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def load_graphs(scenario: Scenario, streams: RandomStreams) -> list[tuple[str, TaskGraph]]:
    """The application graphs of the workload, as (source name, graph), in a fixed order."""
    source = scenario.workload.source
    if source.kind == "folder":
        files = sorted(source.folder.glob(source.pattern), key=_natural)
        return [(str(f), read_gv(f, source.attributes)) for f in files]
    rng = streams.get("daggen")
    return [(f"generated/{k}", generate_dag(source.generator, rng, name=f"random.{source.generator.n}.{k}",
                                            attributes=source.attributes))
            for k in range(source.count)]


def prepare(path: str | Path, overrides: Sequence[str] = (), controller: str | None = None,
            seed: int | None = None) -> tuple[Any, Any, str, int]:
    """(scenario, controller, controller name, seed): everything a run needs, checked before it starts.

    Shared by ``mecsim run/validate`` and ``mecsim sweep`` so a sweep's run is exactly a ``mecsim run``.
    """
    from mecsim.registry import make_controller
    from mecsim.scenario.load import load_scenario

    scenario = load_scenario(path, overrides)
    seed = scenario.seed if seed is None else seed
    if seed < 0:
        raise ConfigError(f"--seed: must be an integer >= 0, got {seed}")
    name = controller or scenario.controller
    ctrl = make_controller(name, scenario.controller_params, RandomStreams(seed).get("controller"))
    if scenario.system != "dag_offloading":
        return scenario, ctrl, name, seed
    graphs = load_graphs(scenario, RandomStreams(seed))
    check = getattr(ctrl, "check", None)
    if check is not None:
        actions = 1 + len(scenario.servers) + (1 if scenario.cloud else 0)
        for source, graph in graphs:
            try:
                check(graph.n, actions)
            except ValueError as exc:
                raise ConfigError(f"{exc} (in {source})", file=scenario.file, path="controller") from None
    return scenario, ctrl, name, seed


def simulation_class(scenario: Any) -> type:
    """The Simulation class of the scenario's system (every system has the same constructor)."""
    if scenario.system == "dag_offloading":
        return Simulation
    from mecsim.systems import system_module
    return system_module(scenario.system).Simulation


@dataclass
class RunResult:
    """Everything a run produced (written to files by :mod:`mecsim.outputs`)."""

    scenario: Scenario
    seed: int
    controller: str
    apps: list[AppRecord]
    trace: TraceRecorder | TraceStream
    utilisation: dict[str, float]
    sim_time_s: float
    wall_s: float
    events: int
    decisions: int
    extra: dict[str, Any] = field(default_factory=dict)


class Simulation:
    """One run of a scenario. Without a controller, decisions wait for :attr:`bridge` answers."""

    def __init__(self, scenario: Scenario, controller: Controller | None = None, *,
                 seed: int | None = None, trace: bool | TraceStream = True, controller_name: str = "",
                 graphs: Sequence[tuple[str, TaskGraph]] | None = None) -> None:
        """`trace`: record in memory (True), not at all (False) or into a TraceStream (long runs).
        `graphs` replaces the workload's DAG source (tests, environments, tools)."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.streams = RandomStreams(self.seed)
        self.env = simpy.Environment(initial_time=0.0)
        self.trace = trace if isinstance(trace, TraceStream) else TraceRecorder(trace)
        self.bridge = DecisionBridge(self.env, controller)
        self.controller_name = controller_name or type(controller).__name__
        self.infra = Infrastructure(self.env, scenario, self.streams)
        order = scenario.workload.order
        if order == "auto":
            order = getattr(controller, "schedule_order", "rank")
        self.system = DagOffloading(self.env, scenario, self.infra, self.bridge, self.trace, order)
        self.graphs = list(graphs) if graphs is not None else load_graphs(scenario, self.streams)
        self.expected_apps = 0
        devices = self.infra.devices
        if scenario.workload.arrival.process != "poisson":
            for device in devices:
                self.env.process(self._arrivals(device))
        else:
            # Each device's first arrival is drawn now: a device whose first application would come
            # after the horizon gets no process (at 10,000 devices, most of them over a short horizon;
            # their waiting timeouts would fill the event queue that every event goes through).
            horizon = math.inf if scenario.horizon_s is None else scenario.horizon_s
            mean_gap = 1.0 / scenario.workload.arrival.rate_hz
            for device in devices:
                gaps = self.streams.get(f"arrivals/{device.index}")
                count = self._apps_for(device)
                if count == 0:
                    continue
                first = float(gaps.exponential(mean_gap))
                if first <= horizon:
                    self.env.process(self._arrivals(device, gaps, first))
                elif count is not None:
                    self.expected_apps += count
        self.events = 0

    # -- workload -----------------------------------------------------------------------------------
    def _apps_for(self, device: Device) -> int | None:
        wl, n_dev = self.scenario.workload, len(self.infra.devices)
        if wl.apps_per_device is not None:
            return wl.apps_per_device
        if wl.arrival.process == "list":
            return len(wl.arrival.times_s)
        if wl.arrival.process == "back_to_back":
            return len(range(device.index, len(self.graphs), n_dev))
        return None  # poisson until the horizon

    def _arrivals(self, device: Device, gaps: np.random.Generator | None = None, first: float = 0.0) -> Generator:
        """`device`'s applications. Poisson: `gaps` is its stream of inter-arrival times
        (arrivals/<device>), `first` the first one, already drawn from it."""
        wl, env = self.scenario.workload, self.env
        count = self._apps_for(device)
        if count is not None:
            self.expected_apps += count
        # The other streams are created when first drawn from (~20 µs each): with 10,000 devices most
        # of them see no application within a short horizon. Streams are named: this changes no number.
        streams, index = self.streams, device.index
        k = 0
        while count is None or k < count:
            if wl.arrival.process == "poisson":
                yield env.timeout(first if k == 0 else float(gaps.exponential(1.0 / wl.arrival.rate_hz)))
            elif wl.arrival.process == "list":
                yield env.timeout(max(0.0, wl.arrival.times_s[k] - env.now))
            if wl.pick == "random":
                pick = streams.get(f"workload/{index}")
                source, graph = self.graphs[int(pick.integers(len(self.graphs)))]
            else:
                source, graph = self.graphs[(index + k * len(self.infra.devices)) % len(self.graphs)]
            need = None
            if wl.task_memory_bytes is not None:
                memory = streams.get(f"task_memory/{index}")
                need = np.asarray(wl.task_memory_bytes.sample(memory, graph.n), dtype=float)
            proc = env.process(self.system.application(graph, device, source, need))
            if wl.arrival.process == "back_to_back":
                yield proc
            k += 1

    # -- running ------------------------------------------------------------------------------------
    def step(self) -> bool:
        """Process one event; False when nothing is left (or the horizon is reached)."""
        env = self.env
        horizon = self.scenario.horizon_s
        nxt = env.peek()
        if nxt == math.inf or (horizon is not None and nxt > horizon):
            return False
        env.step()
        self.events += 1
        return True

    def run(self, progress: bool = False) -> RunResult:
        """Run to the end (or the horizon) with the attached controller."""
        wall = time.perf_counter()
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=self.expected_apps or None, unit="app", delay=2.0, leave=False)
        # step() inlined: one Python call less per event
        env, system = self.env, self.system
        peek, env_step = env.peek, env.step
        horizon = math.inf if self.scenario.horizon_s is None else self.scenario.horizon_s
        events = self.events
        try:
            while True:
                nxt = peek()
                if nxt == math.inf or nxt > horizon:
                    break
                env_step()
                events += 1
                if bar is not None and events % 4096 == 0 and system.ended > bar.n:
                    bar.update(system.ended - bar.n)
        finally:
            self.events = events
            if bar is not None:
                bar.close()
        return self.result(time.perf_counter() - wall)

    def result(self, wall_s: float) -> RunResult:
        end = self.env.now if self.scenario.horizon_s is None else min(self.env.now, self.scenario.horizon_s)
        util = {s.name: s.utilisation(end) for s in self.infra.stations()}
        return RunResult(self.scenario, self.seed, self.controller_name, self.system.records, self.trace,
                         util, end, wall_s, self.events, self.bridge.decisions)
