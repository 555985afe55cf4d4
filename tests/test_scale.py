"""Large scenarios, streamed traces (flat memory), and traces pinned across engine optimisations."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from mecsim.cli import main
from mecsim.registry import make_controller
from mecsim.rng import RandomStreams
from mecsim.scenario.load import load_scenario, scenario_from_document
from mecsim.scenario.source import parse_yaml
from mecsim.systems.dag_offloading.simulation import DagSimulation
from mecsim.trace import TRACE_COLUMNS, TraceStream, _format_row, write_trace_csv

ROOT = Path(__file__).resolve().parents[1]
SCALE = ROOT / "scenarios" / "scale"


def _scenario(data: dict):
    return scenario_from_document(parse_yaml(yaml.safe_dump(data, sort_keys=False), "pinned.yaml"))


def _simulation(scenario, trace) -> DagSimulation:
    ctrl = make_controller(scenario.controller, scenario.controller_params,
                           RandomStreams(scenario.seed).get("controller"))
    return DagSimulation(scenario, ctrl, trace=trace)


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


# --- the scale scenarios -------------------------------------------------------------------------


@pytest.mark.parametrize("name, devices, servers", [("devices_1000", 1000, 4), ("devices_10000", 10000, 40)])
def test_scale_scenarios_validate(capsys, name, devices, servers):
    assert main(["validate", str(SCALE / f"{name}.yaml")]) == 0
    assert f"ok ({devices} device(s), {servers} server(s)" in capsys.readouterr().out
    sc = load_scenario(SCALE / f"{name}.yaml")
    assert len(sc.access_points) == servers and all(s.vms == "shared" for s in sc.servers)
    assert all(ap.uplink.sharing == ap.downlink.sharing == "fdma" for ap in sc.access_points)
    assert sc.workload.arrival.process == "poisson" and sc.horizon_s >= 600


def test_thousand_devices_run_with_a_short_horizon(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(SCALE / "devices_1000.yaml"), "--set", "horizon_s=1.5", "--no-trace",
                 "--quiet", "--out", str(out)]) == 0
    rows = _csv_rows(out / "apps.csv")[1:]
    # Poisson arrivals at 0.01/s on 1,000 devices: ~15 applications in 1.5 s, spread over many devices
    assert 3 <= len(rows) <= 40 and len({r[1] for r in rows}) >= 3
    assert {r[6] for r in rows} <= {"completed", "in_flight"}


# --- streamed traces -----------------------------------------------------------------------------

STREAMED = {
    "name": "streamed", "seed": 5, "horizon_s": 6.0, "controller": "random",
    "devices": {"count": 20, "cpu": {"cores": 1, "speed_hz": 5.0e6},
                "position": {"x": {"uniform": [-300, 300]}, "y": {"uniform": [-300, 300]}}},
    "access_points": [
        {"name": "ap0", "position": [0, 0],
         "uplink": {"sharing": "fdma", "rate": {"model": "fixed", "bps": 1.0e8}},
         "downlink": {"sharing": "fifo", "rate": {"model": "fixed", "bps": 2.0e8}}}],
    "servers": [{"name": "mec0", "cores": 4, "speed_hz": 5.0e8, "vms": "shared"}],
    "workload": {"dags": {"generate": {"n": 8, "fat": 0.6, "density": 0.6, "regularity": 0.5, "ccr": 0.4,
                                       "mindata": 20000, "maxdata": 200000, "count": 10}},
                 "arrival": {"process": "poisson", "rate_hz": 0.5}, "pick": "random"},
}


def test_streamed_csv_has_the_rows_of_the_in_memory_trace(tmp_path):
    sc = _scenario(STREAMED)
    memory = _simulation(sc, True).run()
    write_trace_csv(memory.trace, tmp_path / "memory.csv")
    stream = TraceStream(tmp_path / "stream.csv", batch=50)
    streamed = _simulation(sc, stream).run()
    stream.close()
    a, b = _csv_rows(tmp_path / "memory.csv"), _csv_rows(tmp_path / "stream.csv")
    assert a[0] == b[0] == list(TRACE_COLUMNS)
    assert len(a) > 200 and sorted(a[1:]) == sorted(b[1:])
    assert b[1:] == [_format_row(r) for r in memory.trace]      # recording order, not canonical
    assert [(x.app, x.status, x.finish_s) for x in streamed.apps] == \
        [(x.app, x.status, x.finish_s) for x in memory.apps]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_streamed_parquet_has_the_same_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    sc = _scenario(STREAMED)
    memory = _simulation(sc, True).run()
    with TraceStream(tmp_path / "trace.parquet", "parquet", batch=64) as stream:
        _simulation(sc, stream).run()
    table = pq.read_table(tmp_path / "trace.parquet")
    assert table.column_names == list(TRACE_COLUMNS)
    assert sorted(_format_row(tuple(r.values())) for r in table.to_pylist()) == \
        sorted(_format_row(r) for r in memory.trace)


def test_stream_memory_stays_flat(tmp_path):
    """However long the run, at most `batch` activities are held; the rest is on disk."""
    batch = 32
    stream = TraceStream(tmp_path / "trace.csv", batch=batch)
    sim = _simulation(_scenario({**STREAMED, "horizon_s": 12.0}), stream)
    most = 0
    while sim.step():
        most = max(most, stream.buffered)
    total = len(stream)
    stream.close()
    assert total > 20 * batch and most <= batch
    assert len(_csv_rows(tmp_path / "trace.csv")) == total + 1


def test_failed_stream_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with TraceStream(tmp_path / "trace.csv", batch=2) as stream:
            for k in range(5):
                stream.record(0, k, 0, "exec", "mec0/cpu", 0.0, 1.0)
            raise RuntimeError("the run failed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="format"):
        TraceStream(tmp_path / "trace.txt", "txt")


def test_cli_trace_stream(tmp_path, capsys):
    path = tmp_path / "streamed.yaml"
    path.write_text(yaml.safe_dump(STREAMED, sort_keys=False))
    full, streamed = tmp_path / "full", tmp_path / "streamed"
    assert main(["run", str(path), "--quiet", "--out", str(full)]) == 0
    assert main(["run", str(path), "--quiet", "--trace-stream", "--out", str(streamed)]) == 0
    names = ["apps.csv", "graphs.jsonl", "summary.json", "trace.csv", "trace.json"]
    assert sorted(p.name for p in streamed.iterdir()) == names == sorted(p.name for p in full.iterdir())
    # streaming is the default: a short trace is read back and written in canonical order
    for name in ("apps.csv", "graphs.jsonl", "trace.csv", "trace.json"):
        assert (full / name).read_bytes() == (streamed / name).read_bytes()
    assert json.loads((streamed / "summary.json").read_text())["trace"]["order"] == "canonical"
    parquet = tmp_path / "parquet"
    assert main(["run", str(path), "--quiet", "--trace-stream", "parquet", "--gantt", "--out", str(parquet)]) == 0
    assert sorted(p.name for p in parquet.iterdir()) == ["apps.csv", "graphs.jsonl", "summary.json", "trace.parquet"]
    assert json.loads((parquet / "summary.json").read_text())["trace"]["left_out"].startswith("trace.json and gantt")


# --- the constant-rate fast path equals the general-rate path ------------------------------------
# A station whose rate never changes fixes a job's end at its start (one timeout); every other station
# integrates work over rate changes. The same scenarios run with every station forced onto the general
# path must give the same activities, to float rounding (start + work/rate rounds once instead of at
# every update). The scenarios cover every station discipline (fifo 1 and n cores, processor sharing,
# fdma, parallel), Shannon channels with Rayleigh fading and random LOS, static and random-waypoint
# devices, packets, backhaul, cloud links and a memory pool.

MIXED = {
    "name": "pinned-mixed", "seed": 7, "horizon_s": 20.0, "controller": "random",
    "devices": {"count": 24, "cpu": {"cores": 1, "speed_hz": 1.0e9},
                "position": {"x": {"uniform": [-300, 300]}, "y": {"uniform": [-300, 300]}},
                "mobility": {"model": "random_waypoint", "area": [[-300, -300], [300, 300]],
                             "speed_mps": [1.0, 3.0], "pause_s": 1.0}},
    "access_points": [
        {"name": "ap0", "position": [-150, 0],
         "uplink": {"sharing": "fdma", "rate": {"model": "shannon", "bandwidth_hz": 10.0e6, "tx_power_dbm": 20,
                    "noise_figure_db": 5, "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9},
                    "fading": {"model": "rayleigh", "coherence_s": 0.05}}},
         "downlink": {"sharing": "fifo", "packet_bytes": 20000, "rate": {"model": "fixed", "bps": 5.0e7}}},
        {"name": "ap1", "position": [150, 0],
         "uplink": {"sharing": "fifo", "rate": {"model": "fixed", "bps": 2.0e7}},
         "downlink": {"sharing": "fdma", "rate": {"model": "shannon", "bandwidth_hz": 20.0e6, "tx_power_dbm": 40,
                      "noise_figure_db": 7, "pathloss": {"model": "log_distance", "frequency_hz": 3.5e9}}}}],
    "servers": [
        {"name": "mec0", "access_point": "ap0", "cores": 4, "speed_hz": 4.0e9, "discipline": "fifo",
         "vms": "shared", "memory_bytes": 4.0e6},
        {"name": "mec1", "access_point": "ap1", "cores": 2, "speed_hz": 3.0e9, "discipline": "processor_sharing",
         "vms": "shared"},
        {"name": "mec2", "access_point": "ap1", "cores": 8, "speed_hz": 4.0e9, "discipline": "fifo",
         "vms": "dedicated"}],
    "cloud": {"cores": 16, "speed_hz": 5.0e9, "rate_bps": 1.0e8, "delay_s": 0.02},
    "links": [{"a": "ap0", "b": "ap1", "rate_bps": 1.0e8, "delay_s": 0.002}],
    "workload": {"dags": {"generate": {"n": 10, "fat": 0.6, "density": 0.6, "regularity": 0.5, "jump": 2,
                                       "ccr": 0.4, "mindata": 20000, "maxdata": 200000, "count": 20}},
                 "arrival": {"process": "poisson", "rate_hz": 0.5}, "pick": "random",
                 "task_memory_bytes": {"uniform": [1.0e5, 1.0e6]}},
}

FIFO = {
    "name": "pinned-fifo", "seed": 3, "horizon_s": 20.0, "controller": "round_robin",
    "devices": {"count": 40, "cpu": {"cores": 1, "speed_hz": 1.0e9}},
    "access_points": [{"name": "ap0",
                       "uplink": {"sharing": "fifo", "rate": {"model": "fixed", "bps": 1.0e8}},
                       "downlink": {"sharing": "fifo", "rate": {"model": "fixed", "bps": 1.0e8}}}],
    "servers": [{"name": "mec0", "cores": 8, "speed_hz": 4.0e9, "discipline": "fifo", "vms": "shared"},
                {"name": "mec1", "cores": 1, "speed_hz": 1.0e10, "discipline": "fifo", "vms": "shared"}],
    "cloud": {"cores": 4, "speed_hz": 5.0e9, "rate_bps": 1.0e8, "delay_s": 0.01},
    "workload": {"dags": {"generate": {"n": 8, "fat": 0.6, "density": 0.6, "regularity": 0.5,
                                       "ccr": 0.4, "mindata": 20000, "maxdata": 200000, "count": 10}},
                 "arrival": {"process": "poisson", "rate_hz": 0.2}, "pick": "random"},
}

_SHANNON_UP = {"model": "shannon", "bandwidth_hz": 10.0e6, "tx_power_dbm": 23, "noise_figure_db": 5}
STATIC = {
    "name": "pinned-static", "seed": 11, "horizon_s": 15.0, "controller": "remote",
    "devices": {"count": 40, "cpu": {"cores": 1, "speed_hz": 5.0e6},
                "position": {"x": {"uniform": [-600, 600]}, "y": {"uniform": [-600, 600]}}},
    "access_points": [
        {"name": "ap0", "position": [-300, 0],
         "uplink": {"sharing": "fdma", "rate": {
             **_SHANNON_UP, "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9, "condition": "random"},
             "fading": {"model": "rayleigh", "coherence_s": 0.05}}},
         "downlink": {"sharing": "fdma", "rate": {"model": "shannon", "bandwidth_hz": 20.0e6, "tx_power_dbm": 43,
                      "noise_dbm": -95, "pathloss": {"model": "free_space", "frequency_hz": 3.5e9}}}},
        {"name": "ap1", "position": [300, 0],
         "uplink": {"sharing": "fdma", "rate": {
             **_SHANNON_UP, "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9, "condition": "nlos"}}},
         "downlink": {"sharing": "fifo", "rate": {"model": "shannon", "bandwidth_hz": 20.0e6, "tx_power_dbm": 43,
                      "noise_figure_db": 7, "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9},
                      "fading": {"model": "rayleigh", "coherence_s": 0.02}}}}],
    "servers": [
        {"name": "mec0", "access_point": "ap0", "cores": 8, "speed_hz": 5.0e8, "vms": "shared"},
        {"name": "mec1", "access_point": "ap1", "cores": 8, "speed_hz": 5.0e8, "vms": "shared"}],
    "links": [{"a": "ap0", "b": "ap1", "rate_bps": 1.0e9, "delay_s": 0.001}],
    "workload": {"dags": {"generate": {"n": 12, "fat": 0.6, "density": 0.6, "regularity": 0.5, "jump": 2,
                                       "ccr": 0.4, "mindata": 20000, "maxdata": 200000, "count": 20}},
                 "arrival": {"process": "poisson", "rate_hz": 0.1}, "pick": "random"},
}


def _general_rate(sim: DagSimulation) -> DagSimulation:
    """Every station of `sim` on the integrating path, as if its rate could change at any time."""
    for station in sim.infra.stations():
        station._fixed, station._constant = False, None
    return sim


def _activities(trace) -> list[tuple]:
    return sorted(tuple(a) for a in trace.sorted())


@pytest.mark.parametrize("data", [MIXED, FIFO, STATIC], ids=["mixed", "fifo", "static-shannon"])
def test_fast_path_equals_general_rate_path(data):
    fast_run = _simulation(_scenario(data), True).run()
    general_run = _general_rate(_simulation(_scenario(data), True)).run()
    assert general_run.events > fast_run.events      # the general path was taken: it wakes per update
    fast, general = _activities(fast_run.trace), _activities(general_run.trace)
    assert len(fast) == len(general) > 1000
    for a, b in zip(fast, general):
        assert a[:5] == b[:5] and a[7:] == b[7:]
        assert a[5] == pytest.approx(b[5], rel=1e-9, abs=1e-12) and a[6] == pytest.approx(b[6], rel=1e-9, abs=1e-12)
