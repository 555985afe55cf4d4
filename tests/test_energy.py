"""Energy accounting (mecsim.energy): totals are the sums of their activities, each model against a
hand computation, batteries that empty drop work with a reason, energy off changes nothing, bad keys
are one line and exit 2."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from mecsim.cli import main
from mecsim.outputs import write_outputs
from mecsim.systems.dag_offloading import DagSimulation
from mecsim.trace import read_trace_csv
from tests.helpers import M, FixedPlan, random_dag, scenario

ROOT = Path(__file__).resolve().parents[1]
ENERGY = {"device": {"kappa": 1e-27, "idle_w": 0.25, "tx_w": 0.3, "rx_w": 0.125},
          "server": {"idle_w": 80.0, "peak_w": 200.0}}
# the terms of a device, by the kind of activity that costs it (local: a CPU, or edge tuning's training)
DEVICE_KINDS = {"local": ("cpu_j", "train_j"), "uplink": ("tx_j",), "downlink": ("rx_j",)}


def _graphs(n_apps: int = 4, n: int = 8, seed: int = 3):
    rng = np.random.default_rng(seed)
    return [(f"g{k}", random_dag(rng, n)) for k in range(n_apps)]


def _run(extra: dict, plan_action: int, graphs=None):
    graphs = graphs or _graphs()
    spec = scenario({"energy": ENERGY, **extra})
    sim = DagSimulation(spec, FixedPlan([plan_action] * graphs[0][1].n), graphs=graphs)
    return spec, graphs, sim.run()


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _sum(values) -> float:
    return math.fsum(values)


def test_all_local_device_energy_is_kappa_f2_cycles_plus_idle():
    spec, graphs, result = _run({}, 0)
    assert all(a.status == "completed" for a in result.apps)
    f, kappa, idle_w = spec.devices.cpu.speed_hz, ENERGY["device"]["kappa"], ENERGY["device"]["idle_w"]
    cycles = _sum(float(c) for _, g in graphs for c in g.cycles)
    horizon = result.sim_time_s
    busy = cycles / f                      # one core, every task alone on it
    device = result.summary()["energy"]["per_device"]["device0"]
    assert device["cpu_j"] == pytest.approx(kappa * f * f * cycles, rel=1e-12)
    assert device["idle_j"] == pytest.approx(idle_w * (horizon - busy), rel=1e-9)
    assert device["total_j"] == pytest.approx(kappa * f * f * cycles + idle_w * (horizon - busy), rel=1e-12)
    assert device["tx_j"] == device["rx_j"] == 0.0


def test_tx_energy_is_power_times_airtime_on_a_fixed_rate_channel():
    spec, graphs, result = _run({}, 1)
    bps = spec.access_points[0].uplink.rate.bps
    uploads = [a for a in result.trace if a.kind == "uplink"]
    assert len(uploads) == sum(g.n for _, g in graphs)
    for act in uploads:      # one device, schedule_order uplink: each upload alone at the full rate
        airtime = act.bytes * 8.0 / bps
        assert act.end_s - act.start_s == pytest.approx(airtime, rel=1e-9)
        assert act.energy_j == pytest.approx(ENERGY["device"]["tx_w"] * airtime, rel=1e-9)
    downloads = [a for a in result.trace if a.kind == "downlink"]
    for act in downloads:
        assert act.energy_j == pytest.approx(ENERGY["device"]["rx_w"] * (act.end_s - act.start_s), rel=1e-12)
    device = result.summary()["energy"]["per_device"]["device0"]
    assert device["tx_j"] == pytest.approx(_sum(a.energy_j for a in uploads), rel=1e-12)
    assert device["cpu_j"] == 0.0


@pytest.mark.parametrize("vms", ["shared", "dedicated"])
def test_server_energy_is_the_linear_model_over_its_utilisation(vms):
    servers = [{"name": "mec0", "cores": 2, "speed_hz": 10 * M, "discipline": "fifo", "vms": vms}]
    extra = {"servers": servers, "devices": {"count": 2},
             "access_points": [{"name": "ap0", "uplink": {"rate": {"model": "fixed", "bps": 7 * M},
                                                          "sharing": "fifo"},
                                "downlink": {"rate": {"model": "fixed", "bps": 7 * M}, "sharing": "parallel"}}]}
    spec, _, result = _run(extra, 1)
    horizon = result.sim_time_s
    # ∫ P(u) dt by hand: the server's capacity-weighted busy share over the run, from the stations
    names = [n for n in result.utilisation if n.startswith("mec0/")]
    capacity = 2 * 10 * M
    speed = {"shared": 10 * M, "dedicated": capacity / 2}[vms]      # f_vm = f_s · cores / devices
    units = {"shared": 2, "dedicated": 1}[vms]
    busy_share = _sum(result.utilisation[n] * horizon * units * speed for n in names) / capacity
    idle, peak = ENERGY["server"]["idle_w"], ENERGY["server"]["peak_w"]
    server = result.summary()["energy"]["servers"]["mec0"]
    assert busy_share > 0
    assert server["idle_j"] == pytest.approx(idle * horizon, rel=1e-12)
    assert server["total_j"] == pytest.approx(idle * horizon + (peak - idle) * busy_share, rel=1e-9)


class Watcher(FixedPlan):
    """All local; keeps the energy state each decision saw."""

    def __init__(self, n: int) -> None:
        super().__init__([0] * n)
        self.seen: list[tuple[float, float | None, float | None]] = []

    def act(self, point):
        live = point.context.live
        self.seen.append((point.time, live.energy_j, live.battery_j))
        return super().act(point)


@pytest.mark.parametrize("decisions", ["at_arrival", "when_ready"])
def test_a_battery_that_empties_drops_the_work_with_a_reason(decisions):
    graphs = _graphs(6)
    kappa, hz = 1e-27, 1e9          # about 0.1 J per task here
    first = kappa * hz * hz * _sum(float(c) for c in graphs[0][1].cycles)
    capacity = 2.5 * first
    energy = {"device": {"kappa": kappa, "idle_w": 0.0, "battery_j": capacity}}
    spec = scenario({"energy": energy, "devices": {"cpu": {"speed_hz": hz}}, "decisions": decisions})
    controller = Watcher(graphs[0][1].n)
    result = DagSimulation(spec, controller, graphs=graphs).run()
    status = [a.status for a in result.apps]
    assert status[0] == "completed" and "dropped" in status
    dropped = [a for a in result.apps if a.status == "dropped"]
    empty_at = result.summary()["energy"]["per_device"]["device0"]["empty_at_s"]
    assert empty_at is not None
    assert all(a.reason == f"battery: device0 empty at {empty_at:.6g} s" for a in dropped)
    late = [a for a in dropped if a.arrival_s >= empty_at]
    assert late and all(set(a.plan) == {-1} for a in late)      # arrived empty: nothing was decided
    assert result.summary()["energy"]["batteries_empty"] == 1
    # the controller saw the energy drawn so far and the charge left, consistently
    used = [e for _, e, _ in controller.seen]
    assert used == sorted(used) and used[0] == 0.0
    assert all(b == pytest.approx(capacity - e, rel=1e-12) for _, e, b in controller.seen)


def test_controllers_see_no_energy_state_without_an_energy_block():
    spec = scenario()
    controller = Watcher(8)
    DagSimulation(spec, controller, graphs=_graphs()).run()
    assert controller.seen and all(e is None and b is None for _, e, b in controller.seen)


def _shipped_with_energy() -> list[Path]:
    return [p for p in sorted((ROOT / "scenarios").rglob("*.yaml"))
            if (yaml.safe_load(p.read_text()) or {}).get("energy")]


def test_a_shipped_scenario_uses_energy():
    assert ROOT / "scenarios" / "energy.yaml" in _shipped_with_energy()


@pytest.mark.parametrize("path", _shipped_with_energy(), ids=lambda p: str(p.relative_to(ROOT)))
def test_totals_equal_the_sum_of_their_activities(path, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())["energy"]
    acts = read_trace_csv(out / "trace.csv")
    assert any(a.energy_j > 0 for a in acts)
    assert all(a.energy_j == 0.0 for a in acts if a.kind in ("wait", "queue", "propagate"))
    for name, device in summary["per_device"].items():
        index = int(name.removeprefix("device").removeprefix("ed").removeprefix("ue"))
        mine = [a for a in acts if a.device == index and a.kind in DEVICE_KINDS and not a.resource.startswith(
            ("mec", "es", "server/gpu", "cloud"))]
        for kind, terms in DEVICE_KINDS.items():
            (term,) = [t for t in terms if t in device]
            assert device[term] == pytest.approx(_sum(a.energy_j for a in mine if a.kind == kind),
                                                 rel=1e-9, abs=1e-12), (name, term)
        terms = [v for k, v in device.items() if k.endswith("_j") and k not in ("total_j", "battery_left_j")]
        assert device["total_j"] == pytest.approx(_sum(terms), rel=1e-12)
    for name, server in summary["servers"].items():
        busy = _sum(a.energy_j for a in acts if a.kind == "exec" and a.resource.startswith(name + "/"))
        assert server["busy_j"] == pytest.approx(busy, rel=1e-9, abs=1e-12)
        assert server["total_j"] == pytest.approx(server["idle_j"] + server["busy_j"], rel=1e-12)
    assert summary["total_j"] == pytest.approx(summary["devices"]["total_j"] + summary["servers_total_j"],
                                               rel=1e-12)
    # per application (apps.csv), per request (requests.csv: slot, ED) or UE task (steps.csv: step, UE)
    table, key = next((out / f, k) for f, k in (("apps.csv", ("app",)), ("requests.csv", ("slot", "ed")),
                                                ("steps.csv", ("step", "ue"))) if (out / f).exists())
    spent: dict[tuple[int, ...], list[float]] = {}
    for a in acts:
        share = spent.setdefault((a.app,) if len(key) == 1 else (a.app, a.task), [0.0, 0.0])
        share[a.kind == "exec"] += a.energy_j
    rows = _rows(table)
    assert rows and "energy_j" in rows[0]
    for row in rows:
        device_j, server_j = spent.get(tuple(int(row[k]) for k in key), [0.0, 0.0])
        assert float(row["energy_j"]) == pytest.approx(device_j, rel=1e-9, abs=1e-12)
        if "server_energy_j" in row:
            assert float(row["server_energy_j"]) == pytest.approx(server_j, rel=1e-9, abs=1e-12)


def _strip(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("wall_s", "events_per_s", "peak_rss_mib", "energy")}


def test_energy_changes_no_timing_and_without_it_no_byte(tmp_path):
    """The same run with and without an energy block (no batteries): the same activities and
    applications; without it the files have no energy column and summary.json no energy key."""
    graphs = _graphs()
    outs = {}
    for label, extra in (("off", {}), ("on", {"energy": ENERGY})):
        spec = scenario({**extra, "devices": {"count": 2}})
        result = DagSimulation(spec, FixedPlan([0, 1] * 4), graphs=graphs).run()
        outs[label] = (tmp_path / label, write_outputs(result, tmp_path / label))
    off, on = outs["off"][0], outs["on"][0]
    assert "energy" not in outs["off"][1] and "energy" in outs["on"][1]
    assert _strip(outs["off"][1]) == _strip(outs["on"][1])
    header = (off / "trace.csv").read_text().splitlines()[0]
    assert "energy" not in header and (on / "trace.csv").read_text().startswith(header + ",energy_j\n")
    assert [a[:10] for a in read_trace_csv(off / "trace.csv")] == [a[:10] for a in read_trace_csv(on / "trace.csv")]
    assert "energy" not in (off / "apps.csv").read_text() and "energy_j" not in (off / "trace.json").read_text()
    assert [{k: r[k] for k in r if "energy" not in k} for r in _rows(on / "apps.csv")] == _rows(off / "apps.csv")


@pytest.mark.parametrize("energy, message", [
    ({"device": {"kapa": 1e-27}}, "energy.device.kapa: unknown key, did you mean 'kappa'?"),
    ({"devices": {}}, "energy.devices: unknown key, did you mean 'device'?"),
    ({"device": {"battery_j": 0}}, "energy.device.battery_j: must be a number > 0"),
    ({"device": {"tx_w": -1}}, "energy.device.tx_w: must be a number >= 0, got -1"),
    ({"server": {"idle_w": 100, "peak_w": 50}}, "energy.server.peak_w: must be >= idle_w (100), got 50"),
    ({"device": {"train_w": 5}}, "energy.device.train_w: unknown key"),    # edge_tuning's, not the DAG's
])
def test_bad_energy_keys_are_one_line_and_exit_2(energy, message, tmp_path, capsys):
    data = yaml.safe_load((ROOT / "scenarios" / "energy.yaml").read_text())
    data["energy"] = energy
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_report_shows_energy_beside_latency(tmp_path):
    out, report = tmp_path / "run", tmp_path / "report"
    assert main(["run", str(ROOT / "scenarios" / "energy.yaml"), "--out", str(out), "--quiet"]) == 0
    assert main(["report", str(out), "--out", str(report)]) == 0
    acts = read_trace_csv(out / "trace.csv")
    stages = _rows(report / "stages.csv")
    assert stages and all("energy_j" in row for row in stages)
    for row in stages:
        mine = [a.energy_j for a in acts if a.app == int(row["app"])]
        assert float(row["energy_j"]) == pytest.approx(_sum(mine), rel=1e-9, abs=1e-12)
    spent = {row["resource"]: float(row["energy_j"]) for row in _rows(report / "resources.csv")}
    assert _sum(spent.values()) == pytest.approx(_sum(a.energy_j for a in acts), rel=1e-9)
    assert "Energy: devices" in (report / "report.md").read_text()


class Seen:
    """Wraps a controller and keeps the contexts it was given."""

    def __init__(self, inner) -> None:
        self.inner, self.contexts = inner, []

    def act(self, point):
        self.contexts.append(point.context)
        return self.inner.act(point)


@pytest.mark.parametrize("name", ["pearl_dt/energy", "hmppo/energy"])
def test_every_system_shows_its_devices_energy_to_controllers(name):
    from mecsim.registry import make_controller
    from mecsim.scenario.load import load_scenario
    from mecsim.systems import get_system

    spec = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    system = get_system(spec.system)
    controller = Seen(make_controller(spec.controller, spec.controller_params, np.random.default_rng(0)))
    result = system.simulation(spec, controller).run()
    seen = [np.atleast_1d(np.asarray(c.energy_j, dtype=float)) for c in controller.contexts]
    assert seen and all(s.min() >= 0 for s in seen)
    assert seen[-1].sum() > seen[0].sum()           # energy drawn so far only grows
    final = result.summary()["energy"]["per_device"]
    assert seen[-1].sum() <= math.fsum(d["total_j"] for d in final.values()) + 1e-9


def test_a_parquet_trace_stream_carries_energy(tmp_path):
    parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out"
    assert main(["run", str(ROOT / "scenarios" / "energy.yaml"), "--out", str(out), "--quiet",
                 "--trace-stream", "parquet"]) == 0
    table = parquet.read_table(out / "trace.parquet")
    assert table.schema.names[-1] == "energy_j"
    energy = json.loads((out / "summary.json").read_text())["energy"]
    devices = _sum(d["total_j"] - d["idle_j"] for d in energy["per_device"].values())
    servers = _sum(s["busy_j"] for s in energy["servers"].values())
    assert _sum(table.column("energy_j").to_pylist()) == pytest.approx(devices + servers, rel=1e-9)


@pytest.mark.parametrize("path", _shipped_with_energy(), ids=lambda p: str(p.relative_to(ROOT)))
def test_idle_energy_is_idle_power_over_the_time_the_cpu_is_idle(path, tmp_path):
    """idle_j = idle_w × (T − busy), T the horizon reached or the moment the battery emptied, busy
    the device's local activities up to T (every shipped device CPU has one core)."""
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    idle_w = yaml.safe_load(path.read_text())["energy"]["device"]["idle_w"]
    acts = read_trace_csv(out / "trace.csv")
    assert idle_w > 0
    for index, (name, device) in enumerate(summary["energy"]["per_device"].items()):
        until = device.get("empty_at_s") or summary["sim_time_s"]
        busy = _sum(max(0.0, min(a.end_s, until) - a.start_s) for a in acts
                    if a.device == index and a.kind == "local")
        assert device["idle_j"] == pytest.approx(idle_w * (until - busy), rel=1e-9), name
