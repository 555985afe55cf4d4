"""When the DAG system asks its controller: at the application's arrival (default) or when a task is ready."""
from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from pathlib import Path

import pytest

from mecsim.cli import main
from mecsim.controllers.heuristics import Heft, LeastLoaded, Random
from mecsim.decision import DecisionPoint
from mecsim.errors import ConfigError
from mecsim.registry import make_controller
from mecsim.rng import RandomStreams
from mecsim.scenario.load import load_scenario
from mecsim.systems.dag_offloading import CostModel, DagSimulation, LiveState, OffloadContext
from mecsim.trace import write_trace_csv
from mecsim.workload.taskgraph import TaskGraph
from tests.helpers import scenario
from tests.test_system import RICH
from tests.test_user_errors import _one_line

ROOT = Path(__file__).resolve().parents[1]
CONTENTION = ROOT / "scenarios" / "contention.yaml"


class Recorder:
    """Answers with `inner` and keeps every decision point it was asked."""

    def __init__(self, inner: object) -> None:
        self.inner, self.points, self.answers = inner, [], {}
        self.decisions = getattr(inner, "decisions", ("at_arrival", "when_ready"))

    def act(self, point: DecisionPoint) -> int:
        self.points.append(point)
        self.answers[point.key] = action = self.inner.act(point)
        return action


def _run(path: Path, mode: str, controller: object, seed: int = 0, overrides: tuple[str, ...] = ()):
    spec = load_scenario(path, [*overrides, f"decisions={mode}"])
    return DagSimulation(spec, controller, seed=seed).run()


def test_at_arrival_is_the_default_and_decides_whole_applications_at_arrival():
    spec = load_scenario(ROOT / "scenarios" / "quickstart.yaml")
    assert spec.decisions == "at_arrival"
    rec = Recorder(LeastLoaded())
    result = DagSimulation(spec, rec, seed=0).run()
    arrival = {a.app: a.arrival_s for a in result.apps}
    assert {p.kind for p in rec.points} == {"offload"}
    assert all(p.time == arrival[p.context.app] for p in rec.points)
    # the live state is in the context in both modes; the energy slot is empty until energy is modelled
    assert all(p.context.live.energy_j is None for p in rec.points)


# shared FIFO queues (contention), FDMA Shannon channels with fading (quickstart), schedule_order stations
# (MRLCO), and moving devices, two access points, backhaul, cloud and memory drops (test_system's RICH)
READY_CASES = {
    "contention": lambda: load_scenario(CONTENTION, ["workload.apps_per_device=5"]),
    "quickstart": lambda: load_scenario(ROOT / "scenarios" / "quickstart.yaml", ["horizon_s=40"]),
    "mrlco_authors": lambda: load_scenario(ROOT / "scenarios" / "mrlco" / "authors.yaml"),
    "rich": lambda: scenario(RICH),
}


@pytest.mark.parametrize("case", READY_CASES)
def test_when_ready_decides_each_task_once_after_its_parents_executed(case):
    spec = dataclasses.replace(READY_CASES[case](), decisions="when_ready")
    rec = Recorder(Random(RandomStreams(3).get("controller")))
    result = DagSimulation(spec, rec, seed=0).run()
    apps = {a.app: a for a in result.apps}
    graphs = {p.context.app: p.context.graph for p in rec.points}
    executed: dict[tuple[int, int], float] = {}        # (app, task) -> end of its local or remote execution
    started: dict[tuple[int, int], float] = {}         # (app, task) -> its first recorded activity's start
    for act in result.trace:
        if act.kind in ("local", "exec"):
            executed[(act.app, act.task)] = act.end_s
        started[(act.app, act.task)] = min(started.get((act.app, act.task), act.start_s), act.start_s)
    decided = Counter(p.key for p in rec.points)
    assert set(decided.values()) == {1}                 # nothing decided twice
    completed = [a for a in apps.values() if a.status == "completed"]
    assert completed
    for a in completed:                                 # every task of a finished application decided,
        assert a.plan == [rec.answers[(a.app, t)] for t in range(graphs[a.app].n)]   # as apps.csv says
    for a in apps.values():                             # a dropped one's undecided tasks never ran (plan -1)
        if a.status == "dropped":
            assert a.reason.startswith("memory:")
            assert a.plan == [rec.answers.get((a.app, t), -1) for t in range(graphs[a.app].n)]
            assert all((a.app, t) in rec.answers for t in range(graphs[a.app].n) if (a.app, t) in started)
    for p in rec.points:
        ctx = p.context
        assert p.kind == "task_ready" and p.key == (ctx.app, ctx.task)
        assert p.time >= apps[ctx.app].arrival_s
        for parent in ctx.graph.parents[ctx.task]:
            assert executed[(ctx.app, parent)] <= p.time, (p.label, parent)
        if (ctx.app, ctx.task) in started:
            assert started[(ctx.app, ctx.task)] >= p.time
        assert ctx.order[ctx.position] == ctx.task and len(ctx.plan) == ctx.position
        assert min(ctx.live[:3]) >= 0 and ctx.live.uplink_bps > 0 and ctx.live.downlink_bps > 0
    if case == "rich":
        assert any(a.status == "dropped" for a in apps.values())


