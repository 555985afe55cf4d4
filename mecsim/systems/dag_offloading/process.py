"""The DAG offloading system (MRLCO §3, MRLATO §III-C) as SimPy processes.

An application (a TaskGraph) arrives at a device. Its tasks are decided one by one (action 0 = the
device, k = edge server k, K+1 = the cloud when there is one): all at the arrival in schedule order
(``decisions: at_arrival``), or each once its parents have executed (``when_ready``: :class:`_Readiness`).
Each decided task then runs as its own process:

    local:    wait for parents → local CPU
    offload:  wait for parents → uplink → (backhaul / cloud link) → server → (back) → downlink
              (with handover: a transfer ends on the channel it began on; a result returns to the
              access point the device is attached to when the result leaves the server)

Dependencies follow the authors' semantics (see :mod:`mecsim.systems.dag_offloading.analytic`): a local task waits for its
local parents and for the downloads of its offloaded parents; an upload waits for local parents and
for the uploads of parents on the same server (parents elsewhere: their downloads); an execution waits
for its upload and for the executions of its parents on the same server. Stations with the
``schedule_order`` discipline get every task reserved at decision time, in schedule order, so no task
overtakes one scheduled before it.
"""
from __future__ import annotations

import heapq
import math
from typing import Any, Callable, Generator

import numpy as np
import simpy
from simpy.events import ProcessGenerator

from mecsim.compute import Cloud, EdgeServer
from mecsim.cut import Doing, record_cut
from mecsim.decision import DecisionBridge, DecisionPoint
from mecsim.energy import Meter
from mecsim.net.channel import WiredLink
from mecsim.station import Station
from mecsim.systems.dag_offloading.analytic import CostModel, schedule_order, task_times
from mecsim.systems.dag_offloading.context import KINDS, LiveState, OffloadContext, Outcome
from mecsim.systems.dag_offloading.infrastructure import AccessPoint, Device, Infrastructure
from mecsim.systems.dag_offloading.observation import embed
from mecsim.systems.dag_offloading.result import AppRecord
from mecsim.systems.dag_offloading.spec import DagScenario
from mecsim.trace import TraceRecorder, TraceStream
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["DagOffloading"]

def _done(event: simpy.Event) -> None:
    """Mark a milestone reached (a dropped application may have released it already)."""
    if not event.triggered:
        event.succeed()


class _App:
    """Run-time state of one application: per-task completion events."""

    __slots__ = ("record", "graph", "device", "plan", "local_done", "up_done", "exec_done",
                 "result_done", "left", "finished", "dropped", "stations", "doing")

    def __init__(self, env: simpy.Environment, record: AppRecord, graph: TaskGraph, device: Device):
        n = graph.n
        self.record, self.graph, self.device = record, graph, device
        self.plan = [-1] * n
        self.local_done = [env.event() for _ in range(n)]    # local task finished
        self.up_done = [env.event() for _ in range(n)]       # upload finished
        self.exec_done = [env.event() for _ in range(n)]     # remote execution finished
        self.result_done = [env.event() for _ in range(n)]   # result on the device (local or downloaded)
        self.left = n
        self.finished = env.event()
        self.dropped = False
        self.stations: set[Station] = set()
        # per task, what it is waiting on now (None: nothing), for the activities a horizon cuts (cut)
        self.doing: list[Doing | None] = [None] * n


class _Plan:
    """An application's decisions so far: its schedule order, embeddings, the actions by position."""

    __slots__ = ("order", "tasks", "memory", "partial", "mask")

    def __init__(self, order: tuple[int, ...], tasks: np.ndarray, memory: np.ndarray | None) -> None:
        n = len(order)
        self.order, self.tasks, self.memory = order, tasks, memory
        self.partial = np.full(n, -1, dtype=np.int64)    # action per position, -1: not decided yet
        self.mask = np.ones(n, dtype=np.int8)


class _Readiness:
    """``decisions: when_ready``: the tasks of one application whose parents have all executed.

    ``heap`` holds the schedule positions of the ready, undecided tasks; ``wake`` is the event the
    application waits on while none is ready.
    """

    __slots__ = ("children", "position", "missing", "heap", "wake")

    def __init__(self, graph: TaskGraph, order: tuple[int, ...]) -> None:
        self.children = graph.children
        self.position = [0] * graph.n
        for k, task in enumerate(order):
            self.position[task] = k
        self.missing = [len(parents) for parents in graph.parents]
        self.heap = [k for k, task in enumerate(order) if not graph.parents[task]]   # sorted: a heap
        self.wake: simpy.Event | None = None

    def executed(self, task: int) -> Callable[[simpy.Event], None]:
        """The callback for `task`'s execution milestone: its children with no parent left become ready."""
        def done(_: simpy.Event) -> None:
            for child in self.children[task]:
                self.missing[child] -= 1
                if self.missing[child] == 0:
                    heapq.heappush(self.heap, self.position[child])
                    if self.wake is not None and not self.wake.triggered:
                        self.wake.succeed()
        return done


