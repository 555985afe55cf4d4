"""DagSimulation(scenario, controller, seed): build the DAG system, run it, collect its result."""
from __future__ import annotations

import gc
import heapq
import math
import sys
import time
from typing import Sequence

import numpy as np
import simpy
from simpy.events import ProcessGenerator

from mecsim.decision import DecisionBridge
from mecsim.errors import ConfigError
from mecsim.progress import Progress
from mecsim.rng import RandomStreams
from mecsim.sizing import RunSize
from mecsim.systems.dag_offloading.context import OffloadController
from mecsim.systems.dag_offloading.energy import build_meter
from mecsim.systems.dag_offloading.infrastructure import Device, Infrastructure
from mecsim.systems.dag_offloading.process import DagOffloading
from mecsim.systems.dag_offloading.result import DagResult
from mecsim.systems.dag_offloading.spec import DECISIONS, DagScenario, DagSource
from mecsim.trace import TraceRecorder, TraceStream
from mecsim.workload import datasets
from mecsim.workload.daggen import generate_dag
from mecsim.naming import natural_key
from mecsim.station import Station
from mecsim.workload.gv import read_gv
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["DagSimulation", "check_controller", "check_decisions", "check_run", "load_graphs"]


def load_graphs(scenario: DagScenario, streams: RandomStreams) -> list[tuple[str, TaskGraph]]:
    """The application graphs of the workload, as (source name, graph), in a fixed order."""
    source = scenario.workload.source
    if source.kind == "folder":
        assert source.folder is not None        # the loader requires one for this kind
        files = sorted(source.folder.glob(source.pattern), key=lambda f: natural_key(f.name))
        return [(str(f), read_gv(f, source.attributes)) for f in files]
    if source.kind == "dataset":
        assert source.dataset is not None       # the loader requires one for this kind
        name, folder = source.dataset
        return datasets.read_graphs(name, folder, source.pattern, source.attributes)
    rng = streams.get("daggen")
    params = source.generator
    assert params is not None                   # the loader requires them for kind generate
    return [(f"generated/{k}", generate_dag(params, rng, name=f"random.{params.n}.{k}",
                                            attributes=source.attributes))
            for k in range(source.count)]


EVENTS_PER_TASK = 15
"""engine events per task, about (an offloaded task's decision, uplink, queue, execution and downlink;
tests/test_sizing.py keeps estimates within a factor of 4 of the shipped scenarios' counts)"""
READ_TASKS = 20
"""tasks per graph assumed, before reading them, for graphs read from files (the authors' sets: 10-50)"""
BYTES_PER_DEVICE = 4096
"""a lower bound of the memory a built device takes (its CPU station, position, streams: 6.8-9.0 kB
measured with the quickstart's device spec)"""


def _graph_count(source: DagSource) -> int:
    if source.kind == "generate":
        return source.count
    if source.kind == "folder":
        assert source.folder is not None        # the loader requires one for this kind
        return sum(1 for _ in source.folder.glob(source.pattern))
    assert source.dataset is not None           # the loader requires one for this kind
    return len(datasets.files(*source.dataset, source.pattern))


def run_size(scenario: DagScenario) -> RunSize:
    """The run's size from its workload, before anything is built (:mod:`mecsim.sizing`)."""
    wl, devices, horizon = scenario.workload, scenario.devices.count, scenario.horizon_s
    arrival, source = wl.arrival, wl.source
    tasks = source.generator.n if source.generator is not None else READ_TASKS
    capped = math.inf if wl.apps_per_device is None else float(devices * wl.apps_per_device)
    if arrival.process == "poisson":
        assert arrival.rate_hz is not None      # the loader requires it for poisson arrivals
        apps = min(capped, devices * arrival.rate_hz * (math.inf if horizon is None else horizon))
    elif arrival.process == "list":
        listed = sum(1 for t in arrival.times_s if horizon is None or t <= horizon)
        apps = min(capped, float(devices * listed))
    else:
        apps = capped if wl.apps_per_device is not None else float(_graph_count(source))
    return RunSize(apps * tasks * EVENTS_PER_TASK, f"{apps:.3g} applications of about {tasks} tasks on "
                   f"{devices} devices", devices * BYTES_PER_DEVICE, "devices.count", devices)


def check_controller(controller: object, graphs: Sequence[tuple[str, TaskGraph]], actions: int) -> None:
    """A controller with ``check(tasks, actions)`` (``optimal``: plan size limits) vets each graph;
    ValueError naming the graph's source when it refuses one."""
    check = getattr(controller, "check", None)
    if check is None:
        return
    for source, graph in graphs:
        try:
            check(graph.n, actions)
        except ValueError as exc:
            raise ValueError(f"{exc} (in {source})") from None


