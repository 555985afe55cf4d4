"""Engine speed: DES offloaded tasks/s and events/s from 1 to 10,000 devices beside bare SimPy's
timeouts/s (measured in the same run: the ratio is the engine's overhead), peak memory at horizons
×1 and ×10, sweep speed-up with 1 and 2 workers, closed-form plans/s.

    python tools/bench_engine.py [--quick] [--tasks 20000] [--repeat 3] [--radio-only | --energy-only]

Prints Markdown tables (best of --repeat runs) for BENCHMARKS.md, each measure beside the target of
the scale-out issue where it has one. ``--quick`` is a smoke check (small sizes, one repeat): its
numbers are not benchmarks. Speed lives here, never in tests.

Workload of the device rows: DAG applications of 20 tasks (daggen-style), every task offloaded
(``remote``): uplink (FIFO) → shared 64-core server pool → downlink (FIFO), fixed rates, Poisson
arrivals whose total rate does not depend on the device count (400 offered tasks/s), so rows differ
only by how many devices share the resources. Offloaded tasks are counted as executions finished on
the server (exact without a trace); wall time is the run alone, not building the system (building the
10,000-device system, which draws every device's random streams, is timed on its own row).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy
import yaml

from mecsim.controllers.heuristics import Remote
from mecsim.energy import EnergySpec
from mecsim.systems.dag_offloading.analytic import CostModel, evaluate_plan, rank_order, task_times
from mecsim.scenario.load import load_scenario, scenario_from_document
from mecsim.scenario.source import parse_yaml
from mecsim.systems.dag_offloading.simulation import DagSimulation
from mecsim.trace import TraceStream

M = 2 ** 20
ROOT = Path(__file__).resolve().parents[1]
N_TASKS = 20
OFFERED_TASKS_S = 400.0


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


def scenario(devices: int, horizon_s: float, apps_per_device: int | None = None, rate_hz: float = 1.0):
    data = {
        "name": f"bench-{devices}",
        "seed": 0,
        "horizon_s": horizon_s,
        "devices": {"count": devices, "cpu": {"cores": 1, "speed_hz": 1e9}},
        "access_points": [{"name": "ap0",
                           "uplink": {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "fifo"},
                           "downlink": {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "fifo"}}],
        "servers": [{"name": "mec0", "cores": 64, "speed_hz": 1e10, "vms": "shared"}],
        "workload": {"dags": {"generate": {"n": N_TASKS, "fat": 0.6, "density": 0.6, "regularity": 0.5,
                                           "ccr": 0.4, "mindata": 10000, "maxdata": 100000, "count": 50}},
                     "arrival": {"process": "poisson", "rate_hz": rate_hz},
                     "apps_per_device": apps_per_device, "pick": "random"},
    }
    return scenario_from_document(parse_yaml(yaml.safe_dump(data), "bench"))


def offered(devices: int, tasks: int):
    """`tasks` offloaded tasks expected over a horizon at OFFERED_TASKS_S, whatever the device count."""
    horizon = tasks / OFFERED_TASKS_S
    return scenario(devices, horizon, rate_hz=OFFERED_TASKS_S / N_TASKS / devices)


def offloaded(sim: DagSimulation) -> int:
    return sum(vm.served for server in sim.infra.servers for vm in server.vms)


def des(devices: int, tasks: int, trace: bool, energy: bool = False) -> tuple[float, float, float]:
    """(offloaded tasks/s, events/s, seconds to build the system) with every task offloaded;
    `energy`: with an energy block of the defaults (every activity priced, mecsim.energy)."""
    sc = offered(devices, tasks)
    if energy:
        sc = dataclasses.replace(sc, energy=EnergySpec())
    start = time.perf_counter()
    sim = DagSimulation(sc, Remote(), trace=trace)
    build = time.perf_counter() - start
    result = sim.run()
    return offloaded(sim) / result.wall_s, result.events / result.wall_s, build


def scale_run(horizon_s: float) -> tuple[float, float, int]:
    """scenarios/scale/devices_1000.yaml (Shannon FDMA channels with fading, backhaul), no trace."""
    from mecsim.registry import make_controller
    from mecsim.rng import RandomStreams
    sc = load_scenario(ROOT / "scenarios" / "scale" / "devices_1000.yaml", [f"horizon_s={horizon_s}"])
    ctrl = make_controller(sc.controller, sc.controller_params, RandomStreams(sc.seed).get("controller"))
    sim = DagSimulation(sc, ctrl, trace=False)
    result = sim.run()
    return offloaded(sim) / result.wall_s, result.events / result.wall_s, offloaded(sim)


# -- realistic radio: Shannon FDMA channels with fading, per-cell servers, mobility, backhaul ---------
DEVICES_PER_AP = 250        # as scenarios/scale/devices_10000.yaml
APPS_PER_DEVICE_S = 0.01    # the same per-device load: 15-task applications, 1,500 tasks/s at 10,000


class OwnCell:
    """Every task to the server of the device's own access point (the one reached without backhaul)."""

    def act(self, point) -> int:
        routes = point.context.cost_model.route_up    # empty where no server is behind the backhaul
        if not routes:
            return 1
        return 1 + min(range(len(routes)), key=lambda k: (routes[k], k))    # (s per bit, delay): 0 at home


