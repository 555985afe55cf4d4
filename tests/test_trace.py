"""Timing trace: recorder behaviour and the three writers (CSV, Chrome JSON, Gantt PNG)."""
from __future__ import annotations

import csv
import json
import random

import pytest

from mecsim import trace
from mecsim.trace import (
    KINDS,
    TRACE_COLUMNS,
    ENERGY_COLUMN,
    Activity,
    TraceRecorder,
    plot_gantt,
    write_chrome_trace,
    write_trace_csv,
)


def _sample() -> TraceRecorder:
    """A small offload: local work, uplink, queue, exec on a VM, downlink, a zero-length forward."""
    rec = TraceRecorder()
    rec.record(0, 0, 0, "local", "device0/cpu", 0.0, 0.125, 0.0, 1.5e8)
    rec.record(0, 1, 0, "uplink", "ap0/uplink", 0.125, 0.2, 12_000.0, 0.0)
    rec.record(0, 1, 0, "queue", "mec0/queue", 0.2, 0.2, 0.0, 0.0)
    rec.record(0, 1, 0, "exec", "mec0/vm3", 0.2, 0.3000000000000001, 0.0, 2.0e9)
    rec.record(3, 7, 2, "exec", "mec0/vm10", 0.1, 0.7, 0.0, 1 / 3)
    rec.record(0, 1, 0, "downlink", "ap0/downlink", 0.3000000000000001, 0.31, 800.5, 0.0)
    rec.record(3, 7, 2, "forward", "ap0-ap1/link", 0.7, 0.7, 1e-05, 0.0)
    rec.record(3, 8, 2, "exec", "cloud/cpu", 1.0, 2.5, 0.0, 7e12)
    return rec


def _no_temp_files(directory) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


# --- recorder -------------------------------------------------------------------------------------


def test_recorder_keeps_order_and_yields_activities():
    rec = _sample()
    assert len(rec) == 8
    acts = list(rec)
    assert all(isinstance(a, Activity) for a in acts)
    assert acts[0] == Activity(0, 0, 0, "local", "device0/cpu", 0.0, 0.125, 0.0, 1.5e8)
    assert [a.kind for a in acts][:3] == ["local", "uplink", "queue"]
    assert Activity._fields == TRACE_COLUMNS + (ENERGY_COLUMN,)
    assert set(a.kind for a in acts) <= set(KINDS)


def test_recorder_defaults_bytes_and_cycles_to_zero():
    rec = TraceRecorder()
    rec.record(1, 2, 3, "exec", "mec0/vm0", 1.0, 2.0)
    (act,) = rec
    assert act.bytes == 0.0 and act.cycles == 0.0


def test_sorted_is_canonical_and_independent_of_recording_order():
    acts = list(_sample())
    shuffled = acts[:]
    random.Random(1).shuffle(shuffled)
    rec = TraceRecorder()
    for a in shuffled:
        rec.record(*a)
    out = rec.sorted()
    keys = [(a.start_s, a.end_s, a.resource, a.app, a.task, a.kind) for a in out]
    assert keys == sorted(keys)
    assert out == _sample().sorted()
    assert all(isinstance(a, Activity) for a in out)


def test_disabled_recorder_records_nothing():
    rec = TraceRecorder(enabled=False)
    assert not rec.enabled
    rec.record(0, 0, 0, "exec", "mec0/vm0", 0.0, 1.0, 5.0, 6.0)
    assert len(rec) == 0 and list(rec) == [] and rec.sorted() == []


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_header_rows_and_number_formats(tmp_path):
    path = tmp_path / "trace.csv"
    write_trace_csv(_sample(), path)
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    lines = raw.decode("utf-8").split("\n")[:-1]
    assert lines[0] == ",".join(TRACE_COLUMNS)
    assert len(lines) == 1 + 8
    assert lines[1] == "0,0,0,local,device0/cpu,0.0,0.125,0.0,150000000.0,0"
    assert "3,7,2,forward,ap0-ap1/link,0.7,0.7,1e-05,0.0,0" in lines
    assert "3,7,2,exec,mec0/vm10,0.1,0.7,0.0,0.3333333333333333,0" in lines


def test_csv_rows_are_in_canonical_order(tmp_path):
    path = tmp_path / "trace.csv"
    acts = list(_sample())
    write_trace_csv(reversed(acts), path)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    starts = [(float(r["start_s"]), float(r["end_s"]), r["resource"]) for r in rows]
    assert starts == sorted(starts)


