"""Controller names → classes, loaded lazily (running a heuristic never imports torch).

A controller is named by a registered name (``heft``) or a dotted path (``mypkg.policies:MyController``).
Its constructor gets the scenario's ``controller_params`` as keyword arguments, plus ``rng`` (the
run's "controller" random stream) when it accepts one.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any, Mapping

import numpy as np

from mecsim.errors import UnknownControllerError
from mecsim.scenario.checks import suggest
from mecsim.trainer import Trainer

__all__ = ["REGISTRY", "TRAINERS", "resolve", "make_controller", "registered", "trainer"]

REGISTRY: dict[str, str] = {
    "local": "controllers.heuristics:Local",
    "remote": "controllers.heuristics:Remote",
    "random": "controllers.heuristics:Random",
    "round_robin": "controllers.heuristics:RoundRobin",
    "greedy": "controllers.heuristics:Greedy",
    "heft": "controllers.heuristics:Heft",
    "optimal": "controllers.heuristics:Optimal",
    "drl": "controllers.drl:DRL",
    "mrlco": "controllers.mrlco:MRLCO",
    "mrlato": "controllers.mrlato:MRLATO",
    "sac_aisf": "controllers.sac_baselines:SacAisf",
    "sac_dts": "controllers.sac_baselines:SacDTs",
    "sac_tm": "controllers.sac_baselines:SacTM",
    "pearl_dt": "controllers.pearl_dt:PearlDT",
    "random_tuning": "controllers.heuristics:RandomTuning",
    "local_keep_emulator": "controllers.heuristics:LocalKeepEmulator",
    "hmppo": "controllers.hmppo:HMPPO",
    "ippo": "controllers.ippo:IPPO",
}

# learned controllers: name -> the module whose TRAINER (mecsim.trainer.Trainer) serves `mecsim train`
# and `mecsim eval`
TRAINERS: dict[str, str] = {
    "drl": "controllers.drl",
    "mrlco": "controllers.mrlco",
    "mrlato": "controllers.mrlato",
    "sac_baselines": "controllers.sac_baselines",
    "pearl_dt": "controllers.pearl_dt",
    "hmppo": "controllers.hmppo",
    "ippo": "controllers.ippo",
}


def registered() -> dict[str, str]:
    return dict(REGISTRY)


def resolve(name: str) -> type:
    """The class for a registered name or ``module:Class``; a clear error otherwise."""
    target = REGISTRY.get(name)
    if target is None and ":" not in name:
        close = suggest(name, REGISTRY)
        hint = f"; did you mean {close!r}?" if close else ""
        raise UnknownControllerError(
            f"unknown controller {name!r}{hint} (registered: {', '.join(sorted(REGISTRY))}; "
            "or give module:Class)")
    module_name, _, attr = (target or name).partition(":")
    if target is None and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # a user's own module next to their scenario, as `mecsim run` users expect
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownControllerError(f"controller {name!r}: cannot import module {module_name!r}: {exc}") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise UnknownControllerError(f"controller {name!r}: module {module_name!r} has no {attr!r}")
    if not callable(getattr(cls, "act", None)):
        raise UnknownControllerError(f"controller {name!r}: {attr} has no act(point) method")
    return cls


def make_controller(name: str, params: Mapping[str, Any] | None = None,
                    rng: np.random.Generator | None = None) -> Any:
    """Instantiate a controller; bad parameters are reported with the accepted ones."""
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
    return cls(**kwargs)


def trainer(name: str) -> Trainer:
    """The :class:`mecsim.trainer.Trainer` of a learned controller (its module's ``TRAINER``)."""
    target = TRAINERS.get(name)
    if target is None:
        close = suggest(name, TRAINERS)
        hint = f"; did you mean {close!r}?" if close else ""
        raise UnknownControllerError(f"controller {name!r} has no trainer{hint} (trainable: {', '.join(sorted(TRAINERS))})")
    return importlib.import_module(target).TRAINER
