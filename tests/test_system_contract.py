"""The System contract: a fourth system, written only against it (tests/toy_system), runs through
`mecsim run`, `validate`, the outputs and a Gymnasium env, and the three shipped systems follow it."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from gymnasium.utils.env_checker import check_env

from mecsim.cli import main
from mecsim.scenario.load import load_scenario
from mecsim.systems import SYSTEMS, System, get_system

TOY = Path(__file__).parent / "toy_system" / "scenario.yaml"


ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {"dag_offloading": ROOT / "mecsim" / "envs" / "default_dag.yaml",   # one device, as the env needs
           "service_management": ROOT / "scenarios" / "pearl_dt" / "small.yaml",
           "edge_tuning": ROOT / "scenarios" / "hmppo" / "edge_tuning.yaml",
           "tests.toy_system": TOY}


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_every_registered_system_follows_the_contract(name):
    system = get_system(name)
    assert isinstance(system, System) and system.name == name
    assert load_scenario(SHIPPED[name]).system == name


@pytest.mark.parametrize("name", [*sorted(SYSTEMS), "tests.toy_system"])
def test_every_systems_env_passes_check_env(name):
    spec = load_scenario(SHIPPED[name])
    check_env(get_system(name).env(spec), skip_render_check=True)


def test_a_fourth_system_runs_through_the_cli(tmp_path, capsys):
    assert main(["validate", str(TOY)]) == 0
    assert "ok (M/M/1, λ = 0.9/s, μ = 1/s, controller tests.toy_system:AdmitBelow, about " in capsys.readouterr().out
    out = tmp_path / "run"
    assert main(["run", str(TOY), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    rows = list(csv.DictReader((out / "jobs.csv").open()))
    assert summary["jobs"] == len(rows) > 100 and 0 < summary["admitted"] < summary["jobs"]
    trace = list(csv.DictReader((out / "trace.csv").open()))
    assert len(trace) == sum(r["end_s"] != "" for r in rows)       # one exec per served job
    assert (out / "trace.json").is_file()


def test_a_fourth_system_gets_a_gymnasium_env():
    spec = load_scenario(TOY)
    env = get_system(spec.system).env(spec)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, done, _, _ = env.step(1)
        total, steps = total + reward, steps + 1
    assert steps > 100 and total < 0


def test_an_unknown_system_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsystem: dag_ofloading\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "system: must be one of" in err and "did you mean 'dag_offloading'" in err
    bad.write_text("name: x\nsystem: no.such.module\n")
    assert main(["validate", str(bad)]) == 2
    assert "cannot import system module 'no.such.module'" in capsys.readouterr().err
