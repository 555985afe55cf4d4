"""One engine workload for instruction counting (callgrind), where wall-clock timing is too noisy.

    valgrind --tool=callgrind python tools/bench_instructions.py 1000   # and 3000 [--trace] [--energy]

Runs tools/bench_engine.py's device row at 1,000 devices (every task offloaded, fixed rates, no trace
unless --trace: in memory; --energy: with an energy block of the defaults) for about `tasks` offloaded
tasks and prints (offloaded tasks, events). The difference between two
sizes' instruction counts over the difference in offloaded tasks is the engine's cost per task,
without start-up (BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engine  # noqa: E402  (a sibling script, not a package)

from mecsim.controllers.heuristics import Remote  # noqa: E402
from mecsim.systems.dag_offloading.simulation import DagSimulation  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("tasks", type=int, help="offloaded tasks requested (the horizon follows)")
parser.add_argument("--trace", action="store_true", help="record the trace in memory")
parser.add_argument("--energy", action="store_true", help="account energy (mecsim.energy)")
args = parser.parse_args()
spec = bench_engine.offered(1000, args.tasks)
if args.energy:
    from mecsim.energy import EnergySpec
    spec = dataclasses.replace(spec, energy=EnergySpec())
sim = DagSimulation(spec, Remote(), trace=args.trace)
result = sim.run()
print(bench_engine.offloaded(sim), result.events)
