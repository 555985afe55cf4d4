"""Mean ± std over runs of examples/sb3_ppo.py: one markdown row per held-out set.

    python tools/sb3_summary.py runs/sb3-paper-s0 runs/sb3-paper-s1 runs/sb3-paper-s2

Each folder holds one run's eval.csv (one seed); a controller's value per run is its mean latency over
the set's DAGs, and the table shows the mean ± std of those over the runs.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    runs = [list(csv.DictReader(open(Path(folder) / "eval.csv"))) for folder in sys.argv[1:]]
    if not runs:
        sys.exit("usage: python tools/sb3_summary.py RUN_FOLDER [RUN_FOLDER ...]")
    sets = list(dict.fromkeys(r["test_set"] for r in runs[0]))
    controllers = list(dict.fromkeys(r["controller"] for r in runs[0]))
    print("| test set | " + " | ".join(controllers) + " |\n|" + "---|" * (len(controllers) + 1))
    for name in sets:
        cells = []
        for c in controllers:
            per_run = [np.mean([float(r["latency_s"]) for r in rows if (r["test_set"], r["controller"]) == (name, c)])
                       for rows in runs]
            cells.append(f"{np.mean(per_run):.2f} ± {np.std(per_run):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
