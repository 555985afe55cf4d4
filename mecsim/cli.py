"""The ``mecsim`` command: run | validate | schema | controllers | train | eval | sweep | report.

Every error a user can cause prints one line (``FILE:LINE: key.path: ...``) and exits with 2, an
exception in a controller's own code included (``--debug`` prints its traceback instead); a run's
outputs are staged in a folder beside ``--out`` that becomes ``--out`` only when all of them are
written (:func:`mecsim.outputs.run_folder`).
"""
from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path
from typing import Sequence

from mecsim.errors import ConfigError, MecsimError, PlausibilityWarning

__all__ = ["main", "positive_int"]


def positive_int(text: str) -> int:
    """An argparse type for counts (iterations, episodes): a bad one exits 2 with one line naming it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    from mecsim import __version__
    parser = argparse.ArgumentParser(prog="mecsim", description="Discrete-event MEC simulator.")
    parser.add_argument("--version", action="version", version=f"mecsim {__version__}")
    debug = "on an error, print the full traceback (a controller's included) instead of one line"
    parser.add_argument("--debug", action="store_true", help=debug)
    # accepted after the command too (`mecsim run x.yaml --debug`); SUPPRESS keeps the global one's value
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    strict = argparse.ArgumentParser(add_help=False)
    strict.add_argument("--strict", action="store_true",
                        help="treat plausibility warnings (values far outside their unit's range) as errors")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common, strict], help="run a scenario and write its outputs")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--controller", help="registered name or module:Class (overrides the file)")
    run.add_argument("--seed", type=int, help="random seed (overrides the file)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario key, e.g. --set servers.0.cores=4 (repeatable)")
    run.add_argument("--out", default=None, help="output folder, new or empty (default: out/<scenario name>)")
    run.add_argument("--force", action="store_true",
                     help="replace an earlier run's --out folder as a whole (only once this run has finished)")
    run.add_argument("--gantt", action="store_true", help="also draw gantt.png")
    _gantt_arguments(run)
    run.add_argument("--no-trace", action="store_true", help="record no trace, write no trace.csv/trace.json (faster)")
    run.add_argument("--trace-stream", nargs="?", const="csv", choices=("csv", "parquet"), default="csv",
                     help="the file the trace streams into while running, in batches (memory stays flat): "
                          "trace.csv (the default) or trace.parquet (no trace.json then)")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    val = sub.add_parser("validate", parents=[common, strict], help="check a scenario file (and its DAG files) and its controller")
    val.add_argument("scenario")
    val.add_argument("--controller", help="registered name or module:Class (overrides the file)")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    val.add_argument("--show", action="store_true",
                     help="print the resolved scenario (after --set and defaults) as YAML")
    sch = sub.add_parser("schema", parents=[common],
                         help="print the JSON Schema (draft 2020-12) of a system's scenario files, for editors")
    sch.add_argument("--system", default="dag_offloading", help="a system's name (default: dag_offloading)")
    sub.add_parser("controllers", parents=[common], help="list the registered controllers: systems, trainable, description")
    tr = sub.add_parser("train", parents=[common], help="train a learned controller on a scenario's training tasks")
    tr.add_argument("scenario")
    tr.add_argument("--controller", required=True, help="a trainable controller (see `mecsim controllers`)")
    tr.add_argument("--out", required=True, help="checkpoint folder (checkpoint.pt, progress.csv)")
    tr.add_argument("--budget", default=None, help="the trainer's budget (default: its first, smoke)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    tr.add_argument("--features", choices=("paper", "schedule"), default=None,
                    help="drl/mrlco/mrlato network inputs (default: the budget's, paper)")
    tr.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    tr.add_argument("--backend", choices=("local", "ray"), default=None,
                    help="where meta-training inner loops (mrlco, mrlato) or twin rollouts (pearl_dt) run; "
                         "same result either way")
    tr.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: 1 local; one per CPU of the cluster on Ray)")
    tr.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    tr.add_argument("--quiet", action="store_true")
    ev = sub.add_parser("eval", parents=[common], help="adapt a checkpoint on the test tasks and compare with heuristics")
    ev.add_argument("scenario")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--out", required=True)
    ev.add_argument("--adapt-steps", default="0,1,2,5,10,20", help="comma-separated step counts")
    ev.add_argument("--seeds", default="0", help="comma-separated seeds, or A-B")
    ev.add_argument("--adaptation", default=None,
                    help="what one adaptation step is (learned offloading: inner = MRLCO's inner-loop step, "
                         "the default; authors = the authors' evaluator, 2000 DAGs, 3 epochs, lr 1e-4)")
    ev.add_argument("--heuristics", default=None,
                    help="comma-separated baselines on the same inputs (default: the controller's own list)")
    ev.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ev.add_argument("--quiet", action="store_true")
    sw = sub.add_parser("sweep", parents=[common, strict], help="run every grid combination x seed in parallel; runs.csv and table.md")
    sw.add_argument("scenario")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                    help="a scenario key and its values, e.g. servers.0.cores=2,4 (repeatable: the product)")
    sw.add_argument("--seeds", default=None, help="comma-separated seeds, or A-B (default: the file's seed)")
    sw.add_argument("--backend", choices=("local", "ray"), default="local")
    sw.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    sw.add_argument("--workers", type=int, default=None, help="parallel runs (default: all CPUs)")
    sw.add_argument("--controller", help="registered name or module:Class (overrides the file)")
    sw.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    sw.add_argument("--metrics", default=None, help="comma-separated summary columns for table.md")
    sw.add_argument("--out", required=True, help="folder for runs.csv, table.md and runs/ (the cache)")
    sw.add_argument("--quiet", action="store_true")
    rep = sub.add_parser("report", parents=[common],
                         help="tables and figures of one run, or of several side by side (A/B)")
    rep.add_argument("runs", nargs="+", metavar="OUT", help="run folders (what mecsim run --out wrote)")
    rep.add_argument("--out", default=None, help="report folder (default: FIRST_OUT/report)")
    rep.add_argument("--force", action="store_true", help="replace an earlier report's --out folder as a whole")
    rep.add_argument("--bins", type=positive_int, default=60, help="time bins of the over-time tables (default 60)")
    _gantt_arguments(rep)
    rep.add_argument("--quiet", action="store_true")
    return parser


def _gantt_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gantt-resources", default=None, metavar="PATTERNS",
                        help="comma-separated resource names or globs for the Gantt chart, e.g. 'mec*,ap0/*' "
                             "(default: the 40 busiest)")
    parser.add_argument("--gantt-window", default=None, metavar="START:END",
                        help="the Gantt chart's time window in seconds, e.g. 10:20 (default: the whole run)")


def _gantt_options(args: argparse.Namespace) -> dict:
    """plot_gantt's resources and window from --gantt-resources/--gantt-window (checked before running)."""
    options: dict = {}
    if args.gantt_resources is not None:
        patterns = [p for p in args.gantt_resources.split(",") if p]
        if not patterns:
            raise ConfigError(f"--gantt-resources: must name at least one resource or glob, got {args.gantt_resources!r}")
        options["resources"] = patterns
    if args.gantt_window is not None:
        try:
            start, end = (float(v) for v in args.gantt_window.split(":"))
        except ValueError:
            raise ConfigError(f"--gantt-window: must be START:END in seconds, got {args.gantt_window!r}") from None
        if not end > start >= 0:
            raise ConfigError(f"--gantt-window: must have 0 <= START < END, got {args.gantt_window!r}")
        options["window"] = (start, end)
    return options


