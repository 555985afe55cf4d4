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
from typing import Any, Mapping, NamedTuple

import numpy as np

from mecsim.errors import UnknownControllerError
from mecsim.scenario.checks import suggest
from mecsim.trainer import Trainer

__all__ = ["REGISTRY", "Registered", "TRAINERS", "resolve", "make_controller", "registered", "trainer"]

class Registered(NamedTuple):
    """A registered controller: where its class is, and the systems whose decisions it answers."""

    target: str
    systems: tuple[str, ...]


REGISTRY: dict[str, Registered] = {
    "local": Registered("mecsim.controllers.heuristics:Local", ("dag_offloading", "service_management")),
    "remote": Registered("mecsim.controllers.heuristics:Remote", ("dag_offloading",)),
    "random": Registered("mecsim.controllers.heuristics:Random", ("dag_offloading", "service_management")),
    "round_robin": Registered("mecsim.controllers.heuristics:RoundRobin", ("dag_offloading",)),
    "greedy": Registered("mecsim.controllers.heuristics:Greedy", ("dag_offloading",)),
    "heft": Registered("mecsim.controllers.heuristics:Heft", ("dag_offloading",)),
    "optimal": Registered("mecsim.controllers.heuristics:Optimal", ("dag_offloading",)),
    "drl": Registered("mecsim.controllers.drl:DRL", ("dag_offloading",)),
    "mrlco": Registered("mecsim.controllers.mrlco:MRLCO", ("dag_offloading",)),
    "mrlato": Registered("mecsim.controllers.mrlato:MRLATO", ("dag_offloading",)),
    "sac_aisf": Registered("mecsim.controllers.sac_baselines:SacAisf", ("service_management",)),
    "sac_dts": Registered("mecsim.controllers.sac_baselines:SacDTs", ("service_management",)),
    "sac_tm": Registered("mecsim.controllers.sac_baselines:SacTM", ("service_management",)),
    "pearl_dt": Registered("mecsim.controllers.pearl_dt:PearlDT", ("service_management",)),
    "random_tuning": Registered("mecsim.controllers.heuristics:RandomTuning", ("edge_tuning",)),
    "local_keep_emulator": Registered("mecsim.controllers.heuristics:LocalKeepEmulator", ("edge_tuning",)),
    "hmppo": Registered("mecsim.controllers.hmppo:HMPPO", ("edge_tuning",)),
    "ippo": Registered("mecsim.controllers.ippo:IPPO", ("edge_tuning",)),
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


def resolve(name: str) -> type:
    """The class for a registered name or ``module:Class``; a clear error otherwise."""
    entry = REGISTRY.get(name)
    target = entry.target if entry is not None else None
    if target is None and ":" not in name:
        close = suggest(name, REGISTRY)
        hint = f"; did you mean {close!r}?" if close else ""
        raise UnknownControllerError(
            f"unknown controller {name!r}{hint} (registered: {', '.join(sorted(REGISTRY))}; "
            "or give module:Class)")
    module_name, _, attr = (target or name).partition(":")
    if module_name.startswith("controllers."):    # scenario files from before the mecsim namespace
        module_name = "mecsim." + module_name
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
