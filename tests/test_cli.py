"""The command line: runs, outputs, and one-line errors (exit 2, no traceback, nothing written)."""
from __future__ import annotations

import argparse
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mecsim.cli import main, positive_int
from mecsim.registry import REGISTRY, TRAINERS, resolve

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
name: tiny
seed: 2
devices:
  count: 2
  cpu: {cores: 1, speed_hz: 1.0e8}
access_points:
  - name: ap0
    uplink: {rate: {model: fixed, bps: 2.0e7}, sharing: fifo}
    downlink: {rate: {model: fixed, bps: 2.0e7}, sharing: fifo}
servers:
  - {name: mec0, cores: 2, speed_hz: 1.0e9}
workload:
  dags:
    generate: {n: 6, fat: 0.5, density: 0.5, regularity: 0.5, ccr: 0.4, mindata: 100000, maxdata: 1000000, count: 4}
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def _err(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def test_run_writes_every_output(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(tiny), "--out", str(out), "--gantt", "--quiet"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["apps.csv", "gantt.png", "graphs.jsonl", "summary.json", "trace.csv", "trace.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["completed"] == summary["counts"]["arrived"] == 4
    assert summary["latency_s"]["p50"] <= summary["latency_s"]["p95"] <= summary["latency_s"]["max"]
    trace = json.loads((out / "trace.json").read_text())
    assert any(e.get("ph") == "X" for e in trace["traceEvents"])
    assert (out / "apps.csv").read_text().splitlines()[0] == \
        "app,device,source,arrival_s,finish_s,latency_s,status,reason,plan"


def _untrained(name: str) -> bool:
    """A registered controller that runs without a checkpoint (the learned ones need one)."""
    return all(p.default is not inspect.Parameter.empty or p.kind is p.VAR_KEYWORD
               for p in inspect.signature(resolve(name)).parameters.values() if p.name != "rng")


SHIPPED = {"service_management": ROOT / "scenarios" / "pearl_dt" / "small.yaml",
           "edge_tuning": ROOT / "scenarios" / "hmppo" / "edge_tuning.yaml"}


@pytest.mark.parametrize("controller", [n for n in sorted(REGISTRY) if _untrained(n)])
def test_every_registered_controller_runs_on_each_of_its_systems(tiny, tmp_path, controller):
    for system in REGISTRY[controller].systems:
        out = tmp_path / system
        scenario = tiny if system == "dag_offloading" else SHIPPED[system]
        extra = [] if system != "edge_tuning" else ["--set", "ues=2", "--set", "tasks=3"]
        assert main(["run", str(scenario), "--controller", controller, "--out", str(out), "--quiet", *extra]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["controller"] == controller
        if system == "dag_offloading":
            assert summary["counts"]["completed"] == 4


def test_learned_controllers_are_trainable_or_need_a_checkpoint():
    learned = {n for n in REGISTRY if not _untrained(n)}
    assert learned and learned <= set(TRAINERS) | {"sac_aisf", "sac_dts", "sac_tm"}


BAD_EDITS = [   # (edit of TINY, the one line it must give); tests/test_scenario_reference.py reuses them
    (("  count: 2", "  count: 0"), r"tiny\.yaml:4: devices\.count: must be an integer >= 1, got 0$"),
    (("  cpu: {cores", "  cpuu: {cores"), r"tiny\.yaml:5: devices\.cpuu: unknown key, did you mean 'cpu'\?"),
    (("sharing: fifo}\n    downlink", "sharing: fifoo}\n    downlink"),
     r"tiny\.yaml:8: access_points\[0\]\.uplink\.sharing: must be one of .*got 'fifoo'; did you mean 'fifo'\?"),
    (("speed_hz: 1.0e9", "speed_hz: fast"), r"tiny\.yaml:11: servers\[0\]\.speed_hz: must be a number"),
    (("seed: 2", "seed: 2\nseed: 3"), r"tiny\.yaml:3: seed: keys must be unique"),
    (("name: tiny", "name: [tiny"), r"tiny\.yaml:\d+: "),
]


@pytest.mark.parametrize("edit, pattern", BAD_EDITS)
def test_bad_input_is_one_line(tiny, tmp_path, capsys, edit, pattern):
    tiny.write_text(TINY.replace(*edit))
    out = tmp_path / "never"
    code, err = _err(capsys, ["run", str(tiny), "--out", str(out)])
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(pattern, err), err
    assert not out.exists()


def test_unknown_controller_and_bad_override(tiny, capsys):
    code, err = _err(capsys, ["run", str(tiny), "--controller", "hetf"])
    assert code == 2 and "did you mean 'heft'" in err
    code, err = _err(capsys, ["validate", str(tiny), "--set", "servers.0.cores=-1"])
    assert code == 2 and "servers[0].cores: must be an integer >= 1, got -1" in err


def test_missing_and_cyclic_gv(tmp_path, capsys):
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "a.gv").write_text('digraph G {\n  1 [size="10", expect_size="5"] \n  2 [size="10", expect_size="5"] \n'
                                 '  1 -> 2 [size ="5"]\n  2 -> 1 [size ="5"]\n}\n')
    scenario = tmp_path / "s.yaml"
    scenario.write_text(TINY.replace(
        "    generate: {n: 6, fat: 0.5, density: 0.5, regularity: 0.5, ccr: 0.4, mindata: 100000, maxdata: 1000000, count: 4}",
        "    folder: dags"))
    code, err = _err(capsys, ["validate", str(scenario)])
    assert code == 2 and "a.gv" in err and "cycle" in err
    scenario.write_text(scenario.read_text().replace("folder: dags", "folder: nowhere"))
    code, err = _err(capsys, ["validate", str(scenario)])
    assert code == 2 and re.search(r"s\.yaml:\d+: workload\.dags\.folder: must be an existing folder", err)


def test_optimal_refuses_large_dags(tiny, tmp_path, capsys):
    tiny.write_text(TINY.replace("n: 6,", "n: 30,"))
    out = tmp_path / "o"
    code, err = _err(capsys, ["run", str(tiny), "--controller", "optimal", "--out", str(out)])
    assert code == 2 and "refuses more than 2^24" in err and "n = 30" in err
    assert not out.exists()


def test_readme_controller_example(tmp_path):
    """The README's custom controller, saved as the README says, runs with the README's command."""
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"Save this as `my_policy.py`:\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert len(code.strip().splitlines()) <= 15
    (tmp_path / "my_policy.py").write_text(code)
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = subprocess.run([sys.executable, "-m", "mecsim.cli", "run", "tiny.yaml", "--controller",
                          "my_policy:OffloadHeavy", "--out", "o", "--quiet"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    plans = [line.rsplit(",", 1)[1].split() for line in (tmp_path / "o" / "apps.csv").read_text().splitlines()[1:]]
    assert {a for plan in plans for a in plan} <= {"0", "1"}


def test_same_seed_byte_identical_via_cli(tiny, tmp_path):
    for name in ("a", "b"):
        assert main(["run", str(tiny), "--out", str(tmp_path / name), "--quiet", "--controller", "random"]) == 0
    for f in ("trace.csv", "apps.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml")))
def test_shipped_scenarios_validate(path, capsys):
    assert main(["validate", str(ROOT / path)]) == 0


def test_no_trace_writes_no_trace_files(tiny, tmp_path):
    out = tmp_path / "o"
    assert main(["run", str(tiny), "--out", str(out), "--no-trace", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["apps.csv", "graphs.jsonl", "summary.json"]


def test_positive_int_takes_counts_and_names_bad_ones():
    assert positive_int("3") == 3
    for bad, message in (("0", "must be >= 1, got 0"), ("-2", "must be >= 1, got -2"), ("x", "integer >= 1, got 'x'")):
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
            positive_int(bad)