def _report(args: argparse.Namespace) -> int:
    from mecsim.analysis import write_report
    options = _gantt_options(args)
    out = write_report(args.runs, args.out or Path(args.runs[0]) / "report", bins=args.bins, force=args.force,
                       gantt_resources=options.get("resources"), gantt_window=options.get("window"))
    if not args.quiet:
        print(f"report.md, tables (CSV) and figures (PNG) in {out}/")
    return 0


def _run(args: argparse.Namespace) -> int:
    from mecsim.outputs import format_summary, provenance, run_folder, write_outputs
    from mecsim.runner import prepare

    gantt_options = _gantt_options(args)
    run = prepare(args.scenario, args.overrides, args.controller, args.seed)
    # the trace streams to disk unless it is off (--gantt alone keeps it in memory) or the system cannot
    stream = None if args.no_trace or not run.system.streams_trace else args.trace_stream
    out = Path(args.out or Path("out") / run.spec.name)
    origin = provenance(args.scenario, args.overrides, run.name, run.spec.controller_params, run.seed)
    with run_folder(out, force=args.force) as stage:     # checks --out now, before simulating
        trace = args.gantt or not args.no_trace
        if stream:
            from mecsim.trace import TraceStream
            try:
                trace = TraceStream(stage / f"trace.{stream}", stream)
            except ValueError as exc:
                raise ConfigError(f"--trace-stream {exc}") from None
        result = run.simulation(trace).run(progress=not args.quiet)
        write_outputs(result, stage, gantt=args.gantt, traces=not args.no_trace, provenance=origin,
                      gantt_options=gantt_options)
    if not args.quiet:
        print(format_summary(result))
        print(f"outputs in {out}/")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from mecsim.runner import prepare
    run = prepare(args.scenario, args.overrides, args.controller)
    if args.show:
        import yaml

        from mecsim.scenario.load import resolve_scenario
        with warnings.catch_warnings():     # prepare has reported them
            warnings.simplefilter("ignore", PlausibilityWarning)
            data = resolve_scenario(args.scenario, args.overrides)
        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
        return 0
    events = run.system.size(run.spec).events
    print(f"{args.scenario}: ok ({run.system.describe(run.spec)}, controller {run.name}, about {events:.2g} events)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    import json

    from mecsim.scenario.checks import suggest
    from mecsim.scenario.reference import schema, systems
    names = systems()
    if args.system not in names:
        close = suggest(args.system, names)
        hint = f"; did you mean {close!r}?" if close else ""
        raise ConfigError(f"--system: must be one of {', '.join(names)}, got {args.system!r}{hint}")
    print(json.dumps(schema(args.system), indent=2))
    return 0


def _controllers(_: argparse.Namespace) -> int:
    from mecsim.registry import description, registered
    rows = [("name", "system(s)", "trainable", "description")]
    for name, entry in sorted(registered().items()):
        train = "no" if entry.trainer is None else "yes" if entry.trainer == name else f"via {entry.trainer}"
        rows.append((name, ", ".join(entry.systems), train, description(name)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)), row[3])
    return 0