def check_decisions(scenario: DagScenario, controller: object | None) -> None:
    """Refuse a controller that cannot answer in the scenario's ``decisions`` mode: one whose class
    declares ``decisions`` without it (planners of whole applications: at_arrival only). An external
    driver (None) serves both: the run stops at each pending decision until it is answered."""
    mode = scenario.decisions
    if controller is None:
        return
    name = type(controller).__name__
    modes = getattr(controller, "decisions", DECISIONS)
    if isinstance(modes, str) or not isinstance(modes, (tuple, list)) or not set(modes) <= set(DECISIONS):
        raise ConfigError(f"controller {name}: its class attribute decisions must be a tuple of "
                          f"{' and '.join(DECISIONS)}, got {modes!r}", file=scenario.file, path="decisions")
    if mode not in modes:
        raise ConfigError(f"{name} decides {' and '.join(modes)} only (it plans whole applications), got {mode}. "
                          f"Hint: a per-task controller (local, remote, random, round_robin, least_loaded) "
                          f"serves {mode}", file=scenario.file, path="decisions")


def check_run(scenario: DagScenario, controller: object, seed: int) -> None:
    """Check the controller serves the ``decisions`` mode (:func:`check_decisions`), read every graph of
    the workload (a bad .gv file fails here, before any simulation) and let the controller vet each one
    (:func:`check_controller`)."""
    check_decisions(scenario, controller)
    graphs = load_graphs(scenario, RandomStreams(seed))
    actions = 1 + len(scenario.servers) + (1 if scenario.cloud else 0)
    try:
        check_controller(controller, graphs, actions)
    except ValueError as exc:
        raise ConfigError(str(exc), file=scenario.file, path="controller") from None


def _timeout_at(env: simpy.Environment, at: float) -> simpy.Event:
    """An event that fires at exactly `at` (>= now).

    SimPy schedules at now + delay, and sometimes no delay lands on `at` (from now = 2**-53, every sum
    near 1 rounds to an even last bit, so 1 + 3 * 2**-52 is out of reach). The entry goes into the event
    queue as Environment.schedule writes it (SimPy 4.1; setup.cfg pins simpy < 5).
    """
    event = simpy.Event(env)
    event._ok, event._value = True, None
    heapq.heappush(env._queue, (at, simpy.events.NORMAL, next(env._eid), event))
    return event


