"""Export a trained checkpoint as a shipped model: weights only, with its learning curve and recipe.

    python tools/export_model.py CHECKPOINT_DIR models/NAME --scenario SCENARIO [--set KEY=VALUE ...]
        --command "the command that trained it" [--check-set set8]

Writes models/NAME/checkpoint.pt (the network, its spec and training config: no optimizer or random
states, so it cannot be trained on, at most 2 MB), progress.csv (copied), model.json (scenario,
overrides, the training command, iteration, env steps, and one check: the greedy latency on
`--check-set` before any adaptation, which tests/test_models.py recomputes) and README.md.
A shipped model loads like any checkpoint: ``mecsim eval SCENARIO --checkpoint models/NAME`` or
``--controller NAME --set controller_params.checkpoint=models/NAME``.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from mecsim.checkpoint import load_checkpoint, save_checkpoint
from mecsim.controllers.offload_rl import evaluate_checkpoint
from mecsim.fileio import atomic_write_text

MAX_BYTES = 2 * 2 ** 20
KEEP = ("network", "order", "policy", "config", "env_steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--command", required=True, help="the command that trained it")
    parser.add_argument("--seed", type=int, required=True, help="the training seed")
    parser.add_argument("--check-set", default="set8")
    args = parser.parse_args()
    payload = load_checkpoint(args.checkpoint)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = save_checkpoint(out, payload["controller"], payload["iteration"],
                           {**{k: payload[k] for k in KEEP}, "exported": True})
    if path.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{path}: {path.stat().st_size} bytes, more than a shipped model may hold ({MAX_BYTES})")
    shutil.copyfile(Path(args.checkpoint) / "progress.csv", out / "progress.csv")
    (row,) = evaluate_checkpoint(args.scenario, out, adapt_steps=[0], seeds=[0], heuristics=(),
                                 overrides=args.overrides, progress=False, test_sets=[args.check_set])
    meta = {"controller": payload["controller"], "scenario": args.scenario, "overrides": args.overrides,
            "seed": args.seed, "iteration": payload["iteration"], "env_steps": payload["env_steps"],
            "features": payload["config"].get("features", "paper"), "command": args.command,
            "check": {"test_set": args.check_set, "adapt_steps": 0, "latency_s": row["latency_s"]}}
    atomic_write_text(out / "model.json", json.dumps(meta, indent=2) + "\n")
    sets = " ".join(f"--set {o}" for o in args.overrides)
    atomic_write_text(out / "README.md", f"""# {out.name}

`{payload['controller']}` trained on `{args.scenario}` {sets} (seed {args.seed}, {payload['iteration']}
iterations, {payload['env_steps']} environment steps, `{meta['features']}` features), weights only.

Trained with:

    {args.command}

Evaluate it (adaptation on the held-out sets, as RESULTS.md reports it):

    mecsim eval {args.scenario} --checkpoint {out} {sets} --adapt-steps 0,20 --seeds {args.seed} --out ev/{out.name}

`progress.csv` is its learning curve; `model.json` the same facts and the check tests/test_models.py repeats
(greedy latency on {args.check_set} before adaptation: {row['latency_s']:.2f} s).
""")
    print(f"{out}: {path.stat().st_size} bytes; greedy {args.check_set}: {row['latency_s']:.2f} s")


if __name__ == "__main__":
    main()
