"""The heuristic columns of MRLCO Table 3 / MRLATO Table III on the held-out sets, both planners.

    python tools/heuristics_table.py --experiment topology|tasks|rates --model authors|faithful \
        [--controllers heft,greedy,heft_model,greedy_model,optimal]

`heft` and `greedy` plan as the authors' code does (their serial-uplink estimate); `heft_model` and
`greedy_model` plan in the model in force (controllers/offload_rl.py VARIANTS). Every plan is scored by
the simulator in the model chosen (`authors`: the entry-upload quirk on). Prints a markdown table of
the mean latency per held-out set (the authors' units); deterministic, no training.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from mecsim.controllers.offload_rl import BASELINES, heuristic_latency, load_tasks

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", choices=("topology", "tasks", "rates"), required=True)
    parser.add_argument("--model", choices=("authors", "faithful"), required=True)
    parser.add_argument("--controllers", default="heft,greedy,heft_model,greedy_model")
    args = parser.parse_args()
    names = [n for n in args.controllers.split(",") if n]
    if not names or set(names) - set(BASELINES):
        parser.error(f"--controllers: must be a subset of {','.join(BASELINES)}, got {args.controllers!r}")
    overrides = [f"compat.entry_upload_bypass={'true' if args.model == 'authors' else 'false'}"]
    tests = load_tasks(ROOT / "scenarios" / "mrlco" / f"{args.experiment}.yaml", "rank", overrides)["test"]
    print(f"Experiment {args.experiment}, {args.model} model; mean latency (the authors' units: s)\n")
    print("| test set | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 1))
    for task in tests:
        cells = [heuristic_latency(task, name) for name in names]
        print(f"| {task.name} | " + " | ".join("n/a" if c is None else f"{c:.2f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