def _int_list(text: str, what: str) -> list[int]:
    try:
        if "-" in text and "," not in text:
            a, b = text.split("-")
            return list(range(int(a), int(b) + 1))
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what}: must be comma-separated integers or A-B, got {text!r}") from None
    if not values or min(values) < 0:
        raise ConfigError(f"{what}: must be integers >= 0, got {text!r}")
    return values


def _train(args: argparse.Namespace) -> int:
    from mecsim.registry import trainer
    tr = trainer(args.controller)
    if args.seed < 0:
        raise ConfigError(f"--seed: must be an integer >= 0, got {args.seed}")
    budget = args.budget or tr.budgets[0]
    if budget not in tr.budgets:
        raise ConfigError(f"--budget: must be one of {', '.join(tr.budgets)} for {args.controller}, got {budget!r}")
    options = {k: v for k, v in (("backend", args.backend), ("workers", args.workers), ("address", args.address))
               if v is not None}
    if options and not tr.parallel:
        raise ConfigError(f"controller {args.controller} does not support --backend/--workers/--address")
    if args.features is not None:
        if args.features not in tr.features:
            raise ConfigError(f"--features: controller {args.controller} has no feature choice, got {args.features!r}"
                              if not tr.features else
                              f"--features: must be one of {', '.join(tr.features)}, got {args.features!r}")
        options["features"] = args.features
    out = tr.train(args.scenario, args.out, budget=budget, seed=args.seed, resume=args.resume,
                   progress=not args.quiet, overrides=args.overrides, **options)
    if not args.quiet:
        print(f"checkpoint and progress.csv in {out}/")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from mecsim.checkpoint import load_checkpoint
    from mecsim.evaluation import write_eval
    from mecsim.registry import trainer
    name = load_checkpoint(args.checkpoint)["controller"]
    tr = trainer(name)
    heuristics = None if args.heuristics is None else [h for h in args.heuristics.split(",") if h]
    options = {}
    if args.adaptation is not None:
        if args.adaptation not in tr.adaptations:
            choices = f"must be one of {', '.join(tr.adaptations)}" if tr.adaptations else "has no adaptation choice"
            raise ConfigError(f"--adaptation: the checkpoint's controller {name} {choices}, got {args.adaptation!r}")
        options["adaptation"] = args.adaptation
    rows = tr.evaluate(args.scenario, args.checkpoint,
                       adapt_steps=_int_list(args.adapt_steps, "--adapt-steps"),
                       seeds=_int_list(args.seeds, "--seeds"), heuristics=heuristics,
                       overrides=args.overrides, progress=not args.quiet, **options)
    write_eval(rows, args.out)
    if not args.quiet:
        import numpy as np
        keys = sorted({(r["test_set"], r["controller"], r["adapt_steps"]) for r in rows})
        print(f"{'test set':<12} {'controller':<10} {'steps':>5} {'latency s (mean ± std over seeds)':>36}")
        for test_set, ctrl, steps in keys:
            vals = [r["latency_s"] for r in rows if (r["test_set"], r["controller"], r["adapt_steps"]) == (test_set, ctrl, steps)]
            print(f"{test_set:<12} {ctrl:<10} {steps:>5} {np.mean(vals):>24.2f} ± {np.std(vals):.2f}")
        print(f"eval.csv and eval.png in {args.out}/")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from mecsim.sweep import parse_grid, sweep
    seeds = None if args.seeds is None else _int_list(args.seeds, "--seeds")
    metrics = None if args.metrics is None else [m for m in args.metrics.split(",") if m]
    result = sweep(args.scenario, parse_grid(args.grid), seeds, args.out, backend=args.backend,
                   workers=args.workers, address=args.address, controller=args.controller,
                   overrides=args.overrides, metrics=metrics, progress=not args.quiet)
    if not args.quiet:
        print(result.table)
        print(f"{len(result.rows)} runs ({result.cached} cached, {result.failed} failed); "
              f"runs.csv and table.md in {args.out}/")
    params = result.columns[:result.columns.index("status")]
    for row in result.rows:
        if row["status"] == "failed":
            where = " ".join(f"{k}={row[k]}" for k in params)
            print(f"mecsim: run failed ({where}): {row['error']}", file=sys.stderr)
    return 1 if result.failed else 0


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """Warnings as one line on stderr, like errors (Python's own format adds the source line)."""
    print(f"mecsim: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {"run": _run, "validate": _validate, "schema": _schema, "controllers": _controllers,
               "train": _train, "eval": _eval, "sweep": _sweep, "report": _report}[args.command]
    try:
        with warnings.catch_warnings():
            # PlausibilityWarning is a MecsimError: under --strict it is raised and printed below
            warnings.simplefilter("error" if getattr(args, "strict", False) else "default", PlausibilityWarning)
            warnings.showwarning = _show_warning
            return command(args)
    except MecsimError as exc:
        if args.debug:
            traceback.print_exception(exc)
        else:
            print(f"mecsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mecsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
