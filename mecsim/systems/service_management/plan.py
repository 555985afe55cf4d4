"""From one slot's decision to what every request does: the closed forms of PEARL-DT eqs. (1)-(6),
the accuracy repair of §IV-B and the per-server user selection P2 (eq. 15).

The closed forms are the SMC's *estimates* (d^E, d^C in eq. 15) and the test oracle of the DES in
:mod:`mecsim.systems.service_management.system`, which realises the same quantities as activities.
Placements are coded 0 = local, h = edge server h (1-based, the TA index of eq. 18), H + 1 = cloud.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mecsim.knapsack import knapsack
from mecsim.net import pathloss as pl
from mecsim.scenario.distributions import Distribution
from mecsim.systems.service_management.spec import ServiceScenario
from mecsim.systems.service_management.world import Condition, World

__all__ = ["SlotState", "Plan", "draw_state", "uplink_s", "forward_s", "inference_s", "local_s", "edge_s",
           "cloud_s", "repair", "implement"]


@dataclass(frozen=True, eq=False)
class SlotState:
    """The ED states of one slot (eq. 16) and their requests; arrays over EDs."""

    ap: np.ndarray              # RAN_u: index of the AP the ED is attached to (0-based)
    bandwidth_hz: np.ndarray    # B_u
    noise_dbm: np.ndarray       # N_u
    distance_m: np.ndarray      # Υ_u
    task_bytes: np.ndarray      # V^T_u
    result_bytes: np.ndarray    # V^R_u
    required_pct: np.ndarray    # τ_u
    rate_bps: np.ndarray        # the uplink rate of eq. (1), B_u log2(1 + p_u g_u / N_u)

    def subset(self, index: np.ndarray) -> "SlotState":
        return SlotState(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


def _draw(dist: Distribution, rng: np.random.Generator, n: int) -> np.ndarray:
    return np.asarray(dist.sample(rng, n), dtype=float)


def draw_state(sc: ServiceScenario, rng: np.random.Generator, channel: np.random.Generator) -> SlotState:
    """§V: "at each time, we randomly generate states of the EDs according to uniform distributions",
    τ from its normal. The RAN is uniform over the APs (paper silent). The uplink rate uses the
    TR 38.901 RMa path loss at the ED's distance (§II-B) and p_u = 20 dBm (§IV-C)."""
    d, n = sc.devices, sc.devices.count
    ap = rng.integers(len(sc.servers), size=n)
    bw, noise, dist = _draw(d.bandwidth_hz, rng, n), _draw(d.noise_dbm, rng, n), _draw(d.distance_m, rng, n)
    vt, vr, tau = _draw(d.task_bytes, rng, n), _draw(d.result_bytes, rng, n), _draw(d.accuracy_pct, rng, n)
    p = sc.pathloss
    loss = np.asarray(pl.rma_db(dist, p.frequency_hz, p.h_bs, p.h_ut, p.street_width, p.building_height,
                                condition=p.condition, rng=channel), float)
    rate = np.asarray(pl.shannon_rate_bps(bw, pl.dbm_to_w(d.tx_power_dbm), 10.0 ** (-loss / 10.0),
                                          pl.dbm_to_w(noise)), float)
    return SlotState(ap, bw, noise, dist, vt, vr, tau, rate)


# -- closed forms (eqs. 1-5); vectorised over EDs --------------------------------------------------

def _up_bits(state: SlotState, cond: Condition, ed: np.ndarray, method: np.ndarray) -> np.ndarray:
    return 8.0 * state.task_bytes[ed] * cond.compression[ed, method]


def uplink_s(state: SlotState, cond: Condition, ed: np.ndarray, method: np.ndarray) -> np.ndarray:
    """Eq. (1): d^c_u = (V^T α + V^R) / (B_u log2(1 + p g / N)); the result travels at the same rate."""
    return (_up_bits(state, cond, ed, method) + 8.0 * state.result_bytes[ed]) / state.rate_bps[ed]


def forward_s(world: World, state: SlotState, cond: Condition, ed: np.ndarray, method: np.ndarray,
              server: np.ndarray) -> np.ndarray:
    """Eq. (2): d^f_u = (V^T α + V^R) / B_{h,h'} + δ_{h,h'}; zero when h = h' (``server`` 0-based)."""
    h0 = state.ap[ed]
    bits = _up_bits(state, cond, ed, method) + 8.0 * state.result_bytes[ed]
    return bits / world.backhaul_bps[h0, server] + world.backhaul_delay_s[h0, server]


def inference_s(state: SlotState, cond: Condition, ed: np.ndarray, method: np.ndarray, model: np.ndarray,
                flops: np.ndarray | float) -> np.ndarray:
    """Eq. (3): d^p_u = V^T α ρ^j / P_u (FLOP per bit times bits over FLOP per second)."""
    return _up_bits(state, cond, ed, method) * cond.flop_per_bit[ed, model] / flops


def local_s(world: World, state: SlotState, cond: Condition, ed: np.ndarray, method: np.ndarray) -> np.ndarray:
    """Eq. (5), first case: the lightest model on the ED, no communication."""
    return inference_s(state, cond, ed, method, np.zeros_like(ed), world.device_flops[ed])


