"""The lint and type-check configurations (pyproject.toml [tool.ruff], setup.cfg [mypy]) pass on the tree."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_ruff_passes():
    done = _run(sys.executable, "-m", "ruff", "check", ".")
    assert done.returncode == 0, done.stdout[-3000:]


def test_mypy_passes():
    done = _run(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout[-3000:]
