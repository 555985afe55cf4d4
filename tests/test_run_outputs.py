"""What a run's outputs promise, over every shipped scenario: trace.json slices nest on their threads,
utilisation recomputed from trace.csv equals summary.json's (activities cut by the horizon included),
graphs.jsonl holds every application's DAG, dependency waits are recorded, and how the trace was
recorded (streamed or in memory) changes no file."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import nesting_violations
from mecsim import outputs
from mecsim.cli import main
from mecsim.trace import SERVICE_KINDS, busy_seconds, read_trace_csv
from mecsim.workload.jsonl import read_graph

ROOT = Path(__file__).resolve().parent.parent
# every shipped scenario, with a horizon short enough to keep the suite fast and to cut activities
SHIPPED = {
    "quickstart": [],
    "energy": [],
    "mrlco/authors": ["--set", "horizon_s=2000"],
    "mrlco/rates": ["--set", "horizon_s=2000"],
    "mrlco/tasks": ["--set", "horizon_s=2000"],
    "mrlco/topology": ["--set", "horizon_s=2000"],
    "scale/devices_1000": ["--set", "horizon_s=2"],
    "scale/devices_10000": ["--set", "horizon_s=1"],
    "pearl_dt/small": [],
    "pearl_dt/paper": [],
    "hmppo/edge_tuning": ["--set", "horizon_s=100000"],
    "pearl_dt/energy": [],
    "hmppo/energy": ["--set", "horizon_s=20000"],
}
DAG = [name for name in SHIPPED if not name.startswith(("pearl_dt", "hmppo"))]
_runs: dict[str, Path] = {}


def _run(name: str, tmp_path_factory) -> Path:
    """One run of a shipped scenario per test session (several tests read the same outputs)."""
    if name not in _runs:
        out = tmp_path_factory.mktemp(name.replace("/", "_")) / "out"
        assert main(["run", str(ROOT / "scenarios" / f"{name}.yaml"), "--out", str(out), "--quiet",
                     *SHIPPED[name]]) == 0
        _runs[name] = out
    return _runs[name]


@pytest.mark.parametrize("name", list(SHIPPED))
def test_trace_json_slices_nest_on_every_thread(name, tmp_path_factory):
    out = _run(name, tmp_path_factory)
    doc = json.loads((out / "trace.json").read_text())
    slices = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert slices and len(slices) == len(read_trace_csv(out / "trace.csv"))
    assert nesting_violations(doc) == []


def test_the_checker_finds_overlaps():
    x = {"ph": "X", "pid": 1, "tid": 1}
    nested = [{**x, "ts": 0.0, "dur": 10.0}, {**x, "ts": 2.0, "dur": 3.0}, {**x, "ts": 10.0, "dur": 1.0}]
    assert nesting_violations({"traceEvents": nested}) == []
    crossing = [{**x, "ts": 0.0, "dur": 10.0}, {**x, "ts": 5.0, "dur": 10.0}]
    assert len(nesting_violations({"traceEvents": crossing})) == 1
    assert nesting_violations({"traceEvents": [crossing[0], {**crossing[1], "tid": 2}]}) == []


@pytest.mark.parametrize("name", DAG)
def test_utilisation_from_the_trace_equals_the_summary(name, tmp_path_factory):
    out = _run(name, tmp_path_factory)
    summary = json.loads((out / "summary.json").read_text())
    acts = read_trace_csv(out / "trace.csv")
    horizon = summary["sim_time_s"]
    resources = dict(summary["resources"])
    devices = resources.pop("device_cpu")
    cpus = [f"device{d}/cpu" for d in range(devices["count"])]
    limits = {res: spec["limit"] for res, spec in resources.items()}
    limits.update(dict.fromkeys(cpus, devices["limit"]))
    busy = busy_seconds(acts, limits)
    util = summary["utilisation"]
    for res, spec in resources.items():
        assert busy[res] / (spec["units"] * horizon) == pytest.approx(util[res], abs=1e-6), res
    mean = np.mean([busy[c] for c in cpus]) / (devices["units"] * horizon)
    assert mean == pytest.approx(util["device_cpu_mean"], rel=1e-9, abs=1e-12)
    # the horizon cut what was still going: those activities end at it, and nothing goes past it
    cut = [a for a in acts if a.cut]
    assert all(a.end_s == horizon for a in cut) and all(a.end_s <= horizon for a in acts)
    if summary["counts"]["in_flight"]:
        assert cut and any(a.kind in SERVICE_KINDS for a in cut)


def test_edge_tuning_cuts_at_the_horizon(tmp_path_factory):
    out = _run("hmppo/edge_tuning", tmp_path_factory)
    summary = json.loads((out / "summary.json").read_text())
    acts = read_trace_csv(out / "trace.csv")
    assert summary["sim_time_s"] == 100000.0
    cut = [a for a in acts if a.cut]
    assert cut and all(a.end_s == 100000.0 for a in cut) and max(a.end_s for a in acts) == 100000.0
    # one activity cut per UE still at work in the step the horizon interrupted
    assert len({a.device for a in cut}) == len(cut)


def test_sim_time_is_the_horizon(tmp_path_factory):
    out = _run("mrlco/authors", tmp_path_factory)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sim_time_s"] == 2000.0
    apps = list(csv.DictReader((out / "apps.csv").open()))
    assert max(float(a["finish_s"]) for a in apps if a["finish_s"]) < 2000.0


@pytest.mark.parametrize("name", ["quickstart", "mrlco/authors", "scale/devices_1000"])
def test_graphs_jsonl_holds_every_application(name, tmp_path_factory):
    out = _run(name, tmp_path_factory)
    apps = list(csv.DictReader((out / "apps.csv").open()))
    lines = (out / "graphs.jsonl").read_text().splitlines()
    assert len(lines) == len(apps)
    tasks_seen: dict[int, set[int]] = {}
    for act in read_trace_csv(out / "trace.csv"):
        tasks_seen.setdefault(act.app, set()).add(act.task)
    for row, line in zip(apps, lines):
        obj = json.loads(line)
        assert (obj["app"], obj["device"], obj["source"]) == (int(row["app"]), int(row["device"]), row["source"])
        assert obj["arrival_s"] == float(row["arrival_s"])
        graph = read_graph(line)
        assert tasks_seen.get(obj["app"], set()) <= set(range(graph.n))
        if row["plan"]:
            assert len(row["plan"].split()) == graph.n


def test_graphs_jsonl_replays_the_graphs_that_ran(tmp_path_factory):
    from mecsim.rng import RandomStreams
    from mecsim.runner import prepare
    from mecsim.systems.dag_offloading.simulation import load_graphs
    out = _run("quickstart", tmp_path_factory)
    run = prepare(str(ROOT / "scenarios" / "quickstart.yaml"), [], None, None)
    graphs = dict(load_graphs(run.spec, RandomStreams(run.seed)))
    for line in (out / "graphs.jsonl").read_text().splitlines():
        source = json.loads(line)["source"]
        mine, theirs = read_graph(line), graphs[source]
        assert mine.edges == theirs.edges and mine.labels == theirs.labels
        for field in ("cycles", "up_bytes", "down_bytes"):
            assert np.array_equal(getattr(mine, field), getattr(theirs, field))


def test_dependency_waits_end_where_the_task_goes_on(tmp_path_factory):
    out = _run("quickstart", tmp_path_factory)
    acts = read_trace_csv(out / "trace.csv")
    starts = {(a.app, a.task, a.start_s) for a in acts if a.kind != "wait"}
    waits = [a for a in acts if a.kind == "wait"]
    assert waits
    for w in waits:
        assert w.resource == f"device{w.device}" and w.end_s > w.start_s
        assert w.cut or (w.app, w.task, w.end_s) in starts, w


def test_how_the_trace_is_recorded_changes_no_file(tmp_path, monkeypatch):
    scenario = str(ROOT / "scenarios" / "quickstart.yaml")
    streamed, untraced = tmp_path / "streamed", tmp_path / "untraced"
    assert main(["run", scenario, "--out", str(streamed), "--quiet"]) == 0
    assert main(["run", scenario, "--out", str(untraced), "--quiet", "--no-trace"]) == 0
    for name in ("apps.csv", "graphs.jsonl"):
        assert (streamed / name).read_bytes() == (untraced / name).read_bytes()
    # past the limit, trace.csv keeps the recorded order and trace.json is left out, said in summary.json
    monkeypatch.setattr(outputs, "CHROME_LIMIT", 100)
    long = tmp_path / "long"
    assert main(["run", scenario, "--out", str(long), "--quiet"]) == 0
    assert not (long / "trace.json").exists()
    info = json.loads((long / "summary.json").read_text())["trace"]
    assert info["order"] == "recorded" and "more than 100 activities" in info["left_out"]
    assert sorted(read_trace_csv(long / "trace.csv")) == sorted(read_trace_csv(streamed / "trace.csv"))


def test_summary_reports_peak_memory(tmp_path_factory):
    out = _run("quickstart", tmp_path_factory)
    assert json.loads((out / "summary.json").read_text())["peak_rss_mib"] > 1.0
