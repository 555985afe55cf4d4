"""Stable-Baselines3 PPO on mecsim/DagOffload-v0, scored on held-out DAG sets (needs `pip install -e '.[sb3]'`).

    python examples/sb3_ppo.py [--steps 100000] [--seed 0] [--model authors|faithful]
        [--features paper|schedule] [--out runs/sb3]

Trains SB3's PPO with its default hyper-parameters (MultiInputPolicy: an MLP over the flattened Dict
observation) on the 100 × 19 training DAGs of MRLCO experiment 1 (scenarios/mrlco/authors.yaml; the
`authors` model turns the entry-upload quirk on), one episode per DAG with the default O(1) reward;
`--features schedule` adds the partial plan's schedule state to the observation (beyond the paper).
Then decodes every DAG of each held-out set greedily (deterministic=True) and prints the mean latency
next to all-local, uniformly random (seeded) and mecsim's HEFT planned in the model in force, all
scored by the same environment. Writes OUT/model.zip and OUT/eval.csv.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO

from mecsim.systems.dag_offloading.analytic import earliest_finish_plan
from mecsim.envs import DagOffloadEnv
from mecsim.scenario.load import load_training

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "mrlco" / "authors.yaml"


def episode_latency(env: DagOffloadEnv, k: int, act) -> float:
    """Latency (s) of DAG k when `act(obs, position)` picks each action."""
    obs, _ = env.reset(options={"graph": k})
    for position in range(env.graphs[k].n):
        obs, _, done, _, info = env.step(act(obs, position))
    assert done
    return info["latency"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=("authors", "faithful"), default="authors")
    parser.add_argument("--features", choices=("paper", "schedule"), default="paper")
    parser.add_argument("--out", default="runs/sb3")
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = [f"compat.entry_upload_bypass={'true' if args.model == 'authors' else 'false'}"]
    tasks = load_training(SCENARIO, overrides)
    envs = {split: [(name, DagOffloadEnv(sc, features=args.features)) for name, sc in entries]
            for split, entries in tasks.items()}
    train = DagOffloadEnv(tasks["train"][0][1], graphs=[g for _, e in envs["train"] for g in e.graphs],
                          features=args.features)

    agent = PPO("MultiInputPolicy", train, seed=args.seed, verbose=0, device="cpu")
    agent.learn(total_timesteps=args.steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    agent.save(out / "model.zip")

    rng = np.random.default_rng(args.seed)
    rows = []
    for name, env in envs["test"]:
        for k in range(len(env.graphs)):
            heft = earliest_finish_plan(env.graphs[k], env.model, env.encoded(k)[1])   # by task id
            order = env.encoded(k)[1]
            policies = {
                "sb3_ppo": lambda obs, _: int(agent.predict(obs, deterministic=True)[0]),
                "random": lambda obs, _, n=env.actions: int(rng.integers(n)),
                "local": lambda obs, _: 0,
                "heft_model": lambda obs, position, plan=heft, order=order: plan[order[position]],
            }
            rows += [{"test_set": name, "graph": k, "controller": c, "latency_s": episode_latency(env, k, act)}
                     for c, act in policies.items()]
    with open(out / "eval.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    controllers = list(dict.fromkeys(r["controller"] for r in rows))
    print(f"SB3 PPO (defaults), {args.steps} steps, seed {args.seed}, {args.model} model, {args.features} "
          "features; mean latency (s)\n")
    print("| test set | " + " | ".join(controllers) + " |\n|" + "---|" * (len(controllers) + 1))
    for name, _ in envs["test"]:
        cells = [np.mean([r["latency_s"] for r in rows if (r["test_set"], r["controller"]) == (name, c)])
                 for c in controllers]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")


if __name__ == "__main__":
    main()
