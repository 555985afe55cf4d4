"""The scenario reference derived from the loaders themselves: a JSON Schema per system (``mecsim
schema``) and docs/scenario.md (``python -m mecsim.scenario.reference > docs/scenario.md``).

Nothing here lists keys a second time. Every :class:`mecsim.scenario.checks.Node` accessor records
how it reads its path (type, default, choices, bounds) and every model-choosing key its variant
table; this module loads each shipped scenario, then each model variant the loaders declare (with
placeholder values for the keys that variant requires), and turns the union of those records into
the schema and the document. A key the loaders never read through a Node is allowed but untyped.
What each key means is written in :mod:`mecsim.scenario.meanings`; a documented path of a shipped
system without a meaning there is an error of the generator (a ValueError naming the paths).
"""
from __future__ import annotations

import copy
import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence, get_args

from mecsim.errors import ConfigError, MecsimError
from mecsim.scenario.checks import REQUIRED, bounds_text, number_text
from mecsim.scenario.distributions import DISTRIBUTIONS, Distribution, as_yaml
from mecsim.scenario.meanings import SYSTEMS, meaning
from mecsim.scenario.source import ABSENT, Document, format_path, load_yaml, lookup, show

__all__ = ["Record", "SCENARIOS", "UNITS", "explore", "markdown", "schema", "systems"]

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
"""The shipped scenarios the loaders are run over."""

UNITS: Mapping[str, str] = {
    "_dbm_hz": "dBm/Hz", "_hz": "Hz", "_bps": "bit/s", "_dbm": "dBm", "_db": "dB", "_dbi": "dBi", "_s": "s", "_ms": "ms",
    "_m": "m", "_bytes": "bytes", "_bits": "bits", "_w": "W", "_j": "J", "_mps": "m/s", "_cycles": "cycles",
    "flops": "FLOP/s", "kappa": "J/(cycle·Hz²)",
}
"""Key-name suffix -> unit (the scenario format's naming rule)."""

_ANY = "*"     # a list index, generalised
_MAX_FILLS = 40


def unit(path: tuple) -> str:
    """The unit of the nearest named part of `path`, from its suffix; "" when it has none."""
    for part in reversed(path):
        if isinstance(part, str) and part != _ANY:
            for suffix, name in sorted(UNITS.items(), key=lambda item: -len(item[0])):
                if part.endswith(suffix):
                    return name
            return ""
    return ""


def _general(path: tuple) -> tuple:
    return tuple(_ANY if isinstance(p, int) and not isinstance(p, bool) else p for p in path)


@dataclass
class Record:
    """What the loaders of one system were seen to read, by generalised path (list indices -> "*")."""

    system: str
    reads: dict[tuple, dict[str, dict[str, Any]]] = field(default_factory=dict)
    allowed: dict[tuple, set[str]] = field(default_factory=dict)
    variants: dict[tuple, tuple[str, Mapping[str, Sequence[str]], tuple[str, ...], Any]] = field(default_factory=dict)
    required: dict[tuple, bool] = field(default_factory=dict)

    def add(self, doc: Document, complete: bool) -> None:
        """Merge what loading `doc` read; only a `complete` load can tell that a key is required."""
        for path, kinds in doc.reads.items():
            into = self.reads.setdefault(_general(path), {})
            for kind, info in kinds.items():
                into.setdefault(kind, info)
        for path, keys in doc.allowed.items():
            self.allowed.setdefault(_general(path), set()).update(keys)
            for key in keys if complete else ():    # required only if every mapping seen required it
                needed = any(info["default"] is REQUIRED for info in doc.reads.get(path + (key,), {}).values())
                child = _general(path + (key,))
                self.required[child] = self.required.get(child, True) and needed
        for path, table in doc.variants.items():
            self.variants.setdefault(_general(path), table)


def _sample(kind: str, info: Mapping[str, Any]) -> Any:
    """A placeholder value that passes `kind`'s own checks, to reach the keys behind a required one."""
    low, high = info.get("min"), info.get("max")
    if kind in ("int", "float", "distribution"):
        value = 1.0 if low is None else low + 1 if high is None else (low + high) / 2
        return int(value) if kind == "int" or info.get("integer") else value
    if kind == "str":
        return info["choices"][0] if info.get("choices") else None
    if kind == "bool":
        return False
    if kind == "float_list":
        return [0.0 if low is None else low] * (info.get("length") or 1)
    return {} if kind == "mapping" else None


def _set(data: Any, path: tuple, value: Any) -> bool:
    parent, last = lookup(data, path[:-1]), path[-1]
    if isinstance(parent, dict) or (isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent)):
        parent[last] = value
        return True
    return False


