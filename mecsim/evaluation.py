"""``eval.csv`` and ``eval.png``: what `mecsim eval` and the reproduction tools write, for every system.

Rows are dicts with ``controller, test_set, adapt_steps, seed, latency_s`` and any further metrics of
the system (``reward``, ``perplexity``, ...), which become extra columns in first-seen order.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mecsim.fileio import atomic_write_text
from mecsim.plotting import figure, save_png

__all__ = ["EVAL_COLUMNS", "write_eval"]

EVAL_COLUMNS = ("controller", "test_set", "adapt_steps", "seed", "latency_s")


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    extra = dict.fromkeys(k for r in rows for k in r if k not in EVAL_COLUMNS)
    return [*EVAL_COLUMNS, *extra]


def _cell(value: Any) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def write_eval(rows: Sequence[dict[str, Any]], out: str | Path) -> None:
    """Write ``out/eval.csv`` (floats in full precision) and ``out/eval.png``: latency against
    adaptation steps, one panel per test set, fixed baselines as dashed lines."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    columns = _columns(rows)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(r.get(c, "")) for c in columns] for r in rows)
    atomic_write_text(out / "eval.csv", text.getvalue())

    sets = sorted({r["test_set"] for r in rows})
    fig = figure(4.5 * max(1, len(sets)), 3.6)
    for i, test_set in enumerate(sets, 1):
        ax = fig.add_subplot(1, len(sets), i)
        mine = [r for r in rows if r["test_set"] == test_set]
        for ctrl in sorted({r["controller"] for r in mine}):
            pts = [r for r in mine if r["controller"] == ctrl]
            xs = sorted({r["adapt_steps"] for r in pts})
            ys = [np.mean([r["latency_s"] for r in pts if r["adapt_steps"] == x]) for x in xs]
            if len(xs) == 1:
                ax.axhline(ys[0], ls="--", lw=1, label=ctrl)
            else:
                ax.plot(xs, ys, marker="o", ms=3, label=ctrl)
        ax.set_title(test_set)
        ax.set_xlabel("adaptation steps")
        ax.set_ylabel("mean latency (s)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, out / "eval.png", dpi=110)
