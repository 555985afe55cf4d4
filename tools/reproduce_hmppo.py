"""Reproduce HMPPO's Fig. 2 and Table I (Yu, Chua, Zhao §VI-VII): HMPPO, IPPO and Random for N = 6-9 UEs.

    python tools/reproduce_hmppo.py --budget smoke|paper --out OUT [--seeds 0,1,2] [--ues 6,7,8,9]
        [--iterations N] [--episodes E] [--workers W] [--set KEY=VALUE ...] [--config KEY=VALUE ...]
        [--learners hmppo,ippo]

For each N and training seed: train HMPPO and IPPO on scenarios/hmppo/edge_tuning.yaml with ``ues=N``
(what `mecsim train` does; checkpoints resume, so a second call with a larger --iterations trains on),
then score each greedy tuner, Random and the fixed reference policy `local_keep_emulator` (not in the
paper) in the engine on E episodes (seeds 1000·seed + k, the same for all; what `mecsim eval` does).
Writes OUT/eval.csv (one row per controller, N, training seed: means over the E episodes),
OUT/table.md (Table I: mean ± std over seeds next to the paper's numbers), OUT/fig2.png (reward,
total delay, perplexity and switches of the greedy evaluations against training steps, N = the first
--ues) and OUT/fig2_ues.png (delay and perplexity against N). ``--set`` passes scenario overrides
(e.g. ``emulator.layers=1000``) to training and evaluation, after ``ues=N``; ``--config`` sets fields of
both learners' HMPPOConfig (e.g. ``input_norm=layer``, ``ppo.ent_coef=0.02``; controllers.hmppo.configured),
for the ablations of RESULTS.md; ``--learners`` trains only some of them (the baselines are scored with the
first one).

Cost (one core, measured at smoke, 0.55-0.6 s per iteration): smoke 24 runs × ~25 s ≈ 10 CPU minutes;
paper 24 runs × 600 iterations ≈ 2.4 CPU hours (about 1.2 h with --workers 2); with --workers 12 on a
16-core machine, one --ues pair (12 runs) took 7.4 minutes.
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from mecsim.controllers.hmppo import BUDGETS, configured, evaluate
from mecsim.cli import positive_int
from mecsim.errors import MecsimError
from mecsim.evaluation import write_eval
from mecsim.fileio import atomic_write_text
from mecsim.plotting import figure, save_png
from mecsim.registry import trainer

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "hmppo" / "edge_tuning.yaml"
LEARNED = ("hmppo", "ippo")
BASELINES = ("random_tuning", "local_keep_emulator")   # the last: a reference, not in the paper
METRICS = ("reward", "total_delay_min", "perplexity", "switches")
# Table I of the paper: reward, total delay (min), perplexity per method and N
PAPER = {"hmppo": {6: (-57.32, 23.25, 12.78), 7: (-62.74, 28.53, 13.71), 8: (-64.23, 32.83, 13.62),
                   9: (-67.42, 39.64, 15.43)},
         "ippo": {6: (-78.98, 66.88, 16.01), 7: (-86.35, 92.33, 17.33), 8: (-95.52, 164.73, 17.82),
                  9: (-113.74, 195.32, 18.93)},
         "random_tuning": {6: (-175.57, 775.97, 23.96), 7: (-193.40, 924.89, 24.477), 8: (-200.63, 1172.45, 25.33),
                           9: (-240.11, 1553.73, 24.64)}}


def job(name: str, ues: int, seed: int, args: argparse.Namespace) -> list[dict]:
    """Train one learner for one (N, seed), resuming; score it (and, with HMPPO, the baselines) on E episodes."""
    overrides = [f"ues={ues}", *args.overrides]
    ck = Path(args.out) / f"{name}-n{ues}-seed{seed}"
    trainer(name).train(SCENARIO, ck, budget=args.budget, seed=seed, resume=True, progress=not args.quiet,
                  overrides=overrides, iterations=args.iterations, settings=args.config)
    episodes = [1000 * seed + k for k in range(args.episodes)]
    baselines = list(BASELINES) if name == args.learners[0] else []
    rows = evaluate(SCENARIO, ck, adapt_steps=[0], seeds=episodes, heuristics=baselines, overrides=overrides,
                    progress=False)
    out = []
    for ctrl in dict.fromkeys(r["controller"] for r in rows):
        mine = [r for r in rows if r["controller"] == ctrl]
        out.append({"controller": ctrl, "test_set": f"N={ues}", "adapt_steps": 0, "seed": seed,
                    **{k: float(np.mean([r[k] for r in mine])) for k in ("latency_s", *METRICS, "server_share")}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", choices=("smoke", "paper"), default="smoke")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--ues", default="6,7,8,9", help="Table I's UE counts")
    parser.add_argument("--iterations", type=positive_int, default=None, help="replace the budget's iteration count")
    parser.add_argument("--episodes", type=positive_int, default=5, help="greedy evaluation episodes per trained tuner")
    parser.add_argument("--workers", type=int, default=1, help="parallel (learner, N, seed) jobs")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="scenario override for training and evaluation, e.g. emulator.layers=1000")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                        help="HMPPOConfig field for both learners, e.g. input_norm=layer or ppo.ent_coef=0.02")
    parser.add_argument("--learners", default=",".join(LEARNED), help="which of hmppo,ippo to train")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    ues = [int(n) for n in args.ues.split(",")]
    args.learners = args.learners.split(",")
    if not args.learners or not set(args.learners) <= set(LEARNED):
        parser.error(f"--learners: must be names from {','.join(LEARNED)}, got {','.join(args.learners)!r}")
    try:
        configured(BUDGETS[args.budget], args.config)
    except MecsimError as e:
        parser.exit(2, f"{e}\n")
    jobs = [(name, n, seed) for n in ues for seed in seeds for name in args.learners]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(job, *zip(*jobs), [args] * len(jobs)))
    else:
        results = [job(name, n, seed, args) for name, n, seed in jobs]
    rows = [r for got in results for r in got]
    out = Path(args.out)
    write_eval(rows, out)
    text = table(rows, args)
    atomic_write_text(out / "table.md", text)
    curves(out, ues[0], seeds, rows, args.learners)
    by_ues(out, ues, rows, [*args.learners, *BASELINES])
    print(text)


def _stats(rows: list[dict], ctrl: str, n: int, key: str) -> list[float]:
    return [r[key] for r in rows if r["controller"] == ctrl and r["test_set"] == f"N={n}"]


def table(rows: list[dict], args: argparse.Namespace) -> str:
    """Table I's layout, ours (mean ± std over training seeds) next to the paper's value."""
    budget = args.budget if args.iterations is None else f"{args.budget} ({args.iterations} iterations)"
    if args.overrides or args.config:
        budget += ", " + " ".join([*args.overrides, *args.config])
    lines = [f"Table I, budget {budget}, seeds {args.seeds}, {args.episodes} greedy episodes per tuner; "
             "mecsim mean ± std over seeds (paper in brackets)", "",
             "| method | N | reward | total delay (min) | task perplexity | emulator switches |",
             "|---|---|---|---|---|---|"]
    for ctrl in (*args.learners, *BASELINES):
        for n in sorted({int(r["test_set"][2:]) for r in rows}):
            cells = []
            for k, key in enumerate(METRICS):
                vals = _stats(rows, ctrl, n, key)
                paper = PAPER.get(ctrl, {}).get(n)
                ref = f" [{paper[k]:g}]" if paper and k < 3 else ""
                cells.append(f"{np.mean(vals):.2f} ± {np.std(vals):.2f}{ref}" if vals else "n/a")
            lines.append(f"| {ctrl} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _progress(folder: Path) -> list[dict[str, str]]:
    with open(folder / "progress.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("eval_reward")]


def curves(out: Path, ues: int, seeds: list[int], rows: list[dict], learners: list[str]) -> None:
    """Fig. 2(a)-(d): greedy evaluations during training (mean ± std over seeds), Random as a dashed line."""
    fig = figure(13, 3.4)
    titles = ("episodic reward", "total delay (min)", "task perplexity", "emulator switches")
    for k, (key, title) in enumerate(zip(METRICS, titles), 1):
        ax = fig.add_subplot(1, 4, k)
        for name in learners:
            logs = [_progress(out / f"{name}-n{ues}-seed{s}") for s in seeds]
            length = min(len(log) for log in logs)
            if length == 0:
                continue
            x = np.array([float(r["env_steps"]) for r in logs[0][:length]])
            y = np.array([[float(r[f"eval_{key}"]) for r in log[:length]] for log in logs])
            ax.plot(x, y.mean(0), marker="o", ms=2, label=name)
            ax.fill_between(x, y.mean(0) - y.std(0), y.mean(0) + y.std(0), alpha=0.2)
        ax.axhline(np.mean(_stats(rows, "random_tuning", ues, key)), ls="--", lw=1, color="grey", label="random")
        ax.set_title(f"({'abcd'[k - 1]}) {title}, N = {ues}")
        ax.set_xlabel("training steps")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, out / "fig2.png", dpi=110)


def by_ues(out: Path, ues: list[int], rows: list[dict], methods: list[str]) -> None:
    """Fig. 2(e)-(f): total delay and perplexity against the number of UEs."""
    fig = figure(8, 3.4)
    for k, (key, title) in enumerate((("total_delay_min", "total delay (min)"), ("perplexity", "task perplexity")), 1):
        ax = fig.add_subplot(1, 2, k)
        width = 0.8 / len(methods)
        for j, ctrl in enumerate(methods):
            means = [np.mean(_stats(rows, ctrl, n, key)) for n in ues]
            errs = [np.std(_stats(rows, ctrl, n, key)) for n in ues]
            ax.bar(np.arange(len(ues)) + j * width, means, width, yerr=errs, label=ctrl)
        ax.set_xticks(np.arange(len(ues)) + width * (len(methods) - 1) / 2, [str(n) for n in ues])
        ax.set_xlabel("UEs")
        ax.set_title(f"({'ef'[k - 1]}) {title}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, out / "fig2_ues.png", dpi=110)


if __name__ == "__main__":
    main()
