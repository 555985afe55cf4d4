"""Where one MRLCO meta-iteration spends its time: simulator (rewards) vs network (decode, PPO).

    python tools/bench_training.py [--budget smoke|paper] [--iterations 3]

Runs real meta-iterations on scenarios/mrlco/authors.yaml (the authors' 19 training sets) and reports
env steps/s, seconds per iteration, and the share of wall time inside the simulator (DagBatch: the
embeddings and the rewards of the plans) against the network (decoding and the PPO updates).
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from mecsim.controllers import mrlco
from mecsim.envs import batch as batch_module

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", choices=("smoke", "paper"), default="smoke")
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    cfg = replace(mrlco.BUDGETS[args.budget], iterations=args.iterations)
    spent = {"sim": 0.0}
    original_init, original_rewards = batch_module.DagBatch.__post_init__, batch_module.DagBatch.rewards

    def timed(fn):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent["sim"] += time.perf_counter() - start
        return wrapper

    batch_module.DagBatch.__post_init__ = timed(original_init)
    batch_module.DagBatch.rewards = timed(original_rewards)
    with tempfile.TemporaryDirectory() as out:
        # iteration 1 includes loading the DAG files; time the rest
        mrlco.train(ROOT / "scenarios/mrlco/authors.yaml", out, config=replace(cfg, iterations=1), progress=False)
        spent["sim"] = 0.0
        start = time.perf_counter()
        mrlco.train(ROOT / "scenarios/mrlco/authors.yaml", out, config=cfg, resume=True, progress=False)
        wall = time.perf_counter() - start
        rows = (Path(out) / "progress.csv").read_text().splitlines()
        steps = int(rows[-1].split(",")[1]) - int(rows[1].split(",")[1])
    its = args.iterations - 1
    print(f"machine: {platform.machine()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| budget | s / iteration | env steps / s | simulator share | network share |")
    print("|---|---|---|---|---|")
    print(f"| {args.budget} (meta batch {cfg.meta_batch}, {cfg.episodes} DAGs, hidden {cfg.hidden}) | "
          f"{wall / its:.2f} | {steps / wall:,.0f} | {spent['sim'] / wall:.1%} | {1 - spent['sim'] / wall:.1%} |")


if __name__ == "__main__":
    main()
