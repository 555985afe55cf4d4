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
from mecsim.scenario.meanings import COMMON, SYSTEMS, entry, meaning
from mecsim.scenario.reference import Record, _paths, explore, markdown, schema, systems
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
    described = rate["properties"]["bandwidth_hz"]["description"]
    assert described.startswith(meaning(("access_points", 0, "uplink", "rate", "bandwidth_hz"), "dag_offloading"))
    assert "; unit: Hz; only with model: shannon" in described
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


def test_every_documented_path_has_a_one_line_meaning(records) -> None:
    for name, record in records.items():
        assert name in SYSTEMS
        for path in _paths(record):
            text = meaning(path, name)
            assert text and text.strip() == text and "\n" not in text, (name, path)


def test_a_key_without_a_meaning_is_an_error_of_the_generator(records) -> None:
    record = copy.deepcopy(records["edge_tuning"])
    record.allowed[()].add("colour")
    with pytest.raises(ValueError, match=r"edge_tuning needs a one-line meaning, got none for colour$"):
        markdown({**records, "edge_tuning": record})
    with pytest.raises(ValueError, match="colour"):
        schema("edge_tuning", record)


def test_every_meaning_is_the_one_some_documented_path_reads(records) -> None:
    used = {entry(path, name) for name, record in records.items() for path in _paths(record)}
    written = {("common", key) for key in COMMON} | {(name, key) for name, table in SYSTEMS.items() for key in table}
    assert written - used == set(), "entries no documented path reads (dead, or shadowed by a longer suffix)"


def test_the_longest_suffix_wins_and_a_system_before_common() -> None:
    assert entry(("servers", 0, "name"), "dag_offloading") == ("dag_offloading", "servers[].name")
    assert entry(("servers", "*", "name"), "dag_offloading") == entry(("servers", 3, "name"), "dag_offloading")
    assert entry(("name",), "dag_offloading") == ("common", "name")
    assert entry(("seed",), "service_management") == ("service_management", "seed")
    assert entry(("seed",), "edge_tuning") == ("common", "seed")
    assert entry(("pathloss", "frequency_hz"), "service_management") == ("common", "pathloss.frequency_hz")
    assert entry(("channel", "frequency_hz"), "edge_tuning") == ("edge_tuning", "channel.frequency_hz")
    assert entry(("channel", "frequency_hz"), "service_management") is None
    assert entry(("seed",), "mylab.queue") == ("common", "seed")     # a system of the user's: the common ones
