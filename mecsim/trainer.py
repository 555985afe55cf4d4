"""The contract of a learned controller's trainer: what ``mecsim train`` and ``mecsim eval`` call.

Each trainable controller's module exposes ``TRAINER``, a :class:`Trainer` that names its two
functions and says what they accept (budgets, parallel workers, adaptation choices), so the command
line checks a request against it instead of inspecting signatures. ``train`` writes an atomic
``checkpoint`` and a ``progress.csv`` row into ``out`` every iteration (:class:`mecsim.checkpoint.TrainingRun`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

__all__ = ["Trainer", "TrainFn", "EvaluateFn", "budget_names"]


class TrainFn(Protocol):
    def __call__(self, scenario: str | Path, out: str | Path, *, budget: str = ..., seed: int = ...,
                 resume: bool = ..., progress: bool = ..., overrides: Sequence[str] = ...,
                 **parallel: Any) -> Path:
        """Train on the scenario's training tasks into `out`; returns `out`. ``parallel`` holds
        ``backend``, ``workers`` and ``address`` for a trainer with ``Trainer.parallel``."""
        ...


class EvaluateFn(Protocol):
    def __call__(self, scenario: str | Path, checkpoint: str | Path, *, adapt_steps: Sequence[int],
                 seeds: Sequence[int], heuristics: Sequence[str] | None = ..., overrides: Sequence[str] = ...,
                 progress: bool = ..., **options: Any) -> list[dict[str, Any]]:
        """eval.csv rows (mecsim.evaluation) of the checkpoint and of `heuristics` (None: the trainer's
        baselines) on the held-out tasks; ``options`` holds ``adaptation`` for a trainer that has a choice."""
        ...


@dataclass(frozen=True)
class Trainer:
    """How the command line drives one learned controller."""

    train: TrainFn
    evaluate: EvaluateFn
    budgets: tuple[str, ...]
    """the ``--budget`` names, the default first"""
    baselines: tuple[str, ...]
    """the controllers ``mecsim eval`` scores beside the learned one unless told others"""
    parallel: bool = False
    """``train`` accepts ``backend``, ``workers`` and ``address`` (inner loops or rollouts on workers)"""
    adaptations: tuple[str, ...] = ()
    """what one adaptation step may be (``--adaptation``), the default first; () when there is no choice"""
    checkpoint: str = "checkpoint.pt"
    """the file ``train`` writes into ``out`` (with progress.csv)"""


def budget_names(budgets: Mapping[str, Any], default: str = "smoke") -> tuple[str, ...]:
    """A trainer's budget names with `default` first (what ``--budget`` falls back to)."""
    return (default, *(name for name in budgets if name != default))