def _load(data: Any, file: str, base: Path) -> tuple[Document, bool]:
    """Load `data`, filling each required key it lacks with a placeholder (a list with holes that
    are filled once their items' type is read); the last Document read and whether it loaded."""
    from mecsim.scenario.load import scenario_from_document
    holes: set[tuple] = set()
    doc = Document(file, data)
    for _ in range(_MAX_FILLS):
        doc = Document(file, data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                scenario_from_document(doc, base)
            return doc, True
        except (MecsimError, OSError, ValueError):
            todo = [(path, kind, info) for path, kinds in doc.reads.items() for kind, info in kinds.items()
                    if path in holes or (info["default"] is REQUIRED and lookup(data, path) is ABSENT)]
            if not todo:
                return doc, False
            path, kind, info = todo[-1]
            value = [None] * max(info["min_len"], 1) if kind == "list" else _sample(kind, info)
            if value is None or not _set(data, path, value):
                return doc, False
            holes.discard(path)
            if kind == "list":
                holes.update(path + (i,) for i in range(len(value)))
    return doc, False


def _shipped() -> list[Path]:
    return sorted(SCENARIOS.rglob("*.yaml"))


def systems() -> list[str]:
    from mecsim.systems import SYSTEMS
    return sorted(SYSTEMS)


def explore(name: str) -> Record:
    """Load every shipped scenario of system `name`, then every model variant its loaders declare."""
    record = Record(name)
    seeds: list[tuple[Any, str, Path]] = []
    for shipped in _shipped():
        doc = load_yaml(shipped)
        if not isinstance(doc.data, dict) or doc.data.get("system", "dag_offloading") != name:
            continue
        seeds.append((doc.data, str(shipped), shipped.parent))
        record.add(*_load(copy.deepcopy(doc.data), str(shipped), shipped.parent))
    if not seeds:   # a system without a shipped scenario: what its loader reads of an empty file
        seeds.append(({"system": name}, f"<{name}>", Path(".")))
        record.add(*_load({"system": name}, f"<{name}>", Path(".")))
    done: set[tuple] = set()
    while True:     # each variant of each model-choosing key, then each allowed key never read
        todo: list[tuple[tuple, str, Any, set[str] | None]] = [
            (path, key, chosen, {key, *common, *table[chosen]})
                for path, (key, table, common, _) in record.variants.items() for chosen in table]
        todo += [(path, key, {}, None) for path, keys in record.allowed.items() for key in keys
                 if path + (key,) not in record.reads]
        todo = [item for item in todo if (item[0], item[1], repr(item[2])) not in done]
        if not todo:
            # `system` is read before a system is chosen; this record is of one system
            record.reads[("system",)] = {"str": {"default": "dag_offloading" if name == "dag_offloading"
                                                 else REQUIRED, "choices": (name,)}}
            record.required[("system",)] = name != "dag_offloading"
            return record
        for path, key, value, own in todo:
            done.add((path, key, repr(value)))
            for data, file, base in seeds:
                data = copy.deepcopy(data)
                target = _find(data, path)
                if target is None:
                    continue
                for k in [k for k in target if own is not None and k not in own]:
                    del target[k]
                target[key] = value
                record.add(*_load(data, file, base))
                break


def _find(data: Any, path: tuple) -> dict | None:
    """The first mapping at generalised `path` (any list item for "*"), made when only its last
    mapping keys are absent (an optional section such as ``devices.mobility``)."""
    if not path:
        return data if isinstance(data, dict) else None
    head, rest = path[0], path[1:]
    if head == _ANY:
        for item in data if isinstance(data, list) else ():
            found = _find(item, rest)
            if found is not None:
                return found
        return None
    if isinstance(data, dict) and head not in data and _ANY not in rest:
        data[head] = {}
    return _find(data[head], rest) if isinstance(data, dict) and head in data else None


# --- JSON Schema ---------------------------------------------------------------------------------

def _json_default(value: Any) -> Any:
    """A default as JSON (a distribution as its file is written), or None when it has no such form."""
    if isinstance(value, get_args(Distribution)):
        return as_yaml(value)
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, dict)):      # plain data, e.g. a default list of servers
        items = value.values() if isinstance(value, dict) else value
        plain = [_json_default(v) for v in items]
        if any(p is None for p in plain):
            return None
        return dict(zip(value, plain)) if isinstance(value, dict) else plain
    return None


