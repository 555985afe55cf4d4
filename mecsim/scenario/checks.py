"""Typed reading of a scenario Document: each accessor checks one value and, when it is wrong,
raises a ConfigError that cites the file, line and key path, so schema code stays declarative.

``key`` arguments are a mapping key (str), a list index (int), or None for the node itself (useful
on the Nodes that `items` returns for a list of plain values). A key that is written but null is
a value like any other: it is "null", not "missing", so defaults do not apply to it.
"""
from __future__ import annotations

import builtins
import difflib
import math
import warnings
from typing import Any, Final, Iterable, Literal, Mapping, Sequence, TypeVar, overload

from mecsim.errors import ConfigError, PlausibilityWarning
from mecsim.scenario import plausibility
from mecsim.scenario.source import Document, show

__all__ = ["MISSING", "REQUIRED", "Node", "bounds_text", "must", "number_text", "suggest"]

Key = builtins.str | builtins.int | None
_D = TypeVar("_D")  # a default's type: int("x", None) -> int | None, int("x", 4) -> int
Number = builtins.int | builtins.float


class _Sentinel:
    """A named marker object; compare with `is`."""

    __slots__ = ("_name",)

    def __init__(self, name: builtins.str) -> None:
        self._name = name

    def __repr__(self) -> builtins.str:
        return self._name


REQUIRED: Final = _Sentinel("REQUIRED")
"""Default of every accessor: the key must be present."""
MISSING: Final = _Sentinel("MISSING")
"""The value of a Node whose key is absent from the document."""
_LOOKUP: Final = _Sentinel("LOOKUP")


def suggest(word: Any, options: Iterable[builtins.str]) -> builtins.str | None:
    """The closest option to a misspelt `word` (case-insensitive first), or None."""
    if not isinstance(word, builtins.str):
        return None
    options = list(options)
    for option in options:
        if option.lower() == word.lower():
            return option
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def number_text(x: Number) -> builtins.str:
    """A bound as people write it: 1 rather than 1.0, inf rather than .inf."""
    if isinstance(x, builtins.float):
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x.is_integer() and abs(x) < 1e15:
            return builtins.str(builtins.int(x))
    return repr(x)


def bounds_text(min: Number | None = None, max: Number | None = None, *,
                min_open: builtins.bool = False, max_open: builtins.bool = False) -> builtins.str:
    """`` >= 1``, `` in (0, 1]``, `` < 5`` or ``""``: the range part of a "must be" message."""
    if min is not None and max is not None:
        return f" in {'(' if min_open else '['}{number_text(min)}, {number_text(max)}{')' if max_open else ']'}"
    if min is not None:
        return f" {'>' if min_open else '>='} {number_text(min)}"
    if max is not None:
        return f" {'<' if max_open else '<='} {number_text(max)}"
    return ""


def _in_bounds(x: Number, min: Number | None, max: Number | None,
               min_open: builtins.bool = False, max_open: builtins.bool = False) -> builtins.bool:
    if min is not None and (x <= min if min_open else x < min):
        return False
    if max is not None and (x >= max if max_open else x > max):
        return False
    return True


def _is_int(value: Any) -> builtins.bool:
    return isinstance(value, builtins.int) and not isinstance(value, builtins.bool)


def _is_number(value: Any) -> builtins.bool:
    return _is_int(value) or isinstance(value, builtins.float)


def _finite(value: Any) -> builtins.float | None:
    """The value as a finite float, else None (also for ints too large for a float)."""
    if not _is_number(value):
        return None
    try:
        x = builtins.float(value)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def _quoted_number_hint(value: Any) -> builtins.str:
    if isinstance(value, builtins.str):
        try:
            builtins.float(value)
        except ValueError:
            return ""
        return ". Hint: write numbers without quotes"
    return ""


def _lookup(data: Any, path: tuple) -> Any:
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and _is_int(key) and 0 <= key < len(data):
            data = data[key]
        else:
            return MISSING
    return data


