"""Outputs one can trust: a run writes into a new folder or refuses before simulating, --force swaps
the whole folder, and summary.json says what produced it (issue 16, deliverable 1)."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from mecsim import outputs
from mecsim.cli import main
from mecsim.errors import ConfigError
from mecsim.runner import Prepared
from tests.test_cli import TINY     # a small DAG scenario: two devices, four generated graphs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + "controller_params: {}\n")
    return path


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a run gets as far as building its simulation."""
    def refuse(self, trace=True):
        raise AssertionError("simulated although --out was refused")
    monkeypatch.setattr(Prepared, "simulation", refuse)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _same_run(a: Path, b: Path) -> bool:
    """The same files with the same bytes, summary.json compared without wall-clock fields and versions
    (which list what this test process has imported so far)."""
    fa, fb = _files(a), _files(b)
    sa, sb = (json.loads(f.pop("summary.json")) for f in (fa, fb))
    for s in (sa, sb):
        del s["wall_s"], s["events_per_s"], s["peak_rss_mib"], s["provenance"]["versions"]
    return fa == fb and sa == sb


def _one_line_exit_2(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("mecsim: error: --out: ") and message in err, err


def test_a_file_as_out_fails_before_simulating(tiny, tmp_path, capsys, no_simulation):
    target = tmp_path / "results.csv"
    target.write_text("mine\n")
    for extra in ([], ["--force"]):
        _one_line_exit_2(capsys, ["run", str(tiny), "--out", str(target), "--quiet", *extra],
                         f"must be a folder, got a file: {target}")
    _one_line_exit_2(capsys, ["run", str(tiny), "--out", str(target / "o"), "--quiet"],
                     f"its parent must be a folder, got a file: {target}")
    assert target.read_text() == "mine\n"


def test_an_earlier_run_is_refused_before_simulating_and_left_alone(tiny, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--gantt"]) == 0
    before = _files(out)
    monkeypatch.setattr(Prepared, "simulation", lambda self, trace=True: pytest.fail("simulated"))
    _one_line_exit_2(capsys, ["run", str(tiny), "--out", str(out), "--quiet", "--no-trace"],
                     "holds an earlier run. Hint: --force replaces it as a whole")
    assert _files(out) == before


def test_force_replaces_the_folder_as_a_whole(tiny, tmp_path):
    """Run A writes trace and gantt; run B (no trace, another seed) with --force leaves B's files only."""
    out, alone = tmp_path / "o", tmp_path / "b_alone"
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--gantt"]) == 0
    assert {"trace.csv", "trace.json", "gantt.png"} <= set(_files(out))
    b = ["--quiet", "--no-trace", "--seed", "5"]
    assert main(["run", str(tiny), "--out", str(out), *b, "--force"]) == 0
    assert main(["run", str(tiny), "--out", str(alone), *b]) == 0
    assert sorted(_files(out)) == ["apps.csv", "graphs.jsonl", "summary.json"] and _same_run(out, alone)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b_alone", "o", "tiny.yaml"]   # no stage left


def test_a_failed_run_changes_nothing(tiny, tmp_path, monkeypatch):
    out = tmp_path / "o"
    assert main(["run", str(tiny), "--out", str(out), "--quiet"]) == 0
    before = _files(out)

    def half_written(result, stage, **kwargs):
        (Path(stage) / "apps.csv").write_text("half\n")
        raise RuntimeError("disk full")
    monkeypatch.setattr(outputs, "write_outputs", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        main(["run", str(tiny), "--out", str(out), "--quiet", "--force"])
    assert _files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "tiny.yaml"]


def test_force_replaces_only_a_run_folder(tiny, tmp_path, capsys, no_simulation):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep\n")
    _one_line_exit_2(capsys, ["run", str(tiny), "--out", str(mine), "--quiet", "--force"],
                     "--force replaces only a run's folder (one with summary.json)")
    assert (mine / "todo.txt").read_text() == "keep\n"


def test_an_empty_folder_is_a_new_one(tiny, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--no-trace"]) == 0
    assert sorted(_files(out)) == ["apps.csv", "graphs.jsonl", "summary.json"]


def test_a_folder_filled_meanwhile_is_not_mixed_with(tmp_path):
    """Two runs started on one new folder: the one that finishes second is refused (or, with force,
    replaces the first as a whole)."""
    out = tmp_path / "o"
    with pytest.raises(ConfigError, match="was filled by another run meanwhile; this run's outputs are discarded"):
        with outputs.run_folder(out) as second:
            (second / "summary.json").write_text("second\n")
            with outputs.run_folder(out) as first:
                (first / "summary.json").write_text("first\n")
                (first / "trace.csv").write_text("first\n")
    assert _files(out) == {"summary.json": b"first\n", "trace.csv": b"first\n"}
    with outputs.run_folder(out, force=True) as late:
        with outputs.run_folder(out, force=True) as forced:
            (forced / "summary.json").write_text("forced\n")
        (late / "summary.json").write_text("late\n")
    assert _files(out) == {"summary.json": b"late\n"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_summary_records_what_produced_the_run(tiny, tmp_path):
    out = tmp_path / "o"
    overrides = ["servers.0.cores=3", "controller_params.planner=model"]
    assert main(["run", str(tiny), "--out", str(out), "--quiet", "--controller", "heft", "--seed", "7",
                 *[a for o in overrides for a in ("--set", o)]]) == 0
    summary = json.loads((out / "summary.json").read_text())
    p = summary["provenance"]
    assert p["scenario"] == {"path": str(tiny), "sha256": hashlib.sha256(tiny.read_bytes()).hexdigest()}
    assert p["overrides"] == overrides
    assert p["controller"] == {"name": "heft", "params": {"planner": "model"}}
    assert p["seed"] == summary["seed"] == 7 and summary["controller"] == "heft"
    import mecsim
    import numpy
    import simpy
    v = p["versions"]
    assert v["mecsim"] == mecsim.__version__ and v["numpy"] == numpy.__version__ and v["simpy"] == simpy.__version__
    assert ("torch" in v) == ("torch" in sys.modules)


@pytest.mark.parametrize("scenario", ["pearl_dt/small.yaml", "hmppo/edge_tuning.yaml"])
def test_every_system_records_its_provenance(scenario, tmp_path):
    out, path = tmp_path / "o", ROOT / "scenarios" / scenario
    assert main(["run", str(path), "--out", str(out), "--quiet", "--no-trace", "--set", "horizon_s=2"]) == 0
    p = json.loads((out / "summary.json").read_text())["provenance"]
    assert p["scenario"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert p["overrides"] == ["horizon_s=2"]