def _grid(aps: int) -> list[tuple[float, float]]:
    """`aps` access points on a grid 1 km apart, as close to square as the count allows."""
    cols = next(c for c in range(int(aps ** 0.5), 0, -1) if aps % c == 0)
    rows = aps // cols
    return [(1000.0 * (c - (cols - 1) / 2), 1000.0 * (r - (rows - 1) / 2)) for r in range(rows) for c in range(cols)]


def radio_scenario(devices: int, aps: int, horizon_s: float, bandwidth_factor: float = 1.0,
                   mobility: bool = False):
    """devices_10000.yaml's radio and load over `aps` cells (a server each, a backhaul chain)."""
    where = _grid(aps)
    xs, ys = [x for x, _ in where], [y for _, y in where]
    area = ((min(xs) - 500, min(ys) - 500), (max(xs) + 500, max(ys) + 500))

    def channel(bandwidth, power, figure):
        return {"sharing": "fdma", "rate": {
            "model": "shannon", "bandwidth_hz": bandwidth * bandwidth_factor, "tx_power_dbm": power,
            "noise_figure_db": figure, "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9},
            "fading": {"model": "rayleigh", "coherence_s": 0.05}}}

    data = {
        "name": f"bench-radio-{devices}-{aps}", "seed": 0, "horizon_s": horizon_s,
        "devices": {"count": devices, "cpu": {"cores": 1, "speed_hz": 5e6},
                    "position": {"x": {"uniform": [area[0][0], area[1][0]]},
                                 "y": {"uniform": [area[0][1], area[1][1]]}},
                    "access_point": "nearest",
                    **({"mobility": {"model": "random_waypoint", "area": [list(area[0]), list(area[1])],
                                     "speed_mps": [1.0, 2.0]}} if mobility else {})},
        "access_points": [{"name": f"ap{k}", "position": list(p), "uplink": channel(10e6, 23, 5),
                           "downlink": channel(20e6, 43, 7)} for k, p in enumerate(where)],
        "servers": [{"name": f"mec{k}", "access_point": f"ap{k}", "cores": 16, "speed_hz": 5e8,
                     "vms": "shared"} for k in range(aps)],
        "links": [{"a": f"ap{k}", "b": f"ap{k + 1}", "rate_bps": 1e9, "delay_s": 0.001} for k in range(aps - 1)],
        "workload": {"dags": {"generate": {"n": 15, "fat": 0.6, "density": 0.6, "regularity": 0.5, "jump": 2,
                                           "ccr": 0.4, "mindata": 20000, "maxdata": 200000, "count": 100}},
                     "arrival": {"process": "poisson", "rate_hz": APPS_PER_DEVICE_S}, "pick": "random"},
    }
    return scenario_from_document(parse_yaml(yaml.safe_dump(data), "bench-radio"))


