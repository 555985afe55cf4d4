"""Behaviour cloning of HEFT or the optimum into the seq2seq policy: the capacity of each feature set.

    python tools/behaviour_clone.py --model authors|faithful [--teacher heft|optimal]
        [--features paper,schedule] [--seeds 0,1,2] [--hidden 64] [--epochs 20] [--batch 100]
        [--lr 1e-3] [--test-sets set8,set12,set24] [--out OUT] [--eval-only]

The teacher plans every training DAG of MRLCO experiment 1 (the 19 × 100 DAGs of
scenarios/mrlco/topology.yaml) in the model in force: `heft` is mecsim's earliest-finish rule in
rank order (the `heft_model` column: with `--model authors`, quirk-aware), `optimal` the closed form's
exhaustive optimum. The network (`Seq2SeqPolicy`, 2 layers, MRLCO's additive attention) learns the
teacher's actions by teacher forcing (cross-entropy, Adam), with the paper's inputs (`paper`: the
§4.2 embedding) or with the schedule state per decoding step as well (`schedule`: beyond the paper,
mecsim.envs.dag_offload.schedule_features, replayed along the teacher's plan). Scored on the held-out
sets: the mean latency of greedy decoding (the features computed online along the network's own
plan) and the step agreement with the teacher's plan (teacher forced: p(teacher action) > 1/2, the
accuracy with two actions). Not reinforcement learning and not the paper's method: it measures what
each network can represent. Prints a markdown table; with `--out`, writes OUT/table.md and one
OUT/FEATURES-seedS.pt (network spec and weights) per run. `--eval-only` scores the networks already in
OUT instead of training (those that are there; the training time shows as 0).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from mecsim.controllers.offload_rl import FEATURES, NetworkSpec, build_policy, greedy_latency, load_tasks, set_threads
from mecsim.systems.dag_offloading.analytic import earliest_finish_plan
from mecsim.envs.batch import DagBatch, ScheduleTracker
from mecsim.envs.dag_offload import DagOffloadEnv, schedule_dim
from mecsim.systems.dag_offloading.optimal import optimal_plan

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "mrlco" / "topology.yaml"


def teacher_plans(env: DagOffloadEnv, teacher: str) -> tuple[DagBatch, np.ndarray]:
    """Every DAG of the task as a batch, and the teacher's actions by schedule position (B, N)."""
    batch = DagBatch(env, range(len(env.graphs)))
    plans = np.zeros(batch.mask.shape, dtype=np.int64)
    for b, order in enumerate(batch.orders):
        graph = env.graphs[b]
        by_task = (earliest_finish_plan(graph, env.model, order) if teacher == "heft"
                   else optimal_plan(graph, env.model, order)[1])
        plans[b, :len(order)] = [by_task[t] for t in order]
    return batch, plans


def stack(parts: list[tuple[DagBatch, np.ndarray]], features: str) -> dict[str, torch.Tensor]:
    """The teacher-forcing inputs of several batches, concatenated."""
    out: dict[str, list[np.ndarray]] = {"tasks": [], "mask": [], "actions": [], "schedule": []}
    for batch, plans in parts:
        out["tasks"].append(batch.tasks)
        out["mask"].append(batch.mask)
        out["actions"].append(plans)
        if features == "schedule":
            out["schedule"].append(ScheduleTracker.of(batch).replay(plans))
    return {k: torch.from_numpy(np.concatenate(v)) for k, v in out.items() if v}


