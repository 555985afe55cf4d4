"""The ``mecsim`` command: run | validate | controllers.

Every error a user can cause prints one line (``FILE:LINE: key.path: ...``) and exits with 2; outputs
are staged in a temporary folder and moved into place only when all of them are written.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from mecsim.errors import ConfigError, MecsimError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mecsim", description="Discrete-event MEC simulator.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scenario and write its outputs")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--controller", help="registered name or module:Class (overrides the file)")
    run.add_argument("--seed", type=int, help="random seed (overrides the file)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario key, e.g. --set servers.0.cores=4 (repeatable)")
    run.add_argument("--out", default=None, help="output folder (default: out/<scenario name>)")
    run.add_argument("--gantt", action="store_true", help="also draw gantt.png")
    run.add_argument("--no-trace", action="store_true", help="skip trace.csv/trace.json (faster)")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    val = sub.add_parser("validate", help="check a scenario file (and its DAG files)")
    val.add_argument("scenario")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    sub.add_parser("controllers", help="list the registered controllers")
    return parser


def _prepare(path: str, overrides: Sequence[str], controller: str | None = None, seed: int | None = None):
    """Load and check everything a run needs before anything is written."""
    from mecsim.registry import make_controller
    from mecsim.rng import RandomStreams
    from mecsim.scenario.load import load_scenario
    from mecsim.simulation import load_graphs

    scenario = load_scenario(path, overrides)
    seed = scenario.seed if seed is None else seed
    if seed < 0:
        raise ConfigError(f"--seed: must be an integer >= 0, got {seed}")
    name = controller or scenario.controller
    ctrl = make_controller(name, scenario.controller_params, RandomStreams(seed).get("controller"))
    graphs = load_graphs(scenario, RandomStreams(seed))
    check = getattr(ctrl, "check", None)
    if check is not None:
        actions = 1 + len(scenario.servers) + (1 if scenario.cloud else 0)
        for source, graph in graphs:
            try:
                check(graph.n, actions)
            except ValueError as exc:
                raise ConfigError(f"{exc} (in {source})", file=scenario.file, path="controller") from None
    return scenario, ctrl, name, seed


def _run(args: argparse.Namespace) -> int:
    from mecsim.outputs import format_summary, write_outputs
    from mecsim.simulation import Simulation

    scenario, ctrl, name, seed = _prepare(args.scenario, args.overrides, args.controller, args.seed)
    sim = Simulation(scenario, ctrl, seed=seed, trace=not args.no_trace, controller_name=name)
    result = sim.run(progress=not args.quiet)
    out = Path(args.out or Path("out") / scenario.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        summary = write_outputs(result, stage, gantt=args.gantt)
        if args.no_trace:
            for f in ("trace.csv", "trace.json"):
                (stage / f).unlink()
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(stage.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if not args.quiet:
        print(format_summary(summary))
        print(f"outputs in {out}/")
    return 0


def _validate(args: argparse.Namespace) -> int:
    scenario, _, name, _ = _prepare(args.scenario, args.overrides)
    print(f"{args.scenario}: ok ({scenario.devices.count} device(s), {len(scenario.servers)} server(s), "
          f"controller {name})")
    return 0


def _controllers(_: argparse.Namespace) -> int:
    from mecsim.registry import registered
    for name, target in sorted(registered().items()):
        print(f"{name:<14} {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"run": _run, "validate": _validate, "controllers": _controllers}[args.command](args)
    except MecsimError as exc:
        print(f"mecsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mecsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
