"""What ``world_seed`` fixes: the infrastructure draws and the AI-model conditions (PEARL-DT §V).

A *condition* is the set of AI service functions (one per ED) with their model variants and data
methods. §V generates three random groups, upgrades the first twice and the second once (lower
complexity and memory, higher accuracy) and adds three random test conditions. Every group, upgrade
and test condition has its own named random stream, so changing one count never shifts the others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mecsim.rng import RandomStreams
from mecsim.systems.service_management.spec import AisfSpec, ServiceScenario, test_names

__all__ = ["Condition", "World", "build_world"]


@dataclass(frozen=True, eq=False)
class Condition:
    """The AiSFs of every ED under one AI-model condition. Arrays are (EDs, models) or (EDs, methods);
    model 0 is the lightest, the last the most complex; method 0 compresses most, the last is raw."""

    name: str
    split: str                      # train | test
    flop_per_bit: np.ndarray        # ρ^j_u, FLOP per input bit (eq. 3)
    memory_units: np.ndarray        # R^j_u in whole memory units (eq. 9, P2)
    accuracy_pct: np.ndarray        # a^j_u: accuracy at full data quality
    compression: np.ndarray         # α_{u,m} (eqs. 1-3); also the data quality G_{u,1} (eq. 6)
    quality_loss_pct: np.ndarray    # (EDs,): accuracy lost per unit of quality lost

    def accuracy(self, ed: np.ndarray, method: np.ndarray, model: np.ndarray) -> np.ndarray:
        """Eq. (6): G^j_{u,2}(G_{u,1}(m)) = a^j_u − loss_u · (1 − α_{u,m})."""
        return self.accuracy_pct[ed, model] - self.quality_loss_pct[ed] * (1.0 - self.compression[ed, method])


@dataclass(frozen=True, eq=False)
class World:
    """Fixed infrastructure draws and every condition, in ``ServiceScenario.condition_names`` order."""

    device_flops: np.ndarray        # (EDs,) P^f_u
    backhaul_bps: np.ndarray        # (APs, APs) symmetric, B_{h,h'} (eq. 2); inf on the diagonal
    backhaul_delay_s: np.ndarray    # (APs, APs) symmetric, δ_{h,h'}; 0 on the diagonal
    cloud_bps: np.ndarray           # (APs,) AP-to-cloud rate
    cloud_delay_s: np.ndarray       # (APs,) AP-to-cloud propagation delay
    conditions: tuple[Condition, ...]

    def condition(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise KeyError(f"unknown condition {name!r} (known: {', '.join(c.name for c in self.conditions)})")

    @property
    def train(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.split == "train")

    @property
    def test(self) -> tuple[Condition, ...]:
        return tuple(c for c in self.conditions if c.split == "test")


def _units(memory_bytes: np.ndarray, unit: float) -> np.ndarray:
    """Model memory in whole units, rounded up (so the knapsack never under-counts memory)."""
    return np.maximum(1, np.ceil(memory_bytes / unit - 1e-9)).astype(np.int64)


def _aisfs(spec: AisfSpec, n: int, unit: float, rng: np.random.Generator, name: str, split: str) -> Condition:
    """A fresh random group: one AiSF per ED, each attribute sorted so complexity grows with the index."""
    f, m = spec.models, spec.data_methods
    rho = np.sort(np.asarray(spec.flop_per_bit.sample(rng, n * f), float).reshape(n, f), axis=1)
    mem = np.sort(np.asarray(spec.memory_bytes.sample(rng, n * f), float).reshape(n, f), axis=1)
    acc = np.sort(np.asarray(spec.accuracy_pct.sample(rng, n * f), float).reshape(n, f), axis=1)
    acc[:, -1] = np.asarray(spec.top_accuracy_pct.sample(rng, n), float)
    alpha = np.ones((n, m))
    if m > 1:
        alpha[:, :-1] = np.sort(np.asarray(spec.compression.sample(rng, n * (m - 1)), float).reshape(n, m - 1), axis=1)
    loss = np.asarray(spec.quality_loss_pct.sample(rng, n), float)
    return Condition(name, split, rho, _units(mem, unit), acc, alpha, loss)


def _upgraded(base: Condition, sc: ServiceScenario, rng: np.random.Generator, name: str) -> Condition:
    """§V: an upgrade lowers complexity and memory and raises accuracy, by one random factor per AiSF
    (a common factor keeps the models' order)."""
    up, n = sc.conditions.upgrade, base.flop_per_bit.shape[0]
    flop = np.asarray(up.flop_factor.sample(rng, n), float)[:, None]
    mem = np.asarray(up.memory_factor.sample(rng, n), float)[:, None]
    gain = np.asarray(up.accuracy_gain_pct.sample(rng, n), float)[:, None]
    units = np.maximum(1, np.ceil(base.memory_units * mem - 1e-9)).astype(np.int64)
    return Condition(name, base.split, base.flop_per_bit * flop, units, np.minimum(base.accuracy_pct + gain, 100.0),
                     base.compression, base.quality_loss_pct)


def _pairs(dist, rng: np.random.Generator, h: int, diagonal: float) -> np.ndarray:
    out = np.full((h, h), diagonal)
    for a in range(h):
        for b in range(a + 1, h):
            out[a, b] = out[b, a] = float(dist.sample(rng))
    return out


def build_world(sc: ServiceScenario) -> World:
    """Everything ``world_seed`` fixes, drawn from named streams."""
    streams = RandomStreams(sc.world_seed)
    n, h, unit = sc.devices.count, len(sc.servers), sc.memory_unit_bytes
    conditions: list[Condition] = []
    for g, ups in enumerate(sc.conditions.upgrades, 1):
        cond = _aisfs(sc.aisf, n, unit, streams.get(f"aisf/g{g}"), f"g{g}", "train")
        conditions.append(cond)
        for k in range(1, ups + 1):
            cond = _upgraded(cond, sc, streams.get(f"upgrade/g{g}.u{k}"), f"g{g}.u{k}")
            conditions.append(cond)
    for name in test_names(sc.conditions):
        conditions.append(_aisfs(sc.aisf, n, unit, streams.get(f"aisf/{name}"), name, "test"))
    links = streams.get("backhaul")
    cloud = streams.get("cloud")
    return World(
        device_flops=np.asarray(sc.devices.flops.sample(streams.get("device_flops"), n), float),
        backhaul_bps=_pairs(sc.backhaul.rate_bps, links, h, math.inf),
        backhaul_delay_s=_pairs(sc.backhaul.delay_s, links, h, 0.0),
        cloud_bps=np.asarray(sc.cloud.rate_bps.sample(cloud, h), float),
        cloud_delay_s=np.asarray(sc.cloud.delay_s.sample(cloud, h), float),
        conditions=tuple(conditions),
    )
