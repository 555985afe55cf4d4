"""Scenario files: read, override (``--set``) and hand to the loader of the system they name.

Each system validates its own keys (``FILE:LINE: key.path: what must hold, got VALUE``); paths
inside a scenario are relative to the scenario file's folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from mecsim.errors import ConfigError
from mecsim.scenario.checks import Node
from mecsim.scenario.source import Document, apply_overrides, flow_yaml, load_yaml, resolved

__all__ = ["load_scenario", "resolve_scenario", "scenario_from_document", "load_training"]


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Any:
    """Read, override (``--set a.b=v``) and validate a scenario file."""
    doc = load_yaml(path)
    if overrides:
        doc = apply_overrides(doc, overrides)
    return scenario_from_document(doc, Path(path).parent)


def resolve_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Any:
    """The scenario file's data after overrides, with the defaults the loader applied filled in."""
    doc = load_yaml(path)
    if overrides:
        doc = apply_overrides(doc, overrides)
    scenario_from_document(doc, Path(path).parent)
    return resolved(doc)


def load_training(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, list[tuple[str, Any]]]:
    """The learning tasks of a scenario: ``training: {train: [...], test: [...]}``.

    Each entry is ``{name: NAME, set: {dotted.key: value, ...}}``: the scenario with those keys
    overridden (e.g. another DAG folder or another rate) is one learning task (MRLCO §4: one task per
    data set). Errors cite the entry's line; an overridden value is validated like the file's own.
    """
    doc = load_yaml(path)
    if overrides:
        doc = apply_overrides(doc, overrides)
    base = Path(path).parent
    root = Node(doc)
    training = root.mapping("training").allow("train", "test")
    out: dict[str, list[tuple[str, Any]]] = {}
    for split in ("train", "test"):
        entries = []
        for entry in training.items(split, min_len=1):
            entry.allow("name", "set")
            changes = entry.mapping("set")
            items = [f"{k}={flow_yaml(v)}" for k, v in (changes.value or {}).items()]
            try:
                variant = scenario_from_document(apply_overrides(doc, items), base)
            except ConfigError as exc:
                raise entry.error(f"this task's scenario is invalid: {exc}") from None
            entries.append((entry.str("name"), variant))
        out[split] = entries
    return out


def scenario_from_document(doc: Document, base: Path = Path(".")) -> Any:
    """The scenario of a document, loaded by the system its ``system:`` key names."""
    from mecsim.systems import get_system
    root = Node(doc)
    try:
        system = get_system(root.str("system", "dag_offloading"))
    except ValueError as exc:
        raise root.error(str(exc), "system") from None
    return system.load(doc, base)
