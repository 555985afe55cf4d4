"""The scenario as frozen, validated dataclasses (SI units throughout: s, m, bit/s, byte, cycle/s, Hz).

Built by :mod:`mecsim.scenario.load` from YAML; every field is checked there, so the engine can trust
them. Field comments give the YAML key's meaning and unit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mecsim.scenario.distributions import Distribution
from mecsim.workload.daggen import DaggenParams
from mecsim.workload.gv import AttributeMap

__all__ = ["PathLossSpec", "FadingSpec", "RateSpec", "ChannelSpec", "CpuSpec", "MobilitySpec",
           "DeviceSpec", "AccessPointSpec", "ServerSpec", "CloudSpec", "LinkSpec", "DagSource",
           "ArrivalSpec", "DagWorkloadSpec", "CompatSpec", "Scenario"]


@dataclass(frozen=True)
class PathLossSpec:
    model: str                      # free_space | log_distance | 3gpp_rma
    frequency_hz: float
    exponent: float = 3.0           # log_distance only
    reference_m: float = 1.0        # log_distance only
    condition: str = "expected"     # 3gpp_rma: los | nlos | expected | random (drawn per device)
    h_bs: float = 35.0              # 3gpp_rma: base-station height, m
    h_ut: float = 1.5               # 3gpp_rma: device height, m
    street_width: float = 20.0      # 3gpp_rma: W, m
    building_height: float = 5.0    # 3gpp_rma: h, m


@dataclass(frozen=True)
class FadingSpec:
    model: str = "none"             # none | rayleigh (block fading)
    coherence_s: float = 0.01       # rayleigh: block length, s


@dataclass(frozen=True)
class RateSpec:
    model: str                      # fixed | shannon
    bps: float | None = None        # fixed: rate, bit/s
    bandwidth_hz: float | None = None
    tx_power_dbm: float | None = None
    noise_dbm: float | None = None  # total noise power; else density + figure over the bandwidth
    noise_density_dbm_hz: float = -174.0
    noise_figure_db: float = 0.0
    pathloss: PathLossSpec | None = None
    fading: FadingSpec = FadingSpec()


@dataclass(frozen=True)
class ChannelSpec:
    rate: RateSpec
    sharing: str = "fifo"           # fifo | schedule_order | parallel | fdma
    packet_bytes: int | None = None  # None: a message is one transfer; else packets of this size
    update_s: float = 1.0           # mobile devices: how often the distance is re-read, s


@dataclass(frozen=True)
class CpuSpec:
    cores: int = 1
    speed_hz: float = 1e9           # per core, cycles/s
    discipline: str = "fifo"        # fifo | schedule_order | processor_sharing


@dataclass(frozen=True)
class MobilitySpec:
    model: str = "static"           # static | random_waypoint
    area: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (1000.0, 1000.0))
    speed_mps: tuple[float, float] = (1.0, 2.0)
    pause_s: float = 0.0


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
class ServerSpec:
    name: str
    access_point: str
    cores: int
    speed_hz: float                 # per core, cycles/s
    discipline: str = "fifo"
    vms: str = "dedicated"          # dedicated: one VM per device (MRLCO §3); shared: one pool of cores
    vm_speed_hz: float | None = None  # dedicated: default cores × speed_hz / devices (f_vm = f_s / k)
    memory_bytes: float | None = None
    memory_policy: str = "wait"     # wait | drop: a task that does not fit


@dataclass(frozen=True)
class CloudSpec:
    cores: int
    speed_hz: float
    rate_bps: float                 # wired link from every access point to the cloud
    delay_s: float = 0.0
    discipline: str = "fifo"


@dataclass(frozen=True)
class LinkSpec:
    a: str                          # access-point names; the link is full duplex
    b: str
    rate_bps: float
    delay_s: float = 0.0


@dataclass(frozen=True)
class DagSource:
    kind: str                       # folder | generate
    folder: Path | None = None
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
class Scenario:
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
    cloud: CloudSpec | None = None
    links: tuple[LinkSpec, ...] = ()
    compat: CompatSpec = CompatSpec()
    horizon_s: float | None = None
