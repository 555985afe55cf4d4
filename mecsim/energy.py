"""Energy accounting for every system: the models, the scenario's ``energy:`` block, and the meter
each activity of a run passes through on its way into the trace.

The models (SI units: J, W, cycles, Hz, s); defaults and their sources are on :class:`DeviceEnergy`
and :class:`ServerEnergy`:

* device CPU (DVFS): E = κ·f²·cycles per task run on the device, f its core speed (cycles/s) and κ the
  effective switched capacitance (J/(cycle·Hz²)), the dynamic-power model of the MEC literature
  (e.g. Mao et al., IEEE JSAC 2016; Wang et al., IEEE TCOM 2016);
* radio: transmit E = p_tx·airtime per upload, receive E = p_rx·airtime per download, the airtime
  being the transfer activity's span (start to end, shared bandwidth included);
* device idle: idle_w over the time the device's CPU is idle, T·(1 − u) with u its CPU utilisation
  (busy core-seconds / cores, as summary.json reports it) and T the horizon reached, or the moment
  its battery emptied; the radio's powers are drawn on top of it;
* edge server: P(u) = P_idle + (P_peak − P_idle)·u, u the busy share of its compute capacity
  (CloudSim's PowerModelLinear, PureEdgeSim's idle-to-max model). Over a run that is
  P_idle·T + (P_peak − P_idle)·Σ cycles/(cores·speed): each exec activity carries its own term;
* batteries (``battery_j``, DAG offloading): the device's energy used so far, its activities' and its idle draw, is
  checked against the capacity when one of its activities ends and when an application arrives at
  it; from the first check that finds it spent the device is empty: the system drops its work
  (status dropped, reason ``battery: ...``) and idle draw stops. Work already in service when it
  empties runs to its end and is counted (the remaining charge can then go below 0).

A run with energy hands its activities to a :class:`Meter` instead of the trace: it prices each one
(one dict lookup and one call), adds it to its device's or server's total and to its application's,
and records it with an ``energy_j`` column. Without an ``energy:`` block there is no meter and nothing
changes: not a column, not a byte. What each system accounts is in the README's energy section.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


from mecsim.scenario.checks import Node, must
from mecsim.station import Station
from mecsim.trace import SERVICE_KINDS, TraceRecorder, TraceStream

__all__ = ["DeviceEnergy", "ServerEnergy", "EnergySpec", "Cost", "Meter", "read_energy",
           "cpu_cost", "power_cost", "server_cost", "cpu_idle_s", "energy_line"]


@dataclass(frozen=True)
class DeviceEnergy:
    """What a device draws. Every system reads only the keys its activities use (README)."""

    kappa: float = 1e-28
    """κ in J/(cycle·Hz²), E = κ·f²·cycles: Mao, Zhang & Letaief, "Dynamic computation offloading for
    mobile-edge computing with energy harvesting devices", IEEE JSAC 2016, §VI (κ = 1e-28 with a
    1.5 GHz CPU); MEC papers use 1e-28 to 1e-27"""
    idle_w: float = 0.0
    """W while the CPU is idle; the papers mecsim reproduces count none, so 0 leaves it out"""
    tx_w: float = 0.1
    """W while transmitting, for channels whose rate model has no ``tx_power_dbm`` (``fixed``):
    0.1 W = 20 dBm, PEARL-DT's p_u (§IV-C)"""
    rx_w: float = 0.0
    """W while receiving; the papers count no receive energy, so 0 leaves it out"""
    train_w: float = 0.0
    """edge_tuning: W while a UE fine-tunes locally (HMPPO counts no energy: 0 leaves it out)"""
    battery_j: float | None = None
    """battery capacity in J (null: mains-powered, never empties)"""


@dataclass(frozen=True)
class ServerEnergy:
    """An edge server's linear power model: CloudSim's SPECpower figures of the HP ProLiant ML110 G4
    (PowerModelSpecPowerHpProLiantMl110G4Xeon3040: 86 W idle, 117 W at full load)."""

    idle_w: float = 86.0
    peak_w: float = 117.0


@dataclass(frozen=True)
class EnergySpec:
    device: DeviceEnergy = DeviceEnergy()
    server: ServerEnergy = ServerEnergy()


