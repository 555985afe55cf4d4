"""Run-size estimates before a run (a notice for long ones, a refusal of ones that cannot fit in memory)
and progress in simulated time while it runs (a bar, log lines, a warning when it falls behind)."""
from __future__ import annotations

import io
import warnings

import pytest

from mecsim.cli import main
from mecsim.errors import ConfigError, RunSizeWarning
from mecsim.progress import LOG_AFTER_S, WINDOW_S, Progress
from mecsim.runner import prepare
from mecsim.sizing import EVENTS_NOTICE, RunSize, check_size

QUICK = ["scenarios/quickstart.yaml", "scenarios/contention.yaml", "scenarios/pearl_dt/small.yaml",
         "scenarios/hmppo/edge_tuning.yaml", "scenarios/mrlco/authors.yaml", "scenarios/mrlco/tasks.yaml"]


@pytest.mark.parametrize("path", QUICK)
def test_estimate_is_within_a_factor_of_four_of_the_events_run(path):
    run = prepare(path)
    estimate = run.system.size(run.spec).events
    events = run.simulation(False).run().summary()["events"]
    assert events / 4 <= estimate <= 4 * events, (estimate, events)


def test_estimate_follows_the_workload():
    small = prepare("scenarios/quickstart.yaml")
    large = prepare("scenarios/quickstart.yaml", ["devices.count=40", "horizon_s=1200"])
    assert large.system.size(large.spec).events == pytest.approx(100 * small.system.size(small.spec).events)


def test_a_run_that_cannot_fit_in_memory_is_refused():
    size = RunSize(10.0, "x", memory_bytes=2e9, memory_key="devices.count", memory_value=5e5)
    with pytest.raises(ConfigError, match=r"^f.yaml: devices.count: a run must fit in this machine's memory"
                                          r" \(0.931 GiB\): building it takes at least 1.86 GiB, got 500000$"):
        check_size(size, "f.yaml", memory=1e9)
    check_size(size, "f.yaml", memory=3e9)


def test_a_long_run_says_so():
    with pytest.warns(RunSizeWarning, match=r"a large run: about 2.0e\+09 events \(many\); at 1e5-1e6 events/s "
                                            r"it takes 33.3 min to 5.56 h"):
        check_size(RunSize(2e9, "many"), "f.yaml", memory=1e12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_size(RunSize(EVENTS_NOTICE, "just"), "f.yaml", memory=1e12)


@pytest.mark.parametrize("scenario, override, key", [
    ("scenarios/quickstart.yaml", "devices.count=1000000000000", "devices.count"),
    ("scenarios/pearl_dt/small.yaml", "devices.count=1000000000000", "devices.count"),
    ("scenarios/hmppo/edge_tuning.yaml", "ues=100000000", "ues"),
])
def test_cli_refuses_a_run_too_large_for_memory_in_one_line(scenario, override, key, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", scenario, "--set", override, "--out", str(out)])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and f"{key}: a run must fit in this machine's memory" in errors[0]
    assert not out.exists()


def test_validate_reports_the_estimate(capsys):
    assert main(["validate", "scenarios/quickstart.yaml"]) == 0
    assert "about 2.2e+04 events" in capsys.readouterr().out


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _feed(progress: Progress, clock: Clock, steps: list[tuple[float, int]]) -> None:
    """One update per window: (simulated time advanced in it, load)."""
    done = progress.done
    for advance, load in steps:
        clock.now += WINDOW_S
        done += advance
        progress.update(done, load)


def test_falling_behind_warns_once_when_time_slows_and_work_piles_up():
    clock = Clock()
    progress = Progress("run", 1000.0, "s", show=False, clock=clock)
    with pytest.warns(RunSizeWarning, match=r"run: the run is falling behind: simulated time advances 0.5 s per "
                                            r"wall second, 20x slower than at its fastest, with 90 applications "
                                            r"in flight \(then 10\)") as caught:
        _feed(progress, clock, [(20.0, 10), (15.0, 20), (1.0, 90), (1.0, 200)])
    assert len(caught) == 1


@pytest.mark.parametrize("steps", [
    [(20.0, 10), (18.0, 12), (19.0, 11), (20.0, 10)],     # steady
    [(20.0, 10), (1.0, 12), (1.0, 15)],                  # slower, but the work in flight did not pile up
    [(20.0, 100), (10.0, 150), (30.0, 400)],             # more work, but time does not slow 10x
])
def test_no_warning_for_a_run_that_keeps_up(steps):
    clock = Clock()
    progress = Progress("run", 1000.0, "s", show=False, clock=clock)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _feed(progress, clock, steps)


def test_log_lines_in_tenths_of_the_horizon_once_the_run_lasts():
    clock, log = Clock(), io.StringIO()
    progress = Progress("quick", 100.0, "s", show=True, stream=log, clock=clock)
    progress.update(30.0, 1)                    # at once: too early for a line
    assert log.getvalue() == ""
    clock.now = LOG_AFTER_S + 1
    progress.update(35.0, 1)
    progress.update(38.0, 1)                    # the same tenth: no new line
    progress.update(52.0, 1)
    progress.close()
    assert log.getvalue().splitlines() == [f"mecsim: quick: 35 / 100 s simulated (35 %), {LOG_AFTER_S + 1:.1f} s wall",
                                           f"mecsim: quick: 52 / 100 s simulated (52 %), {LOG_AFTER_S + 1:.1f} s wall"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_in_simulated_time():
    clock, screen = Clock(), Terminal()
    progress = Progress("quick", 120.0, "s", show=True, stream=screen, clock=clock)
    progress.bar.delay = 0       # tqdm's own 2 s delay before showing, on its clock
    progress.update(60.0, 1)
    progress.bar.refresh()
    progress.close()
    assert "quick:  50%" in screen.getvalue() and "60/120 s simulated" in screen.getvalue()
