"""mecsim sweep: grid × seeds, runs.csv and table.md, failures, the cache, backend independence."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from mecsim.cli import main
from mecsim.sweep import parse_grid, plan_runs, sweep

SCENARIO = """\
name: sweepy
seed: 4
horizon_s: 4
controller: random
devices:
  count: 3
  cpu: {cores: 1, speed_hz: 1.0e9}
  position: {x: {uniform: [50, 300]}, y: {uniform: [-100, 100]}}
access_points:
  - name: ap0
    uplink: {rate: {model: fixed, bps: 2.0e8}, sharing: fdma}
    downlink: {rate: {model: fixed, bps: 2.0e8}, sharing: fifo}
servers:
  - {name: mec0, cores: 2, speed_hz: 4.0e9, vms: shared}
workload:
  dags:
    generate: {n: 6, fat: 0.5, density: 0.5, regularity: 0.5, ccr: 0.4, mindata: 50000, maxdata: 500000, count: 5}
  arrival: {process: poisson, rate_hz: 1.0}
  pick: random
"""

# A controller that fails on purpose when asked to, so a sweep has a run that fails mid-simulation.
BOOM = """\
class Boom:
    def __init__(self, fail: bool = False, rng=None):
        self.fail, self.rng = fail, rng

    def act(self, point):
        if self.fail:
            raise RuntimeError("boom at app %d" % point.context.app)
        return int(self.rng.integers(point.actions))
