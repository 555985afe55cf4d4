"""One rule for keys of an unused model, plausibility warnings (--strict makes them errors) and
``validate --show``: the scenario-level consistency checks of issue 17 part 4."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest
import yaml

from mecsim.cli import main
from mecsim.errors import ConfigError, PlausibilityWarning
from mecsim.scenario.load import load_scenario, resolve_scenario
from tests.helpers import BASE, deep_merge, scenario

SHANNON = {"model": "shannon", "bandwidth_hz": 1e7, "tx_power_dbm": 20,
           "pathloss": {"model": "free_space", "frequency_hz": 2.4e9}}


def _with_uplink(rate: dict) -> dict:
    ap = dict(BASE["access_points"][0])
    ap["uplink"] = {**ap["uplink"], "rate": rate}     # replaced, not merged: another model's keys
    return {"access_points": [ap]}


UNUSED_MODEL_KEYS = [   # (extra of BASE, path, chosen model); tests/test_scenario_reference.py reuses them
    (_with_uplink(deep_merge(SHANNON, {"pathloss": {"model": "3gpp_rma", "exponent": 3.0}})),
     "access_points[0].uplink.rate.pathloss.exponent", "'3gpp_rma'"),
    (_with_uplink(deep_merge(SHANNON, {"pathloss": {"h_bs": 30.0}})),
     "access_points[0].uplink.rate.pathloss.h_bs", "'free_space'"),
    (_with_uplink({"model": "fixed", "bps": 1e7, "bandwidth_hz": 1e7}),
     "access_points[0].uplink.rate.bandwidth_hz", "'fixed'"),
    (_with_uplink(deep_merge(SHANNON, {"fading": {"coherence_s": 0.01}})),
     "access_points[0].uplink.rate.fading.coherence_s", "'none'"),
    ({"workload": {"arrival": {"process": "back_to_back", "rate_hz": 1.0}}},
     "workload.arrival.rate_hz", "'back_to_back'"),
    ({"workload": {"arrival": {"rate_hz": 1.0}}}, "workload.arrival.rate_hz", "'back_to_back'"),
    ({"servers": [deep_merge(BASE["servers"][0], {"vms": "shared", "vm_speed_hz": 1e9})]},
     "servers[0].vm_speed_hz", "'shared'"),
    ({"devices": {"mobility": {"speed_mps": [1, 2]}}}, "devices.mobility.speed_mps", "'static'"),
]


@pytest.mark.parametrize("extra, key, model", UNUSED_MODEL_KEYS)
def test_a_key_of_another_model_is_rejected_naming_the_chosen_model(extra: dict, key: str, model: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        scenario(extra)
    text = str(excinfo.value)
    assert f"{key}: is not used by " in text and model in text, text
    assert text.startswith("tiny.yaml:"), text


def test_a_pattern_beside_generated_graphs_is_rejected() -> None:
    # the DAG source is chosen by its key (folder or generate), not by a model key: the same rule
    with pytest.raises(ConfigError, match=r"^tiny.yaml:\d+: workload.dags.pattern: is not used by source 'generate', "
                                          r"only by 'folder'"):
        scenario({"workload": {"dags": {"pattern": "*.gv"}}})     # BASE generates its graphs


def test_the_keys_of_the_chosen_model_still_load() -> None:
    spec = scenario(_with_uplink(deep_merge(SHANNON, {"pathloss": {"model": "log_distance", "exponent": 3.5},
                                                      "fading": {"model": "rayleigh", "coherence_s": 0.02}})))
    rate = spec.access_points[0].uplink.rate
    assert rate.pathloss.exponent == 3.5 and rate.fading.coherence_s == 0.02


def test_a_typo_is_still_an_unknown_key_with_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"unknown key, did you mean 'rate_hz'\?"):
        scenario({"workload": {"arrival": {"process": "poisson", "rate_hx": 1.0}}, "horizon_s": 10})


@pytest.mark.parametrize("extra, key", [
    ({"devices": {"cpu": {"speed_hz": 4}}}, "devices.cpu.speed_hz"),
    (_with_uplink(deep_merge(SHANNON, {"bandwidth_hz": 10})), "access_points[0].uplink.rate.bandwidth_hz"),
    (_with_uplink({"model": "fixed", "bps": 20}), "access_points[0].uplink.rate.bps"),
    ({"access_points": [deep_merge(BASE["access_points"][0], {"position": [5e6, 0]})]},
     "access_points[0].position[0]"),
    ({"devices": {"position": {"x": {"uniform": [0, 2e9]}}}}, "devices.position.x.uniform[1]"),
    ({"devices": {"count": 10 ** 12}}, "devices.count"),
    (_with_uplink(deep_merge(SHANNON, {"tx_power_dbm": 1e9})), "access_points[0].uplink.rate.tx_power_dbm"),
])
def test_implausible_values_warn_once_naming_the_unit(extra: dict, key: str) -> None:
    with pytest.warns(PlausibilityWarning) as record:
        scenario(extra)
    texts = [str(w.message) for w in record if issubclass(w.category, PlausibilityWarning)]
    assert len(texts) == 1 and f"{key}: is implausibly" in texts[0] and "Hint: " in texts[0], texts


def test_plausible_values_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        scenario(_with_uplink(SHANNON))


SHIPPED = sorted(str(p) for p in Path("scenarios").rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED)
def test_shipped_scenarios_are_plausible_and_show_round_trips(path: str, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        data = resolve_scenario(path)
    shown = tmp_path / Path(path).name
    for key in ("folder",):      # relative DAG folders resolve against the scenario's folder
        _absolute_folders(data, Path(path).parent, key)
    shown.write_text(yaml.safe_dump(data, sort_keys=False))
    assert resolve_scenario(shown) == data     # the resolved form loads and resolves to itself
    spec = load_scenario(path)                  # and is the same scenario: every default it shows is right
    assert dataclasses.replace(load_scenario(shown), file=spec.file) == spec


def _absolute_folders(data: object, base: Path, key: str) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if k == key and isinstance(v, str) and not v.startswith("dataset:"):
                data[k] = str((base / v).resolve())
            else:
                _absolute_folders(v, base, key)
    elif isinstance(data, list):
        for item in data:
            _absolute_folders(item, base, key)


def _file(tmp_path: Path, extra: dict) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(deep_merge(BASE, extra)))
    return str(path)


def test_cli_warns_in_one_line_and_strict_makes_it_exit_2(tmp_path: Path, capsys) -> None:
    path = _file(tmp_path, {"devices": {"cpu": {"speed_hz": 4}}})
    assert main(["validate", path]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mecsim: warning: ") and "speed_hz" in err[0], err
    assert main(["validate", "--strict", path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mecsim: error: ") and "speed_hz" in err[0], err
    out = tmp_path / "out"
    assert main(["run", "--strict", "--quiet", "--out", str(out), path]) == 2
    assert not out.exists()


def test_validate_show_prints_overrides_and_defaults_but_no_unused_model_keys(tmp_path: Path, capsys) -> None:
    path = _file(tmp_path, {})
    assert main(["validate", "--show", "--set", "servers.0.cores=3", path]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["servers"][0]["cores"] == 3
    assert shown["servers"][0]["vms"] == "dedicated" and shown["workload"]["arrival"]["process"] == "back_to_back"
    assert "rate_hz" not in shown["workload"]["arrival"] and "pause_s" not in shown["devices"].get("mobility", {})


def test_validate_show_writes_default_distributions_as_a_file_would(capsys) -> None:
    from mecsim.scenario.distributions import as_yaml
    from mecsim.systems.service_management.spec import DeviceSpec
    assert main(["validate", "--show", "scenarios/pearl_dt/small.yaml"]) == 0
    devices = yaml.safe_load(capsys.readouterr().out)["devices"]
    assert devices["flops"] == as_yaml(DeviceSpec().flops) and "uniform" in devices["flops"]
    assert devices["task_bytes"] == as_yaml(DeviceSpec().task_bytes)


def test_sweep_strict_refuses_an_implausible_grid_value_before_running(tmp_path: Path, capsys) -> None:
    path = _file(tmp_path, {})
    out = tmp_path / "sweep"
    assert main(["sweep", path, "--grid", "devices.cpu.speed_hz=4", "--strict", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--grid devices.cpu.speed_hz=4" in err[0] and "implausibly small" in err[0], err
    assert not (out / "runs.csv").exists()


@pytest.mark.parametrize("extra, message", [
    ({"servers": []}, r"tiny.yaml:\d+: servers: must list at least one server when there is no cloud"),
    ({"workload": {"dags": {"generate": {"n": 0}}}},
     r"tiny.yaml:\d+: workload.dags.generate.n: must be an integer >= 1, got 0$"),
])
def test_loader_refusals_name_the_key_once(extra: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scenario(extra)