class DagOffloading:
    """Offloading decisions and execution of DAG applications over an Infrastructure."""

    def __init__(self, env: simpy.Environment, scenario: DagScenario, infra: Infrastructure,
                 bridge: DecisionBridge, trace: TraceRecorder | TraceStream, order: str,
                 meter: Meter | None = None) -> None:
        """`meter`: the run accounts energy; activities go through it into `trace`."""
        self.env, self.scenario, self.infra, self.bridge = env, scenario, infra, bridge
        self.trace: TraceRecorder | TraceStream | Meter = trace if meter is None else meter
        self.meter = meter
        if meter is not None:
            meter.on_empty = self._battery_empty
        self.order = order                     # rank | recursive_rank | id
        self.when_ready = scenario.decisions == "when_ready"
        self.kind = KINDS[scenario.decisions]
        self.records: list[AppRecord] = []
        self.live: dict[int, _App] = {}        # applications not yet ended, by app id (for cut)
        self.ended = 0                         # applications completed or dropped
        self.targets = tuple(s.name for s in infra.servers) + (("cloud",) if infra.cloud else ())
        # only schedule_order stations need reservations (_reserve): most scenarios have none
        self._ordered = any(s.discipline == "schedule_order" for s in infra.stations())
        wl = scenario.workload
        self.task_memory = wl.task_memory_bytes
        self.bypass = scenario.compat.entry_upload_bypass
        # (graph, cost model) -> (graph, schedule order, embeddings): the same for every application of
        # that graph on devices that see the same rates; bounded, so memory stays flat on long runs.
        self._plans: dict[tuple[int, CostModel], tuple[TaskGraph, tuple[int, ...], np.ndarray]] = {}
        self._paths: dict[tuple[str, int], tuple[EdgeServer | None, list[WiredLink], list[WiredLink]]] = {}
        self._wired: dict[str, tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]] = {}

    # -- applications ------------------------------------------------------------------------------
    def application(self, graph: TaskGraph, device: Device, source: str,
                    memory: np.ndarray | None = None) -> ProcessGenerator:
        """Decide the tasks (all at arrival, or each when it is ready), start them, wait for the last result."""
        env = self.env
        record = AppRecord(len(self.records), device.index, source, env.now, graph=graph)
        self.records.append(record)
        app = _App(env, record, graph, device)
        self.live[record.app] = app
        model = self.cost_model(device)
        order, tasks = self._schedule(graph, model)
        plan = _Plan(order, tasks, memory)
        meter = self.meter
        if meter is not None and meter.empty(device.index, env.now):
            self._drop(app, self._empty_reason(device.index))
        elif self.when_ready:
            yield from self._when_ready(app, plan)
        else:
            for position in range(graph.n):
                yield from self._decide(app, plan, position, model)
        yield app.finished
        del self.live[record.app]
        record.plan = app.plan
        self.ended += 1
        if not app.dropped:
            record.status, record.finish_s = "completed", env.now
        self.bridge.observe(Outcome(record.app, device.index, record.status, record.latency_s,
                                    tuple(app.plan), record.reason), f"app {record.app}")

    def _when_ready(self, app: _App, plan: _Plan) -> ProcessGenerator:
        """``decisions: when_ready``: decide each task once all its parents have executed (wherever they
        ran; a result still being downloaded is waited for by the task's process), the ready ones in
        schedule order, each with the live state and cost model of its decision time."""
        ready = _Readiness(app.graph, plan.order)
        for _ in range(app.graph.n):
            while not ready.heap and not app.dropped:
                ready.wake = self.env.event()
                yield ready.wake
            if app.dropped:     # its undecided tasks never start (plan -1 in apps.csv)
                return
            position = heapq.heappop(ready.heap)
            action = yield from self._decide(app, plan, position, self.cost_model(app.device))
            task = plan.order[position]
            if app.graph.children[task] and not app.dropped:
                # the milestone a task's children wait for (_task succeeds it when there are any)
                executed = app.local_done[task] if action == 0 else app.exec_done[task]
                executed.callbacks.append(ready.executed(task))

    def _decide(self, app: _App, plan: _Plan, position: int, model: CostModel) -> Generator[simpy.Event, Any, int]:
        """Ask for the action of task ``plan.order[position]``, then start the task; returns the action."""
        env, record, device = self.env, app.record, app.device
        task = plan.order[position]
        actions = 1 + len(self.targets)
        partial = plan.partial
        up, down = model.uplink_bps[0], model.downlink_bps[0]
        meter, now = self.meter, env.now
        live = LiveState(device.cpu.queue_length, device.ap.uplink.station.queue_length,
                         device.ap.downlink.station.queue_length, up, down,
                         None if meter is None else meter.used_j(device.index, now),
                         None if meter is None else meter.charge_j(device.index, now))
        context = OffloadContext(record.app, task, app.graph, plan.order, position,
                                 tuple(partial[:position].tolist()), device.index, self.targets, model,
                                 self.loads(device), live)
        observation = {"tasks": plan.tasks, "plan": partial.copy(), "step": position, "mask": plan.mask}
        point = DecisionPoint(self.kind, env.now, (record.app, task), f"app {record.app} task {task}",
                              actions, context, observation)
        action = yield self.bridge.decide(point)
        if isinstance(action, (np.integer,)):
            action = int(action)
        if not isinstance(action, int) or isinstance(action, bool) or not 0 <= action < actions:
            raise self.bridge.refused(action, f"must be an integer in 0..{actions - 1}", point)
        partial[position] = action
        app.plan[task] = action
        if self._ordered:
            self._reserve(app, task, action)
        # whole bytes: float sums in the memory pool would drift and block a later release
        need = int(math.ceil(plan.memory[task])) if plan.memory is not None else 0
        env.process(self._task(app, task, action, need))
        return action

    def _schedule(self, graph: TaskGraph, model: CostModel) -> tuple[tuple[int, ...], np.ndarray]:
        """The schedule order and the (read-only) MRLCO §4.2 embeddings of `graph` under `model`."""
        key = (id(graph), model)
        known = self._plans.get(key)
        if known is not None and known[0] is graph:
            return known[1], known[2]
        times = task_times(graph, model)
        order = tuple(schedule_order(graph, times, self.order))
        tasks = embed(graph, order, model, graph.n, times=times)
        tasks.flags.writeable = False
        if len(self._plans) >= 1024:
            self._plans.clear()
        self._plans[key] = (graph, order, tasks)
        return order, tasks

    def cost_model(self, device: Device) -> CostModel:
        """The closed-form view from `device` now: nominal rates, VM speeds (planners use it)."""
        up, down = self.infra.nominal_rates(device, self.env.now)
        hz = [s.vm_speed_hz for s in self.infra.servers]
        cloud = self.scenario.cloud     # the infrastructure has a cloud exactly when the scenario has one
        if cloud is not None:
            hz.append(cloud.speed_hz)
        k = len(hz)
        ul_sharing = device.ap.uplink.sharing
        uplink = "parallel" if ul_sharing == "parallel" else ("entry_parallel" if self.bypass else "serial")
        downlink = "parallel" if device.ap.downlink.sharing == "parallel" else "serial"
        there, back = self._routes(device.ap)
        return CostModel(device.cpu.rate_fn(None, 1.0, self.env.now)[0], tuple(hz),
                         (up,) * k, (down,) * k, uplink=uplink, downlink=downlink, route_up=there, route_down=back)

    def _routes(self, ap: AccessPoint) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
        """Per target, the wired legs from `ap` there and back as (Σ 1/rate, Σ delay); () if none has any."""
        routes = self._wired.get(ap.name)
        if routes is None:
            legs = [self._legs(ap, action) for action in range(1, len(self.targets) + 1)]

            def total(links: list[WiredLink]) -> tuple[float, float]:
                return sum(1.0 / link.rate_bps for link in links), sum(link.delay_s for link in links)

            routes = ((), ()) if not any(there or back for _, there, back in legs) else (
                tuple(total(there) for _, there, _ in legs), tuple(total(back) for _, _, back in legs))
            self._wired[ap.name] = routes
        return routes

    def loads(self, device: Device) -> tuple[int, ...]:
        loads = [s.vm_for(device.index).queue_length for s in self.infra.servers]
        cloud = self.infra.cloud
        if cloud:
            loads.append(cloud.cpu.queue_length)
        return tuple(loads)

    # -- tasks ------------------------------------------------------------------------------------
    def _target(self, action: int) -> EdgeServer | None:
        servers = self.infra.servers
        return servers[action - 1] if action <= len(servers) else None

    def _cloud(self) -> Cloud:
        """The cloud, for an action past the servers (the last action exists only with a cloud)."""
        cloud = self.infra.cloud
        assert cloud is not None
        return cloud

    def _exec_station(self, app: _App, action: int) -> Station:
        server = self._target(action)
        return server.vm_for(app.device.index) if server else self._cloud().cpu

    def _legs(self, ap: AccessPoint, action: int) -> tuple[EdgeServer | None, list[WiredLink], list[WiredLink]]:
        """(server or None for the cloud, wired links there, wired links back) from `ap` for `action`."""
        key = (ap.name, action)
        legs = self._paths.get(key)
        if legs is None:
            server, infra = self._target(action), self.infra
            legs = self._paths[key] = (
                server,
                infra.route(ap.name, server.access_point) if server else [self._cloud().up[ap.name]],
                infra.route(server.access_point, ap.name) if server else [self._cloud().down[ap.name]])
        return legs

    def _reserve(self, app: _App, task: int, action: int) -> None:
        """schedule_order stations learn, at decision time, the order tasks will use them."""
        key = app.record.app
        ap = app.device.ap
        stations = [app.device.cpu] if action == 0 else [
            ap.uplink.station, self._exec_station(app, action), ap.downlink.station]
        for station in stations:
            if station.discipline == "schedule_order":
                station.reserve(key, task)
                app.stations.add(station)

    def _task(self, app: _App, i: int, action: int, memory: int) -> ProcessGenerator:
        # The hot path of the engine (one process per task): locals, plain floats, no helper calls
        # for the queue records; it records exactly what it did before. ``doing[i]`` says what the
        # task waits on at each yield, so a horizon that stops the run can record it (cut).
        env, graph, dev, record = self.env, app.graph, app.device, self.trace.record
        a, d, doing = app.record.app, dev.index, app.doing
        cycles, up_bytes, down_bytes = graph.floats
        parents = graph.parents[i]
        released = env.now
        # only a task's children wait on its milestones: an exit task's would be events nobody awaits
        signal = bool(graph.children[i])
        if action == 0:
            if parents:
                doing[i] = ("wait", dev.name, released, 0.0, 0.0, None)
                for p in parents:
                    yield app.result_done[p]
                if env.now > released:
                    record(a, i, d, "wait", dev.name, released, env.now, 0.0, 0.0)
            if app.dropped:
                return self._finish(app)
            cpu = dev.cpu
            doing[i] = ("local", cpu.name, env.now, 0.0, cycles[i], cpu)
            sub, start, end = yield cpu.serve(cycles[i], dev, group=a, ticket=i)
            doing[i] = None
            if start > sub:
                record(a, i, d, "queue", cpu.name, sub, start, 0.0, 0.0)
            record(a, i, d, "local", cpu.name, start, end, 0.0, cycles[i])
            if signal:
                _done(app.local_done[i])
                _done(app.result_done[i])
            return self._finish(app)

        # offloaded: upload after local parents, same-target uploads, other-target results
        plan = app.plan
        if parents:
            doing[i] = ("wait", dev.name, released, 0.0, 0.0, None)
            for p in parents:
                wp = plan[p]
                yield app.local_done[p] if wp == 0 else (app.up_done[p] if wp == action else app.result_done[p])
            if env.now > released:
                record(a, i, d, "wait", dev.name, released, env.now, 0.0, 0.0)
        if app.dropped:
            return self._finish(app)
        ap = dev.ap
        server, there, back = self._legs(ap, action)
        up, down = up_bytes[i], down_bytes[i]
        channel = ap.uplink
        hold = not (self.bypass and not parents)
        doing[i] = ("uplink", channel.name, env.now, up, 0.0, channel.station)
        sub, start, end = yield from channel.transfer(up, dev, group=a, ticket=i, hold=hold)
        if start > sub:
            record(a, i, d, "queue", channel.name, sub, start, 0.0, 0.0)
        record(a, i, d, "uplink", channel.name, start, end, up, 0.0)
        if there:
            yield from self._forward(app, i, there, up)
        doing[i] = None
        if signal:
            _done(app.up_done[i])
        since = env.now
        for p in parents:
            if plan[p] == action:
                doing[i] = ("wait", dev.name, since, 0.0, 0.0, None)
                yield app.exec_done[p]
        if env.now > since:
            record(a, i, d, "wait", dev.name, since, env.now, 0.0, 0.0)
        if app.dropped:
            return self._finish(app)
        pool = server.memory if server else None
        if pool is not None and memory > 0:
            assert server is not None   # only servers have memory pools
            if memory > pool.capacity or (server.spec.memory_policy == "drop" and memory > pool.level):
                self._drop(app, f"memory: task {i} needs {memory:g} B on {server.name}, "
                                f"{pool.level:g} of {pool.capacity:g} B free")
                return self._finish(app)
            waited = env.now
            doing[i] = ("queue", f"{server.name}/memory", waited, 0.0, 0.0, None)
            yield pool.get(memory)
            self._queue(a, i, d, f"{server.name}/memory", waited, env.now)
        if server:
            vm = server.vm_for(d)
        else:
            cloud = self.infra.cloud
            assert cloud is not None    # the action past the servers exists only with a cloud
            vm = cloud.cpu
        doing[i] = ("exec", vm.name, env.now, 0.0, cycles[i], vm)
        sub, start, end = yield vm.serve(cycles[i], dev, group=a, ticket=i)
        doing[i] = None
        if start > sub:
            record(a, i, d, "queue", vm.name, sub, start, 0.0, 0.0)
        record(a, i, d, "exec", vm.name, start, end, 0.0, cycles[i])
        if pool is not None and memory > 0:
            yield pool.put(memory)
        if signal:
            _done(app.exec_done[i])
        if dev.ap is not ap:    # handed over meanwhile: the result goes to the access point it is at now
            ap = dev.ap
            back = self._legs(ap, action)[2]
        if back:
            yield from self._forward(app, i, back, down)
        channel = ap.downlink
        doing[i] = ("downlink", channel.name, env.now, down, 0.0, channel.station)
        sub, start, end = yield from channel.transfer(down, dev, group=a, ticket=i)
        doing[i] = None
        if start > sub:
            record(a, i, d, "queue", channel.name, sub, start, 0.0, 0.0)
        record(a, i, d, "downlink", channel.name, start, end, down, 0.0)
        if signal:
            _done(app.result_done[i])
        return self._finish(app)

    def _forward(self, app: _App, i: int, links: list[WiredLink], nbytes: float) -> ProcessGenerator:
        """Send over wired `links` in turn: a link is busy while it transmits (``forward``); its
        propagation delay after that is in flight, not on the link (``propagate``)."""
        env, record, doing = self.env, self.trace.record, app.doing
        a, dev = app.record.app, app.device
        d = dev.index
        for link in links:
            doing[i] = ("forward", link.name, env.now, nbytes, 0.0, link.station)
            sub, start, end = yield from link.send(nbytes * 8.0, dev, propagate=False)
            if start > sub:
                record(a, i, d, "queue", link.name, sub, start, 0.0, 0.0)
            record(a, i, d, "forward", link.name, start, end, nbytes, 0.0)
            if link.delay_s:
                doing[i] = ("propagate", link.name, end, nbytes, 0.0, None)
                yield env.timeout(link.delay_s)
                record(a, i, d, "propagate", link.name, end, env.now, nbytes, 0.0)

    def cut(self, horizon: float) -> None:
        """Record what the horizon interrupts (:mod:`mecsim.cut`)."""
        if self.meter is not None:      # a battery its cut activities empty drops nothing: the run is over
            self.meter.on_empty = None
        record = self.trace.record
        for a, app in self.live.items():
            for i, doing in enumerate(app.doing):
                if doing is not None:
                    record_cut(record, a, i, app.device.index, app.device, doing, horizon)

    def _queue(self, a: int, i: int, d: int, resource: str, since: float, until: float) -> None:
        if until > since:
            self.trace.record(a, i, d, "queue", resource, since, until, 0.0, 0.0)

    def _finish(self, app: _App) -> None:
        app.left -= 1
        if app.left == 0 and not app.finished.triggered:
            app.finished.succeed()

    def _battery_empty(self, device: int, now: float) -> None:
        """The device's battery is spent: its applications still going are dropped."""
        reason = self._empty_reason(device)
        for app in [a for a in self.live.values() if a.device.index == device]:
            self._drop(app, reason)

    def _empty_reason(self, device: int) -> str:
        assert self.meter is not None
        return f"battery: device{device} empty at {self.meter.empty_at[device]:.6g} s"

    def _drop(self, app: _App, reason: str) -> None:
        """Give up an application: its waiting tasks stop, its reservations are released."""
        if app.dropped:
            return
        app.dropped = True
        app.record.status, app.record.reason = "dropped", reason
        for station in app.stations:
            station.forget(app.record.app)
        for events in (app.local_done, app.up_done, app.exec_done, app.result_done):
            for ev in events:
                if not ev.triggered:
                    ev.succeed()
        if not app.finished.triggered:
            app.finished.succeed()
