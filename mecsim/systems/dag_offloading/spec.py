"""A DAG-offloading scenario as frozen, validated dataclasses (SI units: s, m, bit/s, byte, cycle/s, Hz).

Built by :mod:`mecsim.systems.dag_offloading.load` from YAML; every field is checked there, so the
engine can trust them. Field comments give the YAML key's meaning and unit. The radio and compute
parts are the engine's (:mod:`mecsim.net.spec`, :mod:`mecsim.compute.spec`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mecsim.compute.spec import CloudSpec, CpuSpec, ServerSpec
from mecsim.energy import EnergySpec
from mecsim.net.handover import HandoverSpec
from mecsim.net.spec import ChannelSpec
from mecsim.scenario.distributions import Distribution
from mecsim.workload.daggen import DaggenParams
from mecsim.workload.gv import AttributeMap

__all__ = ["MobilitySpec", "DeviceSpec", "AccessPointSpec", "LinkSpec", "DagSource", "ArrivalSpec",
           "DagWorkloadSpec", "CompatSpec", "DagScenario", "DECISIONS"]

DECISIONS = ("at_arrival", "when_ready")
"""When the controller is asked (``decisions``): every task of an application at its arrival, in schedule
order (the papers' setting), or each task when every one of its parents has finished executing."""


@dataclass(frozen=True)
class MobilitySpec:
    model: str = "static"           # static | random_waypoint | trace
    area: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (1000.0, 1000.0))
    speed_mps: tuple[float, float] = (1.0, 2.0)
    pause_s: float = 0.0
    # trace: device -> its (time s, x m, y m) samples, read from `file` (CSV time_s,device,x,y)
    trace: Mapping[int, tuple[tuple[float, float, float], ...]] = field(default_factory=dict)
    handover: HandoverSpec = HandoverSpec()


@dataclass(frozen=True)
class DeviceSpec:
    count: int
    cpu: CpuSpec
    x: Distribution
    y: Distribution
    mobility: MobilitySpec = MobilitySpec()
    access_point: str = "nearest"   # an access point's name, or nearest


@dataclass(frozen=True)
class AccessPointSpec:
    name: str
    position: tuple[float, float]
    uplink: ChannelSpec
    downlink: ChannelSpec




@dataclass(frozen=True)
class LinkSpec:
    a: str                          # access-point names; the link is full duplex
    b: str
    rate_bps: float
    delay_s: float = 0.0


@dataclass(frozen=True)
class DagSource:
    kind: str                       # folder | dataset | generate
    folder: Path | None = None      # folder: the folder of .gv files
    dataset: tuple[str, str] | None = None   # dataset: (name, folder inside its archive), mecsim.workload.datasets
    pattern: str = "*.gv"
    attributes: AttributeMap = AttributeMap()
    generator: DaggenParams | None = None
    count: int = 0                  # generate: number of graphs


@dataclass(frozen=True)
class ArrivalSpec:
    process: str = "back_to_back"   # back_to_back | poisson | list
    rate_hz: float | None = None    # poisson: per device, 1/s
    times_s: tuple[float, ...] = ()  # list: arrival times, s (every device)


@dataclass(frozen=True)
class DagWorkloadSpec:
    source: DagSource
    arrival: ArrivalSpec = ArrivalSpec()
    apps_per_device: int | None = None   # None: the graphs dealt round-robin over devices once
    pick: str = "sequential"        # sequential | random (which graph an arriving app runs)
    order: str = "auto"             # auto (controller's preference, else rank) | rank | recursive_rank | id
    task_memory_bytes: Distribution | None = None


@dataclass(frozen=True)
class CompatSpec:
    entry_upload_bypass: bool = False   # MRLCO authors' quirk, see analytic.py


@dataclass(frozen=True)
class DagScenario:
    name: str
    file: str
    seed: int
    system: str
    devices: DeviceSpec
    access_points: tuple[AccessPointSpec, ...]
    servers: tuple[ServerSpec, ...]
    workload: DagWorkloadSpec
    controller: str = "local"
    controller_params: Mapping[str, Any] = field(default_factory=dict)
    decisions: str = "at_arrival"   # at_arrival | when_ready (DECISIONS)
    cloud: CloudSpec | None = None
    links: tuple[LinkSpec, ...] = ()
    compat: CompatSpec = CompatSpec()
    horizon_s: float | None = None
    energy: EnergySpec | None = None    # None: no energy accounting (mecsim.energy)
