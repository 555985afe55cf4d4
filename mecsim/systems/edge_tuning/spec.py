"""The edge fine-tuning scenario (HMPPO paper §II-III, §VI-A) as a frozen, validated spec.

Defaults are the paper's §VI-A settings where it gives them; where it is silent the value is chosen
here and says so. Units: data in MB (10⁶ bytes), the model in GB (10⁹ bytes), power in W, bandwidth
in Hz, distances in m, times in s. A scenario file reads (every key optional but ``name`` and
``system``)::

    name: hmppo-n6
    system: edge_tuning
    ues: 6                       # N, 6-9 in §VI-A
    tasks: 50                    # T per UE (§VI-A)
    data_mb: {uniform: [300, 500]}
    complexity: {uniform: [10, 30]}
    model_gb: 10.8
    emulator: {min: 0.2, max: 0.8, layers: 20, perplexity: [25.2, -43.1, 31.9], complexity_weight: 10}
    uplink: {bandwidth_hz: 1.0e5, power_w: {uniform: [0.2, 1.0]}}
    downlink: {bandwidth_hz: 1.0e6, power_w: 60}
    channel: {distance_m: {uniform: [50, 200]}, pathloss_exponent: 2, frequency_hz: 2.4e9,
              noise_density_dbm_hz: -174, fading: rayleigh, coherence_s: 0.01}
    compute: {server_s_per_mb: 0, ue_s_per_mb: 0}
    reward: {perplexity_weight: 0.5, delay_weight: 0.5, perplexity_ref: 10, delay_ref_s: 3600}
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mecsim.energy import EnergySpec, read_energy
from mecsim.scenario.checks import Node, must
from mecsim.scenario.distributions import Distribution, Uniform, read_distribution
from mecsim.scenario.source import Document

__all__ = ["EmulatorSpec", "RadioSpec", "ComputeSpec", "RewardSpec", "EdgeTuningSpec", "load"]


@dataclass(frozen=True)
class EmulatorSpec:
    """The emulator (layer-drop compressed foundation model) and the accuracy model f(E) of §VI-A."""

    min: float = 0.2
    """lowest retention E (§VI-A: 0.2)"""
    max: float = 0.8
    """highest retention E (§VI-A: 0.8)"""
    layers: int = 20
    """E is applied as round(E·layers) kept layers of `layers`: Offsite-Tuning's layer-drop sweep keeps
    k of 20 middle layers (retention k/20), which makes eq. (4)'s E_t = E_{t-1} a well-defined test for a
    continuous action (paper silent)"""
    perplexity: tuple[float, float, float] = (25.2, -43.1, 31.9)
    """f(E) = a·E² + b·E + c, the §VI-A curve fit; the server trains the full model, f(1) (eq. 9)"""
    complexity_weight: float = 10.0
    """ι in κ = f(E)·(c + ι)/c (§VI-A)"""

    @property
    def layer_range(self) -> tuple[int, int]:
        """The kept-layer counts allowed by [min, max]."""
        return math.ceil(self.min * self.layers - 1e-9), math.floor(self.max * self.layers + 1e-9)


@dataclass(frozen=True)
class RadioSpec:
    """FDMA uplink and downlink over path loss and Rayleigh block fading (§II eqs. 2, 3, 6, 7; §VI-A)."""

    uplink_hz: float = 1e5
    """W_u, shared equally by the uploading UEs (eq. 3, §VI-A: 1e5 Hz)"""
    uplink_power_w: Distribution = Uniform(0.2, 1.0)
    """p_u per task (§VI-A: uniform 200 mW - 1 W)"""
    downlink_hz: float = 1e6
    """W_d, shared equally by the downloading UEs (eq. 7, §VI-A: 1e6 Hz)"""
    downlink_power_w: float = 60.0
    """P_d, shared equally like the bandwidth (eq. 7, §VI-A: 60 W)"""
    distance_m: Distribution = Uniform(50.0, 200.0)
    """UE-server distance, drawn once per UE and episode (paper silent)"""
    pathloss_exponent: float = 2.0
    """α (§VI-A: 2), log-distance model from the free-space loss at 1 m"""
    frequency_hz: float = 2.4e9
    """carrier frequency for the 1 m free-space reference loss (paper silent)"""
    noise_density_dbm_hz: float = -174.0
    """σ² as thermal noise density (paper silent)"""
    fading: str = "rayleigh"
    """"rayleigh" (§VI-A) or "none"; rates are the exact ergodic rate over the blocks"""
    coherence_s: float = 0.01
    """Rayleigh block length (§VI-A: 10 ms)"""


@dataclass(frozen=True)
class ComputeSpec:
    """Fine-tuning run times; the paper counts only communication delay (eq. 8), hence 0 by default."""

    server_s_per_mb: float = 0.0
    """server training time per MB of local data"""
    ue_s_per_mb: float = 0.0
    """UE training time per MB of local data at E = 1 (scaled by the kept share E)"""


@dataclass(frozen=True)
class RewardSpec:
    """§IV-C: R_t = −w_p·mean_n(κ)/κ_ref − w_d·max_n(d)/d_ref, with w_p + w_d = 1.

    The paper gives only the signs (ω_p, ω_d < 0). Dividing by references makes both terms
    dimensionless and O(1) (perplexity ~14-40, delays ~10³-10⁴ s), and the weights then say how much
    each matters; 0.5/0.5, κ_ref = 10 and d_ref = 1 h are this project's choice.
    """

    perplexity_weight: float = 0.5
    delay_weight: float = 0.5
    perplexity_ref: float = 10.0
    delay_ref_s: float = 3600.0


@dataclass(frozen=True)
class EdgeTuningSpec:
    """A validated edge_tuning scenario (see the module docstring for the file format)."""

    name: str
    file: str
    seed: int
    system: str
    controller: str
    controller_params: dict[str, Any]
    horizon_s: float | None
    ues: int
    """N (§VI-A: 6-9)"""
    tasks: int
    """T tasks in every UE's buffer, one per step (§VI-A: 50)"""
    data_mb: Distribution
    """D per task (§VI-A: uniform 300-500 MB)"""
    complexity: Distribution
    """c per task (paper silent): uniform 10-30 puts Random's mean perplexity, f(E)·(c+10)/c with
    z ~ Bernoulli(½), E ~ U[0.2, 0.8], at about 24, as in Table I's Random rows (23.96-25.33)"""
    model_gb: float
    """D_FM, the foundation model (§VI-A: 10.8 GB, GPT-3 2.7B); an emulator is E·D_FM (eq. 5)"""
    emulator: EmulatorSpec
    radio: RadioSpec
    compute: ComputeSpec
    reward: RewardSpec
    energy: EnergySpec | None = None
    """the ``energy:`` block (None: no energy accounting), see mecsim.systems.edge_tuning.energy"""


