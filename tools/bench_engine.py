"""Engine speed: bare SimPy timeouts/s, DES offloaded tasks/s and events/s, closed-form plans/s.

    python tools/bench_engine.py [--tasks 20000] [--repeat 3]

Prints a Markdown table (best of --repeat runs) for BENCHMARKS.md. Speed lives here, never in tests.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import simpy
import yaml

from controllers.heuristics import Remote
from mecsim.analytic import CostModel, evaluate_plan, rank_order, task_times
from mecsim.scenario.load import scenario_from_document
from mecsim.scenario.source import parse_yaml
from mecsim.simulation import Simulation

M = 2 ** 20


def bare_simpy(n: int) -> float:
    """Timeouts per second of one SimPy process doing nothing else."""
    env = simpy.Environment()

    def ticker():
        for _ in range(n):
            yield env.timeout(1.0)

    env.process(ticker())
    start = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - start)


def scenario(devices: int, apps_per_device: int, n_tasks: int):
    data = {
        "name": f"bench-{devices}",
        "seed": 0,
        "devices": {"count": devices, "cpu": {"cores": 1, "speed_hz": 1e9}},
        "access_points": [{"name": "ap0",
                           "uplink": {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "fifo"},
                           "downlink": {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "fifo"}}],
        "servers": [{"name": "mec0", "cores": 64, "speed_hz": 1e10, "vms": "shared"}],
        "workload": {"dags": {"generate": {"n": n_tasks, "fat": 0.6, "density": 0.6, "regularity": 0.5,
                                           "ccr": 0.4, "mindata": 10000, "maxdata": 100000, "count": 50}},
                     "arrival": {"process": "poisson", "rate_hz": 1.0},
                     "apps_per_device": apps_per_device, "pick": "random"},
    }
    return scenario_from_document(parse_yaml(yaml.safe_dump(data), "bench"))


def des(devices: int, tasks: int, trace: bool) -> tuple[float, float]:
    """(offloaded tasks/s, events/s) with every task offloaded."""
    n_tasks = 20
    apps = max(1, tasks // (devices * n_tasks))
    sim = Simulation(scenario(devices, apps, n_tasks), Remote(), trace=trace)
    result = sim.run()
    done = sum(1 for a in result.apps if a.status == "completed") * n_tasks
    return done / result.wall_s, result.events / result.wall_s


def closed_form(evals: int) -> float:
    rng = np.random.default_rng(0)
    sc = scenario(1, 1, 20)
    sim = Simulation(sc, Remote())
    graph = sim.graphs[0][1]
    model = CostModel(M, (10 * M,), (7 * M,), (7 * M,))
    times = task_times(graph, model)
    order = rank_order(graph, times)
    plans = rng.integers(0, 2, (evals, graph.n))
    start = time.perf_counter()
    for plan in plans:
        evaluate_plan(graph, model, order, plan, times)
    return evals / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=20000, help="offloaded tasks per DES run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best = lambda f: max(f() for _ in range(args.repeat))  # noqa: E731
    rows = [("bare SimPy timeouts/s", f"{best(lambda: bare_simpy(300_000)):,.0f}")]
    for devices in (1, 100):
        for trace in (False, True):
            runs = [des(devices, args.tasks, trace) for _ in range(args.repeat)]
            tasks_s, events_s = max(runs)
            label = f"{devices} device(s), trace {'on' if trace else 'off'}"
            rows.append((f"DES offloaded tasks/s, {label}", f"{tasks_s:,.0f}"))
            rows.append((f"DES events/s, {label}", f"{events_s:,.0f}"))
    rows.append(("closed-form plan evaluations/s (n = 20)", f"{best(lambda: closed_form(20_000)):,.0f}"))
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"SimPy {simpy.__version__}")
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