def agreement(policy, data: dict[str, torch.Tensor]) -> float:
    """Share of real steps where the network, teacher forced, puts more than 1/2 on the teacher's action."""
    with torch.no_grad():
        logp, _, _ = policy.evaluate(data["tasks"], data["mask"], data["actions"], data.get("schedule"))
    return float((logp[data["mask"]] > np.log(0.5)).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("authors", "faithful"), required=True)
    parser.add_argument("--teacher", choices=("heft", "optimal"), default="heft")
    parser.add_argument("--features", default="paper,schedule")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--test-sets", default="set8,set12,set24")
    parser.add_argument("--out", default=None)
    parser.add_argument("--eval-only", action="store_true", help="score the networks saved in OUT")
    args = parser.parse_args()
    if args.eval_only and not args.out:
        parser.error("--eval-only: needs --out, the folder of the saved networks")
    features = [f for f in args.features.split(",") if f]
    if not features or set(features) - set(FEATURES):
        parser.error(f"--features: must be a subset of {','.join(FEATURES)}, got {args.features!r}")
    set_threads()
    overrides = [f"compat.entry_upload_bypass={'true' if args.model == 'authors' else 'false'}"]
    tasks = load_tasks(SCENARIO, "rank", overrides)
    wanted = args.test_sets.split(",")
    tests = [t for t in tasks["test"] if t.name in wanted]
    if len(tests) != len(wanted):
        parser.error(f"--test-sets: must name test sets of {SCENARIO.name}, got {args.test_sets!r}")
    started = time.time()
    train_parts = [] if args.eval_only else [teacher_plans(t.env, args.teacher) for t in tasks["train"]]
    test_parts = {t.name: teacher_plans(t.env, args.teacher) for t in tests}
    print(f"teacher plans: {time.time() - started:.0f} s")
    teacher = {name: float(batch.latencies(plans).mean()) for name, (batch, plans) in test_parts.items()}
    env = tasks["train"][0].env
    rows = []
    for feat in features:
        data = stack(train_parts, feat) if train_parts else {}
        held = {name: stack([part], feat) for name, part in test_parts.items()}
        for seed in (int(s) for s in args.seeds.split(",")):
            saved = Path(args.out or ".") / f"{feat}-seed{seed}.pt"
            if args.eval_only and not saved.is_file():
                continue
            payload = torch.load(saved, weights_only=True) if args.eval_only else None
            spec = NetworkSpec(**payload["network"]) if payload else NetworkSpec(
                env.observation_space["tasks"].shape[1], env.actions, args.hidden, 2,
                schedule_dim=schedule_dim(env.model.servers) if feat == "schedule" else 0)
            torch.manual_seed(seed)
            policy = build_policy(spec)
            if payload:
                policy.load_state_dict(payload["policy"])
            optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
            gen = torch.Generator().manual_seed(seed)
            clock = time.time()
            for _ in range(0 if args.eval_only else args.epochs):
                for idx in torch.randperm(len(data["tasks"]), generator=gen).split(args.batch):
                    part = {k: v[idx] for k, v in data.items()}
                    logp, _, _ = policy.evaluate(part["tasks"], part["mask"], part["actions"], part.get("schedule"))
                    loss = -logp[part["mask"]].mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            seconds = time.time() - clock
            for test in tests:
                rows.append({"features": feat, "seed": seed, "test_set": test.name, "seconds": seconds,
                             "latency": greedy_latency(policy, test.env),
                             "agreement": agreement(policy, held[test.name])})
            if args.out and not args.eval_only:
                Path(args.out).mkdir(parents=True, exist_ok=True)
                torch.save({"network": asdict(spec), "policy": policy.state_dict()},
                           Path(args.out) / f"{feat}-seed{seed}.pt")
    text = table(rows, teacher, args)
    print(text)
    if args.out:
        (Path(args.out) / "table.md").write_text(text)


def table(rows: list[dict], teacher: dict[str, float], args: argparse.Namespace) -> str:
    lines = [f"Behaviour cloning of {args.teacher} ({args.model} model), {args.hidden} units, {args.epochs} epochs, "
             f"batch {args.batch}, lr {args.lr}, seeds {args.seeds}; greedy latency (s) and teacher-forced step "
             "agreement on the held-out sets, mean ± std over seeds", "",
             "| features | test set | teacher | cloned latency | step agreement | training s |",
             "|---|---|---|---|---|---|"]
    for feat in dict.fromkeys(r["features"] for r in rows):
        for name, value in teacher.items():
            got = [r for r in rows if (r["features"], r["test_set"]) == (feat, name)]
            lat, acc, sec = (np.array([r[k] for r in got]) for k in ("latency", "agreement", "seconds"))
            lines.append(f"| {feat} | {name} | {value:.2f} | {lat.mean():.2f} ± {lat.std():.2f} | "
                         f"{100 * acc.mean():.1f} ± {100 * acc.std():.1f} % | {sec.mean():.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
