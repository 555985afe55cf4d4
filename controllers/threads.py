"""Torch thread setup for every learned controller's training, rollout workers and evaluation."""
from __future__ import annotations

import os

import torch

__all__ = ["set_threads"]


def set_threads() -> None:
    """One intra-op thread unless MECSIM_TORCH_THREADS says otherwise: these networks are small, and
    on the 2-core machines a second thread contending with anything else slows every step;
    scale out with processes instead (DESIGN.md)."""
    torch.set_num_threads(int(os.environ.get("MECSIM_TORCH_THREADS", "1")))