def read_energy(root: Node, device_keys: Sequence[str], servers: bool = True) -> EnergySpec | None:
    """The scenario's ``energy:`` block (None when absent or null: energy is not accounted).

    `device_keys` are the :class:`DeviceEnergy` fields the system uses; `servers`: whether it has
    edge servers with a power model (``energy.server``). Any other key is an error.
    """
    if not root.has("energy") or root.child("energy").value is None:
        return None
    node = root.mapping("energy").allow("device", *(("server",) if servers else ()))
    dev = node.mapping("device", default={}).allow(*device_keys)
    base = DeviceEnergy()
    values: dict[str, Any] = {}
    for key in device_keys:
        if key == "battery_j":
            values[key] = dev.float(key, None, min=0, min_open=True, allow_none=True)
        else:
            values[key] = dev.float(key, getattr(base, key), min=0)
    server = ServerEnergy()
    if servers:
        srv = node.mapping("server", default={}).allow("idle_w", "peak_w")
        idle = srv.float("idle_w", server.idle_w, min=0)
        peak = srv.float("peak_w", server.peak_w, min=0)
        must(peak >= idle, srv, "peak_w", f"must be >= idle_w ({idle:g}), got {peak:g}")
        server = ServerEnergy(idle, peak)
    return EnergySpec(DeviceEnergy(**values), server)


# ---------------------------------------------------------------------------------------------
# the models, as costs of one activity

Cost = Callable[[int, float, float, float, int], float]
"""(device, seconds, bytes, cycles, cut) of one activity -> its joules"""


def cpu_cost(kappa: float, hz: float) -> Cost:
    """κ·f²·cycles; a cut activity counts the cycles done by the horizon (f·seconds at most)."""
    per_cycle = kappa * hz * hz

    def cost(device: int, seconds: float, nbytes: float, cycles: float, cut: int) -> float:
        return per_cycle * (min(cycles, hz * seconds) if cut else cycles)
    return cost


def power_cost(power_w: float) -> Cost:
    """power × the activity's time (a transfer's airtime, a timed run)."""
    def cost(device: int, seconds: float, nbytes: float, cycles: float, cut: int) -> float:
        return power_w * seconds
    return cost


def server_cost(spec: ServerEnergy, capacity_hz: float, unit_hz: float) -> Cost:
    """An exec activity's share of P_peak − P_idle: its cycles over the server's capacity
    (cores × speed); `unit_hz` is the speed of the core or VM it ran on (for a cut activity)."""
    per_cycle = (spec.peak_w - spec.idle_w) / capacity_hz

    def cost(device: int, seconds: float, nbytes: float, cycles: float, cut: int) -> float:
        return per_cycle * (min(cycles, unit_hz * seconds) if cut else cycles)
    return cost


def cpu_idle_s(cpus: Sequence[Station]) -> Callable[[int, float], float]:
    """A meter's ``idle_s`` over the devices' CPU stations: t·(1 − u) of device d's CPU up to t."""
    def idle_s(d: int, t: float) -> float:
        return t - cpus[d].utilisation(t) * t if t > 0 else 0.0
    return idle_s


def energy_line(energy: dict[str, Any]) -> str:
    """``mecsim run``'s energy line, from a :meth:`Meter.summary`."""
    devices = energy["devices"]
    parts = ", ".join(f"{k[:-2]} {v:.4g}" for k, v in devices.items() if k != "total_j")
    line = f"devices {devices['total_j']:.4g} ({parts}), servers {energy['servers_total_j']:.4g}"
    if "batteries_empty" in energy:
        line += f"; {energy['batteries_empty']} batter{'y' if energy['batteries_empty'] == 1 else 'ies'} empty"
    return line


# ---------------------------------------------------------------------------------------------
# the meter