"""

TIMING = ("wall_s", "events_per_s")


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "sweepy.yaml"
    path.write_text(SCENARIO)
    return path


def _rows(path: Path, drop: tuple[str, ...] = TIMING) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_grid_syntax_and_value_splitting():
    assert parse_grid(["servers.0.cores=2,4", "devices.position.x=[0,1],[2, 3]"]) == [
        ("servers.0.cores", ["2", "4"]), ("devices.position.x", ["[0,1]", "[2, 3]"])]
    for bad in ("servers.0.cores", "=1,2", "servers.0.cores=2,,4", "seed=1,2"):
        with pytest.raises(ValueError):
            parse_grid([bad])
    with pytest.raises(ValueError, match="given twice"):
        parse_grid(["a=1", "a=2"])


@pytest.mark.parametrize("argv, message", [
    (["--grid", "servers.0.cores"], r"^mecsim: error: --grid servers\.0\.cores: must be KEY=V1,V2"),
    (["--grid", "servers.0.coress=2,4"],
     r"^mecsim: error: --grid servers\.0\.coress=2: .*sweepy\.yaml:\d+: servers\[0\]\.coress: unknown key"),
    (["--grid", "servers.0.cores=2,0"], r"^mecsim: error: --grid servers\.0\.cores=0: .*must be an integer >= 1"),
    (["--grid", "controller=heft,nosuch"], r"^mecsim: error: --grid controller=nosuch: unknown controller"),
    (["--seeds", "3-x"], r"^mecsim: error: --seeds: must be comma-separated integers"),
])
def test_bad_grid_is_one_line_exit_2_and_runs_nothing(scenario, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    code = main(["sweep", str(scenario), *argv, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and re.search(message, err), err
    assert not out.exists()


def test_sweep_writes_every_run_and_a_table(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["sweep", str(scenario), "--grid", "servers.0.speed_hz=1e8,4e9",
                 "--grid", "controller=local,remote",
                 "--seeds", "0-1", "--workers", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    rows = _rows(out / "runs.csv")
    assert len(rows) == 2 * 2 * 2
    assert [(r["servers.0.speed_hz"], r["controller"], r["seed"]) for r in rows][:3] == [
        ("1e8", "local", "0"), ("1e8", "local", "1"), ("1e8", "remote", "0")]
    assert {r["status"] for r in rows} == {"ok"}
    # each row is the run's own summary.json, flattened
    for r in rows:
        parts = ("completed", "dropped", "in_flight")
        assert int(r["counts.arrived"]) == sum(int(r[f"counts.{k}"]) for k in parts)
    local = [r for r in rows if r["controller"] == "local"]
    assert all(float(r["utilisation.mec0/cpu"]) == 0.0 for r in local)
    remote = [r for r in rows if r["controller"] == "remote"]
    assert all(float(r["utilisation.mec0/cpu"]) > 0.0 for r in remote)
    # seeds differ; a slower server makes offloaded apps slower, local ones do not care
    assert rows[0]["latency_s.mean"] != rows[1]["latency_s.mean"]
    by = {(r["servers.0.speed_hz"], r["controller"], r["seed"]): float(r["latency_s.mean"]) for r in rows}
    assert by[("1e8", "local", "0")] == by[("4e9", "local", "0")]
    assert by[("1e8", "remote", "0")] > by[("4e9", "remote", "0")]
    table = (out / "table.md").read_text()
    assert table.strip() in printed
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 4 and "latency_s.mean (mean ± std)" in lines[0]
    # the table's mean ± std are those of the rows (sample std, n - 1)
    import numpy as np
    vals = [float(r["latency_s.mean"]) for r in rows
            if (r["servers.0.speed_hz"], r["controller"]) == ("4e9", "remote")]
    cells = [line for line in lines if line.startswith("| 4e9 | remote |")][0].split(" | ")
    assert cells[2] == "2/2" and cells[3] == f"{np.mean(vals):,.2f} ± {np.std(vals, ddof=1):,.2f}"
    # a run is exactly `mecsim run` with the same settings
    single = tmp_path / "single"
    assert main(["run", str(scenario), "--set", "servers.0.speed_hz=4e9", "--controller", "remote", "--seed", "1",
                 "--no-trace", "--quiet", "--out", str(single)]) == 0
    summary = json.loads((single / "summary.json").read_text())
    row = [r for r in rows if (r["servers.0.speed_hz"], r["controller"], r["seed"]) == ("4e9", "remote", "1")][0]
    assert row["latency_s.mean"] == repr(summary["latency_s"]["mean"])
    assert row["events"] == str(summary["events"])


def test_failed_run_is_reported_and_others_finish(scenario, tmp_path, capsys, monkeypatch):
    (tmp_path / "boom_ctrl.py").write_text(BOOM)
    monkeypatch.syspath_prepend(str(tmp_path))     # spawned workers inherit sys.path
    out = tmp_path / "out"
    code = main(["sweep", str(scenario), "--controller", "boom_ctrl:Boom",
                 "--grid", "controller_params.fail=false,true", "--seeds", "0,1", "--workers", "2",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    rows = _rows(out / "runs.csv")
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "failed"]
    # the controller's exception, as `mecsim run` says it: controller, simulated time, decision
    assert all(re.fullmatch(r"boom_ctrl:Boom: raised RuntimeError at t=\S+ s, app (\d+) task \d+: boom at app \1",
                            r["error"]) for r in rows[2:])
    assert all(r["latency_s.mean"] == "" for r in rows[2:])
    assert "run failed (controller_params.fail=true seed=0): boom_ctrl:Boom: raised RuntimeError at t=" in err
    assert "| true | 0/2 | – |" in (out / "table.md").read_text()
    # failures are not cached: a re-run tries them again and keeps the successes
    assert len(list((out / "runs").iterdir())) == 2


def test_rerun_skips_finished_runs(scenario, tmp_path):
    out = tmp_path / "out"
    grid = parse_grid(["servers.0.cores=1,2"])
    first = sweep(scenario, grid, [0, 1], out, workers=2, progress=False)
    assert first.cached == 0 and first.failed == 0
    before = (out / "runs.csv").read_bytes()
    again = sweep(scenario, grid, [0, 1], out, workers=2, progress=False)
    assert again.cached == 4 and (out / "runs.csv").read_bytes() == before
    # one result removed: only that run is done again, with the same numbers (timings aside)
    victim = plan_runs(scenario, grid, [0, 1])[3]
    (out / "runs" / victim.key / "summary.json").unlink()
    third = sweep(scenario, grid, [0, 1], out, workers=1, progress=False)
    assert third.cached == 3
    assert _rows(out / "runs.csv") == [{k: v for k, v in r.items() if k not in TIMING}
                                       for r in csv.DictReader(io.StringIO(before.decode()))]
    # another seed list or a changed scenario file is another run
    assert sweep(scenario, grid, [2], out, workers=1, progress=False).cached == 0
    scenario.write_text(SCENARIO.replace("rate_hz: 1.0}", "rate_hz: 1.5}"))
    assert sweep(scenario, grid, [0], out, workers=1, progress=False).cached == 0


def test_same_result_with_one_or_two_workers(scenario, tmp_path):
    grid = parse_grid(["devices.count=2,4", "controller=random,round_robin"])
    one = sweep(scenario, grid, [0, 1], tmp_path / "one", workers=1, progress=False)
    two = sweep(scenario, grid, [0, 1], tmp_path / "two", workers=2, progress=False)
    assert one.failed == two.failed == 0
    assert _rows(tmp_path / "one" / "runs.csv") == _rows(tmp_path / "two" / "runs.csv")
    assert (tmp_path / "one" / "table.md").read_text() == (tmp_path / "two" / "table.md").read_text()


def test_ray_backend_matches_local(scenario, tmp_path):
    pytest.importorskip("ray")
    grid = parse_grid(["controller=random,remote"])
    local = sweep(scenario, grid, [0, 1], tmp_path / "local", workers=2, progress=False)
    ray_run = sweep(scenario, grid, [0, 1], tmp_path / "ray", backend="ray", workers=2, progress=False)
    assert local.failed == ray_run.failed == 0 and ray_run.cached == 0
    assert _rows(tmp_path / "local" / "runs.csv") == _rows(tmp_path / "ray" / "runs.csv")