def _positive(node: Node, key: str, default: Distribution) -> Distribution:
    """A distribution whose every value is > 0 (a divisor or a size)."""
    dist = read_distribution(node, key, default, min=0)
    must(dist.support()[0] > 0, node, key, f"must stay > 0, got a distribution reaching {dist.support()[0]:g}")
    return dist


def _emulator(node: Node) -> EmulatorSpec:
    node.allow("min", "max", "layers", "perplexity", "complexity_weight")
    low = node.float("min", 0.2, min=0, max=1, min_open=True)
    high = node.float("max", 0.8, min=0, max=1)
    must(low <= high, node, "max", f"must be >= emulator.min ({low:g}), got {high:g}")
    spec = EmulatorSpec(low, high, node.int("layers", 20, min=1),
                        node.float_list("perplexity", [25.2, -43.1, 31.9], length=3),  # type: ignore[arg-type]
                        node.float("complexity_weight", 10.0, min=0))
    first, last = spec.layer_range
    must(first <= last, node, "layers", f"must put at least one multiple of 1/layers in [{low:g}, {high:g}], "
         f"got {spec.layers}")
    a, b, c = spec.perplexity
    grid = [k / spec.layers for k in range(first, last + 1)] + [1.0]
    worst = min(a * e * e + b * e + c for e in grid)
    must(worst > 0, node, "perplexity", f"f(E) must be > 0 for every emulator and E = 1, got {worst:g}")
    return spec


