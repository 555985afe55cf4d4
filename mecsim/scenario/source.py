"""Scenario YAML with positions: every key and list item remembers its line, so errors can cite it.

Values are what ``yaml.safe_load`` gives (plain dicts, lists and scalars) with three deliberate
differences: a key written twice is an error rather than silently last-wins; exponent numbers
without a dot or exponent sign (``1e9``, ``2.4e9``) read as floats as in YAML 1.2, since PyYAML's
YAML 1.1 rules would leave CPU frequencies and cycle counts as strings; and keys that YAML 1.1
reads as booleans (``on:``, ``no:``) stay the names they were written as (values are unchanged).
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml
from yaml.nodes import MappingNode, Node as YamlNode, ScalarNode, SequenceNode

from mecsim.errors import ConfigError

__all__ = ["Document", "apply_overrides", "flow_yaml", "format_path", "load_yaml", "parse_yaml", "resolved",
           "show"]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Aliases are expanded into copies (so each path has its own line); this bounds "billion laughs".
_MAX_NODES = 1_000_000
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INDEX = re.compile(r"[0-9]+")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads YAML 1.2 exponent floats such as ``1e9`` and ``2.4e9``."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class Document:
    """A parsed scenario file: its data plus the line of each key path, for error messages."""

    file: str
    data: Any
    lines: Mapping[tuple, int] = field(default_factory=dict)
    # Filled while a loader reads it (mecsim.scenario.checks.Node), for `resolved`: the default each
    # absent key took, and the keys each mapping allows (so a default of an unused model is left out).
    defaults: dict[tuple, Any] = field(default_factory=dict, compare=False, repr=False)
    allowed: dict[tuple, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    # How each path was read (kind -> its checks: default, choices, bounds) and each model-choosing
    # key's variant table, for the schema and reference generated from the loader (mecsim.scenario.reference).
    reads: dict[tuple, dict[str, dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)
    variants: dict[tuple, tuple[str, Mapping[str, Sequence[str]], tuple[str, ...], Any]] = field(
        default_factory=dict, compare=False, repr=False)

    def line(self, path: tuple) -> int | None:
        """The line of `path`, else of its nearest ancestor that has one (new keys from overrides)."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None

    def error(self, path: tuple, message: str) -> ConfigError:
        """A ConfigError that reads `FILE:LINE: key.path: message`."""
        return ConfigError(message, file=self.file, line=self.line(path),
                           path=format_path(path) or None)


def format_path(path: tuple) -> str:
    """``("servers", 0, "cores")`` -> ``"servers[0].cores"``: the way keys are written in messages."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else str(part))
    return "".join(out)


def show(value: Any, limit: int = 80) -> str:
    """A value as short YAML-like text for messages: strings quoted, ``null``, ``true``, ``.inf``."""
    text = _show(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, (int, str)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_show_key(k)}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _show_key(key: Any) -> str:
    return key if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) else _show(key)


def load_yaml(path: str | Path) -> Document:
    """Read and parse a scenario file; any problem (missing, unreadable, bad YAML) is a ConfigError."""
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found. Hint: relative paths start at the current directory",
                          file=file) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, expected a YAML file", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"must be UTF-8 text, got byte 0x{raw[exc.start]:02x}. "
                          "Hint: re-save the file as UTF-8", file=file, line=line) from None
    return parse_yaml(text.replace("\r\n", "\n"), file)


def parse_yaml(text: str, file: str = "<string>") -> Document:
    """Parse YAML text whose top level must be a mapping; `file` is only used in messages."""
    data, lines = _load(text, file)
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys to values, "
                          f"got {show(data)}", file=file, line=lines.get((), 1))
    return Document(file, data, lines)


def flow_yaml(value: Any) -> str:
    """`value` as one line of YAML (flow style), the form ``--set key=VALUE`` takes."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def apply_overrides(doc: Document, overrides: Sequence[str]) -> Document:
    """Apply CLI ``--set dotted.key=value`` items in order and return a new Document.

    The value is YAML (``4``, ``[1, 2]``, ``foo``); digit path parts index lists; missing mapping
    keys are created. A replaced key keeps its line (so later errors still point into the file) and
    its old sub-keys' lines are dropped; new keys fall back to their nearest ancestor's line.
    """
    data = copy.deepcopy(doc.data)
    lines = dict(doc.lines)
    for item in overrides:
        keys, value = _parse_override(item)
        data = _set_path(data, lines, keys, value, item)
    return Document(doc.file, data, lines)


ABSENT = object()   # what lookup returns for a path the data does not have


def lookup(data: Any, path: tuple) -> Any:
    """The value at `path` (mapping keys and list indices) in plain YAML data, or ABSENT."""
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return ABSENT
    return data


def resolved(doc: Document) -> Any:
    """The document's data with the defaults its loader applied filled in (``mecsim validate --show``).

    Call it after the loader has read `doc`; keys the file gives are kept as written.
    """
    data = copy.deepcopy(doc.data)
    for path, value in sorted(doc.defaults.items(), key=lambda item: len(item[0])):
        parent = path[:-1]
        if path[-1] not in doc.allowed.get(parent, (path[-1],)):
            continue
        container = lookup(data, parent)
        if isinstance(container, dict) and path[-1] not in container:
            container[path[-1]] = _plain(value)
    return data


