"""Reproduce MRLCO Table 3 / MRLATO Table III on the authors' data, every method in the same model.

    python tools/reproduce_offloading.py --experiment topology|tasks|rates --model authors|faithful \
        --budget smoke|laptop|paper --out OUT [--seeds 0,1,2] [--controllers drl,mrlco,mrlato] [--features paper|schedule]
        [--iterations N] [--workers W] [--adaptation inner|authors] [--max-steps S] [--test-sets A,B]
        [--train-only | --eval-only]

For each seed: train DRL, MRLCO and MRLATO on the experiment's training tasks (what `mecsim train`
does), then adapt each on every held-out task and score it after 0/1/20/30/100 steps next to Optimal,
HEFT and Greedy on the same DAGs (what `mecsim eval` does). `heft` and `greedy` plan as the authors'
code does (serial-uplink estimate), `heft_model` and `greedy_model` in the model in force (the same
without the quirk, stronger with it). `--model authors` turns on the authors'
entry-upload quirk (the model the paper's MRLCO figures were scored in); `faithful` keeps the serial
uplink. `--iterations` replaces the budget's iteration count (checkpoints resume, so a second call with
a larger count trains on); `--workers` runs the (seed, controller) jobs in parallel processes;
`--train-only` and `--eval-only` split the two phases (e.g. training under a wall-clock limit first).
`--adaptation` picks what one adaptation step is (controllers/offload_rl.py:ADAPTATIONS): MRLCO's
inner-loop step (default) or the authors' evaluator's (2000 DAGs, 3 epochs, lr 1e-4, about 13 times
the cost); `--max-steps` and `--test-sets` shorten the evaluation (the table shows n/a for the rest).
Writes OUT/eval.csv (all rows), OUT/table.md (mean ± std over seeds) and the per-run checkpoint folders.
"""
from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from mecsim.controllers.offload_rl import ADAPTATIONS, evaluate_checkpoint
from mecsim.cli import positive_int
from mecsim.evaluation import write_eval
from mecsim.fileio import atomic_write_text
from mecsim.registry import trainer

ROOT = Path(__file__).resolve().parents[1]
LEARNED = ("drl", "mrlco", "mrlato")
BASELINES = ("optimal", "heft", "greedy", "heft_model", "greedy_model")   # *_model: controllers/offload_rl.py VARIANTS
COLUMNS = [("optimal", 0), ("heft", 0), ("greedy", 0), ("heft_model", 0), ("greedy_model", 0), ("drl", 20),
           ("drl", 100), ("mrlco", 20),
           ("mrlco", 100), ("mrlato", 1), ("mrlato", 30), ("mrlato", 100)]
STEPS = sorted({s for _, s in COLUMNS})


def job(name: str, seed: int, args: argparse.Namespace) -> list[dict]:
    """Train one controller for one seed (resuming), then evaluate it (and, for DRL, the heuristics)."""
    scenario = ROOT / "scenarios" / "mrlco" / f"{args.experiment}.yaml"
    overrides = [f"compat.entry_upload_bypass={'true' if args.model == 'authors' else 'false'}"]
    ck = Path(args.out) / f"{name}-seed{seed}"
    if not args.eval_only:
        trainer(name).train(scenario, ck, budget=args.budget, seed=seed, resume=True, progress=not args.quiet,
                      overrides=overrides, iterations=args.iterations, features=args.features)
    if args.train_only:
        return []
    heuristics = BASELINES if name == LEARNED[0] else ()
    steps = [s for s in STEPS if s <= args.max_steps]
    rows = evaluate_checkpoint(scenario, ck, adapt_steps=steps, seeds=[seed], heuristics=heuristics,
                               overrides=overrides, progress=not args.quiet, adaptation=args.adaptation,
                               test_sets=args.test_sets.split(",") if args.test_sets else None)
    return [r for r in rows if (r["controller"], r["adapt_steps"]) in COLUMNS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", choices=("topology", "tasks", "rates"), required=True)
    parser.add_argument("--model", choices=("authors", "faithful"), required=True)
    parser.add_argument("--budget", choices=("smoke", "laptop", "paper"), default="smoke")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--iterations", type=positive_int, default=None, help="replace the budget's iteration count")
    parser.add_argument("--features", choices=("paper", "schedule"), default="paper",
                        help="network inputs (controllers/offload_rl.py FEATURES; schedule is beyond the paper)")
    parser.add_argument("--workers", type=int, default=1, help="parallel (seed, controller) jobs")
    parser.add_argument("--controllers", default=",".join(LEARNED), help="a subset of drl,mrlco,mrlato")
    parser.add_argument("--adaptation", choices=tuple(ADAPTATIONS), default="inner",
                        help="what one adaptation step is (controllers/offload_rl.py:ADAPTATIONS)")
    parser.add_argument("--max-steps", type=int, default=max(STEPS),
                        help="leave out the table's columns after more adaptation steps than this")
    parser.add_argument("--test-sets", default=None, help="evaluate only these held-out sets (comma-separated)")
    phase = parser.add_mutually_exclusive_group()
    phase.add_argument("--train-only", action="store_true", help="train (or resume) and stop")
    phase.add_argument("--eval-only", action="store_true", help="evaluate the checkpoints in OUT as they are")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [n for n in args.controllers.split(",") if n]
    if not names or set(names) - set(LEARNED):
        parser.error(f"--controllers: must be a subset of {','.join(LEARNED)}, got {args.controllers!r}")
    jobs = [(name, seed) for seed in seeds for name in names]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(job, *zip(*jobs), [args] * len(jobs)))
    else:
        results = [job(name, seed, args) for name, seed in jobs]
    if args.train_only:
        return
    rows = [r for got in results for r in got]
    out = Path(args.out)
    write_eval(rows, out)
    atomic_write_text(out / "table.md", table(rows, args))
    print(table(rows, args))


def table(rows: list[dict], args: argparse.Namespace) -> str:
    """The Table 3 / Table III layout, one row per held-out set, mean ± std over seeds."""
    sets = list(dict.fromkeys(r["test_set"] for r in rows))
    head = "| test set | " + " | ".join(c if c in BASELINES else f"{c} {s}" for c, s in COLUMNS) + " |"
    budget = args.budget if args.iterations is None else f"{args.budget} ({args.iterations} iterations)"
    if args.eval_only:
        budget = f"{args.budget} network, checkpoints as trained (iterations: see each progress.csv)"
    lines = [f"Experiment {args.experiment}, {args.model} model, budget {budget}, {args.features} features, "
             f"seeds {args.seeds}, "
             f"{args.adaptation} adaptation steps; mean latency (the authors' units: s) ± std over seeds", "", head,
             "|" + "---|" * (len(COLUMNS) + 1)]
    for test_set in sets:
        cells = []
        for ctrl, step in COLUMNS:
            vals = [r["latency_s"] for r in rows
                    if (r["test_set"], r["controller"], r["adapt_steps"]) == (test_set, ctrl, step)]
            cells.append(f"{np.mean(vals):.2f} ± {np.std(vals):.2f}" if vals else "n/a")
        lines.append(f"| {test_set} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