class Meter:
    """Prices every activity of a run, keeps the totals, and records the activity in `trace`.

    Same ``record`` as :class:`mecsim.trace.TraceRecorder`: a system hands the meter to its
    processes in the trace's place. Costs are registered per resource name (:meth:`device_cost`,
    :meth:`server_cost`); activities on other resources, and waiting kinds, cost 0. `idle_s(d, t)`
    is device d's CPU idle time up to t (t at most now), given by the system.
    """

    __slots__ = ("spec", "devices", "terms", "servers", "device_j", "server_j", "task_j", "idle_s",
                 "on_empty", "empty_at", "_idle_j", "_record", "_costs", "_capacity")

    def __init__(self, spec: EnergySpec, trace: TraceRecorder | TraceStream, devices: Sequence[str],
                 terms: Sequence[str], servers: Sequence[str] = ()) -> None:
        trace.energy = True
        self._record = trace.record
        self.spec = spec
        self.devices, self.terms, self.servers = tuple(devices), tuple(terms), tuple(servers)
        # per device and term: plain lists, since a numpy element update costs more than the rest
        self.device_j: list[list[float]] = [[0.0] * len(terms) for _ in devices]
        self.server_j = [0.0] * len(servers)                      # the busy part, from exec activities
        self.task_j: dict[tuple[int, int], list[float]] = {}      # (app, task) -> [device J, server J]
        self.idle_s: Callable[[int, float], float] = lambda d, t: 0.0
        self.on_empty: Callable[[int, float], None] | None = None
        self.empty_at: dict[int, float] = {}
        self._idle_j: dict[int, float] = {}                       # idle J of devices that emptied
        self._costs: dict[str, tuple[bool, int, Cost]] = {}
        self._capacity = spec.device.battery_j

    def device_cost(self, resource: str, term: str, cost: Cost) -> None:
        """Activities on `resource` cost `cost`, to their device's `term`."""
        self._costs[resource] = (True, self.terms.index(term), cost)

    def server_cost(self, resource: str, server: str, cost: Cost) -> None:
        """Activities on `resource` cost `cost`, to `server`."""
        self._costs[resource] = (False, self.servers.index(server), cost)

    def record(self, app: int, task: int, device: int, kind: str, resource: str, start_s: float, end_s: float,
               bytes: float = 0.0, cycles: float = 0.0, cut: int = 0) -> None:
        """Price the activity, add it to the totals (a battery is checked at its end), record it."""
        energy = 0.0
        found = self._costs.get(resource) if kind in SERVICE_KINDS else None
        if found is not None:
            on_device, where, cost = found
            energy = cost(device, end_s - start_s, bytes, cycles, cut)
            shares = self.task_j.get((app, task))
            if shares is None:
                shares = self.task_j[app, task] = [0.0, 0.0]
            if on_device:
                self.device_j[device][where] += energy
                shares[0] += energy
                if self._capacity is not None:
                    self._check(device, end_s)
            else:
                self.server_j[where] += energy
                shares[1] += energy
        self._record(app, task, device, kind, resource, start_s, end_s, bytes, cycles, cut, energy)

    # -- the device's state -----------------------------------------------------------------------
    def idle_j(self, device: int, now: float) -> float:
        frozen = self._idle_j.get(device)
        return frozen if frozen is not None else self.spec.device.idle_w * self.idle_s(device, now)

    def used_j(self, device: int, now: float) -> float:
        """What `device` has drawn up to `now`: its activities' energy and its idle draw."""
        return math.fsum(self.device_j[device]) + self.idle_j(device, now)

    def charge_j(self, device: int, now: float) -> float | None:
        """The battery's remaining J (None without batteries)."""
        return None if self._capacity is None else self._capacity - self.used_j(device, now)

    def empty(self, device: int, now: float) -> bool:
        """Whether `device`'s battery is spent (checked now; never without batteries)."""
        if self._capacity is not None:
            self._check(device, now)
        return device in self.empty_at

    def _check(self, device: int, now: float) -> None:
        capacity = self._capacity
        if capacity is None or device in self.empty_at or self.used_j(device, now) < capacity:
            return
        self._idle_j[device] = self.idle_j(device, now)
        self.empty_at[device] = now
        if self.on_empty is not None:
            self.on_empty(device, now)

    # -- the totals ------------------------------------------------------------------------------
    def summary(self, horizon: float) -> dict[str, Any]:
        """summary.json's ``energy``: per device its terms, idle and total (and battery); per server
        P_idle·T (idle_j), the sum of its exec activities (busy_j) and total; the sums over devices and
        servers. J throughout, over [0, `horizon`]."""
        per_device: dict[str, dict[str, float | None]] = {}
        sums = dict.fromkeys((*(f"{t}_j" for t in self.terms), "idle_j", "total_j"), 0.0)
        for d, name in enumerate(self.devices):
            parts = {f"{t}_j": self.device_j[d][k] for k, t in enumerate(self.terms)}
            parts["idle_j"] = self.idle_j(d, horizon)
            total = parts["total_j"] = math.fsum(parts.values())
            row: dict[str, float | None] = dict(parts)
            if self._capacity is not None:
                row["battery_left_j"] = self._capacity - total
                row["empty_at_s"] = self.empty_at.get(d)
            for key in sums:
                sums[key] += row[key] or 0.0
            per_device[name] = row
        servers: dict[str, dict[str, float]] = {}
        spec = self.spec.server
        for k, name in enumerate(self.servers):
            idle = spec.idle_w * horizon
            servers[name] = {"idle_j": idle, "busy_j": self.server_j[k], "total_j": idle + self.server_j[k]}
        server_total = math.fsum(s["total_j"] for s in servers.values())
        return {"total_j": sums["total_j"] + server_total, "devices": sums, "servers_total_j": server_total,
                "per_device": per_device, "servers": servers,
                **({} if self._capacity is None else {"batteries_empty": len(self.empty_at)})}

    def per_app(self) -> dict[int, tuple[float, float]]:
        """app -> (J its activities cost devices, J they cost servers)."""
        parts: dict[int, tuple[list[float], list[float]]] = {}
        for (app, _), (device, server) in self.task_j.items():
            mine = parts.setdefault(app, ([], []))
            mine[0].append(device)
            mine[1].append(server)
        return {app: (math.fsum(d), math.fsum(s)) for app, (d, s) in parts.items()}
