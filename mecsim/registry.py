"""Controller names → classes, loaded lazily (running a heuristic never imports torch).

A controller is named by a registered name (``heft``) or a dotted path (``mypkg.policies:MyController``).
Its constructor gets the scenario's ``controller_params`` as keyword arguments, plus ``rng`` (the
run's "controller" random stream) when it accepts one; the parameters are checked against the
constructor's annotations first.

A controller serves one or more systems: a registered one's are in its :class:`Registered` entry, a
``module:Class`` declares them in the class attribute ``systems`` (e.g. ``("dag_offloading",)``); one
without the declaration is taken to serve any system. Its description, for ``mecsim controllers``, is
the first sentence of its class docstring, read from the module's source without importing it (so the
listing never imports torch, and the docstring stays the one place the description is written).
"""
from __future__ import annotations

import ast
import collections.abc
import importlib
import importlib.util
import inspect
import os
import re
import sys
import types
import typing
from typing import Any, Mapping, NamedTuple

import numpy as np

from mecsim.errors import ConfigError, MecsimError, UnknownControllerError, raised
from mecsim.scenario.checks import suggest
from mecsim.trainer import Trainer

__all__ = ["REGISTRY", "Registered", "TRAINERS", "resolve", "make_controller", "registered", "trainer",
           "systems_of", "check_serves", "description", "check_params"]


class Registered(NamedTuple):
    """A registered controller: where its class is, the systems whose decisions it answers, and the
    :data:`TRAINERS` entry that trains it (None: nothing to train)."""

    target: str
    systems: tuple[str, ...]
    trainer: str | None = None


REGISTRY: dict[str, Registered] = {
    "local": Registered("mecsim.controllers.heuristics:Local", ("dag_offloading", "service_management")),
    "remote": Registered("mecsim.controllers.heuristics:Remote", ("dag_offloading",)),
    "random": Registered("mecsim.controllers.heuristics:Random", ("dag_offloading", "service_management")),
    "round_robin": Registered("mecsim.controllers.heuristics:RoundRobin", ("dag_offloading",)),
    "least_loaded": Registered("mecsim.controllers.heuristics:LeastLoaded", ("dag_offloading",)),
    "greedy": Registered("mecsim.controllers.heuristics:Greedy", ("dag_offloading",)),
    "heft": Registered("mecsim.controllers.heuristics:Heft", ("dag_offloading",)),
    "optimal": Registered("mecsim.controllers.heuristics:Optimal", ("dag_offloading",)),
    "drl": Registered("mecsim.controllers.drl:DRL", ("dag_offloading",), "drl"),
    "mrlco": Registered("mecsim.controllers.mrlco:MRLCO", ("dag_offloading",), "mrlco"),
    "mrlato": Registered("mecsim.controllers.mrlato:MRLATO", ("dag_offloading",), "mrlato"),
    "sac_aisf": Registered("mecsim.controllers.sac_baselines:SacAisf", ("service_management",), "sac_baselines"),
    "sac_dts": Registered("mecsim.controllers.sac_baselines:SacDTs", ("service_management",), "sac_baselines"),
    "sac_tm": Registered("mecsim.controllers.sac_baselines:SacTM", ("service_management",), "sac_baselines"),
    "pearl_dt": Registered("mecsim.controllers.pearl_dt:PearlDT", ("service_management",), "pearl_dt"),
    "random_tuning": Registered("mecsim.controllers.heuristics:RandomTuning", ("edge_tuning",)),
    "local_keep_emulator": Registered("mecsim.controllers.heuristics:LocalKeepEmulator", ("edge_tuning",)),
    "hmppo": Registered("mecsim.controllers.hmppo:HMPPO", ("edge_tuning",), "hmppo"),
    "ippo": Registered("mecsim.controllers.ippo:IPPO", ("edge_tuning",), "ippo"),
}

# learned controllers: name -> the module whose TRAINER (mecsim.trainer.Trainer) serves `mecsim train`
# and `mecsim eval`
TRAINERS: dict[str, str] = {
    "drl": "mecsim.controllers.drl",
    "mrlco": "mecsim.controllers.mrlco",
    "mrlato": "mecsim.controllers.mrlato",
    "sac_baselines": "mecsim.controllers.sac_baselines",
    "pearl_dt": "mecsim.controllers.pearl_dt",
    "hmppo": "mecsim.controllers.hmppo",
    "ippo": "mecsim.controllers.ippo",
}


def registered() -> dict[str, Registered]:
    return dict(REGISTRY)


def _split(name: str) -> tuple[str, str, bool]:
    """(module, class name, whether it is the user's own) of a controller name; unknown names refused."""
    entry = REGISTRY.get(name)
    if entry is None and ":" not in name:
        close = suggest(name, REGISTRY)
        hint = f"; did you mean {close!r}?" if close else ""
        raise UnknownControllerError(
            f"unknown controller {name!r}{hint} (registered: {', '.join(sorted(REGISTRY))}; "
            "or give module:Class)")
    module_name, _, attr = (entry.target if entry is not None else name).partition(":")
    if module_name.startswith("controllers."):    # scenario files from before the mecsim namespace
        module_name = "mecsim." + module_name
    return module_name, attr, entry is None


