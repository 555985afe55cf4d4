"""mecsim.analysis and `mecsim report`: over every shipped scenario the stage breakdown tiles each
application's latency and utilisation from the trace equals summary.json; A/B of two controllers;
one-line errors; the Gantt chart's resource and window selection."""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from mecsim import analysis
from mecsim.analysis import STAGES, Run, breakdowns, load_run, over_time
from mecsim.cli import main
from mecsim.errors import ConfigError
from mecsim.trace import Activity, _gantt_resources, plot_gantt
from test_run_outputs import DAG, ROOT, SHIPPED, _run


@pytest.mark.parametrize("name", list(SHIPPED))
def test_stages_sum_to_each_latency(name, tmp_path_factory):
    run = load_run(_run(name, tmp_path_factory))
    parts = breakdowns(run)
    assert parts
    if run.apps is not None:
        assert [p.app for p in parts] == sorted(run.apps)
    for part in parts:
        assert set(part.stages) == set(STAGES)
        assert all(v >= 0.0 for v in part.stages.values())
        total = math.fsum(part.stages.values())
        assert total == pytest.approx(part.latency_s, rel=1e-9, abs=1e-12), part.app
        assert math.fsum(part.resources.values()) == pytest.approx(part.latency_s, rel=1e-9, abs=1e-12)
        if run.preds is not None:   # the path follows the DAG's edges
            preds = run.preds[part.app]
            assert all(a in preds[b] for a, b in zip(part.path, part.path[1:])), part.path


@pytest.mark.parametrize("name", DAG)
def test_utilisation_from_the_report_equals_the_summary(name, tmp_path_factory):
    run = load_run(_run(name, tmp_path_factory))
    util = run.summary["utilisation"]
    _, whole = over_time(run, 1)
    for res in run.summary["resources"]:
        if res != "device_cpu":
            assert whole.get(res, np.zeros(1))[0] == pytest.approx(util[res], abs=1e-6), res
    cpus = [v[0] for r, v in whole.items() if r.startswith("device") and r.endswith("/cpu")]
    count = run.summary["resources"]["device_cpu"]["count"]
    assert sum(cpus) / count == pytest.approx(util["device_cpu_mean"], rel=1e-9, abs=1e-12)
    # bins split the same busy time: their mean is the whole run's utilisation
    _, binned = over_time(run, 7)
    for res, values in binned.items():
        assert values.mean() == pytest.approx(whole[res][0], rel=1e-9, abs=1e-12)


def _acts(*rows) -> list[Activity]:
    return [Activity(0, task, 0, kind, res, s, e, 0.0, 0.0) for task, kind, res, s, e in rows]


def test_the_critical_path_takes_the_predecessor_that_ended_last():
    # task 2 needs 0 and 1; 1 ends later, so the path is 1 -> 2 and task 0's time counts for nothing
    acts = _acts((0, "local", "device0/cpu", 0.0, 1.0),
                 (1, "uplink", "ap0/uplink", 0.0, 2.0), (1, "queue", "mec0/vm0", 2.0, 2.5),
                 (1, "exec", "mec0/vm0", 2.5, 3.0), (1, "downlink", "ap0/downlink", 3.0, 3.25),
                 (2, "wait", "device0", 0.0, 3.5), (2, "local", "device0/cpu", 3.5, 4.0))
    run = Run(Path("x"), "x", {"sim_time_s": 5.0}, acts, {0: (0.0, 4.5, 4.5)}, {0: [[], [], [0, 1]]})
    run.by_app[0] = acts
    (part,) = breakdowns(run)
    assert part.path == [1, 2]
    assert part.stages == {"wait": 0.75, "queue": 0.5, "uplink": 2.0, "backhaul": 0.0, "exec": 0.5,
                           "downlink": 0.25, "local": 0.5}
    assert part.resources["mec0/vm0"] == 1.0 and part.resources[analysis.WAIT_RESOURCE] == 0.75
    # without the DAG the predecessor is the task that ended last before: the same here
    run.preds = None
    assert breakdowns(run)[0].stages == part.stages