def test_csv_round_trip_gives_the_same_numbers(tmp_path):
    path = tmp_path / "trace.csv"
    rec = _sample()
    write_trace_csv(rec, path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    back = [
        Activity(int(r["app"]), int(r["task"]), int(r["device"]), r["kind"], r["resource"],
                 float(r["start_s"]), float(r["end_s"]), float(r["bytes"]), float(r["cycles"]))
        for r in rows
    ]
    assert back == rec.sorted()  # exact float equality, not approx


def test_csv_is_byte_identical_for_identical_input(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    acts = list(_sample())
    write_trace_csv(acts, a)
    write_trace_csv(acts[::-1], b)  # same activities, different order: same file
    assert a.read_bytes() == b.read_bytes()


def test_csv_accepts_numpy_scalars():
    np = pytest.importorskip("numpy")
    act = Activity(np.int64(1), np.int32(2), np.int64(3), "exec", "mec0/vm0",
                   np.float64(0.1), np.float32(0.5), np.float64(0.0), np.float64(2.0))
    assert trace._format_row(act)[:3] == ["1", "2", "3"]
    assert trace._format_row(act)[5:7] == ["0.1", "0.5"]


def test_csv_failure_mid_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "trace.csv"
    path.write_text("old\n")
    real = trace._format_row
    calls = {"n": 0}

    def failing(act):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk on fire")
        return real(act)

    monkeypatch.setattr(trace, "_format_row", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_trace_csv(_sample(), path)
    assert calls["n"] == 4  # it really failed part-way through the rows
    assert path.read_text() == "old\n"
    assert _no_temp_files(tmp_path)

    fresh = tmp_path / "fresh.csv"
    calls["n"] = 0
    with pytest.raises(RuntimeError):
        write_trace_csv(_sample(), fresh)
    assert not fresh.exists() and _no_temp_files(tmp_path)


# --- Chrome trace ---------------------------------------------------------------------------------


def _load_chrome(tmp_path, acts, **kw):
    path = tmp_path / "trace.json"
    write_chrome_trace(acts, path, **kw)
    return path, json.loads(path.read_text(encoding="utf-8"))


def test_chrome_trace_structure_and_names(tmp_path):
    rec = _sample()
    _, doc = _load_chrome(tmp_path, rec, metadata={"seed": 7, "scenario": "tiny"})
    assert doc["displayTimeUnit"] == "ms"
    assert doc["otherData"] == {"seed": 7, "scenario": "tiny"}
    events = doc["traceEvents"]

    procs = {e["args"]["name"]: e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    nodes = sorted({a.resource.split("/", 1)[0] for a in rec})
    assert sorted(procs) == nodes  # exactly one per node
    assert len(procs) == len([e for e in events if e.get("name") == "process_name"])
    # Stable small pids in natural node order.
    assert sorted(procs.values()) == list(range(1, len(nodes) + 1))
    assert procs["ap0"] < procs["ap0-ap1"] < procs["cloud"] < procs["device0"] < procs["mec0"]

    threads = {e["args"]["name"]: (e["pid"], e["tid"])
               for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    resources = {a.resource for a in rec}
    # one lane per resource here (nothing overlaps on one), queues on their own
    assert set(threads) == {f"{r} queue #1" if r == "mec0/queue" else f"{r} #1" for r in resources}
    assert len(threads) == len([e for e in events if e.get("name") == "thread_name"])
    for res, (pid, _) in threads.items():
        assert pid == procs[res.split("/", 1)[0]]
    # Within mec0: natural order puts vm3 before vm10; tids unique per process.
    assert threads["mec0/queue queue #1"][1] < threads["mec0/vm3 #1"][1] < threads["mec0/vm10 #1"][1]
    assert len(set(threads.values())) == len(threads)

    xs = [e for e in events if e["ph"] == "X"]
    assert len(xs) == len(rec)
    names = {e["name"] for e in xs}
    assert "app3/t7 exec" in names and "app0/t1 uplink" in names
    for e in xs:
        assert e["cat"] in KINDS
        assert set(e["args"]) == {"app", "task", "device", "resource", "bytes", "cycles", "cut"}
        assert (e["pid"], e["tid"]) in threads.values()


def test_chrome_trace_times_in_microseconds(tmp_path):
    rec = _sample()
    _, doc = _load_chrome(tmp_path, rec)
    assert doc["otherData"] == {}
    xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    by_key = {(e["args"]["app"], e["args"]["task"], e["cat"]): e for e in xs}
    for a in rec:
        e = by_key[(a.app, a.task, a.kind)]
        assert e["ts"] == pytest.approx(a.start_s * 1e6, abs=1e-6)
        assert e["dur"] == pytest.approx((a.end_s - a.start_s) * 1e6, abs=1e-6)
        assert e["dur"] >= 0
        assert e["args"]["bytes"] == a.bytes and e["args"]["cycles"] == a.cycles
    cloud = by_key[(3, 8, "exec")]
    assert cloud["ts"] == 1_000_000.0 and cloud["dur"] == 1_500_000.0
    assert by_key[(3, 7, "forward")]["dur"] == 0  # zero-duration activities are kept


def test_chrome_trace_is_deterministic(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    acts = list(_sample())
    write_chrome_trace(acts, a, metadata={"b": 1, "a": [1, 2]})
    write_chrome_trace(acts[::-1], b, metadata={"a": [1, 2], "b": 1})
    assert a.read_bytes() == b.read_bytes()


def test_chrome_trace_rejects_negative_duration_and_nan(tmp_path):
    path = tmp_path / "bad.json"
    with pytest.raises(ValueError, match="end_s must be >= start_s"):
        write_chrome_trace([Activity(0, 0, 0, "exec", "mec0/vm0", 2.0, 1.0, 0.0, 0.0)], path)
    with pytest.raises(ValueError):
        write_chrome_trace([Activity(0, 0, 0, "exec", "mec0/vm0", 0.0, 1.0, float("nan"), 0.0)], path)
    assert not path.exists() and _no_temp_files(tmp_path)


def test_chrome_trace_failure_mid_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "trace.json"
    real = trace._complete_event
    calls = {"n": 0}

    def failing(act, pid, tid):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return real(act, pid, tid)

    monkeypatch.setattr(trace, "_complete_event", failing)
    with pytest.raises(RuntimeError, match="boom"):
        write_chrome_trace(_sample(), path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


# --- Gantt ----------------------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_gantt_writes_png(tmp_path):
    path = tmp_path / "gantt.png"
    plot_gantt(_sample().sorted(), path, title="tiny")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert _no_temp_files(tmp_path)


def test_gantt_limits_rows_and_handles_empty(tmp_path, monkeypatch):
    rec = TraceRecorder()
    for i in range(12):
        rec.record(0, i, i, "local", f"device{i}/cpu", 0.1 * i, 0.1 * i + 0.05)
    seen = []
    real = trace._gantt_title
    monkeypatch.setattr(trace, "_gantt_title", lambda *a: seen.append(a) or real(*a))
    path = tmp_path / "many.png"
    plot_gantt(list(rec), path, max_resources=5)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert seen == [("", 12, 12, 7)]
    empty = tmp_path / "empty.png"
    plot_gantt([], empty)
    assert empty.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError):
        plot_gantt(list(rec), tmp_path / "x.png", max_resources=0)


def test_gantt_title_says_what_was_left_out():
    assert trace._gantt_title("run 1", 10, 50, 10) == "run 1 (10 of 50 resources not shown)"
    assert trace._gantt_title("run 1", 10, 5, 0) == "run 1"
    assert trace._gantt_title("", 0, 0, 0) == "activity trace (no activities)"


def test_streamed_trace_gets_the_mode_of_every_other_output(tmp_path):
    """A streamed trace.csv is published like every atomic output (0666 & ~umask), not left 0600."""
    from mecsim.fileio import atomic_write_text
    from mecsim.trace import TraceStream
    stream = TraceStream(tmp_path / "trace.csv")
    stream.record(0, 0, 0, "local", "device0/cpu", 0.0, 1.0)
    stream.close()
    atomic_write_text(tmp_path / "other.csv", "x\n")
    mode = (tmp_path / "trace.csv").stat().st_mode & 0o777
    assert mode == (tmp_path / "other.csv").stat().st_mode & 0o777 and mode & 0o044


def test_lanes_split_concurrent_activities_and_reuse_the_lowest_free_one():
    acts = [Activity(0, 0, 0, "uplink", "ap0/uplink", 0.0, 3.0, 1.0, 0.0),
            Activity(0, 1, 0, "uplink", "ap0/uplink", 1.0, 2.0, 1.0, 0.0),
            Activity(0, 2, 0, "uplink", "ap0/uplink", 1.5, 4.0, 1.0, 0.0),
            Activity(0, 3, 0, "uplink", "ap0/uplink", 2.0, 5.0, 1.0, 0.0),     # lane 2 is free again at 2.0
            Activity(0, 4, 0, "queue", "ap0/uplink", 0.5, 1.5, 0.0, 0.0),
            Activity(0, 5, 0, "uplink", "ap0/uplink", 4.0, 4.5, 1.0, 0.0),     # lanes 1 and 3 free: 1
            Activity(0, 6, 0, "wait", "device0", 0.0, 1.0, 0.0, 0.0)]
    # canonical order: by start, then end (the wait, ending first, comes before task 0's upload)
    assert trace.lanes(trace.canonical(acts)) == [
        "device0 wait #1", "ap0/uplink #1", "ap0/uplink queue #1", "ap0/uplink #2", "ap0/uplink #3",
        "ap0/uplink #2", "ap0/uplink #1"]


def test_busy_seconds_counts_up_to_the_limit():
    acts = [Activity(0, 0, 0, "exec", "s", 0.0, 2.0, 0.0, 1.0), Activity(0, 1, 0, "exec", "s", 1.0, 3.0, 0.0, 1.0),
            Activity(0, 2, 0, "queue", "s", 0.0, 1.0, 0.0, 0.0), Activity(0, 3, 0, "exec", "other", 0.0, 9.0, 0.0, 1.0)]
    assert trace.busy_seconds(acts, {"s": None}) == {"s": 4.0}       # parallel: every job counts
    assert trace.busy_seconds(acts, {"s": 1}) == {"s": 3.0}          # one unit: busy while anything runs


def test_read_trace_csv_gives_back_what_was_written(tmp_path):
    rec = _sample()
    rec.record(9, 1, 4, "exec", "mec0/vm0", 1.0, 2.0, 0.0, 5.0, 1)
    write_trace_csv(rec, tmp_path / "trace.csv")
    assert trace.read_trace_csv(tmp_path / "trace.csv") == rec.sorted()
    (tmp_path / "bad.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="header must be"):
        trace.read_trace_csv(tmp_path / "bad.csv")
