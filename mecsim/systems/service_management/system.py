"""The edge AI service-management system (PEARL-DT §II-III) as SimPy processes.

Every slot, each ED issues one request (V^T, V^R, τ) and the SMC takes one decision for all of them
(a DecisionPoint of kind ``"service"``): per ED a data method (DS), a placement (TA: 0 local, h edge
server h) and a model (MS), eqs. (16)-(18). The decision is repaired for accuracy (§IV-B), every
server keeps the users its P2 selection (eq. 15) picks under C2/C3 and re-forwards the rest to the
cloud (:mod:`.plan`), then each request runs as its own process:

    local:  ED CPU (eq. 5, lightest model)
    edge:   uplink → [backhaul AP h0 → h, + δ] → a virtual core of server h (memory held) →
            [backhaul h → h0] → downlink                                           (eqs. 1-4)
    cloud:  uplink → AP-to-cloud link (+ δ) → cloud (most complex model, 400 GFLOPS) → link back → downlink

Eq. (1) counts V^T α and V^R at the ED's uplink rate: the DES sends the result back at that rate.
Eq. (2) counts δ once: the DES puts it on the forward leg. Each AiSF occupies one virtual core with
the server's full speed (eq. 4); C2 keeps at most P^n_h of them per server, so nobody queues. Radio
channels are dedicated per ED (each has its own B_u), backhaul links serve every transfer at full
rate (``backhaul.sharing: parallel``, as eq. 2) unless ``fifo`` is chosen. With these defaults every
request's latency equals eqs. (1)-(5) (``tests/test_service_management.py``).

The next slot starts ``slot_s`` after this one, or when its last request finishes if later (the
paper's slots are independent: nothing is left over from one slot to the next). The reward of a slot
is minus the mean latency of its requests in seconds (eq. 19). The AI-model condition in force is the
scenario's timeline entry at the slot's start (an upgrade takes effect at the next slot); twins and
environments fix one condition instead (``condition=``).
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import simpy
from simpy.events import ProcessGenerator

from mecsim.compute import memory_pool, processor
from mecsim.decision import Controller, DecisionBridge, DecisionPoint
from mecsim.energy import Meter, energy_line
from mecsim.errors import MecsimError
from mecsim.progress import Progress
from mecsim.rng import RandomStreams
from mecsim.stats import latency_line, latency_stats
from mecsim.net.channel import Channel, WiredLink
from mecsim.systems.service_management.energy import build_meter
from mecsim.systems.service_management.plan import Plan, SlotState, draw_state, implement
from mecsim.systems.service_management.spec import ServiceScenario
from mecsim.systems.service_management.world import Condition, World, build_world
from mecsim.trace import TraceRecorder, TraceStream

__all__ = ["Feedback", "ServiceAction", "ServiceContext", "ServiceController", "SlotRecord", "ServiceResult", "ServiceSimulation", "observation",
           "features", "REQUEST_COLUMNS"]

REQUEST_COLUMNS = ("slot", "ed", "condition", "ap", "ds", "ta", "ms", "placement", "latency_s", "accuracy",
                   "required", "repaired", "forwarded_to_cloud", "estimate_s")


def features(sc: ServiceScenario) -> int:
    """Observation columns per ED: one-hot RAN, then B_u, N_u, Υ_u, V^T, V^R, τ (eq. 16)."""
    return len(sc.servers) + 6


def observation(sc: ServiceScenario, state: SlotState) -> np.ndarray:
    """Eq. (16) as an (EDs, features) float32 array in [0, 1]: each quantity scaled by the range of
    its scenario distribution."""
    d = sc.devices
    out = np.zeros((d.count, features(sc)), dtype=np.float32)
    out[np.arange(d.count), state.ap] = 1.0
    h = len(sc.servers)
    for col, (dist, values) in enumerate(((d.bandwidth_hz, state.bandwidth_hz), (d.noise_dbm, state.noise_dbm),
                                          (d.distance_m, state.distance_m), (d.task_bytes, state.task_bytes),
                                          (d.result_bytes, state.result_bytes), (d.accuracy_pct, state.required_pct)),
                                         h):
        low, high = dist.support()
        scale = high - low if math.isfinite(high - low) and high > low else 1.0
        out[:, col] = np.clip((values - low) / scale, 0.0, 1.0)
    return out


@dataclass(frozen=True, eq=False)
class Feedback:
    """What the SMC saw of the previous slot: data observed in the physical system, which online
    adapting controllers (PEARL-DT's context, §IV-D) collect."""

    observation: np.ndarray     # (EDs, features)
    action: np.ndarray          # (EDs, 3) as decided (DS, TA, MS), before repair
    latency_s: np.ndarray       # (EDs,)
    reward: float               # eq. (19)


@dataclass(frozen=True, eq=False)
class ServiceContext:
    """What a service controller may know at a decision (never the simulator)."""

    slot: int
    epoch: int                  # counts AI-model upgrades seen: a new condition starts a new epoch
    nvec: tuple[int, int, int]  # choices per ED: DS, TA (local + servers), MS
    state: SlotState
    previous: Feedback | None
    energy_j: np.ndarray | None = None
    """(EDs,) J each ED has drawn so far (mecsim.systems.service_management.energy); None without energy"""


ServiceAction = np.ndarray | int
"""(EDs, 3) choices (DS, TA, MS) per ED, or one joint index applied to every ED (see parse_action)."""
ServiceController = Controller[ServiceContext, ServiceAction]


@dataclass(frozen=True, eq=False)
class SlotRecord:
    """One slot: its state, decision, implementation and latencies."""

    slot: int
    start_s: float
    end_s: float
    condition: str
    epoch: int
    state: SlotState
    action: np.ndarray
    plan: Plan
    latency_s: np.ndarray

    @property
    def reward(self) -> float:
        return -float(self.latency_s.mean())     # eq. (19), with the sign of §IV-D


def _radio(rate_bps: float, share: float, now: float) -> tuple[float, float]:
    """A request's own rate (its B_u, eq. 1): the job's owner is the rate."""
    return rate_bps * share, math.inf


@dataclass
class ServiceResult:
    """Everything a run produced (mecsim.outputs writes it)."""

    scenario: ServiceScenario
    seed: int
    controller: str
    trace: TraceRecorder | TraceStream
    slots: list[SlotRecord]
    servers: list[dict[str, Any]]
    sim_time_s: float
    wall_s: float
    events: int
    decisions: int
    extra: dict[str, Any] = field(default_factory=dict)
    energy: Meter | None = None        # None: the scenario accounts no energy

    def latencies_s(self) -> np.ndarray:
        return np.concatenate([s.latency_s for s in self.slots]) if self.slots else np.zeros(0)

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_s()
        h = len(self.scenario.servers)
        place = np.concatenate([s.plan.placement for s in self.slots]) if self.slots else np.zeros(0, int)
        acc = np.concatenate([s.plan.accuracy_pct - s.state.required_pct for s in self.slots]) if self.slots \
            else np.zeros(0)
        stats = latency_stats(lat)
        conditions, last = [], None
        for s in self.slots:
            if s.condition != last:
                conditions.append({"from_slot": s.slot, "condition": s.condition})
                last = s.condition
        return {
            "scenario": self.scenario.name, "seed": self.seed, "controller": self.controller,
            "system": self.scenario.system,
            "counts": {
                "slots": len(self.slots), "requests": int(lat.size),
                "local": int((place == 0).sum()), "edge": int(((place >= 1) & (place <= h)).sum()),
                "cloud": int((place == h + 1).sum()),
                "forwarded_to_cloud": int(sum(int(s.plan.forwarded.sum()) for s in self.slots)),
                "repaired": int(sum(int((s.plan.repaired > 0).sum()) for s in self.slots)),
                "accuracy_violations": int((acc < -1e-9).sum()),
            },
            "latency_s": stats,
            "reward_mean": float(np.mean([s.reward for s in self.slots])) if self.slots else None,
            "servers": self.servers,
            "conditions": conditions,
            **({} if self.energy is None else {"energy": self.energy.summary(self.sim_time_s)}),
            "sim_time_s": self.sim_time_s, "decisions": self.decisions, "events": self.events,
            "wall_s": round(self.wall_s, 3),
            "events_per_s": round(self.events / self.wall_s, 1) if self.wall_s > 0 else None,
        }

    def tables(self) -> dict[str, str]:
        """``requests.csv``: one row per request (final DS/TA/MS after repair and P2; with energy, the J
        its activities cost its ED and the servers)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        spent = None if self.energy is None else self.energy.task_j
        writer.writerow(REQUEST_COLUMNS + (() if spent is None else ("energy_j", "server_energy_j")))
        h = len(self.scenario.servers)
        names = ["local"] + [f"es{k}" for k in range(1, h + 1)] + ["cloud"]
        for s in self.slots:
            p = s.plan
            for u in range(s.latency_s.shape[0]):
                writer.writerow([s.slot, u, s.condition, int(s.state.ap[u]), int(p.method[u]), int(p.ta[u]),
                                 int(p.model[u]), names[int(p.placement[u])], repr(float(s.latency_s[u])),
                                 repr(float(p.accuracy_pct[u])), repr(float(s.state.required_pct[u])),
                                 int(p.repaired[u]), int(bool(p.forwarded[u])), repr(float(p.estimate_s[u])),
                                 *(() if spent is None else map(repr, spent.get((s.slot, u), (0.0, 0.0))))])
        return {"requests.csv": out.getvalue()}

    def headline(self) -> list[tuple[str, str]]:
        s = self.summary()
        c, lat = s["counts"], s["latency_s"]
        return [("scenario", s["scenario"]), ("controller", s["controller"]), ("seed", str(s["seed"])),
                ("slots", f"{c['slots']} ({c['requests']} requests; conditions "
                          f"{', '.join(x['condition'] for x in s['conditions'])})"),
                ("placement", f"{c['local']} local, {c['edge']} edge, {c['cloud']} cloud "
                              f"({c['forwarded_to_cloud']} re-forwarded by P2), {c['repaired']} repaired"),
                ("latency ms", latency_line(lat)),
                ("accuracy", f"{c['accuracy_violations']} requirement(s) missed"),
                *(() if self.energy is None else [("energy J", energy_line(s["energy"]))]),
                ("wall", f"{s['wall_s']:.2f} s ({s['events']} events)")]


class ServiceSimulation:
    """One run of a service-management scenario. Without a controller, decisions wait for
    :attr:`bridge` answers (the Gymnasium env drives it).

    ``condition`` fixes one AI-model condition (a digital twin or an environment) instead of the
    timeline; ``states`` is a pool of observed slot states to draw from (a twin kept in sync with the
    physical system) instead of the scenario's distributions; ``slots`` overrides the run length;
    ``world`` reuses an already built :class:`World` of the same scenario.
    """

    def __init__(self, scenario: ServiceScenario, controller: ServiceController | None = None, *, seed: int | None = None,
                 trace: bool | TraceStream = True, controller_name: str = "", condition: str | None = None,
                 states: Sequence[SlotState] | None = None, slots: int | None = None,
                 world: World | None = None) -> None:
        self.scenario = sc = scenario
        self.seed = sc.seed if seed is None else seed
        self.streams = RandomStreams(self.seed)
        self.world = world if world is not None else build_world(sc)
        self.fixed: Condition | None = self.world.condition(condition) if condition is not None else None
        self.pool = list(states) if states else None
        self.n_slots = sc.slots if slots is None else slots
        self.env = env = simpy.Environment(initial_time=0.0)
        self.trace = trace if isinstance(trace, TraceStream) else TraceRecorder(trace)
        self.bridge = DecisionBridge(env, controller)
        self.controller_name = controller_name or type(controller).__name__
        h = len(sc.servers)
        self.nvec = (sc.aisf.data_methods, h + 1, sc.aisf.models)
        self.device_cpu = [processor(env, f"ed{u}/cpu", 1, float(f))
                           for u, f in enumerate(self.world.device_flops)]
        self.uplink = [Channel(env, f"ap{k}/uplink", "parallel", _radio) for k in range(1, h + 1)]
        self.downlink = [Channel(env, f"ap{k}/downlink", "parallel", _radio) for k in range(1, h + 1)]
        w = self.world
        self.backhaul = {(a, b): WiredLink(env, f"ap{a + 1}/backhaul-ap{b + 1}", float(w.backhaul_bps[a, b]),
                                       float(w.backhaul_delay_s[a, b]), sc.backhaul.sharing)
                         for a in range(h) for b in range(h) if a != b}
        self.cloud_up = [WiredLink(env, f"ap{a + 1}/cloud-up", float(w.cloud_bps[a]), float(w.cloud_delay_s[a]), "parallel")
                         for a in range(h)]
        self.cloud_down = [WiredLink(env, f"ap{a + 1}/cloud-down", float(w.cloud_bps[a]), float(w.cloud_delay_s[a]),
                                 "parallel") for a in range(h)]
        self.cores = [processor(env, f"es{k}/vcores", s.cores, s.flops)
                      for k, s in enumerate(sc.servers, 1)]
        self.memory = [memory_pool(env, int(s.memory_bytes // sc.memory_unit_bytes)) for s in sc.servers]
        self.cloud_cpu = processor(env, "cloud/cpu", None, sc.cloud.flops, "parallel")
        # with an energy block every activity is priced on its way into the trace (mecsim.energy)
        self.meter = None if sc.energy is None else build_meter(
            sc.energy, self.trace, sc.devices.tx_power_dbm, self.device_cpu, self.world.device_flops.tolist(),
            [(up.name, down.name) for up, down in zip(self.uplink, self.downlink)],
            [(cores, s.flops) for cores, s in zip(self.cores, sc.servers)])
        self.recorder: TraceRecorder | TraceStream | Meter = self.trace if self.meter is None else self.meter
        self.in_use = np.zeros((h, 2), dtype=np.int64)      # cores, memory units
        self.peak = np.zeros((h, 2), dtype=np.int64)
        self.records: list[SlotRecord] = []
        self.previous: Feedback | None = None
        self.events = 0
        self.finished = False
        self._wall = 0.0
        self._process = env.process(self._slots())

    # -- slots -------------------------------------------------------------------------------------
    def epoch_at(self, t: float) -> int:
        """The index of the timeline entry in force at time t."""
        times = [e.at_s for e in self.scenario.timeline]
        return int(np.searchsorted(times, t, side="right") - 1)

    def _state(self) -> SlotState:
        if self.pool:
            return self.pool[int(self.streams.get("twin").integers(len(self.pool)))]
        return draw_state(self.scenario, self.streams.get("states"), self.streams.get("channel"))

    def _slots(self) -> ProcessGenerator:
        env, sc = self.env, self.scenario
        for k in range(self.n_slots):
            if sc.horizon_s is not None and env.now >= sc.horizon_s:
                break
            t0 = env.now
            epoch = 0 if self.fixed is not None else self.epoch_at(t0)
            cond = self.fixed or self.world.condition(sc.timeline[epoch].condition)
            state = self._state()
            obs = observation(sc, state)
            meter = self.meter
            used = None if meter is None else np.array([meter.used_j(u, t0) for u in range(sc.devices.count)])
            point = DecisionPoint("service", t0, k, f"slot {k}", int(np.prod(self.nvec)),
                                  ServiceContext(k, epoch, self.nvec, state, self.previous, used), obs)
            action = self.parse_action((yield self.bridge.decide(point)), point)
            plan = implement(sc, self.world, cond, state, action)
            requests = [env.process(self._request(k, u, state, cond, plan)) for u in range(sc.devices.count)]
            yield env.all_of(requests)
            latency = np.array([r.value for r in requests]) - t0
            self.records.append(SlotRecord(k, t0, env.now, cond.name, epoch, state, action, plan, latency))
            self.previous = Feedback(obs, action, latency, -float(latency.mean()))
            yield env.timeout(max(0.0, t0 + sc.slot_s - env.now))
        self.finished = True

    def parse_action(self, action: Any, point: DecisionPoint) -> np.ndarray:
        """(EDs, 3) ints from an (EDs, 3) or flat (3·EDs) array; a single integer is one joint
        (DS, TA, MS) index, row-major, applied to every ED (what generic heuristics answer)."""
        n, nvec = self.scenario.devices.count, np.array(self.nvec)
        if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
            if not 0 <= int(action) < int(nvec.prod()):
                raise self.bridge.refused(action, f"a single action must be in 0..{nvec.prod() - 1}", point)
            return np.tile(np.array(np.unravel_index(int(action), self.nvec)), (n, 1)).astype(np.int64)
        a = np.asarray(action)
        if a.size != 3 * n or not np.issubdtype(a.dtype, np.integer):
            raise self.bridge.refused(action, f"must be {n} x 3 integers (DS, TA, MS per ED), got shape {a.shape} "
                                      f"and dtype {a.dtype}", point)
        a = a.reshape(n, 3).astype(np.int64)
        if (a < 0).any() or (a >= nvec).any():
            raise self.bridge.refused(action, f"DS, TA, MS must be below {tuple(nvec)}", point)
        return a

    # -- one request ------------------------------------------------------------------------------
    def _request(self, k: int, u: int, state: SlotState, cond: Condition, plan: Plan) -> ProcessGenerator:
        env, trace, h = self.env, self.recorder, len(self.scenario.servers)
        where, model, method = int(plan.placement[u]), int(plan.model[u]), int(plan.method[u])
        up_bits = 8.0 * float(state.task_bytes[u]) * float(cond.compression[u, method])
        res_bits = 8.0 * float(state.result_bytes[u])
        flop = up_bits * float(cond.flop_per_bit[u, model])
        if where == 0:                                             # eq. (5), first case
            cpu = self.device_cpu[u]
            sub, start, end = yield cpu.serve(flop)
            self._queue(k, u, cpu.name, sub, start)
            trace.record(k, u, u, "local", cpu.name, start, end, 0.0, flop)
            return env.now
        h0, rate = int(state.ap[u]), float(state.rate_bps[u])
        sub, start, end = yield self.uplink[h0].send(up_bits, rate)           # eq. (1)
        trace.record(k, u, u, "uplink", self.uplink[h0].name, start, end, up_bits / 8, 0.0)
        if where <= h:
            server = where - 1
            if server != h0:                                                   # eq. (2)
                yield from self._forward(k, u, self.backhaul[h0, server], up_bits, True)
            yield from self._execute(k, u, server, flop, int(cond.memory_units[u, model]))   # eqs. (3)-(4)
            if server != h0:
                yield from self._forward(k, u, self.backhaul[server, h0], res_bits, False)
        else:                                                                  # re-forwarded to the cloud
            yield from self._forward(k, u, self.cloud_up[h0], up_bits, True)
            sub, start, end = yield self.cloud_cpu.serve(flop)
            trace.record(k, u, u, "exec", self.cloud_cpu.name, start, end, 0.0, flop)
            yield from self._forward(k, u, self.cloud_down[h0], res_bits, False)
        sub, start, end = yield self.downlink[h0].send(res_bits, rate)        # V^R of eq. (1)
        trace.record(k, u, u, "downlink", self.downlink[h0].name, start, end, res_bits / 8, 0.0)
        return env.now

    def _forward(self, k: int, u: int, link: WiredLink, bits: float, delay: bool) -> ProcessGenerator:
        sub, start, end = yield from link.send(bits, propagate=delay)
        self._queue(k, u, link.name, sub, start)
        self.recorder.record(k, u, u, "forward", link.name, start, end, bits / 8, 0.0)

    def _execute(self, k: int, u: int, server: int, flop: float, units: int) -> ProcessGenerator:
        """A virtual core of the server (C2) and the model's memory (C3) for the inference."""
        waited = self.env.now
        yield self.memory[server].get(units)
        self._queue(k, u, f"es{server + 1}/memory", waited, self.env.now)
        self.in_use[server] += (1, units)
        np.maximum(self.peak[server], self.in_use[server], out=self.peak[server])
        cores = self.cores[server]
        sub, start, end = yield cores.serve(flop)
        self._queue(k, u, cores.name, sub, start)
        self.recorder.record(k, u, u, "exec", cores.name, start, end, 0.0, flop)
        self.in_use[server] -= (1, units)
        yield self.memory[server].put(units)

    def _queue(self, k: int, u: int, resource: str, since: float, until: float) -> None:
        if until > since:
            self.recorder.record(k, u, u, "queue", resource, since, until, 0.0, 0.0)

    # -- driving -----------------------------------------------------------------------------------
    def step(self) -> bool:
        """Process one event; False when the run is over (or waits for an answer that is not there)."""
        if self.finished or self.env.peek() == math.inf:
            return False
        t = time.perf_counter()
        self.env.step()
        self.events += 1
        self._wall += time.perf_counter() - t
        return True

    def advance(self) -> None:
        """Run until the next decision is pending or the run is over (the env's step)."""
        while self.bridge.pending is None and self.step():
            pass

    def run(self, progress: bool = False) -> ServiceResult:
        monitor = Progress(self.scenario.name, self.n_slots, "slot", show=progress)
        while self.step():
            if not self.events & 255:
                monitor.update(len(self.records))
        monitor.close()
        if self.bridge.pending is not None:
            raise MecsimError("the run stopped at a decision nobody answered: give a controller or answer "
                              "bridge.pending")
        return self.result()

    def result(self) -> ServiceResult:
        servers = [{"name": f"es{k}", "cores": s.cores, "peak_cores": int(self.peak[k - 1, 0]),
                    "memory_bytes": s.memory_bytes,
                    "peak_memory_bytes": float(self.peak[k - 1, 1] * self.scenario.memory_unit_bytes)}
                   for k, s in enumerate(self.scenario.servers, 1)]
        return ServiceResult(self.scenario, self.seed, self.controller_name, self.trace, self.records, servers,
                             float(self.env.now), self._wall, self.events, self.bridge.decisions, energy=self.meter)
