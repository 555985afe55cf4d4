"""The physical system built from a scenario: devices, access points, edge servers, cloud, links.

Everything here is a small composition of :class:`mecsim.station.Station`; systems (DAG offloading,
...) run their processes over these objects and never build resources themselves.
"""
from __future__ import annotations

import math
from typing import Generator

import networkx as nx
import numpy as np
import simpy

from mecsim.errors import ConfigError
from mecsim.mobility import RandomWaypoint, Static
from mecsim.net.channel import Channel, WiredLink
from mecsim.net.fading import Fading
from mecsim.rng import RandomStreams
from mecsim.scenario.model import CpuSpec, Scenario, ServerSpec
from mecsim.station import Station, constant_rate

__all__ = ["Device", "AccessPoint", "EdgeServer", "Cloud", "Infrastructure"]


def _cpu(env: simpy.Environment, name: str, spec: CpuSpec, speed_hz: float | None = None,
         cores: int | None = None) -> Station:
    speed = spec.speed_hz if speed_hz is None else speed_hz
    return Station(env, name, spec.discipline, spec.cores if cores is None else cores, constant_rate(speed))


class Device:
    """A user device: a local CPU, a position that may move, fading towards each channel."""

    __slots__ = ("index", "name", "cpu", "mobility", "ap", "_fading", "_rng")

    def __init__(self, index: int, cpu: Station, mobility: Static | RandomWaypoint,
                 rng: np.random.Generator) -> None:
        self.index, self.name, self.cpu, self.mobility = index, f"device{index}", cpu, mobility
        self.ap: AccessPoint | None = None
        self._fading: dict[str, Fading] = {}
        self._rng = rng

    def position_at(self, t: float) -> tuple[float, float]:
        return self.mobility.position_at(t)

    def next_move_after(self, t: float) -> float:
        return math.inf if isinstance(self.mobility, Static) else self.mobility.next_leg_end(t)

    def fading_for(self, channel: str) -> Fading:
        fading = self._fading.get(channel)
        if fading is None:
            ap = self.ap
            chan = ap.uplink if ap.uplink.name == channel else ap.downlink
            fading = self._fading[channel] = chan.make_fading(self._rng)
        return fading


class AccessPoint:
    __slots__ = ("name", "position", "uplink", "downlink")

    def __init__(self, name: str, position: tuple[float, float], uplink: Channel, downlink: Channel):
        self.name, self.position, self.uplink, self.downlink = name, position, uplink, downlink


class EdgeServer:
    """An edge server: VMs (one per device, MRLCO §3, or one shared pool of cores) and memory."""

    __slots__ = ("name", "spec", "ap", "vms", "memory", "vm_speed_hz")

    def __init__(self, env: simpy.Environment, spec: ServerSpec, ap: "AccessPoint", devices: int) -> None:
        self.name, self.spec, self.ap = spec.name, spec, ap
        cpu = CpuSpec(spec.cores, spec.speed_hz, spec.discipline)
        if spec.vms == "dedicated":
            # f_vm = f_s / k: the server's capacity split evenly among the k devices (MRLCO §3).
            self.vm_speed_hz = spec.vm_speed_hz or spec.cores * spec.speed_hz / max(devices, 1)
            self.vms = [_cpu(env, f"{spec.name}/vm{d}", cpu, self.vm_speed_hz, 1) for d in range(devices)]
        else:
            self.vm_speed_hz = spec.speed_hz
            self.vms = [_cpu(env, f"{spec.name}/cpu", cpu)]
        capacity = int(spec.memory_bytes) if spec.memory_bytes else 0
        self.memory = simpy.Container(env, capacity, init=capacity) if capacity else None

    def vm_for(self, device: int) -> Station:
        return self.vms[device] if self.spec.vms == "dedicated" else self.vms[0]