def resolve(name: str) -> type:
    """The class for a registered name or ``module:Class``; a clear error otherwise (a user module that
    fails to import, a syntax error included, is one :class:`ControllerError` line)."""
    module_name, attr, own = _split(name)
    if own and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # a user's own module next to their scenario, as `mecsim run` users expect
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UnknownControllerError(f"controller {name!r}: cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 (the user's module: its own error, in one line)
        raise raised(name, exc, f"importing module {module_name!r}") from exc
    cls = getattr(module, attr, None)
    if cls is None:
        raise UnknownControllerError(f"controller {name!r}: module {module_name!r} has no {attr!r}")
    if not callable(getattr(cls, "act", None)):
        raise UnknownControllerError(f"controller {name!r}: {attr} has no act(point) method")
    return cls


def systems_of(name: str) -> tuple[str, ...] | None:
    """The systems controller `name` serves: its registry entry's, else its class's ``systems``
    attribute; None when a ``module:Class`` does not declare them (it may serve any)."""
    entry = REGISTRY.get(name)
    if entry is None:
        entry = next((e for e in REGISTRY.values() if e.target == name), None)
    if entry is not None:
        return entry.systems
    declared = getattr(resolve(name), "systems", None)
    if declared is None:
        return None
    if isinstance(declared, str) or not isinstance(declared, (tuple, list)) or \
            not all(isinstance(s, str) for s in declared):
        raise UnknownControllerError(f"controller {name!r}: its class attribute systems must be a tuple of "
                                     f"system names such as ('dag_offloading',), got {declared!r}")
    return tuple(declared)


def check_serves(name: str, system: str, where: str) -> None:
    """Refuse controller `name` on `system` when it declares other systems (`where`: the file or flag
    that named it, for the message)."""
    systems = systems_of(name)
    if systems is None or system in systems:
        return
    others = sorted(n for n, e in REGISTRY.items() if system in e.systems)
    raise ConfigError(f"{name} serves {', '.join(systems)}, not this scenario's system {system}"
                      f" (controllers for {system}: {', '.join(others) or 'none registered'})", file=where)


_DESCRIPTION = 100   # characters of a description at most: `mecsim controllers` prints one line each


def description(name: str) -> str:
    """The first sentence of a registered controller's class docstring, read from its module's source
    (cut at a word within :data:`_DESCRIPTION` characters)."""
    module_name, attr, _ = _split(name)
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        return ""
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == attr), None)
    doc = (ast.get_docstring(cls) or "") if cls is not None else ""
    paragraph = " ".join(doc.split("\n\n")[0].split()).replace("``", "`")
    sentence = re.split(r"(?<=\.)\s(?=[A-Z`(])", paragraph, maxsplit=1)[0].rstrip(".")
    return sentence if len(sentence) <= _DESCRIPTION else sentence[:_DESCRIPTION].rsplit(" ", 1)[0] + " …"


# -- controller_params against the constructor's annotations ----------------------------------------
_SCALARS = (bool, int, float, str)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits annotation `hint`; what this cannot judge (a class of the user's, a
    Path the constructor converts) is accepted."""
    if hint is Any or hint is object:
        return True
    if hint is type(None):
        return value is None
    if hint in _SCALARS:
        if hint is float:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if hint is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_conforms(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_conforms(v, a) for v, a in zip(value, args))
        return not args or all(_conforms(v, args[0]) for v in value)
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            return False
        return not args or all(_conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items())
    return True


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def check_params(name: str, cls: type, params: Mapping[str, Any]) -> None:
    """Each of `params` against the annotation of the constructor's parameter of that name: one line
    naming the parameter, the expected type and the value when one does not fit."""
    try:
        hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]  # the class itself, not an instance
    except Exception:  # noqa: BLE001 (an annotation that cannot be resolved is not checked)
        return
    for key, value in params.items():
        hint = hints.get(key)
        if hint is not None and not _conforms(value, hint):
            raise ConfigError(f"controller {name!r}: controller_params.{key}: must be {_type_name(hint)}, "
                              f"got {value!r}")


def make_controller(name: str, params: Mapping[str, Any] | None = None,
                    rng: np.random.Generator | None = None) -> Any:
    """Instantiate a controller; bad parameters are reported with the accepted ones, an exception in
    its constructor as one :class:`ControllerError` line."""
    cls = resolve(name)
    kwargs = dict(params or {})
    try:
        signature = inspect.signature(cls)
        if "rng" in signature.parameters and "rng" not in kwargs:
            kwargs["rng"] = rng
        signature.bind(**kwargs)
    except TypeError as exc:
        accepted = [p for p in inspect.signature(cls).parameters if p != "rng"]
        raise UnknownControllerError(f"controller {name!r}: bad parameters {sorted(params or {})}: {exc} "
                                     f"(accepted: {accepted})") from None
    check_params(name, cls, params or {})
    try:
        return cls(**kwargs)
    except MecsimError:
        raise
    except Exception as exc:  # noqa: BLE001 (the controller's own code: its error, in one line)
        raise raised(name, exc, "in its constructor") from exc


def trainer(name: str) -> Trainer:
    """The :class:`mecsim.trainer.Trainer` of a learned controller (its module's ``TRAINER``)."""
    target = TRAINERS.get(name)
    if target is None:
        close = suggest(name, TRAINERS)
        hint = f"; did you mean {close!r}?" if close else ""
        raise UnknownControllerError(f"controller {name!r} has no trainer{hint} (trainable: {', '.join(sorted(TRAINERS))})")
    return importlib.import_module(target).TRAINER
