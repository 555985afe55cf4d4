"""Trace-driven mobility and handover: devices follow recorded positions and re-attach by the A3 rule."""
from __future__ import annotations

import math

import pytest

from mecsim.controllers.heuristics import Remote
from mecsim.errors import ConfigError
from mecsim.mobility import TracePath, read_trace
from mecsim.systems.dag_offloading.simulation import DagSimulation

from tests.helpers import scenario

SHANNON = {"sharing": "fdma", "rate": {"model": "shannon", "bandwidth_hz": 10e6, "tx_power_dbm": 23.0,
                                       "noise_figure_db": 5.0,
                                       "pathloss": {"model": "3gpp_rma", "frequency_hz": 3.5e9}}}


def test_trace_path_interpolates_between_samples_and_holds_outside():
    path = TracePath([(1.0, 0.0, 0.0), (3.0, 20.0, -10.0)])
    assert path.position_at(0.0) == (0.0, 0.0) and path.next_leg_end(0.0) == 1.0
    assert path.position_at(2.0) == (10.0, -5.0) and path.next_leg_end(2.0) == 3.0
    assert path.position_at(9.0) == (20.0, -10.0) and path.next_leg_end(9.0) == math.inf


@pytest.mark.parametrize("text, message", [
    ("t,device,x,y\n", "header must be time_s,device,x,y"),
    ("time_s,device,x,y\n0,0,1,2\n0,0,3,4\n", ":3: device 0's times must increase"),
    ("time_s,device,x,y\n0,5,1,2\n", ":2: device must be in 0..1, got 5"),
    ("time_s,device,x,y\n0,0,one,2\n", ":2: must be time_s,device,x,y numbers"),
])
def test_bad_trace_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "moves.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_trace(path, 2)


def _two_cells(tmp_path, hysteresis_db=3.0, extra_devices=None):
    """One device walking from ap0 (x = -500) to ap1 (x = +500) in 100 s, recorded as a trace."""
    moves = tmp_path / "moves.csv"
    moves.write_text("time_s,device,x,y\n0,0,-600,0\n100,0,600,0\n")
    return scenario({
        "horizon_s": 120.0,
        "devices": {"count": 1, "cpu": {"discipline": "fifo"}, "access_point": "nearest",
                    "mobility": {"model": "trace", "file": str(moves),
                                 "handover": {"rule": "strongest", "hysteresis_db": hysteresis_db,
                                              "interval_s": 0.5}}},
        "access_points": [{"name": "ap0", "position": [-500.0, 0.0], "uplink": SHANNON, "downlink": SHANNON},
                          {"name": "ap1", "position": [500.0, 0.0], "uplink": SHANNON, "downlink": SHANNON}],
        "servers": [{"name": "mec0", "access_point": "ap0", "cores": 1, "speed_hz": 1e7, "discipline": "fifo"}],
        "links": [{"a": "ap0", "b": "ap1", "rate_bps": 1e9, "delay_s": 0.001}],
        "workload": {"arrival": {"process": "poisson", "rate_hz": 0.5},
                     "dags": {"generate": {"mindata": 10000, "maxdata": 50000}}},
    })


def test_a_device_crossing_two_cells_hands_over_once_past_the_midpoint(tmp_path):
    """Equal cells: received powers cross at x = 0 (t = 50 s); 3 dB of hysteresis delays the switch
    until ap1 is 3 dB stronger, a little later, and the device never switches back."""
    sim = DagSimulation(_two_cells(tmp_path), Remote())
    result = sim.run()
    (ho,) = result.handovers
    assert (ho.device, ho.source, ho.target) == (0, "ap0", "ap1")
    assert 50.0 < ho.time_s < 60.0
    assert sim.infra.devices[0].ap.name == "ap1"
    assert "handovers.csv" in result.tables() and result.summary()["handovers"] == 1
    no_margin = DagSimulation(_two_cells(tmp_path, hysteresis_db=0.0), Remote()).run().handovers
    assert len(no_margin) == 1 and 50.0 <= no_margin[0].time_s < ho.time_s
    assert all(a.status != "in_flight" or a.finish_s is None for a in result.apps)
    assert sum(a.status == "completed" for a in result.apps) > 30


def test_handover_needs_a_horizon_and_no_schedule_order(tmp_path):
    good = _two_cells(tmp_path)
    assert good.devices.mobility.handover.rule == "strongest"
    with pytest.raises(ConfigError, match="needs horizon_s"):
        scenario({"devices": {"mobility": {"handover": {"rule": "strongest"}}}})
    with pytest.raises(ConfigError, match="schedule_order"):
        scenario({"horizon_s": 10.0, "devices": {"mobility": {"handover": {"rule": "strongest"}}}})


def test_same_seed_same_handovers(tmp_path):
    first = DagSimulation(_two_cells(tmp_path), Remote()).run()
    second = DagSimulation(_two_cells(tmp_path), Remote()).run()
    def text(result):
        return {name: body if isinstance(body, str) else "".join(body) for name, body in result.tables().items()}
    assert text(first) == text(second)


@pytest.mark.parametrize("pause_s", [0.0, 5.0])
def test_positions_csv_replays_a_random_waypoint_run_as_a_trace(tmp_path, pause_s):
    from mecsim.cli import main
    base = ["run", "scenarios/quickstart.yaml", "--quiet", "--no-trace"]
    moving = ["--set", "devices.mobility.model=random_waypoint", "--set", "devices.mobility.area=[[50,-200],[400,200]]",
              "--set", f"devices.mobility.pause_s={pause_s}"]
    assert main([*base, *moving, "--out", str(tmp_path / "walk")]) == 0
    positions = tmp_path / "walk" / "positions.csv"
    corners = read_trace(positions, 4)
    assert sorted(corners) == [0, 1, 2, 3] and all(track[-1][0] >= 120.0 for track in corners.values())
    replay = ["--set", f"devices.mobility={{model: trace, file: {positions}}}"]
    assert main([*base, *replay, "--out", str(tmp_path / "replay")]) == 0
    # the same movement, read back: every decision and latency is the walk's
    assert (tmp_path / "replay" / "apps.csv").read_text() == (tmp_path / "walk" / "apps.csv").read_text()
    assert (tmp_path / "replay" / "positions.csv").read_text() == positions.read_text()


def test_static_devices_write_no_positions(tmp_path):
    assert "positions.csv" not in DagSimulation(scenario(), Remote(), trace=False).run().tables()