def _plain(value: Any) -> Any:
    """Defaults as YAML-safe data: tuples become lists, paths strings."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _override_error(item: str, message: str) -> ConfigError:
    return ConfigError(f"--set {item}: {message}")


def _parse_override(item: str) -> tuple[list[str], Any]:
    key_text, sep, value_text = item.partition("=")
    key_text = key_text.strip()
    if not sep or not key_text:
        raise _override_error(item, "must be KEY=VALUE, e.g. servers.0.cores=4")
    keys = key_text.split(".")
    if any(not part.strip() for part in keys):
        raise _override_error(item, f"key path must be dot-separated names, got {key_text!r}")
    try:
        value, _ = _load(value_text, None)
    except ConfigError as exc:
        raise _override_error(item, f"value {exc}. Hint: quote the whole item for the shell") from None
    return [part.strip() for part in keys], value


def _set_path(data: Any, lines: dict[tuple, int], keys: list[str], value: Any, item: str) -> Any:
    if data is None:
        data = {}
    container: Any = data
    path: tuple = ()
    for position, part in enumerate(keys):
        key: str | int
        if isinstance(container, list):
            if not _INDEX.fullmatch(part):
                raise _override_error(item, f"{format_path(path) or 'the top level'} is a list, "
                                            f"so {part!r} must be an index 0..{len(container) - 1}")
            key = int(part)
            if key >= len(container):
                where = format_path(path) or "the top level"
                raise _override_error(item, f"{where} has {len(container)} items, so the index "
                                            f"must be below {len(container)}, got {key}")
        elif isinstance(container, dict):
            key = part
            if _INDEX.fullmatch(part) and part not in container and int(part) in container:
                key = int(part)
        else:
            raise _override_error(item, f"{format_path(path)} must be a mapping or a list to set "
                                        f"keys under it, got {show(container)}")
        path += (key,)
        if position == len(keys) - 1:
            container[key] = value
            for known in [p for p in lines if len(p) > len(path) and p[: len(path)] == path]:
                del lines[known]
        else:
            if isinstance(container, dict) and container.get(key) is None:
                container[key] = {}
            container = container[key]
    return data


def _load(text: str, file: str | None) -> tuple[Any, dict[tuple, int]]:
    """Compose the YAML, then build plain data while recording the line of every key and item."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        lines: dict[tuple, int] = {}
        if root is None:
            return None, {(): 1}
        lines[()] = root.start_mark.line + 1
        return _Builder(loader, file, lines).build(root, ()), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            problem = f"{exc.problem} ({exc.context})"
        hint = ". Hint: YAML indents with spaces, not tabs" if "'\\t'" in problem else ""
        raise ConfigError(f"must be valid YAML, got an error: {problem}{hint}",
                          file=file, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"must be printable text, got character #x{exc.character:04x}",
                          file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"must be valid YAML, got an error: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError("must be valid YAML, got nesting too deep to read", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Builder:
    """Turns composed YAML nodes into plain data, recording lines and rejecting duplicate keys."""

    def __init__(self, loader: _Loader, file: str | None, lines: dict[tuple, int]) -> None:
        self.loader, self.file, self.lines = loader, file, lines
        self.flattened: set[int] = set()
        self.active: set[int] = set()
        self.count = 0

    def error(self, node: YamlNode, message: str, path: tuple = ()) -> ConfigError:
        return ConfigError(message, file=self.file, line=node.start_mark.line + 1,
                           path=format_path(path) or None)

    def build(self, node: YamlNode, path: tuple) -> Any:
        self.count += 1
        if self.count > _MAX_NODES:
            raise self.error(node, f"must have at most {_MAX_NODES} values once aliases are "
                                   "expanded, got more")
        if id(node) in self.active:
            raise self.error(node, "must not contain an alias to itself", path)
        if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
            self.active.add(id(node))
            try:
                return self.mapping(node, path)
            finally:
                self.active.discard(id(node))
        if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
            self.active.add(id(node))
            try:
                out = []
                for index, item in enumerate(node.value):
                    self.lines[path + (index,)] = item.start_mark.line + 1
                    out.append(self.build(item, path + (index,)))
                return out
            finally:
                self.active.discard(id(node))
        # Scalars and the rarer tags (!!set, !!omap, !!binary ...): PyYAML's own construction.
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: MappingNode, path: tuple) -> dict:
        if id(node) not in self.flattened:
            self.check_duplicates(node, path)
            self.loader.flatten_mapping(node)  # resolves `<<: *base` merge keys
            self.flattened.add(id(node))
        out: dict = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, path + (key,))
        return out

    def key(self, key_node: YamlNode, path: tuple) -> Any:
        if not isinstance(key_node, ScalarNode):
            raise self.error(key_node, "keys must be plain names, got a list or mapping", path)
        key = self.loader.construct_object(key_node, deep=True)
        # YAML 1.1 reads keys such as `on:` or `no:` as booleans; as keys they are meant as names.
        return key_node.value if isinstance(key, bool) else key

    def check_duplicates(self, node: MappingNode, path: tuple) -> None:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.key(key_node, path)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise self.error(key_node, f"keys must be unique, got {show(key)} again "
                                           f"(first on line {seen[key]}). Hint: keep one of them",
                                 path + (key,))
            seen[key] = line
