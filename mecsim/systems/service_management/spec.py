"""The service-management scenario (PEARL-DT §II, §V) as frozen, validated dataclasses.

Everything random is a distribution from :mod:`mecsim.scenario.distributions`; the defaults below
are the paper's Table I and §V values, and the default scenario file
(``mecsim/envs/service_management.yaml``) writes them out. Units are SI: bytes, bits per second,
seconds, FLOP per second, Hz, dBm; accuracies are percentages. Where the paper is silent the choice
is named in a comment here and in the scenario files.

Two seeds: ``seed`` drives what changes from run to run (the ED states of every slot), while
``world_seed`` fixes the system itself (backhaul rates and delays, device speeds, cloud links, and
the AI-model conditions), so a policy trained on a condition meets the same condition later.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from mecsim.energy import EnergySpec, read_energy
from mecsim.scenario.checks import Node, must
from mecsim.scenario.distributions import Constant, Distribution, Normal, Uniform, read_distribution
from mecsim.net.pathloss import Condition
from mecsim.net.spec import PathLossSpec
from mecsim.scenario.source import Document

__all__ = ["DeviceSpec", "ServerSpec", "LinkSpec", "CloudSpec", "AisfSpec", "UpgradeSpec",
           "ConditionsSpec", "TimelineEntry", "ServiceScenario", "TWIN_STATES", "load", "train_names", "test_names"]


@dataclass(frozen=True)
class DeviceSpec:
    """The EDs and the per-slot distributions of their state (eq. 16) and requests."""

    count: int = 80                                               # §V: 80 EDs
    flops: Distribution = Uniform(5e9, 10e9)                      # P^f_u of eq. (5): paper silent
    tx_power_dbm: float = 20.0                                    # §IV-C: p_u ≡ 20 dBm
    bandwidth_hz: Distribution = Uniform(16e6, 56e6)              # Table I: B_u ∈ [2, 7] × 8 MHz
    noise_dbm: Distribution = Uniform(-120.0, -80.0)              # Table I: N_u
    distance_m: Distribution = Uniform(30.0, 100.0)               # Table I: Υ_2d
    task_bytes: Distribution = Uniform(1.0e6, 1.5e6)              # Table I: V^T ∈ [1000, 1500] KB
    result_bytes: Distribution = Uniform(1.0e4, 2.0e4)            # Table I: V^R ∈ [10, 20] KB
    accuracy_pct: Distribution = Normal(70.0, 5.0, 50.0, 85.0)    # §V: τ ~ N(70, 5²), clipped


@dataclass(frozen=True)
class ServerSpec:
    """One edge server, co-located with one AP (§II-A); §V lists four."""

    flops: float
    memory_bytes: float
    cores: int


@dataclass(frozen=True)
class LinkSpec:
    """AP-to-AP backhaul (eq. 2): rate B_{h,h'} and propagation delay δ_{h,h'}, drawn per AP pair.

    ``sharing`` ``parallel`` gives every transfer the full rate, as eq. (2) assumes; ``fifo`` makes
    transfers on one link queue (beyond the paper)."""

    rate_bps: Distribution = Uniform(80e6, 200e6)                 # Table I: B_ij ∈ [8, 20] × 10 Mbps
    delay_s: Distribution = Uniform(0.010, 0.020)                 # Table I: δ_ij ∈ [10, 20] ms
    sharing: str = "parallel"


@dataclass(frozen=True)
class CloudSpec:
    """The cloud: each AiSF there runs the most complex model at 400 GFLOPS (§V). The AP-to-cloud
    path is not given in the paper; it is modelled like eq. (2) with its own rate and delay."""

    flops: float = 400e9
    rate_bps: Distribution = Constant(50e6)
    delay_s: Distribution = Constant(0.050)


@dataclass(frozen=True)
class AisfSpec:
    """How an AI service function's model variants and data methods are drawn (Table I ranges).

    Models are sorted so that index 0 is the lightest and the last the most complex: FLOP per bit ρ,
    memory R and full-quality accuracy all grow with the index (§II-B "a more complex model typically
    makes higher accuracy and computation complexity"). Data methods are sorted by compression
    ratio α; the last is the raw data (α = 1). Data quality is α (eq. 6: quality depends only on the
    compression scale); accuracy of model j at quality q is a_j − loss · (1 − q) (paper silent on
    the mapping G; linear and monotone is the simplest that respects §II-B).
    """

    models: int = 3
    data_methods: int = 3
    flop_per_bit: Distribution = Uniform(300.0, 3000.0)           # Table I: ρ_u
    memory_bytes: Distribution = Uniform(256e6, 2048e6)           # Table I: R_u
    accuracy_pct: Distribution = Uniform(55.0, 85.0)              # a_j of the lighter models
    top_accuracy_pct: Distribution = Uniform(88.0, 96.0)          # a_j of the most complex model
    compression: Distribution = Uniform(0.5, 1.0)                 # Table I: α_u ∈ [50, 100] %
    quality_loss_pct: Distribution = Uniform(20.0, 40.0)          # accuracy points lost at q = 0


@dataclass(frozen=True)
class UpgradeSpec:
    """One model upgrade (§V: lower complexity and memory, higher accuracy), drawn per AiSF."""

    flop_factor: Distribution = Uniform(0.6, 0.9)
    memory_factor: Distribution = Uniform(0.6, 0.9)
    accuracy_gain_pct: Distribution = Uniform(1.0, 4.0)


@dataclass(frozen=True)
class ConditionsSpec:
    """§V: three random groups of AiSFs, the first upgraded twice and the second once (six training
    conditions ``g1, g1.u1, g1.u2, g2, g2.u1, g3``), and three further random ones for testing
    (``t1, t2, t3``)."""

    upgrades: tuple[int, ...] = (2, 1, 0)     # one entry per group: how many times it is upgraded
    test: int = 3
    upgrade: UpgradeSpec = UpgradeSpec()


@dataclass(frozen=True)
class TimelineEntry:
    """From ``at_s`` on, the physical system runs condition ``condition`` (an AI-model upgrade)."""

    at_s: float
    condition: str


@dataclass(frozen=True)
class ServiceScenario:
    """A validated service-management scenario (the ``service_management`` system)."""

    name: str
    file: str
    seed: int
    world_seed: int
    controller: str
    controller_params: dict[str, Any]
    horizon_s: float | None
    slots: int
    slot_s: float
    episode_slots: int
    devices: DeviceSpec
    servers: tuple[ServerSpec, ...]
    pathloss: PathLossSpec
    backhaul: LinkSpec
    cloud: CloudSpec
    memory_unit_bytes: float
    aisf: AisfSpec
    conditions: ConditionsSpec
    timeline: tuple[TimelineEntry, ...]
    twin_states: str = "generated"
    """Where a digital twin's slot states come from (``twins.states``): ``generated`` from the
    scenario's distributions, ``observed`` from the pool observed in the physical system (twins.py)."""
    system: str = "service_management"
    energy: EnergySpec | None = None
    """the ``energy:`` block (None: no energy accounting), see mecsim.systems.service_management.energy"""

    @property
    def condition_names(self) -> tuple[str, ...]:
        """Training conditions (in upgrade order), then the test conditions."""
        return train_names(self.conditions) + test_names(self.conditions)


def train_names(spec: ConditionsSpec) -> tuple[str, ...]:
    names = []
    for g, ups in enumerate(spec.upgrades, 1):
        names += [f"g{g}"] + [f"g{g}.u{k}" for k in range(1, ups + 1)]
    return tuple(names)


def test_names(spec: ConditionsSpec) -> tuple[str, ...]:
    return tuple(f"t{k}" for k in range(1, spec.test + 1))


TWIN_STATES = ("generated", "observed")
"""The values of ``twins.states`` (see :attr:`ServiceScenario.twin_states`)."""


# -- loading ---------------------------------------------------------------------------------------

_PAPER_SERVERS = [{"flops": 60e9, "memory_bytes": 24e9, "cores": 10},   # §V: P^f_h, R_h, P^n_h
                  {"flops": 80e9, "memory_bytes": 24e9, "cores": 24},
                  {"flops": 100e9, "memory_bytes": 32e9, "cores": 16},
                  {"flops": 120e9, "memory_bytes": 32e9, "cores": 32}]
"""the default `servers`, as a scenario file writes them"""


def _devices(node: Node) -> DeviceSpec:
    d = DeviceSpec()
    node.allow("count", "flops", "tx_power_dbm", "bandwidth_hz", "noise_dbm", "distance_m", "task_bytes",
               "result_bytes", "accuracy_pct")
    return DeviceSpec(
        count=node.int("count", d.count, min=1),
        flops=read_distribution(node, "flops", d.flops, min=1.0),
        tx_power_dbm=node.float("tx_power_dbm", d.tx_power_dbm),
        bandwidth_hz=read_distribution(node, "bandwidth_hz", d.bandwidth_hz, min=1.0),
        noise_dbm=read_distribution(node, "noise_dbm", d.noise_dbm, max=0.0),
        distance_m=read_distribution(node, "distance_m", d.distance_m, min=1.0, max=10_000.0),
        task_bytes=read_distribution(node, "task_bytes", d.task_bytes, min=1.0),
        result_bytes=read_distribution(node, "result_bytes", d.result_bytes, min=0.0),
        accuracy_pct=read_distribution(node, "accuracy_pct", d.accuracy_pct, min=0.0, max=100.0),
    )


def _server(node: Node, largest_model: float) -> ServerSpec:
    node.allow("flops", "memory_bytes", "cores")
    server = ServerSpec(node.float("flops", min=0, min_open=True), node.float("memory_bytes", min=0, min_open=True),
                        node.int("cores", min=1))
    must(server.memory_bytes >= largest_model, node, "memory_bytes",
         f"must hold the largest model (aisf.memory_bytes up to {largest_model:g}), got {server.memory_bytes:g}")
    return server


def _pathloss(node: Node) -> PathLossSpec:
    """The 3GPP TR 38.901 RMa model (§II-B: "a 5G path loss model in rural areas")."""
    node.allow("frequency_hz", "condition", "h_bs", "h_ut", "street_width", "building_height")
    freq = node.float("frequency_hz", 3.5e9)
    must(0.5e9 <= freq <= 30e9, node, "frequency_hz",
         f"must be in [5e8, 3e10] Hz for 3gpp_rma (TR 38.901), got {freq:g}. Hint: the unit is Hz, not GHz")
    condition = cast(Condition, node.str("condition", "expected", choices=("los", "nlos", "expected", "random")))
    return PathLossSpec("3gpp_rma", freq, condition=condition,
                        h_bs=node.float("h_bs", 35.0, min=0, min_open=True),
                        h_ut=node.float("h_ut", 1.5, min=0, min_open=True),
                        street_width=node.float("street_width", 20.0, min=0, min_open=True),
                        building_height=node.float("building_height", 5.0, min=0, min_open=True))


def _backhaul(node: Node) -> LinkSpec:
    d = LinkSpec()
    node.allow("rate_bps", "delay_s", "sharing")
    return LinkSpec(read_distribution(node, "rate_bps", d.rate_bps, min=1.0),
                    read_distribution(node, "delay_s", d.delay_s, min=0.0),
                    node.str("sharing", d.sharing, choices=("parallel", "fifo")))


def _cloud(node: Node) -> CloudSpec:
    d = CloudSpec()
    node.allow("flops", "rate_bps", "delay_s")
    return CloudSpec(node.float("flops", d.flops, min=0, min_open=True),
                     read_distribution(node, "rate_bps", d.rate_bps, min=1.0),
                     read_distribution(node, "delay_s", d.delay_s, min=0.0))


def _aisf(node: Node) -> AisfSpec:
    d = AisfSpec()
    node.allow("models", "data_methods", "flop_per_bit", "memory_bytes", "accuracy_pct", "top_accuracy_pct",
               "compression", "quality_loss_pct")
    spec = AisfSpec(
        models=node.int("models", d.models, min=1, max=16),
        data_methods=node.int("data_methods", d.data_methods, min=1, max=16),
        flop_per_bit=read_distribution(node, "flop_per_bit", d.flop_per_bit, min=1e-9),
        memory_bytes=read_distribution(node, "memory_bytes", d.memory_bytes, min=1.0),
        accuracy_pct=read_distribution(node, "accuracy_pct", d.accuracy_pct, min=0.0, max=100.0),
        top_accuracy_pct=read_distribution(node, "top_accuracy_pct", d.top_accuracy_pct, min=0.0, max=100.0),
        compression=read_distribution(node, "compression", d.compression, min=1e-6, max=1.0),
        quality_loss_pct=read_distribution(node, "quality_loss_pct", d.quality_loss_pct, min=0.0, max=100.0),
    )
    must(spec.models == 1 or spec.accuracy_pct.support()[1] <= spec.top_accuracy_pct.support()[0], node,
         "accuracy_pct", f"must stay <= the lowest top_accuracy_pct ({spec.top_accuracy_pct.support()[0]:g}) so the "
         f"most complex model is the most accurate, got up to {spec.accuracy_pct.support()[1]:g}")
    return spec


def _conditions(node: Node) -> ConditionsSpec:
    d = ConditionsSpec()
    node.allow("upgrades", "test", "upgrade")
    ups = tuple(item.int(None, min=0, max=20) for item in node.items("upgrades", list(d.upgrades), min_len=1))
    up = node.mapping("upgrade", default={}).allow("flop_factor", "memory_factor", "accuracy_gain_pct")
    du = UpgradeSpec()
    return ConditionsSpec(
        upgrades=ups, test=node.int("test", d.test, min=0, max=50),
        upgrade=UpgradeSpec(read_distribution(up, "flop_factor", du.flop_factor, min=1e-6, max=1.0),
                            read_distribution(up, "memory_factor", du.memory_factor, min=1e-6, max=1.0),
                            read_distribution(up, "accuracy_gain_pct", du.accuracy_gain_pct, min=0.0, max=100.0)))


def _entry(node: Node, names: tuple[str, ...]) -> TimelineEntry:
    node.allow("at_s", "condition")
    return TimelineEntry(node.float("at_s", min=0), node.str("condition", choices=names, refers="a condition name: gG or gG.uK (training), or a test condition"))


def load(doc: Document, base: Path = Path(".")) -> ServiceScenario:
    """The scenario of a document whose ``system`` is ``service_management`` (``base``, the file's
    folder in the systems contract, is unused: this scenario refers to no other file)."""
    root = Node(doc).allow("name", "seed", "world_seed", "system", "controller", "controller_params", "horizon_s",
                           "slots", "slot_s", "episode_slots", "devices", "servers", "pathloss", "backhaul",
                           "cloud", "memory_unit_bytes", "aisf", "conditions", "timeline", "twins", "energy")
    devices = _devices(root.mapping("devices", default={}))
    aisf = _aisf(root.mapping("aisf", default={}))
    must(devices.accuracy_pct.support()[1] <= aisf.top_accuracy_pct.support()[0], root.mapping("devices", default={}),
         "accuracy_pct", f"must stay <= the lowest aisf.top_accuracy_pct ({aisf.top_accuracy_pct.support()[0]:g}) so "
         f"the accuracy repair (§IV-B) can always meet it, got up to {devices.accuracy_pct.support()[1]:g}. "
         "Hint: clip the normal, e.g. clip: [50, 85]")
    largest = aisf.memory_bytes.support()[1]
    servers = tuple(_server(n, largest) for n in root.items("servers", _PAPER_SERVERS, min_len=1))
    conditions = _conditions(root.mapping("conditions", default={}))
    names = train_names(conditions) + test_names(conditions)
    # by default the first training condition for the whole run
    timeline = tuple(_entry(item, names) for item in root.items("timeline", [{"at_s": 0, "condition": names[0]}],
                                                                   min_len=1))
    times = [e.at_s for e in timeline]
    must(times[0] == 0.0, root, "timeline", f"must start with an entry at_s: 0, got at_s: {times[0]:g}")
    must(all(a < b for a, b in zip(times, times[1:])), root, "timeline",
         f"at_s must be strictly increasing, got {times}")
    return ServiceScenario(
        name=root.str("name"),
        file=doc.file,
        seed=root.int("seed", 0, min=0),
        world_seed=root.int("world_seed", 0, min=0),
        controller=root.str("controller", "random"),
        controller_params=dict(root.mapping("controller_params", default={}).value or {}),
        horizon_s=root.float("horizon_s", None, min=0, min_open=True, allow_none=True),
        slots=root.int("slots", 20, min=1),
        slot_s=root.float("slot_s", 1.0, min=0, min_open=True),
        episode_slots=root.int("episode_slots", 20, min=1),
        devices=devices,
        servers=servers,
        pathloss=_pathloss(root.mapping("pathloss", default={})),
        backhaul=_backhaul(root.mapping("backhaul", default={})),
        cloud=_cloud(root.mapping("cloud", default={})),
        memory_unit_bytes=root.float("memory_unit_bytes", 128e6, min=1.0),
        aisf=aisf,
        conditions=conditions,
        timeline=tuple(timeline),
        twin_states=root.mapping("twins", default={}).allow("states").str("states", "generated",
                                                                           choices=TWIN_STATES),
        energy=read_energy(root, ("kappa", "idle_w", "rx_w")),
    )