def _bounds(out: dict[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    if info.get("min") is not None:
        out["exclusiveMinimum" if info.get("min_open") else "minimum"] = info["min"]
    if info.get("max") is not None:
        out["exclusiveMaximum" if info.get("max_open") else "maximum"] = info["max"]
    return out


def _distribution(info: Mapping[str, Any]) -> dict[str, Any]:
    number = _bounds({"type": "integer" if info.get("integer") else "number"}, info)
    pair = {"type": "array", "items": number, "minItems": 2, "maxItems": 2}
    named = {"uniform": pair, "normal": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
             "choice": {"type": "array", "items": number, "minItems": 1},
             "poisson": {"type": "number", "minimum": 0}, "exponential": {"type": "number", "exclusiveMinimum": 0}}
    extra = {"p": {"type": "array", "items": {"type": "number", "minimum": 0}},
             "clip": {"type": "array", "items": {"type": ["number", "null"]}, "minItems": 2, "maxItems": 2}}
    mapping = {"type": "object", "properties": {**named, **extra}, "additionalProperties": False,
               "oneOf": [{"required": [name]} for name in DISTRIBUTIONS]}
    return {"anyOf": [number, mapping]}


def _leaf(kind: str, info: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "int":
        return _bounds({"type": "integer"}, info)
    if kind == "float":
        number = _bounds({"type": "number"}, info)
        return {"anyOf": [number, {"type": "null"}]} if info.get("allow_none") else number
    if kind == "str":
        return {"enum": list(info["choices"])} if info.get("choices") else {"type": "string"}
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "float_list":
        out: dict[str, Any] = {"type": "array", "items": _bounds({"type": "number"}, info)}
        if info.get("length") is not None:
            out["minItems"] = out["maxItems"] = info["length"]
        return out
    return _distribution(info)


def _node(record: Record, path: tuple) -> dict[str, Any]:
    kinds = record.reads.get(path, {})
    alternatives: list[dict[str, Any]] = []
    if "distribution" in kinds:     # its inner keys are the distribution's, not the scenario's
        alternatives.append(_distribution(kinds["distribution"]))
    else:
        for kind, info in kinds.items():
            if kind in ("mapping", "list"):
                continue
            alternatives.append(_leaf(kind, info))
        if "list" in kinds and "float_list" not in kinds:
            alternatives.append({"type": "array", "minItems": kinds["list"]["min_len"],
                                 "items": _node(record, path + (_ANY,))})
        if "mapping" in kinds or path in record.allowed:
            alternatives.append(_object(record, path))
    out: dict[str, Any] = alternatives[0] if len(alternatives) == 1 else (
        {"anyOf": alternatives} if alternatives else {})
    infos = list(kinds.values())
    default = next((_json_default(i["default"]) for i in infos if i["default"] is not REQUIRED), None)
    if default is not None:
        out["default"] = default
    described = _description(record, path)
    if described:
        out["description"] = described
    return out


def _object(record: Record, path: tuple) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object"}
    if path not in record.allowed:
        return out
    variant = record.variants.get(path)
    listed = {k for ks in variant[1].values() for k in ks} if variant is not None else set()
    keys = sorted(record.allowed[path] | listed)
    out["properties"] = {key: _node(record, path + (key,)) for key in keys}
    out["additionalProperties"] = False
    required = [key for key in keys if record.required.get(path + (key,))]
    if variant is None and required:
        out["required"] = required
    if variant is not None:
        key, table, common, default = variant
        rules = [{"if": {"properties": {key: {"const": name}}, "required": [key]},
                  "then": {"propertyNames": {"enum": sorted({key, *common, *keys_of})}}}
                 for name, keys_of in table.items()]
        if default is not REQUIRED:
            rules.append({"if": {"not": {"required": [key]}},
                          "then": {"propertyNames": {"enum": sorted({key, *common, *table[default]})}}})
        else:
            out["required"] = [key]
        out["allOf"] = rules
    return out


def _models(record: Record, path: tuple) -> str:
    """Which model a key belongs to: ``model: a, b`` when only some variants of its mapping use it."""
    if not path:
        return ""
    variant = record.variants.get(path[:-1])
    if variant is None:
        return ""
    key, table, common, _ = variant
    name = path[-1]
    if name == key or name in common:
        return ""
    users = [model for model, keys in table.items() if name in keys]
    return f"{key}: {', '.join(users)}" if users and len(users) < len(table) else ""


def _text(path: tuple) -> str:
    """A generalised path as the document writes it: ``servers[].name``."""
    return format_path(tuple(0 if p == _ANY else p for p in path)).replace("[0]", "[]")


def _explained(record: Record) -> Record:
    """`record`, once every path it documents has a meaning (only a shipped system's are known)."""
    missing = [_text(p) for p in _paths(record) if meaning(p, record.system) is None]
    if missing and record.system in SYSTEMS:
        raise ValueError(f"mecsim/scenario/meanings.py: every documented key of {record.system} needs a one-line "
                         f"meaning, got none for {', '.join(missing)}")
    return record


def _description(record: Record, path: tuple) -> str:
    parts = [text] if (text := meaning(path, record.system)) else []
    if unit(path):
        parts.append(f"unit: {unit(path)}")
    models = _models(record, path)
    if models:
        parts.append(f"only with {models}")
    return "; ".join(parts)


def schema(name: str, record: Record | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file of system `name`."""
    record = _explained(explore(name) if record is None else record)
    root = _object(record, ())
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"mecsim scenario, system {name}",
            "description": "Generated from the loader by mecsim.scenario.reference; do not edit.", **root}


# --- docs/scenario.md ----------------------------------------------------------------------------

def _type(kinds: Mapping[str, Mapping[str, Any]]) -> str:
    names = {"int": "integer", "float": "number", "str": "string", "bool": "boolean", "list": "list",
             "mapping": "mapping", "float_list": "list of numbers",
             "distribution": "number or distribution"}
    if "distribution" in kinds:
        return "integer or distribution" if kinds["distribution"].get("integer") else names["distribution"]
    out = [names[k] for k in kinds if not (k == "list" and "float_list" in kinds)]
    if kinds.get("float", {}).get("allow_none"):
        out.append("null")
    return " or ".join(dict.fromkeys(out))


def _allowed(kinds: Mapping[str, Mapping[str, Any]]) -> str:
    for kind, info in kinds.items():
        if kind == "str" and (info.get("choices") or info.get("refers")):
            return info.get("refers") or ", ".join(info["choices"])
        if info.get("min") is not None or info.get("max") is not None:
            return bounds_text(info.get("min"), info.get("max"), min_open=bool(info.get("min_open")),
                               max_open=bool(info.get("max_open"))).strip()
        if kind == "list" and info.get("min_len"):
            return f">= {info['min_len']} items"
        if kind == "float_list" and info.get("length"):
            return f"{info['length']} items"
    return ""


def _default_text(kinds: Mapping[str, Mapping[str, Any]], required: bool) -> str:
    infos = list(kinds.values())
    if not infos:
        return ""
    if all(i["default"] is REQUIRED for i in infos):
        return "required" if required else "none"
    value = next(i["default"] for i in infos if i["default"] is not REQUIRED)
    if isinstance(value, float):
        return number_text(value)
    plain = _json_default(value)
    if plain is None and value is not None:
        return f"`{value!r}`"
    return number_text(plain) if isinstance(plain, float) else show(plain, limit=200)


def _paths(record: Record) -> list[tuple]:
    """Every documented path, parents first, skipping the insides of distributions."""
    paths = set(record.reads) | {p + (k,) for p, keys in record.allowed.items() for k in keys}
    inside = [p for p, kinds in record.reads.items() if "distribution" in kinds]
    paths = {p for p in paths if p and not any(p[:len(d)] == d and len(p) > len(d) for d in inside)}
    return sorted(paths, key=lambda p: tuple(str(x) for x in p))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(records: Mapping[str, Record] | None = None) -> str:
    """docs/scenario.md: one table per system (each explored unless `records` has it), one row per path."""
    lines = ["# Scenario file reference", "",
             "Generated by `python -m mecsim.scenario.reference > docs/scenario.md` from what the loaders read",
             "(tests/test_scenario_reference.py fails when it is stale); `mecsim schema --system NAME` prints the",
             "same knowledge as a JSON Schema. `[]` stands for any list item. A number or distribution is a plain",
             "number or one of: " + ", ".join(f"`{{{d}: ...}}`" for d in DISTRIBUTIONS) + ". Default \"none\":",
             "no default, needed where its section or model is used; \"model\": the only models that use the key;",
             "\"meaning\": what the key is (mecsim/scenario/meanings.py), with the paper and equation where it has one.",
             ""]
    for name in systems():
        record = _explained(records[name] if records is not None and name in records else explore(name))
        lines += [f"## system: {name}", "", "| path | type | unit | default | allowed | model | meaning |",
                  "|---|---|---|---|---|---|---|"]
        for path in _paths(record):
            kinds = record.reads.get(path, {})
            row = [f"`{_text(path)}`", _type(kinds), unit(path), _default_text(kinds, record.required.get(path, False)),
                   _allowed(kinds), _models(record, path), meaning(path, record.system) or ""]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mecsim.scenario.reference [--schema NAME]``: print the document (or one schema)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["--schema"] and len(args) == 2:
            print(json.dumps(schema(args[1]), indent=2))
        else:
            print(markdown(), end="")
    except (ConfigError, ValueError) as exc:
        print(f"mecsim: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