class Cloud:
    """The cloud: a processor pool reached from every access point over a wired link each way."""

    __slots__ = ("cpu", "up", "down", "name")

    def __init__(self, env: simpy.Environment, scenario: Scenario) -> None:
        spec = scenario.cloud
        self.name = "cloud"
        self.cpu = _cpu(env, "cloud/cpu", CpuSpec(spec.cores, spec.speed_hz, spec.discipline))
        self.up = {ap.name: WiredLink(env, f"{ap.name}-cloud/link", spec.rate_bps, spec.delay_s)
                   for ap in scenario.access_points}
        self.down = {ap.name: WiredLink(env, f"cloud-{ap.name}/link", spec.rate_bps, spec.delay_s)
                     for ap in scenario.access_points}


class Infrastructure:
    """All resources of a scenario, with named random streams for their randomness."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, streams: RandomStreams) -> None:
        self.env = env
        self.access_points = [
            AccessPoint(ap.name, ap.position,
                        Channel(env, f"{ap.name}/uplink", ap.uplink, ap.position, streams.get(f"los/{ap.name}/up")),
                        Channel(env, f"{ap.name}/downlink", ap.downlink, ap.position, streams.get(f"los/{ap.name}/down")))
            for ap in scenario.access_points]
        by_name = {ap.name: ap for ap in self.access_points}
        spec = scenario.devices
        place = streams.get("placement")
        mob = spec.mobility
        self.devices: list[Device] = []
        for d in range(spec.count):
            start = (float(spec.x.sample(place)), float(spec.y.sample(place)))
            mobility = Static(start) if mob.model == "static" else RandomWaypoint(
                mob.area, mob.speed_mps, mob.pause_s, streams.get(f"mobility/{d}"), start)
            device = Device(d, _cpu(env, f"device{d}/cpu", spec.cpu), mobility, streams.get(f"fading/{d}"))
            if spec.access_point == "nearest":
                device.ap = min(self.access_points, key=lambda a: math.dist(a.position, start))
            else:
                device.ap = by_name[spec.access_point]
            self.devices.append(device)
        self.servers = [EdgeServer(env, s, by_name[s.access_point], spec.count) for s in scenario.servers]
        self.cloud = Cloud(env, scenario) if scenario.cloud else None
        self.links: dict[tuple[str, str], WiredLink] = {}
        topology = nx.Graph()
        topology.add_nodes_from(by_name)
        for link in scenario.links:
            self.links[(link.a, link.b)] = WiredLink(env, f"{link.a}-{link.b}/link", link.rate_bps, link.delay_s)
            self.links[(link.b, link.a)] = WiredLink(env, f"{link.b}-{link.a}/link", link.rate_bps, link.delay_s)
            topology.add_edge(link.a, link.b, weight=8.0 / link.rate_bps + link.delay_s)
        self._topology = topology
        self._routes: dict[tuple[str, str], list[WiredLink]] = {}

    def route(self, src: str, dst: str) -> list[WiredLink]:
        """Backhaul links from access point src to dst (fewest seconds per byte, then delay)."""
        route = self._routes.get((src, dst))
        if route is None:   # the topology is fixed during a run: search once per pair
            try:
                hops = nx.shortest_path(self._topology, src, dst, weight="weight")
            except nx.NetworkXNoPath:
                raise ConfigError(f"no backhaul route from access point {src!r} to {dst!r}; add links") from None
            route = self._routes[(src, dst)] = [self.links[(a, b)] for a, b in zip(hops, hops[1:])]
        return route

    def stations(self) -> Generator[Station, None, None]:
        for d in self.devices:
            yield d.cpu
        for ap in self.access_points:
            yield ap.uplink.station
            yield ap.downlink.station
        for s in self.servers:
            yield from s.vms
        if self.cloud:
            yield self.cloud.cpu
            for link in (*self.cloud.up.values(), *self.cloud.down.values()):
                yield link.station
        for link in self.links.values():
            yield link.station

    def nominal_rates(self, device: Device, t: float) -> tuple[float, float]:
        """(uplink, downlink) bit/s the device would get alone now, without fading."""
        return device.ap.uplink.rate_bps(device, t), device.ap.downlink.rate_bps(device, t)
