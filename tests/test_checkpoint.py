"""Checkpoints: atomic, weights_only, one-line errors for corrupt or foreign files; progress.csv resume."""
from __future__ import annotations

import csv

import pytest
import torch

from mecsim.checkpoint import ProgressLog, load_checkpoint, save_checkpoint
from mecsim.errors import MecsimError


def test_round_trip(tmp_path):
    state = {"policy": {"w": torch.arange(3.0)}, "rng": [1, 2]}
    save_checkpoint(tmp_path, "drl", 7, state)
    got = load_checkpoint(tmp_path, "drl")
    assert got["iteration"] == 7 and torch.equal(got["policy"]["w"], torch.arange(3.0))


@pytest.mark.parametrize("content, message", [
    (b"not a torch file", "not a readable mecsim checkpoint"),
    (b"", "not a readable mecsim checkpoint"),
])
def test_corrupt(tmp_path, content, message):
    (tmp_path / "checkpoint.pt").write_bytes(content)
    with pytest.raises(MecsimError, match=message) as err:
        load_checkpoint(tmp_path)
    assert "\n" not in str(err.value)


def test_foreign_and_wrong_controller(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "checkpoint.pt")
    with pytest.raises(MecsimError, match="not a mecsim checkpoint"):
        load_checkpoint(tmp_path)
    save_checkpoint(tmp_path, "mrlco", 1, {})
    with pytest.raises(MecsimError, match="controller 'mrlco', expected 'drl'"):
        load_checkpoint(tmp_path, "drl")
    with pytest.raises(MecsimError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing")


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))
    torch.save({"format": "mecsim-checkpoint-1", "x": Evil()}, tmp_path / "checkpoint.pt")
    with pytest.raises(MecsimError, match="not a readable"):
        load_checkpoint(tmp_path)


def test_progress_resume_drops_rows_after_the_checkpoint(tmp_path):
    log = ProgressLog(tmp_path, ["loss"])
    for i in range(1, 6):
        log.append({"iteration": i, "env_steps": 10 * i, "wall_s": 0.5 * i, "loss": 1.0 / i})
    ProgressLog(tmp_path, ["loss"], resume_from=3)
    rows = list(csv.DictReader(open(tmp_path / "progress.csv")))
    assert [r["iteration"] for r in rows] == ["1", "2", "3"] and rows[0]["loss"] == "1"


def test_progress_also_goes_to_tensorboard_and_resume_purges(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    log = ProgressLog(tmp_path, ["loss"])
    for i in range(1, 6):
        log.append({"iteration": i, "env_steps": 10 * i, "wall_s": 0.5 * i, "loss": 1.0 / i})
    resumed = ProgressLog(tmp_path, ["loss"], resume_from=3)
    resumed.append({"iteration": 4, "env_steps": 40, "wall_s": 2.0, "loss": 7.0})
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    loss = {e.step: e.value for e in events.Scalars("loss")}
    assert loss == {1: 1.0, 2: 0.5, 3: pytest.approx(1 / 3), 4: 7.0}
