"""Off-screen figures written atomically: the one place every PNG writer gets its Agg figure from.

matplotlib is imported only when a figure is made, so ``import mecsim`` stays light.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mecsim.fileio import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure", "save_png"]


def figure(width: float, height: float, dpi: float | None = None) -> "Figure":
    """A figure with an Agg canvas (no GUI backend, safe in worker processes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: "Figure", path: str | os.PathLike, dpi: float | str = "figure") -> None:
    """Write `fig` to `path` as PNG, atomically (temp file, then rename)."""
    with atomic_write(Path(path), "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi)