def test_report_of_one_run_writes_tables_and_figures(tmp_path_factory, tmp_path):
    out = _run("quickstart", tmp_path_factory)
    assert main(["report", str(out), "--out", str(tmp_path / "r"), "--quiet", "--bins", "12"]) == 0
    r = tmp_path / "r"
    for name in ("stages.csv", "resources.csv", "utilisation_over_time.csv", "queue_over_time.csv",
                 "latency_cdf.csv", "report.md", "utilisation.png", "queue.png", "latency_cdf.png",
                 "stages.png", "gantt.png"):
        assert (r / name).stat().st_size > 0, name
    with open(r / "utilisation_over_time.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 12
    with open(r / "latency_cdf.csv", newline="") as handle:
        cdf = [float(row["p"]) for row in csv.DictReader(handle)]
    assert cdf[-1] == 1.0 and cdf == sorted(cdf)


@pytest.fixture(scope="module")
def ab(tmp_path_factory):
    """Two controllers on the same scenario and seed."""
    base = tmp_path_factory.mktemp("ab")
    for controller in ("heft", "local"):
        assert main(["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--controller", controller,
                     "--set", "horizon_s=30", "--out", str(base / controller), "--quiet"]) == 0
    return base


def test_ab_of_two_controllers(ab, tmp_path):
    assert main(["report", str(ab / "heft"), str(ab / "local"), "--out", str(tmp_path / "r"), "--quiet"]) == 0
    with open(tmp_path / "r" / "compare.csv", newline="") as handle:
        rows = {row["metric"]: row for row in csv.DictReader(handle)}
    mean = rows["latency_mean_s"]
    assert float(mean["local - heft"]) == float(mean["local"]) - float(mean["heft"])
    # all-local: nothing goes over the air, so its mean uplink stage is zero and heft's is not
    assert float(rows["uplink_mean_s"]["local"]) == 0.0 < float(rows["uplink_mean_s"]["heft"])
    for label in ("heft", "local"):
        assert (tmp_path / "r" / label / "stages.csv").is_file()
    assert "## comparison" in (tmp_path / "r" / "report.md").read_text()


def test_report_errors_are_one_line(ab, tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "must be a mecsim run folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    assert "summary.json or trace.csv" in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(ab / "local", other)
    summary = json.loads((other / "summary.json").read_text())
    summary["provenance"]["versions"]["mecsim"] = "0.0.1"
    (other / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(ab / "heft"), str(other), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "one mecsim version" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
    assert main(["report", str(ab / "heft"), "--gantt-window", "5:1"]) == 2
    assert main(["report", str(ab / "heft"), "--out", str(tmp_path / "g"), "--gantt-resources", "nope*"]) == 2
    assert "must match a resource" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()     # a report that fails writes nothing


def test_a_report_replaces_an_earlier_one_only_with_force(ab, tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["report", str(ab / "heft"), str(ab / "local"), "--out", out, "--quiet"]) == 0
    assert main(["report", str(ab / "heft"), "--out", out, "--quiet"]) == 2
    assert "new or empty folder" in capsys.readouterr().err
    assert main(["report", str(ab / "heft"), "--out", out, "--quiet", "--force"]) == 0
    assert not (tmp_path / "r" / "compare.csv").exists() and not (tmp_path / "r" / "local").exists()


def test_gantt_picks_the_busiest_and_selects_by_pattern_and_window(tmp_path, monkeypatch):
    acts = [Activity(0, i, i, "local", f"device{i}/cpu", 0.0, 0.1, 0.0, 0.0) for i in range(12)]
    acts += [Activity(0, 0, 0, "queue", "mec0/vm0", 0.0, 1.0, 0.0, 0.0),
             Activity(0, 0, 0, "exec", "mec0/vm0", 1.0, 3.0, 0.0, 0.0)]
    assert "mec0/vm0" in _gantt_resources(acts, None, 5)
    assert _gantt_resources(acts, ["device1*"], 40) == ["device1/cpu", "device10/cpu", "device11/cpu"]
    with pytest.raises(ConfigError):
        _gantt_resources(acts, ["nope"], 40)
    drawn = []
    real = analysis.plot_gantt.__globals__["_gantt_title"]
    monkeypatch.setattr("mecsim.trace._gantt_title", lambda *a: drawn.append(a) or real(*a))
    plot_gantt(acts, tmp_path / "w.png", window=(0.5, 2.0), resources=["mec*"])
    assert drawn == [("", 2, 1, 0)]      # only the server's two activities overlap the window
    with pytest.raises(ConfigError):
        plot_gantt(acts, tmp_path / "x.png", window=(2.0, 1.0))
