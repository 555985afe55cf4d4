"""Run outputs: summary.json, the system's tables (apps.csv, ...), trace.csv, trace.json and gantt.png.

Each file is written atomically, and a run's folder as a whole (:func:`run_folder`): a run writes into
a staging folder beside ``--out`` that becomes ``--out`` only when every file is written, so a folder
never holds files of two runs. Every system's result summarises itself (``summary()``, ``tables()``,
``headline()``: :class:`mecsim.systems.Result`), so nothing here knows which system ran; the
provenance (:func:`provenance`) is added to every system's summary.json here.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import resource
import secrets
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from mecsim.errors import ConfigError
from mecsim.fileio import atomic_write, atomic_write_text
from mecsim.systems import Result
from mecsim.trace import (Activity, TraceStream, canonical, plot_gantt, read_trace_csv, write_chrome_trace,
                          write_trace_csv)

__all__ = ["write_outputs", "format_summary", "provenance", "versions", "check_out", "run_folder", "peak_rss_mib",
           "CHROME_LIMIT"]

# module -> distribution: always recorded; the optional ones only when the run imported them
_DEPENDENCIES = {"simpy": "simpy", "numpy": "numpy", "scipy": "scipy", "yaml": "PyYAML"}
_IMPORTED = {"torch": "torch", "networkx": "networkx", "gymnasium": "gymnasium", "pettingzoo": "pettingzoo",
             "matplotlib": "matplotlib", "pyarrow": "pyarrow", "ray": "ray"}


def versions() -> dict[str, str]:
    """mecsim's, Python's and the main dependencies' versions (the optional ones only if imported now)."""
    import mecsim
    found = {"mecsim": mecsim.__version__, "python": platform.python_version()}
    modules = {**_DEPENDENCIES, **{m: d for m, d in _IMPORTED.items() if m in sys.modules}}
    for dist in sorted(modules.values(), key=str.lower):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def provenance(scenario: str | Path, overrides: Sequence[str], controller: str, params: Mapping[str, Any],
               seed: int) -> dict[str, Any]:
    """What produced a run, taken before it starts: the scenario file as given and the sha256 of its
    bytes, the ``--set`` overrides in order, the controller and the parameters it was made with, the
    seed. :func:`write_outputs` adds :func:`versions` when the run is over (torch, ... once imported)."""
    path = Path(scenario)
    return {"scenario": {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
            "overrides": list(overrides), "controller": {"name": controller, "params": dict(params)},
            "seed": seed}


def check_out(out: Path, force: bool, marker: str = "summary.json") -> None:
    """Refuse an ``--out`` a run must not write into, before it simulates: a file, or (without `force`)
    a folder that holds anything; `force` replaces only a run's folder (one with `marker`: summary.json,
    report.md for ``mecsim report``)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: must be a folder, got a file: {out}")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"--out: must be a new or empty folder, got {out}, which holds an earlier run. "
                              "Hint: --force replaces it as a whole, or choose another --out")
        if not (out / marker).is_file():
            owner = "report's" if marker == "report.md" else "run's"
            raise ConfigError(f"--out: --force replaces only a {owner} folder (one with {marker}), got {out}")
    parent = next(p for p in out.absolute().parents if p.exists())
    if not parent.is_dir():
        raise ConfigError(f"--out: its parent must be a folder, got a file: {parent}")


@contextlib.contextmanager
def run_folder(out: str | Path, force: bool = False, marker: str = "summary.json") -> Iterator[Path]:
    """Check `out` (:func:`check_out`), then yield a staging folder beside it; when the block succeeds
    the staging folder is renamed to `out`, with `force` after moving an earlier run's folder aside
    (two renames: a reader sees the old run, no folder, or the new run, never a mix). If the block
    fails nothing changes."""
    out = Path(out)
    check_out(out, force, marker)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.{secrets.token_hex(6)}.stage"
    stage.mkdir()
    try:
        yield stage
        _swap(stage, out, force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap(stage: Path, out: Path, force: bool) -> None:
    old: list[Path] = []
    while True:
        try:
            os.rename(stage, out)   # POSIX: onto a missing or empty folder only
            break
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if not force:   # another run filled `out` while this one simulated
                raise ConfigError(f"--out: {out} was filled by another run meanwhile; "
                                  "this run's outputs are discarded") from None
        old.append(out.parent / f".{out.name}.{secrets.token_hex(6)}.old")
        with contextlib.suppress(FileNotFoundError):    # another run may have moved it first
            os.rename(out, old[-1])
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)


# A Chrome trace (and a Gantt chart) holds every activity in memory at once: past this many, trace.json
# and gantt.png are left out and trace.csv keeps the order activities were recorded in.
CHROME_LIMIT = 1_000_000


def write_outputs(result: Result, out: str | Path, *, gantt: bool = False, traces: bool = True,
                  provenance: Mapping[str, Any] | None = None,
                  gantt_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write every output into `out` (trace.csv/trace.json only with `traces`; `provenance` and the
    :func:`versions` under the key ``provenance`` of summary.json; `gantt_options`: plot_gantt's
    ``resources`` and ``window``); returns the summary.

    A streamed trace (:class:`mecsim.trace.TraceStream`, what ``mecsim run`` records into) is closed
    into its own file; a CSV one of at most :data:`CHROME_LIMIT` activities is then read back and
    written again in canonical order with trace.json (and gantt.png), so a short run's files do not
    depend on how it was traced. summary.json's ``trace`` says what was written; ``peak_rss_mib`` is
    the process's peak resident memory when the outputs were done.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    if provenance is not None:
        summary["provenance"] = {**provenance, "versions": versions()}
    trace = result.trace
    energy = trace.energy       # the run accounts energy (mecsim.energy): the energy_j column
    activities: list[Activity] | None = None
    info: dict[str, Any] = {"activities": len(trace) if traces or gantt else 0}
    if isinstance(trace, TraceStream):
        trace.close()            # the stream's own file (under `out`, where its caller put it) is the trace
        info.update(file=Path(trace.path).name, order="recorded")
        if trace.format == "csv" and len(trace) <= CHROME_LIMIT:
            activities = canonical(read_trace_csv(trace.path))
            write_trace_csv(activities, trace.path, energy=energy)
            info["order"] = "canonical"
    elif traces or gantt:
        activities = trace.sorted()
        if traces:
            write_trace_csv(activities, out / "trace.csv", energy=energy)
            info.update(file="trace.csv", order="canonical")
    if activities is None and (traces or gantt):
        why = f"more than {CHROME_LIMIT} activities" if len(trace) > CHROME_LIMIT else "a parquet trace"
        info["left_out"] = f"trace.json{' and gantt.png' if gantt else ''}: {why}"
    if activities is not None and traces:
        write_chrome_trace(activities, out / "trace.json",
                           metadata={"scenario": result.scenario.name, "seed": result.seed,
                                     "controller": result.controller}, energy=energy)
    for name, text in result.tables().items():
        if isinstance(text, str):
            atomic_write_text(out / name, text)
        else:
            with atomic_write(out / name, "w", encoding="utf-8", newline="") as handle:
                handle.writelines(text)
    if gantt and activities is not None:
        plot_gantt(activities, out / "gantt.png", title=f"{result.scenario.name} · {result.controller}",
                   **(gantt_options or {}))
    if traces or gantt:
        summary["trace"] = info
    summary["peak_rss_mib"] = peak_rss_mib()
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (getrusage: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def format_summary(result: Result) -> str:
    """The result's headline as a short table for the terminal."""
    return _table(result.headline())


def _table(rows: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
