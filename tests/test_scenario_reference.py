"""`mecsim schema` and docs/scenario.md, both derived from what the loaders read (issue 17 part 5):
the schema accepts every shipped scenario and rejects the malformed cases the loader rejects, and
the committed reference is what the generator writes today."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mecsim.cli import main
from mecsim.errors import ConfigError
from mecsim.scenario.load import scenario_from_document
from mecsim.scenario.reference import Record, explore, markdown, schema, systems
from mecsim.scenario.source import load_yaml, parse_yaml
from tests.helpers import BASE, deep_merge
from tests.test_cli import BAD_EDITS, TINY
from tests.test_plausibility import UNUSED_MODEL_KEYS

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").rglob("*.yaml"))


@pytest.fixture(scope="module")
def records() -> dict[str, Record]:
    return {name: explore(name) for name in systems()}


@pytest.fixture(scope="module")
def validators(records: dict[str, Record]) -> dict[str, jsonschema.protocols.Validator]:
    out = {}
    for name, record in records.items():
        sch = schema(name, record)
        jsonschema.Draft202012Validator.check_schema(sch)
        out[name] = jsonschema.Draft202012Validator(sch)
    return out


def _errors(validators: dict, data: Any) -> list[str]:
    name = data.get("system", "dag_offloading") if isinstance(data, dict) else "dag_offloading"
    return [f"{list(e.absolute_path)}: {e.message}" for e in validators[name].iter_errors(data)]


def test_the_schema_accepts_every_shipped_scenario(validators) -> None:
    assert len(SHIPPED) >= 8
    for path in SHIPPED:
        assert _errors(validators, load_yaml(path).data) == [], path


def test_the_schema_accepts_the_test_scenarios(validators) -> None:
    assert _errors(validators, parse_yaml(TINY, "tiny.yaml").data) == []
    assert _errors(validators, BASE) == []


def _loader_rejects(data: Any) -> bool:
    try:
        scenario_from_document(parse_yaml(yaml.safe_dump(data), "case.yaml"))
    except ConfigError:
        return True
    return False


def _dropped(path: tuple) -> dict:
    data = copy.deepcopy(BASE)
    node = data
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return data


# Value-level cases only: duplicate keys and broken YAML are refused by the parser, before any schema.
EDITS = [edit for edit, pattern in BAD_EDITS if "unique" not in pattern and pattern != r"tiny\.yaml:\d+: "]
MALFORMED = (
    [parse_yaml(TINY.replace(*edit), "tiny.yaml").data for edit in EDITS]
    + [deep_merge(BASE, extra) for extra, _, _ in UNUSED_MODEL_KEYS]
    + [deep_merge(BASE, {"seed": -1}),                                          # below min
       deep_merge(BASE, {"devices": {"count": "two"}}),                         # wrong type
       deep_merge(BASE, {"servers": [{**BASE["servers"][0], "vms": "virtual"}]}),   # bad choice
       deep_merge(BASE, {"workload": {"arrival": {"process": "poisson", "rate_hz": 0}}}),   # bound is open
       deep_merge(BASE, {"horizon_s": True}),                                   # a boolean is not a number
       deep_merge(BASE, {"colour": "red"}),                                     # unknown top-level key
       _dropped(("access_points",)), _dropped(("devices", "cpu", "speed_hz"))]  # required keys
)


@pytest.mark.parametrize("index", range(len(MALFORMED)))
def test_the_schema_rejects_what_the_loader_rejects(validators, index: int) -> None:
    data = MALFORMED[index]
    assert _loader_rejects(data), data
    assert _errors(validators, data), data


def test_the_schema_types_and_documents_keys_of_every_model(records) -> None:
    props = schema("dag_offloading", records["dag_offloading"])["properties"]
    rate = props["access_points"]["items"]["properties"]["uplink"]["properties"]["rate"]
    pathloss = rate["properties"]["pathloss"]["properties"]
    assert pathloss["exponent"]["type"] == "number" and pathloss["exponent"]["exclusiveMinimum"] == 0
    assert "only with model: log_distance" in pathloss["exponent"]["description"]
    assert rate["properties"]["bandwidth_hz"]["description"].startswith("unit: Hz")
    mobility = props["devices"]["properties"]["mobility"]["properties"]
    assert mobility["speed_mps"]["default"] == [1.0, 2.0]


def test_docs_scenario_md_is_generated_and_current(records) -> None:
    text = (ROOT / "docs" / "scenario.md").read_text()
    assert text == markdown(records), "docs/scenario.md is stale: python -m mecsim.scenario.reference > docs/scenario.md"
    for name in systems():
        assert f"## system: {name}" in text


def test_cli_prints_the_schema_and_refuses_an_unknown_system(records, capsys) -> None:
    assert main(["schema", "--system", "edge_tuning"]) == 0
    assert json.loads(capsys.readouterr().out) == schema("edge_tuning", records["edge_tuning"])
    assert main(["schema", "--system", "edge_tunin"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "did you mean 'edge_tuning'" in err