def radio(devices: int, tasks: int, aps: int | None = None, bandwidth_factor: float = 1.0) -> tuple[float, float]:
    """(offloaded tasks/s, events/s) of `tasks` offered over devices/250 cells (or `aps` of them)."""
    aps = aps or max(1, devices // DEVICES_PER_AP)
    horizon = tasks / (devices * APPS_PER_DEVICE_S * 15)
    sim = DagSimulation(radio_scenario(devices, aps, horizon, bandwidth_factor), OwnCell(), trace=False)
    result = sim.run()
    return offloaded(sim) / result.wall_s, result.events / result.wall_s


def quickstart_wall(mobility: str) -> float:
    """Wall time of the quickstart's run (no trace) with its devices `static` or on random waypoints."""
    from mecsim.registry import make_controller
    from mecsim.rng import RandomStreams
    moving = ["devices.mobility.area=[[50,-200],[400,200]]"] if mobility == "random_waypoint" else []
    sc = load_scenario(ROOT / "scenarios" / "quickstart.yaml", [f"devices.mobility.model={mobility}", *moving])
    ctrl = make_controller(sc.controller, sc.controller_params, RandomStreams(sc.seed).get("controller"))
    return DagSimulation(sc, ctrl, trace=False).run().wall_s


def backhaul(devices: int, tasks: int) -> tuple[float, float]:
    """(offloaded tasks/s, events/s): two access points with a server each, `remote` (the least loaded
    server, so about half the tasks cross the backhaul), 12-task DAGs, fixed rates."""
    fixed = {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "fifo"}
    rate = OFFERED_TASKS_S / 12 / devices
    data = {
        "name": "bench-backhaul", "seed": 0, "horizon_s": tasks / OFFERED_TASKS_S,
        "devices": {"count": devices, "cpu": {"cores": 1, "speed_hz": 1e9}},
        "access_points": [{"name": f"ap{k}", "position": [1000.0 * k, 0.0], "uplink": fixed, "downlink": fixed}
                          for k in range(2)],
        "servers": [{"name": f"mec{k}", "access_point": f"ap{k}", "cores": 32, "speed_hz": 1e10, "vms": "shared"}
                    for k in range(2)],
        "links": [{"a": "ap0", "b": "ap1", "rate_bps": 1e10, "delay_s": 0.001}],
        "workload": {"dags": {"generate": {"n": 12, "fat": 0.6, "density": 0.6, "regularity": 0.5,
                                           "ccr": 0.4, "mindata": 10000, "maxdata": 100000, "count": 50}},
                     "arrival": {"process": "poisson", "rate_hz": rate}, "pick": "random"},
    }
    sim = DagSimulation(scenario_from_document(parse_yaml(yaml.safe_dump(data), "bench")), Remote(), trace=False)
    result = sim.run()
    return offloaded(sim) / result.wall_s, result.events / result.wall_s


def radio_rows(tasks: int, bare: float, best) -> list[tuple[str, str, str]]:
    rows = []
    events_at = {}
    for devices in (100, 1000, 10000):
        tasks_s, events_s = best(lambda: radio(devices, tasks))  # noqa: B023 (called at once)
        events_at[devices] = events_s
        cells = max(1, devices // DEVICES_PER_AP)
        label = f"FDMA + Shannon + fading, {devices:,} devices, {cells} cell(s)"
        rows.append((f"{label}: offloaded tasks/s", f"{tasks_s:,.0f}", "≥ 15,000 per core" if devices == 10000 else ""))
        rows.append((f"{label}: events/s (÷ bare SimPy)", f"{events_s:,.0f} ({events_s / bare:.3f})", ""))
    tasks_s, events_s = best(lambda: radio(10000, tasks, aps=4, bandwidth_factor=10.0))
    rows.append(("crowded: 10,000 devices on 4 cells with 10× the bandwidth (10× the transfers per channel): "
                 "offloaded tasks/s", f"{tasks_s:,.0f}", ""))
    rows.append(("crowded: events/s (÷ the 40-cell row)", f"{events_s:,.0f} ({events_s / events_at[10000]:.2f})",
                 "≥ 0.7"))
    static, moving = (min(quickstart_wall(m) for _ in range(3)) for m in ("static", "random_waypoint"))
    rows.append(("quickstart wall s: static / random waypoint (ratio)",
                 f"{static:.3f} / {moving:.3f} ({moving / static:.2f})", "≤ 2"))
    tasks_s, events_s = best(lambda: backhaul(10000, tasks))
    rows.append(("2 cells + backhaul, `remote`, 12-task DAGs, 10,000 devices, fixed rates: offloaded tasks/s "
                 "(÷ bare SimPy)", f"{tasks_s:,.0f} ({tasks_s / bare:.3f})", "≥ 0.025 × bare"))
    return rows


def closed_form(evals: int) -> float:
    rng = np.random.default_rng(0)
    sim = DagSimulation(scenario(1, 10.0, 1), Remote())
    graph = sim.graphs[0][1]
    model = CostModel(M, (10 * M,), (7 * M,), (7 * M,))
    times = task_times(graph, model)
    order = rank_order(graph, times)
    plans = rng.integers(0, 2, (evals, graph.n))
    start = time.perf_counter()
    for plan in plans:
        evaluate_plan(graph, model, order, plan, times)
    return evals / (time.perf_counter() - start)


# -- peak memory: each measure in a fresh process, so one run's peak cannot hide another's ----------
def memory_child(mode: str, horizon: float, devices: int) -> None:
    """Print this process's peak RSS (MiB) after one run; `mode`: none | stream | memory."""
    sc = scenario(devices, horizon, rate_hz=OFFERED_TASKS_S / N_TASKS / devices)
    folder = tempfile.mkdtemp(prefix="bench-trace.")
    try:
        trace = TraceStream(Path(folder) / "trace.csv") if mode == "stream" else mode == "memory"
        DagSimulation(sc, Remote(), trace=trace).run()
        if mode == "stream":
            trace.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(_peak_rss_mib())


def _peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would start at the parent's peak on Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    unit = 2.0 ** 20 if sys.platform == "darwin" else 1024.0    # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit


def peak_mib(mode: str, horizon: float, devices: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--memory-child", mode, str(horizon), str(devices)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.split()[-1])


# -- sweep speed-up -------------------------------------------------------------------------------
def sweep_seconds(workers: int, runs: int, horizon: float, out: Path) -> float:
    """Wall time of a `runs`-seed sweep of the 100-device workload with `workers` processes."""
    from mecsim.sweep import sweep
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sweep.yaml"
    rate = OFFERED_TASKS_S / N_TASKS / 100
    path.write_text(yaml.safe_dump({
        "name": "bench-sweep", "seed": 0, "horizon_s": horizon, "controller": "remote",
        "devices": {"count": 100, "cpu": {"cores": 1, "speed_hz": 1e9}},
        "access_points": [{"name": "ap0",
                           "uplink": {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "fifo"},
                           "downlink": {"rate": {"model": "fixed", "bps": 1e9}, "sharing": "fifo"}}],
        "servers": [{"name": "mec0", "cores": 64, "speed_hz": 1e10, "vms": "shared"}],
        "workload": {"dags": {"generate": {"n": N_TASKS, "fat": 0.6, "density": 0.6, "regularity": 0.5,
                                           "ccr": 0.4, "mindata": 10000, "maxdata": 100000, "count": 50}},
                     "arrival": {"process": "poisson", "rate_hz": rate}, "pick": "random"}}))
    folder = out / f"workers-{workers}"
    start = time.perf_counter()
    result = sweep(path, [], list(range(runs)), folder, workers=workers, progress=False)
    wall = time.perf_counter() - start
    assert result.failed == 0 and result.cached == 0
    return wall


def energy_rows(tasks: int, best) -> list[tuple[str, str, str]]:
    """What energy accounting costs: 100 devices, trace off and on, without and with an energy block
    (runs interleaved, so a busy machine slows each alike)."""
    rows = []
    for trace in (False, True):
        speed = {energy: 0.0 for energy in (False, True)}
        for _ in range(2):
            for energy in (False, True):
                speed[energy] = max(speed[energy], best(lambda t=trace, e=energy: des(100, tasks, t, e)[0]))
        for energy in (False, True):
            rows.append((f"DES offloaded tasks/s, 100 device(s), trace {'on' if trace else 'off'}, "
                         f"energy {'on' if energy else 'off'}", f"{speed[energy]:,.0f}", ""))
        rows.append((f"energy on ÷ off, trace {'on' if trace else 'off'}", f"{speed[True] / speed[False]:.3f}", ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke check")
    parser.add_argument("--tasks", type=int, default=None, help="offloaded tasks per DES run (20,000; quick 2,000)")
    parser.add_argument("--repeat", type=int, default=None, help="best of (3; quick 1)")
    parser.add_argument("--radio-only", action="store_true", help="only the realistic-radio rows")
    parser.add_argument("--energy-only", action="store_true",
                        help="only the energy rows: 100 devices, trace off/on, energy off/on")
    parser.add_argument("--memory-child", nargs=3, metavar=("MODE", "HORIZON", "DEVICES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        mode, horizon, devices = args.memory_child
        memory_child(mode, float(horizon), int(devices))
        return
    quick = args.quick
    tasks = args.tasks or (2_000 if quick else 20_000)
    repeat = args.repeat or (1 if quick else 3)
    best = lambda f: max(f() for _ in range(repeat))  # noqa: E731

    bare = best(lambda: bare_simpy(100_000 if quick else 300_000))
    rows = [("bare SimPy timeouts/s", f"{bare:,.0f}", "")]
    if args.radio_only or args.energy_only:
        print(f"command: python tools/bench_engine.py {' '.join(sys.argv[1:])}\n")
        print("| measure | value | target |\n|---|---|---|")
        for k, v, t in rows + (radio_rows(tasks, bare, best) if args.radio_only else energy_rows(tasks, best)):
            print(f"| {k} | {v} | {t} |")
        return
    events_at: dict[int, float] = {}
    build_s = 0.0
    for devices in (1, 100, 1000, 10000):
        for trace in ((False,) if quick else (False, True)):
            runs = [des(devices, tasks, trace) for _ in range(repeat)]
            tasks_s, events_s, _ = max(runs)
            if devices == 10000 and not trace:
                build_s = min(r[2] for r in runs)
            label = f"{devices:,} device(s), trace {'on' if trace else 'off'}"
            target = "≥ 20,000 per core" if devices == 10000 and not trace else ""
            rows.append((f"DES offloaded tasks/s, {label}", f"{tasks_s:,.0f}", target))
            rows.append((f"DES events/s, {label} (÷ bare SimPy)", f"{events_s:,.0f} ({events_s / bare:.3f})", ""))
            if not trace:
                events_at[devices] = events_s
    rows.append(("events/s at 10,000 devices ÷ at 100", f"{events_at[10000] / events_at[100]:.2f}", "≥ 0.8"))
    rows.append(("building the 10,000-device system (s, not in the rows above)", f"{build_s:.2f}", ""))
    horizon = 5.0 if quick else 30.0
    tasks_s, events_s, n = scale_run(horizon)
    rows.append((f"scenarios/scale/devices_1000.yaml, {horizon:g} s, no trace: offloaded tasks/s ({n:,} tasks)",
                 f"{tasks_s:,.0f}", ""))
    rows.append(("scenarios/scale/devices_1000.yaml: events/s", f"{events_s:,.0f}", ""))
    rows += radio_rows(tasks, bare, best)
    rows.append(("closed-form plan evaluations/s (n = 20)", f"{best(lambda: closed_form(20_000)):,.0f}", ""))

    # memory: 100 devices at 400 offered tasks/s; horizons ×1 and ×10
    h1 = 5.0 if quick else 30.0
    mem_rows = []
    for mode in ("none", "stream", "memory"):
        one, ten = peak_mib(mode, h1, 100), peak_mib(mode, 10 * h1, 100)
        label = {"none": "no trace", "stream": "streamed trace (CSV)", "memory": "in-memory trace"}[mode]
        mem_rows.append((label, f"{one:,.1f}", f"{ten:,.1f}", f"{ten / one:.2f}",
                         "≤ 1.2" if mode == "stream" else ""))

    # sweep: the same seeds with 1 and 2 worker processes (pool start-up included), each the best of
    # `repeat` sweeps like every row above (a single 2-worker sweep's wall time varied by up to 25 %
    # between runs on the 2-vCPU development machine)
    runs, sweep_h = (4, 5.0) if quick else (8, 30.0)
    with tempfile.TemporaryDirectory(prefix="bench-sweep.") as folder:
        t1, t2 = (min(sweep_seconds(workers, runs, sweep_h, Path(folder) / str(k)) for k in range(repeat))
                  for workers in (1, 2))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}, SimPy {simpy.__version__}")
    print(f"command: python tools/bench_engine.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"\n{tasks:,} offloaded tasks offered per device row, best of {repeat}\n")
    print("| measure | value | target |\n|---|---|---|")
    for k, v, t in rows:
        print(f"| {k} | {v} | {t} |")
    print(f"\nPeak memory (max RSS, MiB, one process per measure; 100 devices, horizon {h1:g} s and {10 * h1:g} s)\n")
    print("| trace | ×1 | ×10 | ratio | target |\n|---|---|---|---|---|")
    for row in mem_rows:
        print("| " + " | ".join(row) + " |")
    speedup = t1 / t2
    print(f"\nSweep: {runs} seeds of the 100-device workload, {sweep_h:g} s each, best of {repeat}\n")
    print("| workers | wall s | speed-up | parallel efficiency | target |\n|---|---|---|---|---|")
    print(f"| 1 | {t1:.2f} | 1.00 | 1.00 | |")
    print(f"| 2 | {t2:.2f} | {speedup:.2f} | {speedup / 2:.2f} | ≥ 0.85 |")


if __name__ == "__main__":
    main()
