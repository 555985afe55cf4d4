"""The service-management system (PEARL-DT §II-III): latency eqs. (1)-(5) in the DES, accuracy repair,
C2/C3 per server, AI-model upgrades on the timeline, digital twins, determinism, scenario errors."""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from mecsim.cli import main
from mecsim.errors import ConfigError
from mecsim.net.pathloss import dbm_to_w, rma_db
from mecsim.scenario.load import load_scenario, scenario_from_document
from mecsim.scenario.source import parse_yaml
from mecsim.systems.service_management import ServiceSimulation, TwinSystem, build_world
from mecsim.trace import write_trace_csv

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "scenarios" / "pearl_dt" / "small.yaml"
PAPER = ROOT / "scenarios" / "pearl_dt" / "paper.yaml"


class PerEdRandom:
    """Independent uniform DS, TA, MS per ED (a stronger random baseline than one broadcast choice)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, point):
        n, nvec = point.observation.shape[0], np.array(point.context.nvec)
        return (self.rng.random((n, 3)) * nvec).astype(np.int64)


class Fixed:
    """A callable of the decision context."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def act(self, point):
        return self.fn(point.context)


def tiny(extra: dict | None = None):
    data = {"name": "tiny", "system": "service_management", "slots": 1,
            "devices": {"count": 2, "flops": 4.0e9, "bandwidth_hz": 1.0e7, "noise_dbm": -100, "distance_m": 50,
                        "task_bytes": 1.0e6, "result_bytes": 1.0e4, "accuracy_pct": 10},
            "servers": [{"flops": 60.0e9, "memory_bytes": 24.0e9, "cores": 4},
                        {"flops": 120.0e9, "memory_bytes": 32.0e9, "cores": 4}],
            "cloud": {"flops": 400.0e9, "rate_bps": 1.0e6, "delay_s": 0.5},
            "conditions": {"upgrades": [1], "test": 1}}
    data.update(extra or {})
    return scenario_from_document(parse_yaml(yaml.safe_dump(data), "tiny.yaml"))


def test_one_request_latency_equals_eqs_1_to_5_by_hand():
    sc = tiny()
    other = Fixed(lambda ctx: np.array([[1, (int(ctx.state.ap[0]) + 1) % 2 + 1, 1], [0, 0, 0]]))
    sim = ServiceSimulation(sc, other, seed=3)
    rec = sim.run().slots[0]
    world, cond = sim.world, sim.world.condition("g1")
    h0 = int(rec.state.ap[0])
    h = (h0 + 1) % 2
    # eq. (1): uplink of the compressed task and the result at B log2(1 + p g / N), 20 dBm, RMa loss
    rate = 1.0e7 * math.log2(1 + dbm_to_w(20.0) * 10 ** (-rma_db(50.0, 3.5e9) / 10) / dbm_to_w(-100.0))
    bits = 8 * 1.0e6 * cond.compression[0, 1]
    d_c = (bits + 8 * 1.0e4) / rate
    d_f = (bits + 8 * 1.0e4) / world.backhaul_bps[h0, h] + world.backhaul_delay_s[h0, h]     # eq. (2)
    d_p = bits * cond.flop_per_bit[0, 1] / [60.0e9, 120.0e9][h]                               # eqs. (3)-(4)
    assert rec.plan.placement[0] == h + 1 and rec.plan.repaired[0] == 0
    assert rec.latency_s[0] == pytest.approx(d_c + d_f + d_p, rel=1e-9)                      # eq. (5)
    # ED 1 local: the lightest model on the ED with the most compressed data (eq. 5, first case)
    local = 8 * 1.0e6 * cond.compression[1, 0] * cond.flop_per_bit[1, 0] / 4.0e9
    assert rec.latency_s[1] == pytest.approx(local, rel=1e-9)
    kinds = sorted({a.kind for a in sim.trace if a.device == 0})
    assert kinds == ["downlink", "exec", "forward", "uplink"]


