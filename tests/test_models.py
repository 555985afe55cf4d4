"""The pretrained models shipped in models/: weights only, small, and they still score what they scored."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mecsim.checkpoint import load_checkpoint
from mecsim.cli import main
from mecsim.controllers.offload_rl import evaluate_checkpoint
from mecsim.errors import MecsimError

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(p for p in (ROOT / "models").iterdir() if p.is_dir())


def test_models_are_shipped():
    assert MODELS


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_a_model_is_weights_only_small_and_documented(model):
    payload = load_checkpoint(model)        # torch.load(weights_only=True) inside
    assert payload["exported"] and "optimizer" not in payload and "numpy_rng" not in payload
    assert (model / "checkpoint.pt").stat().st_size <= 2 * 2 ** 20
    assert (model / "progress.csv").read_text().count("\n") == payload["iteration"] + 1
    meta = json.loads((model / "model.json").read_text())
    assert meta["controller"] == payload["controller"] and meta["command"] in (model / "README.md").read_text()


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_a_model_scores_what_it_scored_when_exported(model):
    meta = json.loads((model / "model.json").read_text())
    check = meta["check"]
    (row,) = evaluate_checkpoint(ROOT / meta["scenario"], model, adapt_steps=[check["adapt_steps"]], seeds=[0],
                                 heuristics=(), overrides=meta["overrides"], progress=False,
                                 test_sets=[check["test_set"]])
    assert row["latency_s"] == pytest.approx(check["latency_s"], rel=1e-9)


def test_a_model_cannot_be_trained_on(tmp_path):
    import shutil
    model = MODELS[0]
    meta = json.loads((model / "model.json").read_text())
    copy = tmp_path / "m"
    shutil.copytree(model, copy)
    from mecsim.registry import trainer
    with pytest.raises(MecsimError, match="a shipped model holds weights only"):
        trainer(meta["controller"]).train(ROOT / meta["scenario"], copy, budget="laptop", resume=True,
                                          progress=False, overrides=meta["overrides"], features=meta["features"])


def test_a_model_acts_in_a_run(tmp_path):
    model = next(m for m in MODELS if json.loads((m / "model.json").read_text())["controller"] == "mrlco")
    meta = json.loads((model / "model.json").read_text())
    sets = [a for o in meta["overrides"] for a in ("--set", o)]
    assert main(["run", str(ROOT / "scenarios/mrlco/authors.yaml"), "--controller", "mrlco", *sets, "--set",
                 f"controller_params.checkpoint={model}", "--set", "horizon_s=2000", "--out", str(tmp_path / "r"),
                 "--quiet", "--no-trace"]) == 0