def edge_s(sc: ServiceScenario, world: World, state: SlotState, cond: Condition, ed: np.ndarray,
           method: np.ndarray, model: np.ndarray, server: np.ndarray) -> np.ndarray:
    """Eq. (5), second case, on edge server `server` (0-based) with P_u = P^f_h (eq. 4): d^E of P2."""
    flops = np.array([s.flops for s in sc.servers])[server]
    return (uplink_s(state, cond, ed, method) + forward_s(world, state, cond, ed, method, server)
            + inference_s(state, cond, ed, method, model, flops))


def cloud_s(sc: ServiceScenario, world: World, state: SlotState, cond: Condition, ed: np.ndarray,
            method: np.ndarray) -> np.ndarray:
    """d^C of P2: uplink, the AP-to-cloud path (modelled like eq. 2), the most complex model at the
    cloud's speed (§V)."""
    h0 = state.ap[ed]
    bits = _up_bits(state, cond, ed, method) + 8.0 * state.result_bytes[ed]
    top = np.full_like(ed, cond.flop_per_bit.shape[1] - 1)
    return (uplink_s(state, cond, ed, method) + bits / world.cloud_bps[h0] + world.cloud_delay_s[h0]
            + inference_s(state, cond, ed, method, top, sc.cloud.flops))


# -- the decision's implementation -----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Plan:
    """What each ED's request does this slot (arrays over EDs)."""

    method: np.ndarray          # data method (DS) after repair
    ta: np.ndarray              # placement requested after repair: 0 local, h edge server h
    model: np.ndarray           # the model that serves the request (lightest locally, top in the cloud)
    placement: np.ndarray       # where it runs: 0 local, h edge server h, H + 1 cloud
    repaired: np.ndarray        # repair steps of §IV-B applied: 0, 1 (DS) or 2 (DS then MS)
    forwarded: np.ndarray       # re-forwarded to the cloud by its server's P2 selection
    accuracy_pct: np.ndarray    # eq. (6) with the model that serves it
    estimate_s: np.ndarray      # eqs. (1)-(5) for the final placement


def _served_model(ta: np.ndarray, ms: np.ndarray) -> np.ndarray:
    return np.where(ta == 0, 0, ms)     # eq. (6): locally the lightest model G^1


def repair(cond: Condition, state: SlotState, ds: np.ndarray, ta: np.ndarray, ms: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """§IV-B: (1) a request whose accuracy misses τ_u switches to the highest-quality data method;
    (2) if it still misses, its most complex model is activated. A local request can only run the
    lightest model (eq. 5), so step (2) also moves it to the server of its own AP (paper silent)."""
    ed = np.arange(ds.shape[0])
    ds, ta, ms = ds.copy(), ta.copy(), ms.copy()
    steps = np.zeros_like(ds)
    miss = cond.accuracy(ed, ds, _served_model(ta, ms)) < state.required_pct
    ds[miss] = cond.compression.shape[1] - 1
    steps[miss] = 1
    miss = cond.accuracy(ed, ds, _served_model(ta, ms)) < state.required_pct
    ms[miss] = cond.flop_per_bit.shape[1] - 1
    ta[miss & (ta == 0)] = state.ap[miss & (ta == 0)] + 1
    steps[miss] = 2
    return ds, ta, ms, steps


def implement(sc: ServiceScenario, world: World, cond: Condition, state: SlotState, action: np.ndarray) -> Plan:
    """Repair the decision (§IV-B), then on every server keep the users that P2 (eq. 15) selects
    under C2/C3 and re-forward the others to the cloud. ``action`` is (EDs, 3): DS, TA, MS."""
    n, h = action.shape[0], len(sc.servers)
    ed = np.arange(n)
    ds, ta, ms, steps = repair(cond, state, action[:, 0], action[:, 1], action[:, 2])
    placement = ta.copy()
    top = cond.flop_per_bit.shape[1] - 1
    for k, server in enumerate(sc.servers, 1):
        users = ed[ta == k]
        if users.size == 0:
            continue
        d_edge = edge_s(sc, world, state, cond, users, ds[users], ms[users], np.full_like(users, k - 1))
        d_cloud = cloud_s(sc, world, state, cond, users, ds[users])
        weights = np.column_stack([np.ones_like(users), cond.memory_units[users, ms[users]]])
        capacity = [server.cores, int(server.memory_bytes // sc.memory_unit_bytes)]   # C2, C3
        kept = np.zeros(users.size, dtype=bool)
        kept[list(knapsack(d_cloud - d_edge, weights, capacity).chosen)] = True
        placement[users[~kept]] = h + 1
    model = np.where(placement == h + 1, top, _served_model(ta, ms))
    estimate = local_s(world, state, cond, ed, ds)
    on_edge = (placement >= 1) & (placement <= h)
    estimate[on_edge] = edge_s(sc, world, state, cond, ed[on_edge], ds[on_edge], model[on_edge],
                               placement[on_edge] - 1)
    in_cloud = placement == h + 1
    estimate[in_cloud] = cloud_s(sc, world, state, cond, ed[in_cloud], ds[in_cloud])
    return Plan(ds, ta, model, placement, steps, in_cloud, cond.accuracy(ed, ds, model), estimate)