def test_des_equals_closed_forms_for_every_request():
    """With the paper's sharing (dedicated radio, parallel backhaul, C2 keeping cores free) every
    request's DES latency is its eqs. (1)-(5) estimate, whatever the placement (local, edge, cloud)."""
    sim = ServiceSimulation(load_scenario(SMALL), PerEdRandom(1), seed=1)
    result = sim.run()
    lat = result.latencies_s()
    est = np.concatenate([s.plan.estimate_s for s in result.slots])
    np.testing.assert_allclose(lat, est, rtol=1e-9)
    place = np.concatenate([s.plan.placement for s in result.slots])
    assert {0, 5} <= set(place.tolist()) and ((place >= 1) & (place <= 4)).any()


def test_fifo_backhaul_queues_beyond_the_paper():
    sc = load_scenario(SMALL, ["backhaul.sharing=fifo"])
    result = ServiceSimulation(sc, PerEdRandom(2), seed=2).run()
    lat = result.latencies_s()
    est = np.concatenate([s.plan.estimate_s for s in result.slots])
    assert (lat >= est - 1e-9).all()
    assert any(a.kind == "queue" and "backhaul" in a.resource for a in result.trace)


def test_no_request_misses_its_accuracy_after_repair():
    result = ServiceSimulation(load_scenario(PAPER), PerEdRandom(3), seed=4, slots=6).run()
    for s in result.slots:
        assert (s.plan.accuracy_pct >= s.state.required_pct - 1e-9).all()
    repaired = np.concatenate([s.plan.repaired for s in result.slots])
    assert (repaired == 1).any() and (repaired == 2).any()     # both repair steps of §IV-B happened
    assert result.summary()["counts"]["accuracy_violations"] == 0


def test_no_server_exceeds_cores_or_memory():
    sc = load_scenario(SMALL, ["slots=20"])
    sim = ServiceSimulation(sc, PerEdRandom(5), seed=5)
    result = sim.run()
    forwarded = 0
    for s in result.slots:
        cond = sim.world.condition(s.condition)
        for k, server in enumerate(sc.servers, 1):
            kept = np.flatnonzero(s.plan.placement == k)
            assert kept.size <= server.cores                                                  # C2 (eq. 8)
            used = cond.memory_units[kept, s.plan.model[kept]].sum() * sc.memory_unit_bytes
            assert used <= server.memory_bytes                                                # C3 (eq. 9)
        forwarded += int(s.plan.forwarded.sum())
    assert forwarded > 0                                    # P2 had users to send to the cloud
    for k, server in enumerate(result.servers):
        assert server["peak_cores"] <= sc.servers[k].cores
        assert server["peak_memory_bytes"] <= sc.servers[k].memory_bytes
    assert not any(a.kind == "queue" and a.resource.startswith("es") for a in result.trace)


def test_upgrades_change_the_condition_at_the_scheduled_time():
    sc = load_scenario(SMALL, ["slots=10", "timeline=[{at_s: 0, condition: g1}, {at_s: 3, condition: g1.u1}, "
                                           "{at_s: 6.5, condition: t1}]"])
    to_own_ap = Fixed(lambda ctx: np.stack([np.full(12, 2), ctx.state.ap + 1, np.full(12, 2)], axis=1))
    result = ServiceSimulation(sc, to_own_ap, seed=0).run()
    for s in result.slots:
        expected = "g1" if s.start_s < 3 else ("g1.u1" if s.start_s < 6.5 else "t1")
        assert s.condition == expected, (s.slot, s.start_s)
    assert {s.condition for s in result.slots} == {"g1", "g1.u1", "t1"}
    assert [s.epoch for s in result.slots] == sorted(s.epoch for s in result.slots)


def test_conditions_follow_section_v():
    sc = load_scenario(PAPER)
    world = build_world(sc)
    assert [c.name for c in world.train] == ["g1", "g1.u1", "g1.u2", "g2", "g2.u1", "g3"]
    assert [c.name for c in world.test] == ["t1", "t2", "t3"]
    for base, up in (("g1", "g1.u1"), ("g1.u1", "g1.u2"), ("g2", "g2.u1")):
        a, b = world.condition(base), world.condition(up)
        assert (b.flop_per_bit < a.flop_per_bit).all()
        assert (b.memory_units <= a.memory_units).all() and (b.memory_units < a.memory_units).any()
        assert (b.accuracy_pct > a.accuracy_pct).all()
    g1, g2 = world.condition("g1"), world.condition("g2")
    assert not np.allclose(g1.flop_per_bit, g2.flop_per_bit)
    for c in world.conditions:   # complexity, memory and accuracy grow with the model index
        assert (np.diff(c.flop_per_bit, axis=1) >= 0).all() and (np.diff(c.accuracy_pct, axis=1) >= 0).all()


