"""The edge fine-tuning system (HMPPO §II-III) as SimPy processes on the engine.

Every step t, each of the N UEs takes the next task of its buffer. The orchestrator decides, for each
UE in turn through the hook (a DecisionPoint of kind ``"tune"``, action ``(z, E)``):

    z = 1  upload D over the FDMA uplink, then train on the server              (case 1)
    z = 0  download the emulator E·D_FM over the FDMA downlink unless it is the  (case 2)
           cached one (eq. 4), then train locally on it

All transfers of a step run at once: uploads share W_u equally (eq. 3), downloads share W_d and P_d
equally (eq. 7); a transfer that ends frees its share for the others (the FDMA station re-divides the
band). Rates are the exact ergodic rates of the Rayleigh block-fading links (see model.link_rate_bps),
so a transfer is one activity, not one event per 10 ms block. The step ends when the slowest UE is
done; its delay is max_n d_n (eq. 8) and its reward R_t (§IV-C). Every transfer and every training run
is an activity in the trace: ``uplink`` / ``downlink`` on ``server/uplink`` / ``server/downlink``,
``exec`` on ``server/gpu``, ``local`` on ``ue<n>/gpu`` (app = step, task = device = UE).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import simpy
from simpy.events import ProcessGenerator

from mecsim.decision import Controller, DecisionBridge, DecisionPoint
from mecsim.progress import Progress
from mecsim.energy import Meter
from mecsim.rng import RandomStreams
from mecsim.net.channel import Channel
from mecsim.station import RateFn
from mecsim.systems.edge_tuning.energy import build_meter
from mecsim.systems.edge_tuning.model import (downlink_rate_bps, kept_layers, path_gain, perplexity,
                                              step_reward, uplink_rate_bps)
from mecsim.systems.edge_tuning.observation import Scales
from mecsim.systems.edge_tuning.result import StepRecord, TaskRecord, TuningResult
from mecsim.systems.edge_tuning.spec import EdgeTuningSpec
from mecsim.cut import Doing, record_cut
from mecsim.trace import TraceRecorder, TraceStream

__all__ = ["TuneAction", "TuneContext", "TuneController", "TuningSimulation"]

INF = math.inf


@dataclass(frozen=True)
class TuneContext:
    """What a tuning controller may know about UE ``ue``'s task at step ``step`` (never the simulator)."""

    ue: int
    step: int
    ues: int
    tasks: int
    data_mb: float
    complexity: float
    power_w: float
    cached: float | None
    """retention of the emulator cached on the UE, None before its first download"""
    e_min: float
    e_max: float
    layers: int
    energy_j: float | None = None
    """what the UE has drawn so far (J, mecsim.systems.edge_tuning.energy); None without an energy block"""


TuneAction = tuple[int, float]
"""(z, E): z = 1 trains on the server, 0 on the UE with an emulator keeping a share E of the layers."""
TuneController = Controller[TuneContext, TuneAction]


class _UE:
    """A UE: its mean path gain, the current task's transmit power, its cached emulator."""

    __slots__ = ("index", "gain", "power", "cached")

    def __init__(self, index: int, gain: float) -> None:
        self.index, self.gain = index, gain
        self.power = 0.0
        self.cached: int | None = None          # kept layers of the cached emulator


