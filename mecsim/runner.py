"""One run of any system, the way ``mecsim run`` and ``mecsim sweep`` do it.

:func:`prepare` checks everything a run needs before it starts (scenario, seed, that the controller
serves the scenario's system, its parameters, the system's own refusal of a controller), so a sweep's
run is exactly a ``mecsim run`` and ``mecsim validate`` refuses what ``run`` would.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Sequence

from mecsim.errors import ConfigError
from mecsim.registry import check_serves, make_controller
from mecsim.rng import RandomStreams
from mecsim.scenario.load import load_scenario
from mecsim.sizing import check_size
from mecsim.systems import Run, System, get_system
from mecsim.trace import TraceStream

__all__ = ["Prepared", "prepare"]


class Prepared(NamedTuple):
    """A checked run: the scenario's spec, its system, the controller (and its name), the seed."""

    spec: Any
    system: System
    controller: Any
    name: str
    seed: int

    def simulation(self, trace: bool | TraceStream = True) -> Run:
        run = self.system.simulation(self.spec, self.controller, seed=self.seed, trace=trace,
                                     controller_name=self.name)
        run.bridge.name = self.name    # error messages name the controller as the user did
        return run


def prepare(path: str | Path, overrides: Sequence[str] = (), controller: str | None = None,
            seed: int | None = None) -> Prepared:
    """Load `path` with `overrides`, resolve the seed, check the run's size (:mod:`mecsim.sizing`) and
    that the controller (`controller`, else the file's) serves the system before building it, let the
    system vet it."""
    spec = load_scenario(path, overrides)
    seed = spec.seed if seed is None else seed
    if seed < 0:
        raise ConfigError(f"--seed: must be an integer >= 0, got {seed}")
    name = controller or spec.controller
    system = get_system(spec.system)
    check_size(system.size(spec), spec.file)     # before anything is built: a 1e12-device run refuses here
    check_serves(name, system.name, "--controller" if controller else f"{spec.file}: controller")
    ctrl = make_controller(name, spec.controller_params, RandomStreams(seed).get("controller"))
    system.check(spec, ctrl, seed)
    return Prepared(spec, system, ctrl, name, seed)