def _radio(root: Node) -> RadioSpec:
    up = root.mapping("uplink", default={}).allow("bandwidth_hz", "power_w")
    down = root.mapping("downlink", default={}).allow("bandwidth_hz", "power_w")
    ch = root.mapping("channel", default={})
    fading = ch.variant("fading", {"rayleigh": ("coherence_s",), "none": ()}, "rayleigh",
                        common=("distance_m", "pathloss_exponent", "frequency_hz", "noise_density_dbm_hz"))
    return RadioSpec(
        uplink_hz=up.float("bandwidth_hz", 1e5, min=0, min_open=True),
        uplink_power_w=_positive(up, "power_w", Uniform(0.2, 1.0)),
        downlink_hz=down.float("bandwidth_hz", 1e6, min=0, min_open=True),
        downlink_power_w=down.float("power_w", 60.0, min=0, min_open=True),
        distance_m=_positive(ch, "distance_m", Uniform(50.0, 200.0)),
        pathloss_exponent=ch.float("pathloss_exponent", 2.0, min=0, min_open=True),
        frequency_hz=ch.float("frequency_hz", 2.4e9, min=0, min_open=True),
        noise_density_dbm_hz=ch.float("noise_density_dbm_hz", -174.0),
        fading=fading,
        coherence_s=ch.float("coherence_s", 0.01, min=0, min_open=True),
    )


def load(doc: Document, base: Path = Path(".")) -> EdgeTuningSpec:
    """The edge_tuning spec of a scenario document; errors cite FILE:LINE: key.path."""
    root = Node(doc).allow("name", "seed", "system", "horizon_s", "controller", "controller_params", "ues",
                           "tasks", "data_mb", "complexity", "model_gb", "emulator", "uplink", "downlink",
                           "channel", "compute", "reward", "energy")
    compute = root.mapping("compute", default={}).allow("server_s_per_mb", "ue_s_per_mb")
    reward = root.mapping("reward", default={}).allow("perplexity_weight", "delay_weight", "perplexity_ref",
                                                      "delay_ref_s")
    w_p = reward.float("perplexity_weight", 0.5, min=0, max=1)
    w_d = reward.float("delay_weight", 0.5, min=0, max=1)
    must(abs(w_p + w_d - 1.0) <= 1e-9, reward, "delay_weight",
         f"must make perplexity_weight + delay_weight = 1 (normalised weights), got {w_p:g} + {w_d:g}")
    return EdgeTuningSpec(
        name=root.str("name"),
        file=doc.file,
        seed=root.int("seed", 0, min=0),
        system="edge_tuning",
        controller=root.str("controller", "random_tuning"),
        controller_params=dict(root.mapping("controller_params", default={}).value or {}),
        horizon_s=root.float("horizon_s", None, min=0, min_open=True, allow_none=True),
        ues=root.int("ues", 6, min=1),
        tasks=root.int("tasks", 50, min=1),
        data_mb=_positive(root, "data_mb", Uniform(300.0, 500.0)),
        complexity=_positive(root, "complexity", Uniform(10.0, 30.0)),
        model_gb=root.float("model_gb", 10.8, min=0, min_open=True),
        emulator=_emulator(root.mapping("emulator", default={})),
        radio=_radio(root),
        compute=ComputeSpec(compute.float("server_s_per_mb", 0.0, min=0), compute.float("ue_s_per_mb", 0.0, min=0)),
        reward=RewardSpec(w_p, w_d, reward.float("perplexity_ref", 10.0, min=0, min_open=True),
                          reward.float("delay_ref_s", 3600.0, min=0, min_open=True)),
        energy=read_energy(root, ("idle_w", "rx_w", "train_w"), servers=False),
    )