@pytest.mark.parametrize("source", ["generated", "observed"])
def test_digital_twins_are_synced_with_the_physical_system(source):
    sc = load_scenario(SMALL, [f"twins.states={source}"])
    physical = ServiceSimulation(sc, PerEdRandom(0), seed=0).run()
    dts = TwinSystem(sc)
    dts.observe(physical.slots)
    assert list(dts.twins) == ["g1", "g1.u1", "g2"]
    twin = dts.twins["g1.u1"]
    observed = [s.state for s in physical.slots if s.condition == "g1.u1"]
    assert twin.states == observed
    run = twin.simulation(PerEdRandom(1), seed=9, slots=5).run()
    assert {s.condition for s in run.slots} == {"g1.u1"}
    replayed = [any(s.state is o for o in observed) for s in run.slots]
    if source == "observed":
        assert all(replayed)                        # states come from the sync
    else:                                           # the condition emulated from the distributions
        assert not any(replayed)
        same = ServiceSimulation(sc, PerEdRandom(1), seed=9, slots=5, condition="g1.u1").run()
        assert [s.state.task_bytes.tolist() for s in run.slots] == [s.state.task_bytes.tolist() for s in same.slots]


def test_twin_state_source_is_checked(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.read_text().replace("twins: {states: generated}", "twins: {states: replay}"))
    with pytest.raises(ConfigError, match=r"twins\.states.*replay"):
        load_scenario(bad)


def _trace_bytes(result, path: Path) -> bytes:
    write_trace_csv(result.trace.sorted(), path)
    return path.read_bytes() + result.tables()["requests.csv"].encode()


def test_same_seed_same_result(tmp_path):
    sc = load_scenario(SMALL)
    a = _trace_bytes(ServiceSimulation(sc, PerEdRandom(0), seed=7).run(), tmp_path / "a.csv")
    b = _trace_bytes(ServiceSimulation(sc, PerEdRandom(0), seed=7).run(), tmp_path / "b.csv")
    c = _trace_bytes(ServiceSimulation(sc, PerEdRandom(0), seed=8).run(), tmp_path / "c.csv")
    assert a == b and a != c


@pytest.mark.parametrize("override, where", [
    ("servers.0.cores=0", "servers[0].cores: must be an integer >= 1, got 0"),
    ("devices.accuracy_pct={normal: [70, 5]}", "devices.accuracy_pct: must stay in [0, 100]"),
    ("devices.accuracy_pct={normal: [70, 5], clip: [50, 95]}", "devices.accuracy_pct: must stay <= the lowest"),
    ("timeline.1.condition=g9", "timeline[1].condition: must be one of"),
    ("timeline.1.at_s=20", "timeline: at_s must be strictly increasing"),
    ("backhaul.sharing=fdma", "backhaul.sharing: must be one of 'parallel', 'fifo'"),
    ("devcies={count: 3}", "unknown key, did you mean 'devices'?"),
    ("servers.1.memory_bytes=1.0e9", "servers[1].memory_bytes: must hold the largest model"),
])
def test_bad_values_give_one_line_errors(override, where):
    with pytest.raises(ConfigError) as info:
        load_scenario(SMALL, [override])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{SMALL}:") and where in message


