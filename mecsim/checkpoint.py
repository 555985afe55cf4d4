"""Checkpoints and learning curves of trainers: atomic, resumable, safe to load.

A checkpoint is a plain dict of tensors and builtins saved with ``torch.save`` through a temporary
file and a rename, so a ``kill -9`` leaves the previous checkpoint intact; it loads with
``torch.load(weights_only=True)``. Every checkpoint carries a ``format`` tag and the controller's name:
a corrupt or foreign file gives a one-line :class:`MecsimError`. ``progress.csv`` gets one row per
iteration, flushed as it is written; on resume, rows after the checkpoint's iteration are dropped.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Mapping

from mecsim.errors import MecsimError
from mecsim.fileio import atomic_write, atomic_write_text

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "ProgressLog", "TrainingRun"]

FORMAT = "mecsim-checkpoint-1"
NAME = "checkpoint.pt"


def save_checkpoint(folder: str | os.PathLike, controller: str, iteration: int, state: Mapping[str, Any]) -> Path:
    """Write ``folder/checkpoint.pt`` atomically (the previous one survives a crash mid-write)."""
    import torch
    path = Path(folder) / NAME
    payload = {"format": FORMAT, "controller": controller, "iteration": int(iteration), **state}
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)
    return path


def load_checkpoint(folder: str | os.PathLike, controller: str | None = None) -> dict[str, Any]:
    """Load and check a checkpoint (a folder holding checkpoint.pt, or the file itself)."""
    import torch
    path = Path(folder)
    if path.is_dir():
        path = path / NAME
    if not path.is_file():
        raise MecsimError(f"{path}: no checkpoint here (expected {NAME} written by `mecsim train`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        raise MecsimError(f"{path}: not a readable mecsim checkpoint ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:120] if str(exc) else 'no detail'})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise MecsimError(f"{path}: not a mecsim checkpoint (format tag missing or not {FORMAT!r})")
    if controller is not None and payload.get("controller") != controller:
        raise MecsimError(f"{path}: a checkpoint of controller {payload.get('controller')!r}, "
                          f"expected {controller!r}")
    return payload


class ProgressLog:
    """``progress.csv``: header ``iteration, env_steps, wall_s`` then the algorithm's metrics.

    When ``tensorboard`` is installed the same numbers also go to TensorBoard scalars in ``folder/tb``
    (step = iteration); on resume, events after the checkpoint's iteration are purged there too.
    """

    def __init__(self, folder: str | os.PathLike, metrics: list[str], resume_from: int | None = None) -> None:
        self.path = Path(folder) / "progress.csv"
        self._tb = _tensorboard(Path(folder) / "tb", resume_from)
        self.columns = ["iteration", "env_steps", "wall_s", *metrics]
        kept = []
        if resume_from is not None and self.path.exists():
            with open(self.path, newline="") as f:
                kept = [r for r in csv.DictReader(f) if int(r["iteration"]) <= resume_from]
        out = io.StringIO()
        writer = csv.DictWriter(out, self.columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(self.path, out.getvalue())

    def append(self, row: Mapping[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.columns, lineterminator="\n", extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
            f.flush()
            os.fsync(f.fileno())
        if self._tb is not None:
            step = int(row["iteration"])
            for key, value in row.items():
                if key != "iteration" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()


def _tensorboard(folder: Path, resume_from: int | None) -> Any:
    """A SummaryWriter when tensorboard is installed (the optional extra), else None."""
    try:
        import tensorboard  # noqa: F401  (torch's writer needs it)
    except ImportError:
        return None
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(str(folder), purge_step=None if resume_from is None else resume_from + 1)


class TrainingRun:
    """The bookkeeping every trainer's loop shares, so resuming works the same for all of them.

    On ``resume`` with a checkpoint in ``folder``, the numpy and torch random states and the counts are
    restored here and the checkpoint is kept in :attr:`checkpoint` for the trainer to load its own
    weights from. :meth:`end_iteration` writes the checkpoint (the trainer's state plus the random
    states and ``env_steps``), appends the progress.csv row and moves the progress bar.
    """

    def __init__(self, folder: str | os.PathLike, controller: str, metrics: list[str], iterations: int, *,
                 rng: Any, generator: Any, resume: bool, progress: bool) -> None:
        import time
        self.folder, self.controller, self.iterations = Path(folder), controller, iterations
        self.rng, self.generator = rng, generator
        self.checkpoint: dict[str, Any] | None = None
        self.start, self.env_steps = 0, 0
        if resume and (self.folder / NAME).exists():
            self.checkpoint = load_checkpoint(self.folder, controller)
            if self.checkpoint.get("exported"):
                raise MecsimError(f"{self.folder}: a shipped model holds weights only (tools/export_model.py) "
                                  f"and cannot be trained on; train into another --out")
            rng.bit_generator.state = self.checkpoint["numpy_rng"]
            generator.set_state(self.checkpoint["torch_rng"])
            self.start, self.env_steps = self.checkpoint["iteration"], self.checkpoint["env_steps"]
        self.log = ProgressLog(self.folder, metrics, resume_from=self.start if resume else None)
        self.bar = None
        if progress:
            from tqdm import tqdm
            self.bar = tqdm(total=iterations, initial=self.start, desc=f"train {controller}", unit="it")
        self._clock, self._wall0 = time.perf_counter, time.perf_counter()

    def remaining(self) -> range:
        """The iteration numbers still to run (1-based; the count goes on after a resume)."""
        return range(self.start + 1, self.iterations + 1)

    def end_iteration(self, iteration: int, state: Mapping[str, Any], metrics: Mapping[str, Any],
                      show: Mapping[str, str] | None = None) -> None:
        """Checkpoint, log and tick (``show``: what the progress bar prints beside the count)."""
        save_checkpoint(self.folder, self.controller, iteration,
                        {**state, "numpy_rng": self.rng.bit_generator.state,
                         "torch_rng": self.generator.get_state(), "env_steps": self.env_steps})
        self.log.append({"iteration": iteration, "env_steps": self.env_steps,
                         "wall_s": self._clock() - self._wall0, **metrics})
        if self.bar is not None:
            self.bar.update(1)
            if show:
                self.bar.set_postfix(show)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
