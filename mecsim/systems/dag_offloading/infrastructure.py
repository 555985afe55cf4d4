"""The DAG system's physical world: devices, access points, edge servers, cloud, backhaul links.

Built from the engine's parts (:mod:`mecsim.net`, :mod:`mecsim.compute`); the task processes run over
these objects and never build resources themselves.
"""
from __future__ import annotations

import math
from typing import Generator

import networkx as nx
import numpy as np
import simpy

from mecsim.compute import Cloud, EdgeServer, processor
from mecsim.errors import ConfigError
from mecsim.mobility import RandomWaypoint, Static, TracePath
from mecsim.net.channel import RadioChannel, WiredLink
from mecsim.net.fading import Fading
from mecsim.net.handover import Handover
from mecsim.rng import RandomStreams
from mecsim.station import Station
from mecsim.systems.dag_offloading.spec import DagScenario

__all__ = ["Device", "AccessPoint", "Infrastructure"]


class Device:
    """A user device: a local CPU, a position that may move, fading towards each channel."""

    __slots__ = ("index", "name", "cpu", "mobility", "ap", "_fading", "_rng")

    def __init__(self, index: int, cpu: Station, mobility: Static | RandomWaypoint | TracePath, ap: AccessPoint,
                 rng: np.random.Generator) -> None:
        self.index, self.name, self.cpu, self.mobility = index, f"device{index}", cpu, mobility
        self.ap = ap
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

    def __init__(self, name: str, position: tuple[float, float], uplink: RadioChannel, downlink: RadioChannel):
        self.name, self.position, self.uplink, self.downlink = name, position, uplink, downlink


class Infrastructure:
    """All resources of a scenario, with named random streams for their randomness."""

    def __init__(self, env: simpy.Environment, scenario: DagScenario, streams: RandomStreams) -> None:
        self.env = env
        self.access_points = [
            AccessPoint(ap.name, ap.position,
                        RadioChannel(env, f"{ap.name}/uplink", ap.uplink, ap.position,
                                     streams.get(f"los/{ap.name}/up")),
                        RadioChannel(env, f"{ap.name}/downlink", ap.downlink, ap.position,
                                     streams.get(f"los/{ap.name}/down")))
            for ap in scenario.access_points]
        by_name = {ap.name: ap for ap in self.access_points}
        spec = scenario.devices
        place = streams.get("placement")
        mob = spec.mobility
        self.devices: list[Device] = []
        for d in range(spec.count):
            start = (float(spec.x.sample(place)), float(spec.y.sample(place)))
            mobility: Static | RandomWaypoint | TracePath
            if mob.model == "random_waypoint":
                mobility = RandomWaypoint(mob.area, mob.speed_mps, mob.pause_s, streams.get(f"mobility/{d}"), start)
            elif mob.model == "trace" and d in mob.trace:   # a device the trace leaves out stays put
                mobility = TracePath(mob.trace[d])
                start = mobility.position_at(0.0)
            else:
                mobility = Static(start)
            cpu = processor(env, f"device{d}/cpu", spec.cpu.cores, spec.cpu.speed_hz, spec.cpu.discipline)
            if spec.access_point == "nearest":
                ap = min(self.access_points, key=lambda a: math.dist(a.position, start))
            else:
                ap = by_name[spec.access_point]
            self.devices.append(Device(d, cpu, mobility, ap, streams.get(f"fading/{d}")))
        for ap in self.access_points:
            attached = [d for d in self.devices if d.ap is ap]
            ap.uplink.prime(attached)
            ap.downlink.prime(attached)
        self.handover = Handover(env, mob.handover, self.access_points, self.devices) \
            if mob.handover.rule != "none" else None
        self.servers = [EdgeServer(env, s, spec.count) for s in scenario.servers]
        self.cloud = Cloud(env, scenario.cloud, list(by_name)) if scenario.cloud else None
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
