"""MRLATO (Zhang et al., TVT 2025): MRLCO's meta-training with multi-head attention and recursive ranks.

Differences from MRLCO, all from the paper: 8-head attention over the encoder outputs (eqs. 18-22),
128 hidden units (Table I), tasks ordered by the recursive rank of eq. (13), 2000 iterations (Table I).
The meta-training loop is MRLCO's (controllers/mrlco.py).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from mecsim.controllers import mrlco
from mecsim.controllers.offload_rl import ADAPTATIONS, FEATURES, BASELINES, LearnedOffloader
from mecsim.controllers.offload_rl import evaluate_checkpoint as evaluate
from mecsim.trainer import Trainer, budget_names

__all__ = ["BUDGETS", "train", "evaluate", "MRLATO"]

BUDGETS = {
    "paper": replace(mrlco.BUDGETS["paper"], hidden=128, attention="multihead", heads=8, order="recursive_rank"),
    "smoke": replace(mrlco.BUDGETS["smoke"], hidden=64, attention="multihead", heads=8, order="recursive_rank"),
    "laptop": replace(mrlco.BUDGETS["laptop"], hidden=64, attention="multihead", heads=8, order="recursive_rank"),
}


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, overrides: Sequence[str] = (), iterations: int | None = None,
          backend: str = "local", workers: int | None = None, address: str | None = None,
          features: str | None = None) -> Path:
    return mrlco.train(scenario, out, budget=budget, seed=seed, resume=resume, progress=progress,
                       config=BUDGETS[budget], name="mrlato", overrides=overrides, iterations=iterations,
                       backend=backend, workers=workers, address=address, features=features)


class MRLATO(LearnedOffloader):
    """The acting MRLATO controller (loads a `mecsim train --controller mrlato` checkpoint)."""

    controller_name = "mrlato"


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), BASELINES, parallel=True, adaptations=tuple(ADAPTATIONS),
                  features=FEATURES)