class DagSimulation:
    """One run of a DAG scenario. Without a controller, decisions wait for :attr:`bridge` answers."""

    def __init__(self, scenario: DagScenario, controller: OffloadController | None = None, *,
                 seed: int | None = None, trace: bool | TraceStream = True, controller_name: str = "",
                 graphs: Sequence[tuple[str, TaskGraph]] | None = None) -> None:
        """`trace`: record in memory (True), not at all (False) or into a TraceStream (long runs).
        `graphs` replaces the workload's DAG source (tests, environments, tools)."""
        check_decisions(scenario, controller)
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
        # with an energy block every activity is priced on its way into the trace (mecsim.energy)
        self.meter = build_meter(scenario, self.infra, self.trace) if scenario.energy is not None else None
        self.system = DagOffloading(self.env, scenario, self.infra, self.bridge, self.trace, order, self.meter)
        self.graphs = list(graphs) if graphs is not None else load_graphs(scenario, self.streams)
        devices = self.infra.devices
        if scenario.workload.arrival.process != "poisson":
            for device in devices:
                self.env.process(self._arrivals(device))
        else:
            self._start_poisson(scenario)
        if self.infra.handover is not None:
            self.env.process(self.infra.handover.process())
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

    def _start_poisson(self, scenario: DagScenario) -> None:
        """Draw each device's first arrival now; one process then serves every device's arrivals.

        One process with one pending timeout, not one per device: at 10,000 devices a thousand waiting
        timeouts would deepen the event queue that every event goes through (BENCHMARKS.md).
        A device whose first application would come after the horizon never enters it.
        """
        horizon = math.inf if scenario.horizon_s is None else scenario.horizon_s
        rate_hz = scenario.workload.arrival.rate_hz
        assert rate_hz is not None                  # the loader requires it for poisson arrivals
        mean_gap = 1.0 / rate_hz
        due: list[tuple[float, int, int]] = []      # (arrival time, device index, applications so far)
        gaps: dict[int, np.random.Generator] = {}
        for device in self.infra.devices:
            count = self._apps_for(device)
            if count == 0:
                continue
            stream = self.streams.get(f"arrivals/{device.index}")
            first = float(stream.exponential(mean_gap))
            if first <= horizon:
                due.append((first, device.index, 0))
                gaps[device.index] = stream
        if due:
            heapq.heapify(due)
            self.env.process(self._poisson(due, gaps, mean_gap))

    def _poisson(self, due: list[tuple[float, int, int]], gaps: dict[int, np.random.Generator],
                 mean_gap: float) -> ProcessGenerator:
        """Every device's Poisson arrivals, earliest first. A device's next arrival is its last one plus
        a gap from its own stream (arrivals/<device>), at that exact float (:func:`_timeout_at`)."""
        env, devices = self.env, self.infra.devices
        while due:
            at, index, k = due[0]
            yield _timeout_at(env, at)
            device = devices[index]
            self._launch(device, k)
            count = self._apps_for(device)
            if count is None or k + 1 < count:
                heapq.heapreplace(due, (at + float(gaps[index].exponential(mean_gap)), index, k + 1))
            else:
                heapq.heappop(due)

    def _arrivals(self, device: Device) -> ProcessGenerator:
        """`device`'s applications at listed times or back to back."""
        wl, env = self.scenario.workload, self.env
        count = self._apps_for(device)
        assert count is not None        # listed and back-to-back arrivals are counted (see _apps_for)
        for k in range(count):
            if wl.arrival.process == "list":
                yield env.timeout(max(0.0, wl.arrival.times_s[k] - env.now))
            proc = self._launch(device, k)
            if wl.arrival.process == "back_to_back":
                yield proc

    def _launch(self, device: Device, k: int) -> simpy.Process:
        """Start `device`'s k-th application."""
        wl, streams, index = self.scenario.workload, self.streams, device.index
        # Streams are created when first drawn from: with 10,000 devices most of them see no
        # application within a short horizon. Streams are named, so creating them late changes no number.
        if wl.pick == "random":
            pick = streams.get(f"workload/{index}")
            source, graph = self.graphs[int(pick.integers(len(self.graphs)))]
        else:
            source, graph = self.graphs[(index + k * len(self.infra.devices)) % len(self.graphs)]
        need = None
        if wl.task_memory_bytes is not None:
            memory = streams.get(f"task_memory/{index}")
            need = np.asarray(wl.task_memory_bytes.sample(memory, graph.n), dtype=float)
        return self.env.process(self.system.application(graph, device, source, need))

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

    def run(self, progress: bool = False) -> DagResult:
        """Run to the end (or the horizon) with the attached controller."""
        wall = time.perf_counter()
        # in simulated seconds, with the applications in flight as the load that tells a run falling behind
        monitor = Progress(self.scenario.name, self.scenario.horizon_s, "s", show=progress)
        # SimPy 4.1's Environment.step written out (setup.cfg pins simpy < 5): the same order and the
        # same failure rule, without two Python calls per event (peek, step; BENCHMARKS.md)
        env, system = self.env, self.system
        queue = env._queue
        horizon = self.scenario.horizon_s
        horizon = sys.float_info.max if horizon is None else horizon   # nothing happens at infinity
        events = self.events
        # The system built before the run lives as long as the run: freezing it keeps the cyclic
        # collector's full passes from scanning it (hundreds of thousands of objects at 10,000 devices;
        # BENCHMARKS.md). A freeze someone else holds is left alone.
        freeze = gc.get_freeze_count() == 0
        if freeze:
            gc.freeze()
        try:
            while queue and queue[0][0] <= horizon:
                env._now, _, _, event = heapq.heappop(queue)
                # SimPy marks a processed event by callbacks None (its own step does so) but types them a list
                callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):
                    raise event._value      # the process's own exception, attributes and all
                events += 1
                if not events & 4095:
                    monitor.update(env._now, len(system.live))
        finally:
            if freeze:
                gc.unfreeze()
            self.events = events
            monitor.close()
        if queue and queue[0][0] > horizon:     # events were left for after the horizon
            # the run reached its horizon: the clock stands there, as SimPy's run(until=...) leaves it,
            # so every station counts its busy time up to it, and what is still going is cut there
            env._now = horizon
            self.system.cut(horizon)
        return self.result(time.perf_counter() - wall)

    def result(self, wall_s: float) -> DagResult:
        # the horizon once run() reached it with work left (the clock stands there), else the last event's time
        end = self.env.now
        stations = list(self.infra.stations())
        util = {s.name: s.utilisation(end) for s in stations}
        # every device's CPU is built from one spec: one entry, "device_cpu", speaks for them all
        # (utilisation's device_cpu_mean is over all `count` of them)
        resources = {s.name: _resource(s) for s in stations if not s.name.startswith("device")}
        devices = self.infra.devices
        if devices:
            resources["device_cpu"] = {**_resource(devices[0].cpu), "count": len(devices)}
        moving = self.scenario.devices.mobility.model != "static"
        return DagResult(self.scenario, self.seed, self.controller_name, self.system.records, self.trace,
                         util, end, wall_s, self.events, self.bridge.decisions, resources,
                         None if self.infra.handover is None else self.infra.handover.records,
                         [(d.index, d.mobility.corners(end)) for d in devices] if moving else None, self.meter)


def _resource(station: Station) -> dict[str, object]:
    """How utilisation counts `station`: ∫ min(jobs in service, limit) dt / (units × time); limit None
    (parallel): every job counts."""
    units = station.capacity or 1
    return {"discipline": station.discipline, "units": units,
            "limit": None if station.discipline == "parallel" else units}