class TuningSimulation:
    """One episode (T steps) of a scenario. Without a controller, decisions wait for bridge answers."""

    def __init__(self, spec: EdgeTuningSpec, controller: TuneController | None = None, *, seed: int | None = None,
                 trace: bool | TraceStream = True, controller_name: str = "") -> None:
        self.scenario = spec
        self.seed = spec.seed if seed is None else seed
        self.streams = RandomStreams(self.seed)
        self.env = simpy.Environment(initial_time=0.0)
        self.trace = trace if isinstance(trace, TraceStream) else TraceRecorder(trace)
        self.doing: dict[int, tuple[int, Doing]] = {}     # UE -> (step, what it does now)
        self.bridge = DecisionBridge(self.env, controller)
        self.controller_name = controller_name or type(controller).__name__
        n, t, radio = spec.ues, spec.tasks, spec.radio
        distance = np.atleast_1d(radio.distance_m.sample(self.streams.get("distance"), n))
        self.ues = [_UE(k, path_gain(float(distance[k]), radio)) for k in range(n)]
        # every UE's buffer is drawn up front from its own stream: decisions never shift the workload
        self.data_mb = np.empty((n, t))
        self.complexity = np.empty((n, t))
        self.power_w = np.empty((n, t))
        for k in range(n):
            draw = self.streams.get(f"tasks/{k}")
            self.data_mb[k] = spec.data_mb.sample(draw, t)
            self.complexity[k] = spec.complexity.sample(draw, t)
            self.power_w[k] = radio.uplink_power_w.sample(draw, t)
        self.scales = Scales(spec)
        # rates[n, k-1]: UE n's rate when k transfers share the link (eqs. 2-3, 6-7); the uplink table
        # changes with the task's transmit power, so it is rebuilt every step
        self.shares = 1.0 / np.arange(1, n + 1)
        self.gains = np.array([u.gain for u in self.ues])
        self.up_rates = np.zeros((n, n))
        # array arguments give an array (the rate functions also take plain floats)
        self.down_rates = cast(np.ndarray, downlink_rate_bps(self.shares[None, :], self.gains[:, None], radio))
        self.uplink = Channel(self.env, "server/uplink", "fdma", self._rate_fn("up_rates"))
        self.downlink = Channel(self.env, "server/downlink", "fdma", self._rate_fn("down_rates"))
        self.tasks: list[TaskRecord] = []
        self.steps: list[StepRecord] = []
        self.events = 0
        # with an energy block every activity is priced on its way into the trace (mecsim.energy)
        self.trained_s = np.zeros(n)        # each UE's finished local fine-tuning seconds
        self.meter = None if spec.energy is None else build_meter(
            spec.energy, self.trace, n, lambda k: self.ues[k].power, self._training_s)
        self.recorder: TraceRecorder | TraceStream | Meter = self.trace if self.meter is None else self.meter
        self.env.process(self._episode())

    # -- the story ------------------------------------------------------------------------------------
    def _episode(self) -> ProcessGenerator:
        spec, env = self.scenario, self.env
        emu = spec.emulator
        observed = self._observed_gains(0.0)
        for t in range(spec.tasks):
            cached = np.array([0.0 if u.cached is None else u.cached / emu.layers for u in self.ues])
            obs = self.scales.observation(observed, self.complexity[:, t], self.data_mb[:, t], cached,
                                         t / spec.tasks)
            self.up_rates = cast(np.ndarray, uplink_rate_bps(self.shares[None, :], self.power_w[:, t, None],
                                                             self.gains[:, None], spec.radio))
            actions = []
            for ue in self.ues:
                n = ue.index
                ue.power = float(self.power_w[n, t])
                ctx = TuneContext(n, t, spec.ues, spec.tasks, float(self.data_mb[n, t]), float(self.complexity[n, t]),
                                  ue.power, None if ue.cached is None else ue.cached / emu.layers, emu.min, emu.max,
                                  emu.layers, None if self.meter is None else self.meter.used_j(n, env.now))
                point = DecisionPoint("tune", env.now, (t, n), f"ue{n}/task{t}", 2, ctx, obs)
                actions.append(self._check((yield self.bridge.decide(point)), point))
            start = env.now
            runs = [env.process(self._task(ue, t, z, e)) for ue, (z, e) in zip(self.ues, actions)]
            records: list[TaskRecord] = []
            for run in runs:                      # each a Process: never a reused condition (DESIGN.md)
                records.append((yield run))
            self.tasks.extend(records)
            delays = [r.delay_s for r in records]
            kappas = [r.perplexity for r in records]
            self.steps.append(StepRecord(t, start, env.now, max(delays), float(np.mean(kappas)),
                                         sum(r.switch for r in records), step_reward(kappas, delays, spec.reward)))
            observed = self._observed_gains(env.now - start)

    def _task(self, ue: _UE, t: int, z: int, e: float) -> ProcessGenerator:
        """One UE's task of step t: its transfer, then its training run; returns its TaskRecord."""
        env, spec, trace, n = self.env, self.scenario, self.recorder, ue.index
        doing = self.doing       # what each UE does now, for the activities a horizon cuts (mecsim.cut)
        start = env.now
        data_mb = float(self.data_mb[n, t])
        if z:
            doing[n] = (t, ("uplink", "server/uplink", start, data_mb * 1e6, 0.0, self.uplink.station))
            _, begin, end = yield self.uplink.send(data_mb * 8e6, ue)
            trace.record(t, n, n, "uplink", "server/uplink", begin, end, data_mb * 1e6, 0.0)
            delay, applied, switch = end - start, 1.0, 0
            run, resource, kind = data_mb * spec.compute.server_s_per_mb, "server/gpu", "exec"
        else:
            layers = kept_layers(e, spec.emulator)
            applied = layers / spec.emulator.layers
            switch = int(ue.cached != layers)                        # eq. (4)
            if switch:
                size = applied * spec.model_gb * 1e9                 # eq. (5): E·D_FM
                doing[n] = (t, ("downlink", "server/downlink", env.now, size, 0.0, self.downlink.station))
                _, begin, end = yield self.downlink.send(size * 8.0, ue)
                trace.record(t, n, n, "downlink", "server/downlink", begin, end, size, 0.0)
                ue.cached = layers
            delay = env.now - start
            run, resource, kind = data_mb * spec.compute.ue_s_per_mb * applied, f"ue{n}/gpu", "local"
        begin = env.now
        if run > 0:
            doing[n] = (t, (kind, resource, begin, 0.0, 0.0, None))
            yield env.timeout(run)
        doing.pop(n, None)
        trace.record(t, n, n, kind, resource, begin, env.now, 0.0, 0.0)
        if not z:
            self.trained_s[n] += env.now - begin
        kappa = perplexity(z, applied, float(self.complexity[n, t]), spec.emulator)
        return TaskRecord(t, n, z, e, applied, switch, delay, kappa, data_mb, float(self.complexity[n, t]), ue.power)

    def _training_s(self, n: int, t: float) -> float:
        """UE n's local fine-tuning seconds up to t (at most now): those finished and the one going."""
        going = self.doing.get(n)
        now = 0.0 if going is None or going[1][0] != "local" else max(0.0, t - going[1][2])
        return float(self.trained_s[n]) + now

    def _rate_fn(self, table: str) -> RateFn:
        """The station's rate function: a lookup of the tabulated rate for k = 1/share sharers."""
        def rate(ue: _UE, share: float, now: float) -> tuple[float, float]:
            return float(getattr(self, table)[ue.index, round(1.0 / share) - 1]), INF
        return rate

    def _observed_gains(self, duration_s: float) -> np.ndarray:
        """h_{t-1} of §IV-A: each UE's path gain times its fading gain averaged over the step's blocks.

        The mean of k i.i.d. Exp(1) block gains is exactly Gamma(k, 1)/k, so one draw per UE stands
        for the k blocks (one block when the step took no time)."""
        radio = self.scenario.radio
        gains = self.gains
        if radio.fading == "none":
            return gains.copy()
        blocks = max(1.0, math.ceil(duration_s / radio.coherence_s))
        draw = self.streams.get("fading")
        return gains * draw.gamma(blocks, 1.0, len(self.ues)) / blocks

    def _check(self, action: Any, point: DecisionPoint) -> tuple[int, float]:
        emu = self.scenario.emulator
        try:
            z, e = action
            z_ok = isinstance(z, (bool, int, np.integer, np.bool_)) and int(z) in (0, 1)
            e = float(e)
        except (TypeError, ValueError):
            z_ok, e = False, math.nan
        if not z_ok or not emu.min - 1e-9 <= e <= emu.max + 1e-9:
            raise self.bridge.refused(action, f"must be (z, E) with z in {{0, 1}} and E in [{emu.min:g}, {emu.max:g}]",
                                      point)
        return int(z), min(max(e, emu.min), emu.max)

    # -- running ------------------------------------------------------------------------------------
    def step(self) -> bool:
        """Process one event; False when nothing is left (or the horizon is reached)."""
        nxt = self.env.peek()
        horizon = self.scenario.horizon_s
        if nxt == INF or (horizon is not None and nxt > horizon):
            return False
        self.env.step()
        self.events += 1
        return True

    def run_until_decision(self) -> DecisionPoint | None:
        """Without a controller: run until a decision is pending (returned) or the episode is over (None)."""
        while self.bridge.pending is None and self.step():
            pass
        return self.bridge.pending

    def run(self, progress: bool = False) -> TuningResult:
        """Run the episode to its end (or the horizon) with the attached controller."""
        wall = time.perf_counter()
        monitor = Progress(self.scenario.name, self.scenario.tasks, "step", show=progress)
        while self.step():
            if not self.events & 255:
                monitor.update(len(self.steps))
        monitor.close()
        horizon = self.scenario.horizon_s
        if horizon is not None and INF > self.env.peek() > horizon:     # events were left for after it
            # the run reached its horizon: the clock stands there (as SimPy's run(until=...) leaves
            # it) and what is still going is cut there
            self.env._now = horizon
            for n, (t, doing) in sorted(self.doing.items()):
                record_cut(self.recorder.record, t, n, n, self.ues[n], doing, horizon)
        return self.result(time.perf_counter() - wall)

    def result(self, wall_s: float = 0.0) -> TuningResult:
        return TuningResult(self.scenario, self.seed, self.controller_name, self.trace, list(self.tasks),
                            list(self.steps), self.env.now, wall_s, self.events, self.bridge.decisions, self.meter)