class Node:
    """A view of the document at a key path; every accessor validates and raises doc.error(...)."""

    __slots__ = ("_doc", "_path", "_value")

    def __init__(self, doc: Document, path: tuple = (), value: Any = _LOOKUP) -> None:
        path = tuple(path)
        self._doc, self._path = doc, path
        self._value = _lookup(doc.data, path) if value is _LOOKUP else value

    def __repr__(self) -> builtins.str:
        return f"Node({self._doc.file!r}, {self._path!r}, {self._value!r})"

    @property
    def doc(self) -> Document:
        return self._doc

    @property
    def path(self) -> tuple:
        return self._path

    @property
    def value(self) -> Any:
        """The plain value here, or MISSING."""
        return self._value

    def exists(self) -> builtins.bool:
        return self._value is not MISSING

    def error(self, message: builtins.str, key: Key = None) -> ConfigError:
        """A ConfigError at this node's path (plus `key`), citing its line."""
        return self._doc.error(self._path if key is None else self._path + (key,), message)

    def allow(self, *keys: builtins.str) -> "Node":
        """Reject keys other than `keys` (typos get a did-you-mean); a missing node passes."""
        value = self._value
        if value is MISSING:
            return self
        if not isinstance(value, dict):
            raise self.error(f"must be a mapping, got {show(value)}")
        self._doc.allowed[self._path] = keys
        allowed = ", ".join(sorted(keys)) or "none"
        for key in value:
            if key in keys:
                continue
            if not isinstance(key, builtins.str):
                raise self.error(f"keys must be names, got {show(key)} (allowed: {allowed})")
            close = suggest(key, keys)
            hint = f", did you mean {close!r}?" if close else ""
            raise self.error(f"unknown key{hint} (allowed: {allowed})", key)
        return self

    def variant(self, key: builtins.str, variants: Mapping[builtins.str, Sequence[builtins.str]],
                default: Any = REQUIRED, *, common: Sequence[builtins.str] = ()) -> builtins.str:
        """Read the model named at `key` and allow only its keys (plus `key` and `common`).

        The one rule for every mapping whose keys depend on a model: a key that only another model
        uses is an error naming the chosen model, never silently ignored.
        """
        self._doc.variants[self._path] = (key, variants, tuple(common), default)
        chosen = self.str(key, default, choices=tuple(variants))
        own = (key, *common, *variants[chosen])
        if isinstance(self._value, dict):
            for name in self._value:
                users = [model for model, keys in variants.items() if name in keys and name not in own]
                if users:
                    listed = ", ".join(sorted(own))
                    raise self.error(f"is not used by {key} {chosen!r}, only by "
                                     f"{', '.join(map(repr, users))} (allowed: {listed})", name)
        self.allow(*own)
        return chosen

    def has(self, key: builtins.str) -> builtins.bool:
        return isinstance(self._value, dict) and key in self._value

    def child(self, key: builtins.str | builtins.int) -> "Node":
        """The node at `key`; its value is MISSING when absent. Wrong container type is an error."""
        value, path = self._value, self._path + (key,)
        if value is MISSING:
            return Node(self._doc, path, MISSING)
        if isinstance(value, dict):
            return Node(self._doc, path, value.get(key, MISSING))
        if _is_int(key):
            if not isinstance(value, list):
                raise self.error(f"must be a list, got {show(value)}")
            index = builtins.int(key)
            return Node(self._doc, path, value[index] if 0 <= index < len(value) else MISSING)
        raise self.error(f"must be a mapping, got {show(value)}")

    def _at(self, key: Key) -> "Node":
        return self if key is None else self.child(key)

    def _plausible(self, value: Number) -> None:
        """Warn when a legal value is far outside its unit's physical range (mecsim.scenario.plausibility)."""
        text = plausibility.message(self._path, value)
        if text is not None:
            warnings.warn(PlausibilityWarning(builtins.str(self.error(text))), stacklevel=4)

    def note(self, kind: builtins.str, default: Any, **checks: Any) -> None:
        """Record that this path is read as `kind` with these checks (for mecsim.scenario.reference)."""
        self._doc.reads.setdefault(self._path, {})[kind] = {"default": default, **checks}

    def _default(self, default: Any) -> Any:
        if default is REQUIRED:
            raise self.error("is required")
        self._doc.defaults.setdefault(self._path, default)
        return default

    @overload
    def int(self, key: Key, *, min: Number | None = ..., max: Number | None = ...) -> builtins.int: ...
    @overload
    def int(self, key: Key, default: _D, *, min: Number | None = ...,
            max: Number | None = ...) -> builtins.int | _D: ...

    def int(self, key: Key, default: Any = REQUIRED, *, min: Number | None = None,
            max: Number | None = None) -> Any:
        """An integer (true/false and 4.0 are not integers) within [min, max]."""
        node = self._at(key)
        node.note("int", default, min=min, max=max)
        if not node.exists():
            return node._default(default)
        value = node.value
        if not (_is_int(value) and _in_bounds(value, min, max)):
            hint = _quoted_number_hint(value)
            if isinstance(value, builtins.float) and value.is_integer() and abs(value) < 1e18:
                hint = f". Hint: write {builtins.int(value)}, without a decimal point or exponent"
            raise node.error(f"must be an integer{bounds_text(min, max)}, got {show(value)}{hint}")
        node._plausible(value)
        return value

    @overload
    def float(self, key: Key, *, min: Number | None = ..., max: Number | None = ...,
              min_open: builtins.bool = ..., max_open: builtins.bool = ...,
              allow_none: Literal[False] = ...) -> builtins.float: ...
    @overload
    def float(self, key: Key, default: _D, *, min: Number | None = ..., max: Number | None = ...,
              min_open: builtins.bool = ..., max_open: builtins.bool = ...,
              allow_none: Literal[False] = ...) -> builtins.float | _D: ...
    @overload   # default `_D | None`: with a bare _D, mypy solves _D from an `x: float | None` target and rejects None
    def float(self, key: Key, default: _D | None = ..., *, min: Number | None = ...,
              max: Number | None = ..., min_open: builtins.bool = ..., max_open: builtins.bool = ...,
              allow_none: builtins.bool) -> builtins.float | None | _D: ...

    def float(self, key: Key, default: Any = REQUIRED, *, min: Number | None = None,
              max: Number | None = None, min_open: builtins.bool = False,
              max_open: builtins.bool = False, allow_none: builtins.bool = False) -> Any:
        """A finite number (ints accepted) within the bounds; null too when `allow_none`."""
        node = self._at(key)
        node.note("float", default, min=min, max=max, min_open=min_open, max_open=max_open,
                  allow_none=allow_none)
        if not node.exists():
            return node._default(default)
        value = node.value
        if value is None and allow_none:
            return None
        x = _finite(value)
        if x is None or not _in_bounds(x, min, max, min_open, max_open):
            what = "a number" + bounds_text(min, max, min_open=min_open, max_open=max_open)
            what += " or null" if allow_none else ""
            raise node.error(f"must be {what}, got {show(value)}{_quoted_number_hint(value)}")
        node._plausible(x)
        return x

    @overload
    def str(self, key: Key, *, choices: Sequence[builtins.str] | None = ...,
            refers: builtins.str | None = ...) -> builtins.str: ...
    @overload
    def str(self, key: Key, default: _D, *, choices: Sequence[builtins.str] | None = ...,
            refers: builtins.str | None = ...) -> builtins.str | _D: ...

    def str(self, key: Key, default: Any = REQUIRED, *, choices: Sequence[builtins.str] | None = None,
            refers: builtins.str | None = None) -> Any:
        """A string, one of `choices` when given (a near miss gets a did-you-mean).

        `refers` says what the choices are when the file itself defines them (``access_points[].name``),
        so the generated reference describes them rather than listing one file's names.
        """
        node = self._at(key)
        node.note("str", default, choices=None if choices is None or refers else tuple(choices), refers=refers)
        if not node.exists():
            return node._default(default)
        value = node.value
        if choices is None:
            if not isinstance(value, builtins.str):
                raise node.error(f"must be a string, got {show(value)}")
            return value
        if not (isinstance(value, builtins.str) and value in choices):
            close = suggest(value, choices)
            hint = f"; did you mean {close!r}?" if close else ""
            listed = ", ".join(show(c) for c in choices)
            raise node.error(f"must be one of {listed}, got {show(value)}{hint}")
        return value

    @overload
    def bool(self, key: Key) -> builtins.bool: ...
    @overload
    def bool(self, key: Key, default: _D) -> builtins.bool | _D: ...

    def bool(self, key: Key, default: Any = REQUIRED) -> Any:
        node = self._at(key)
        node.note("bool", default)
        if not node.exists():
            return node._default(default)
        if not isinstance(node.value, builtins.bool):
            raise node.error(f"must be true or false, got {show(node.value)}")
        return node.value

    def items(self, key: Key, default: Any = REQUIRED, *,
              min_len: builtins.int = 0) -> list["Node"]:
        """A list, as one child Node per item (each with its own path and line)."""
        node = self._at(key)
        node.note("list", default, min_len=min_len)
        value = node.value
        if not node.exists():
            value = node._default(default)
        elif not isinstance(value, list) or len(value) < min_len:
            size = f" of at least {min_len} item{'s' if min_len != 1 else ''}" if min_len else ""
            raise node.error(f"must be a list{size}, got {show(value)}")
        return [Node(self._doc, node.path + (i,), item) for i, item in enumerate(value)]

    def mapping(self, key: Key, default: Any = REQUIRED) -> "Node":
        """A mapping, as a Node; when absent, a Node over `default` (e.g. ``{}``)."""
        node = self._at(key)
        node.note("mapping", default)
        if not node.exists():
            return Node(self._doc, node.path, node._default(default))
        if not isinstance(node.value, dict):
            raise node.error(f"must be a mapping, got {show(node.value)}")
        return node

    @overload
    def float_list(self, key: Key, default: Any = ..., *, length: Literal[2],
                   min: Number | None = ...) -> tuple[builtins.float, builtins.float]: ...
    @overload
    def float_list(self, key: Key, default: Any = ..., *, length: builtins.int | None = ...,
                   min: Number | None = ...) -> tuple[builtins.float, ...]: ...

    def float_list(self, key: Key, default: Any = REQUIRED, *, length: builtins.int | None = None,
                   min: Number | None = None) -> tuple[builtins.float, ...]:
        """A list of finite numbers (each >= min), of exactly `length` items when given."""
        node = self._at(key)
        node.note("float_list", default, length=length, min=min)
        if not node.exists():
            return tuple(builtins.float(x) for x in node._default(default))
        value = node.value
        if not isinstance(value, list) or (length is not None and len(value) != length):
            size = f" of {length}" if length is not None else " of"
            raise node.error(f"must be a list{size} numbers, got {show(value)}")
        return tuple(item.float(None, min=min) for item in node.items(None))


def must(condition: builtins.bool, node: Node, key: Key, message: builtins.str) -> None:
    """Raise ``node.error(message, key)`` unless `condition`: for checks that span several values."""
    if not condition:
        raise node.error(message, key)