def test_cli_runs_a_heuristic(tmp_path, capsys):
    for controller in ("random", "local"):
        out = tmp_path / controller      # a run's folder is its own (issue 16)
        assert main(["run", str(SMALL), "--controller", controller, "--out", str(out), "--quiet"]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["controller"] == controller and summary["counts"]["requests"] == 12 * 12
    header = (out / "requests.csv").read_text().splitlines()[0]
    assert header.startswith("slot,ed,condition,ap,ds,ta,ms,placement,latency_s,accuracy")
    assert (out / "trace.csv").exists()


def test_bad_action_is_a_clear_error():
    from mecsim.errors import MecsimError
    sim = ServiceSimulation(load_scenario(SMALL), Fixed(lambda ctx: np.full((12, 3), 9)))
    with pytest.raises(MecsimError, match=r"^Fixed: answered array\(\[\[9, 9, 9\], .* at t=0 s, slot 0: DS, TA, MS must be below"):
        sim.run()


# -- the Gymnasium environment -------------------------------------------------------------------

def test_env_passes_check_env_and_is_registered():
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    import mecsim.envs  # noqa: F401 (registers)
    env = gym.make("mecsim/ServiceManagement-v0", scenario=str(SMALL))
    check_env(env.unwrapped)
    assert env.unwrapped.action_space.nvec.tolist() == [3, 5, 3] * 12


def test_env_reset_selects_the_condition_and_matches_the_engine():
    from mecsim.envs import ServiceManagementEnv
    env = ServiceManagementEnv(SMALL)
    rewards = {}
    for condition in ("g1", 7):                    # a name, and an index (7 = t2)
        obs, info = env.reset(seed=3, options={"condition": condition})
        actions = [env.action_space.sample() for _ in range(env.episode_slots)]
        rewards[info["condition"]] = total = []
        for a in actions:
            obs, r, terminated, truncated, step_info = env.step(a)
            total.append(r)
            assert step_info["condition"] == info["condition"] and not terminated
        assert truncated
    assert set(rewards) == {"g1", "t2"} and rewards["g1"] != rewards["t2"]
    # the same actions through a controller in the engine give the same rewards
    env.reset(seed=5, options={"condition": "g1.u1"})
    seed = env.sim.seed
    actions = [env.action_space.sample() for _ in range(env.episode_slots)]
    got = [env.step(a)[1] for a in actions]
    replay = iter(actions)
    sim = ServiceSimulation(env.scenario, Fixed(lambda ctx: next(replay)), seed=seed, condition="g1.u1",
                     slots=env.episode_slots, trace=False)
    assert [s.reward for s in sim.run().slots] == got


def test_accuracy_repair_follows_section_iv_b():
    from mecsim.systems.service_management.plan import repair
    sc = load_scenario(SMALL)
    world = build_world(sc)
    cond = world.condition("g1")
    state = ServiceSimulation(sc, PerEdRandom(0), seed=0, slots=1, world=world).run().slots[0].state
    ed = np.arange(12)
    low = cond.accuracy(ed, np.zeros(12, int), np.ones(12, int))        # compressed data, middle model
    raw = cond.accuracy(ed, np.full(12, 2), np.ones(12, int))           # raw data, middle model
    tau = np.where(ed < 4, low - 1, np.where(ed < 8, (low + raw) / 2, raw + 1e-3))
    tau = np.minimum(tau, cond.accuracy_pct[:, -1])                       # reachable with the top model
    st = replace(state, required_pct=tau)
    ta = np.where(ed % 2 == 0, 1, 0)                                      # half local, half on server 1
    ds, ta2, ms, steps = repair(cond, st, np.zeros(12, int), ta, np.ones(12, int))
    edge = ta == 1
    assert (steps[:4][edge[:4]] == 0).all()                               # met as decided
    assert (steps[4:8][edge[4:8]] == 1).all() and (ds[4:8][edge[4:8]] == 2).all()   # (1) best data
    assert (ms[4:8][edge[4:8]] == 1).all()
    assert (steps[8:][edge[8:]] == 2).all() and (ms[8:][edge[8:]] == 2).all()       # (2) top model
    moved = (~edge) & (steps == 2)                                        # a local request that needs the top
    assert moved.any() and (ta2[moved] == st.ap[moved] + 1).all()          # model goes to its own AP's server
    final = cond.accuracy(ed, ds, np.where(ta2 == 0, 0, ms))
    assert (final >= tau - 1e-9).all()