def test_when_ready_context_plan_holds_the_decided_prefix():
    """``plan`` is the actions of order[:position] with -1 for a task not decided yet."""
    rec = Recorder(Random(RandomStreams(5).get("controller")))
    result = _run(CONTENTION, "when_ready", rec, overrides=("workload.apps_per_device=5",))
    final = {a.app: a.plan for a in result.apps if a.status == "completed"}
    seen: dict[int, set[int]] = {}
    overtaken = 0
    for p in rec.points:
        ctx = p.context
        done = seen.setdefault(ctx.app, set())
        for k, action in enumerate(ctx.plan):
            task = ctx.order[k]
            if task in done:
                if ctx.app in final:
                    assert action == final[ctx.app][task]
            else:
                assert action == -1
                overtaken += 1
        done.add(ctx.task)
    assert overtaken > 0     # readiness overtook schedule order somewhere: the -1 case was exercised


def test_when_ready_same_seed_same_outputs(tmp_path):
    outputs = []
    for k in range(2):
        result = _run(CONTENTION, "when_ready", LeastLoaded(), seed=2, overrides=("workload.apps_per_device=5",))
        write_trace_csv(result.trace.sorted(), tmp_path / f"trace{k}.csv")
        outputs.append((result.tables()["apps.csv"], (tmp_path / f"trace{k}.csv").read_bytes()))
    assert outputs[0] == outputs[1]


def test_least_loaded_when_ready_beats_remote_and_local_under_contention():
    """Eight devices, one shared server core: the mean latency over three seeds."""
    spec = load_scenario(CONTENTION)
    assert spec.decisions == "when_ready" and spec.devices.count > 1
    mean = {}
    for name in ("least_loaded", "remote", "local"):
        latencies = []
        for seed in range(3):
            ctrl = make_controller(name, {}, RandomStreams(seed).get("controller"))
            result = DagSimulation(spec, ctrl, seed=seed, trace=False).run()
            latencies.append(result.summary()["latency_s"]["mean"])
        mean[name] = statistics.mean(latencies)
    assert mean["least_loaded"] < min(mean["remote"], mean["local"]), mean


def test_whole_plan_controllers_are_refused_in_one_line(capsys, tmp_path):
    out = tmp_path / "out"
    for argv in (["run", str(CONTENTION), "--controller", "heft", "--out", str(out)],
                 ["validate", str(CONTENTION), "--controller", "optimal"]):
        err = _one_line(capsys, argv, out)
        assert "decisions: " in err and "at_arrival only" in err and "got when_ready" in err, err
    with pytest.raises(ConfigError, match="decisions: Heft decides at_arrival only"):
        DagSimulation(load_scenario(CONTENTION), Heft())
    assert main(["run", str(CONTENTION), "--controller", "heft", "--set", "decisions=at_arrival",
                 "--set", "workload.apps_per_device=2", "--out", str(out), "--quiet"]) == 0


def test_a_bad_decisions_declaration_is_one_line():
    class Odd:
        decisions = "when_ready"

        def act(self, point):
            return 0

    with pytest.raises(ConfigError, match="class attribute decisions must be a tuple"):
        DagSimulation(load_scenario(CONTENTION), Odd())


def test_dag_offload_env_refuses_when_ready():
    from mecsim.envs.dag_offload import DagOffloadEnv
    with pytest.raises(ConfigError, match="decisions: must be at_arrival for DagOffloadEnv"):
        DagOffloadEnv(load_scenario(CONTENTION))


def test_an_external_driver_answers_when_ready_decisions_as_the_controller_would():
    spec = load_scenario(CONTENTION)
    run = DagSimulation(spec, None, trace=False)
    driver = make_controller("least_loaded", {}, RandomStreams(0).get("controller"))
    answered = 0
    while True:
        while run.bridge.pending is None and run.step():
            pass
        if run.bridge.pending is None:
            break
        run.bridge.answer(driver.act(run.bridge.pending))
        answered += 1
    driven = run.result(0.0)
    attached = DagSimulation(spec, make_controller("least_loaded", {}, RandomStreams(0).get("controller")),
                             trace=False).run()
    assert answered == sum(a.graph.n for a in attached.apps)
    assert driven.tables()["apps.csv"] == attached.tables()["apps.csv"]


def _point(server_load: tuple[int, ...], live: LiveState) -> DecisionPoint:
    """One task of 1e8 cycles and 1 MB each way: 1 s locally, 0.1 s + 0.25 s + 0.25 s on server 1."""
    graph = TaskGraph.from_edges("one", [1e8], [1e6], [1e6], [])
    model = CostModel(1e8, (1e9,) * len(server_load), (32e6,) * len(server_load), (32e6,) * len(server_load),
                      uplink="serial", downlink="serial")
    ctx = OffloadContext(0, 0, graph, (0,), 0, (), 0, tuple(f"s{k}" for k in range(len(server_load))), model,
                         server_load, live)
    return DecisionPoint("task_ready", 0.0, (0, 0), "app 0 task 0", 1 + len(server_load), ctx)


def test_least_loaded_weighs_each_stage_by_its_queue():
    idle = LiveState(0, 0, 0, 32e6, 32e6)
    pick = LeastLoaded().act
    assert pick(_point((0,), idle)) == 1                                  # 0.6 s remote against 1 s local
    assert pick(_point((9,), idle)) == 0                                  # 0.25 + 1.0 + 0.25 s > 1 s
    assert pick(_point((0,), idle._replace(uplink_queue=3))) == 0         # 4 × 0.25 s upload alone is 1 s
    assert pick(_point((0,), idle._replace(cpu_queue=3, uplink_queue=3))) == 1
    assert pick(_point((5, 1), idle)) == 2                                # the less loaded server
