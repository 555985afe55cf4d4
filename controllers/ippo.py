"""IPPO (HMPPO paper §VI-B, after de Witt et al. / Yu et al.): HMPPO's two actors, each agent with its
own critic on its own observation (so its own advantage, standardised over that agent's rows only, as a
learner with one buffer per agent does: RESULTS.md, HMPPO ablation), everything else as in
controllers/hmppo.py."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from mecsim.controllers import hmppo
from mecsim.controllers.hmppo import LearnedTuner, evaluate
from mecsim.trainer import Trainer, budget_names

__all__ = ["BUDGETS", "train", "evaluate", "IPPO"]

BUDGETS = {name: dataclasses.replace(cfg, critic="local", advantage_norm="per_agent")
           for name, cfg in hmppo.BUDGETS.items()}


def train(scenario: str | Path, out: str | Path, *, budget: str = "smoke", seed: int = 0, resume: bool = False,
          progress: bool = True, overrides: Sequence[str] = (), iterations: int | None = None,
          settings: Sequence[str] = ()) -> Path:
    return hmppo.train(scenario, out, budget=budget, seed=seed, resume=resume, progress=progress,
                       overrides=overrides, iterations=iterations, config=BUDGETS[budget], name="ippo",
                       settings=settings)


class IPPO(LearnedTuner):
    """The acting IPPO controller: ``mecsim run ... --controller ippo --set controller_params.checkpoint=DIR``."""

    controller_name = "ippo"


TRAINER = Trainer(train, evaluate, budget_names(BUDGETS), hmppo.BASELINES)
