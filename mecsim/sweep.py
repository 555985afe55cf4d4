"""Parameter sweeps: every (grid combination × seed) is one independent ``mecsim run``.

    mecsim sweep SCENARIO --grid KEY=V1,V2 [--grid ...] --seeds 0-9 [--backend local|ray] --out OUT

A run is exactly what ``mecsim run SCENARIO --set KEY=V ... --seed S --no-trace`` computes
(:func:`mecsim.runner.prepare`, the system's simulation, the result's ``summary()``), so its
result depends on its parameters only, never on the backend, the worker count or the order runs end in.
Runs go to a process pool (``local``, spawned processes) or to Ray tasks (``ray``: the cluster at
``--address``, or a local Ray); the parent alone writes files, so a remote cluster needs no shared disk
(only mecsim installed on its nodes and the scenario at the same path). Outputs:

* ``OUT/runs/<key>/summary.json`` and ``params.json``: one folder per run, named by a hash of its
  parameters and of the scenario file's bytes, written atomically as each run ends; a re-run skips
  every run whose summary exists (DAG folders the scenario points to are not hashed: delete OUT/runs
  after changing them);
* ``OUT/runs.csv``: one row per run in grid order: the grid keys, ``seed``, ``status`` (ok | failed),
  ``error`` (the failure's one line), then the flattened summary (``latency_s.mean``, ...);
* ``OUT/table.md``: per combination, mean ± sample standard deviation (n - 1) over its successful seeds.

A failed run (any exception in its simulation) is a row with status ``failed``; the others go on.
Runs record no trace: a summary does not need one. Grid values are split at commas outside brackets,
so ``--grid servers.0.cores=2,4`` and ``--grid devices.position.x=[0,1],[2,3]`` both work.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import sys
import warnings
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from mecsim.errors import ConfigError, MecsimError, PlausibilityWarning
from mecsim.fileio import atomic_write_text
from mecsim.parallel import check_backend, cluster_cpus, spawn_pool
from mecsim.raybackend import ray_session, require_ray

__all__ = ["RunSpec", "SweepResult", "parse_grid", "plan_runs", "run_one", "sweep", "format_table",
           "DEFAULT_METRICS"]

# The table's default columns (those present in the runs' summaries), else the first numeric ones.
DEFAULT_METRICS = ("latency_s.mean", "latency_s.p95", "counts.completed", "counts.dropped")
_TIMING = ("wall_s", "events_per_s")     # differ from run to run: never a default table column
_FIXED = ("seed", "status", "error")


@dataclass(frozen=True)
class RunSpec:
    """One run: what ``mecsim run`` needs, and the grid values it stands for (picklable)."""

    scenario: str                  # absolute path
    overrides: tuple[str, ...]     # --set items, then the grid's KEY=VALUE items
    controller: str | None
    seed: int
    values: tuple[str, ...]        # the grid values, in grid-key order
    key: str                       # folder name under OUT/runs: a hash of everything above


@dataclass
class SweepResult:
    """What a sweep produced: one row per run (grid order), the table, and the counts."""

    rows: list[dict[str, Any]]
    columns: list[str]
    table: str
    cached: int
    failed: int


# -- planning -------------------------------------------------------------------------------------
def _split_values(text: str) -> list[str]:
    """Comma-separated values; commas inside [] or {} belong to the value (YAML flow lists)."""
    values: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += (ch in "[{") - (ch in "]}")
        if ch == "," and depth == 0:
            values.append("".join(current))
            current = []
        else:
            current.append(ch)
    values.append("".join(current))
    return [v.strip() for v in values]


def parse_grid(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``KEY=V1,V2`` items as (key, values), in the order given; syntax errors are ConfigErrors."""
    grid: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--grid {item}: must be KEY=V1,V2,..., e.g. servers.0.cores=2,4")
        if key == "seed":
            raise ConfigError(f"--grid {item}: seeds are swept with --seeds, not --grid")
        if key in (k for k, _ in grid):
            raise ConfigError(f"--grid {item}: key {key!r} given twice; list all its values in one --grid")
        values = _split_values(text)
        if not all(values):
            raise ConfigError(f"--grid {item}: values must be non-empty and comma-separated, got {text!r}")
        grid.append((key, values))
    return grid


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan_runs(scenario: str | Path, grid: Sequence[tuple[str, Sequence[str]]], seeds: Sequence[int] | None,
              *, controller: str | None = None, overrides: Sequence[str] = ()) -> list[RunSpec]:
    """Every combination × seed, after checking the set-up of each grid value on its own.

    An unknown key, a bad value or an unknown controller is a one-line error before anything runs;
    a combination of values that is only bad together fails as its runs.
    """
    from mecsim.runner import prepare
    from mecsim.scenario.load import load_scenario

    path = Path(scenario).resolve()
    if not path.is_file():
        raise ConfigError(f"{scenario}: no such scenario file")
    if controller is not None and any(k == "controller" for k, _ in grid):
        raise ConfigError("--controller: cannot be combined with --grid controller=...; use one of them")
    seeds = [load_scenario(path, overrides).seed] if seeds is None else list(seeds)
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"--seeds: must be one or more integers >= 0, got {seeds}")
    prepare(path, overrides, controller, seeds[0])
    for key, values in grid:
        for value in values:
            try:
                prepare(path, [*overrides, f"{key}={value}"], controller, seeds[0])
            except MecsimError as exc:
                raise ConfigError(f"--grid {key}={value}: {exc}") from None
    keys = [k for k, _ in grid]
    digest = _file_digest(path)
    specs = []
    for values in itertools.product(*(v for _, v in grid)):
        items = (*overrides, *(f"{k}={v}" for k, v in zip(keys, values)))
        for seed in seeds:
            ident = json.dumps({"scenario": str(path), "sha256": digest, "overrides": items,
                                "controller": controller, "seed": seed}, sort_keys=True)
            specs.append(RunSpec(str(path), items, controller, seed, tuple(values),
                                 hashlib.sha256(ident.encode()).hexdigest()[:16]))
    return specs


# -- running --------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    return message if isinstance(exc, MecsimError) else f"{type(exc).__name__}: {message}".rstrip(": ")


def run_one(spec: RunSpec) -> tuple[str, dict[str, Any] | None, str]:
    """(status, summary, error) of one run; never raises, so one failure cannot stop a sweep."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")   # one thread per run: scale out with processes
    try:
        from mecsim.runner import prepare

        with warnings.catch_warnings():     # the parent reported them when it checked the grid
            warnings.simplefilter("ignore", PlausibilityWarning)
            run = prepare(spec.scenario, spec.overrides, spec.controller, spec.seed)
        return "ok", run.simulation(trace=False).run().summary(), ""
    except Exception as exc:  # noqa: BLE001 (reported as the run's error, by design)
        return "failed", None, _one_line(exc)


Outcome = tuple[str, "dict[str, Any] | None", str]


def _local(specs: list[RunSpec], workers: int) -> Iterator[tuple[int, Outcome]]:
    """Runs on a pool of spawned processes, yielded as they end."""
    pool = spawn_pool(workers)
    try:
        futures = {pool.submit(run_one, spec): i for i, spec in enumerate(specs)}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 (a worker that died, e.g. out of memory)
                outcome = ("failed", None, _one_line(exc))
            yield futures[future], outcome
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ray(specs: list[RunSpec], workers: int | None, address: str | None) -> Iterator[tuple[int, Outcome]]:
    """Ray tasks, at most `workers` in flight (all the cluster's CPUs when None)."""
    with ray_session(workers, address) as ray:
        task = ray.remote(num_cpus=1, max_retries=0)(run_one)
        limit = workers or cluster_cpus(ray)
        queue = list(enumerate(specs))[::-1]
        pending: dict[Any, int] = {}
        while queue or pending:
            while queue and len(pending) < limit:
                i, spec = queue.pop()
                pending[task.remote(spec)] = i
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 (a lost worker or node)
                    outcome = ("failed", None, _one_line(exc))
                yield i, outcome


def _cached(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def sweep(scenario: str | Path, grid: Sequence[tuple[str, Sequence[str]]], seeds: Sequence[int] | None,
          out: str | Path, *, backend: str = "local", workers: int | None = None, address: str | None = None,
          controller: str | None = None, overrides: Sequence[str] = (), metrics: Sequence[str] | None = None,
          progress: bool = True) -> SweepResult:
    """Run every combination × seed not already in `out`, then write runs.csv and table.md."""
    check_backend(backend, workers)
    if backend == "ray":
        require_ray()
    specs = plan_runs(scenario, grid, seeds, controller=controller, overrides=overrides)
    out = Path(out)
    outcomes: dict[int, Outcome] = {}
    for i, spec in enumerate(specs):
        summary = _cached(out / "runs" / spec.key)
        if summary is not None:
            outcomes[i] = ("ok", summary, "")
    cached = len(outcomes)
    todo = [i for i in range(len(specs)) if i not in outcomes]
    from tqdm import tqdm
    bar = tqdm(total=len(specs), initial=cached, unit="run", disable=not progress, file=sys.stderr)
    try:
        if todo:
            batch = [specs[i] for i in todo]
            stream = (_local(batch, workers or os.cpu_count() or 1) if backend == "local"
                      else _ray(batch, workers, address))
            failed = 0
            for j, outcome in stream:
                i = todo[j]
                outcomes[i] = outcome
                status, summary, _ = outcome
                if status == "ok":
                    folder = out / "runs" / specs[i].key
                    atomic_write_text(folder / "params.json", json.dumps(asdict(specs[i]), indent=2) + "\n")
                    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
                else:
                    failed += 1
                    bar.set_postfix(failed=failed)
                bar.update(1)
    finally:
        bar.close()
    keys = [k for k, _ in grid]
    rows = [_row(keys, specs[i], outcomes[i]) for i in range(len(specs))]
    columns = _columns(keys, rows)
    table = format_table(rows, keys, _metrics(rows, columns, metrics))
    atomic_write_text(out / "runs.csv", _csv(rows, columns))
    atomic_write_text(out / "table.md", table + "\n")
    return SweepResult(rows, columns, table, cached, sum(r["status"] == "failed" for r in rows))


# -- tables ---------------------------------------------------------------------------------------
def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(_flatten(v, name + "."))
        else:
            flat[name] = json.dumps(v) if isinstance(v, (list, tuple)) else v
    return flat


def _row(keys: list[str], spec: RunSpec, outcome: Outcome) -> dict[str, Any]:
    status, summary, error = outcome
    row: dict[str, Any] = dict(zip(keys, spec.values))
    row.update(seed=spec.seed, status=status, error=error)
    for name, value in _flatten(summary or {}).items():
        row.setdefault(name, value)          # a metric named like a grid key or seed: the key wins
    return row


def _columns(keys: list[str], rows: list[dict[str, Any]]) -> list[str]:
    columns = [*keys, *_FIXED]
    seen = set(columns)
    for row in rows:                         # grid order, so columns never depend on finishing order
        for name in row:
            if name not in seen:
                seen.add(name)
                columns.append(name)
    return columns


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    import csv
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return buf.getvalue()


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metrics(rows: list[dict[str, Any]], columns: list[str], wanted: Sequence[str] | None) -> list[str]:
    ok = [r for r in rows if r["status"] == "ok"]
    if wanted:
        unknown = [m for m in wanted if not any(m in r for r in ok)]
        if unknown and ok:
            known = [c for c in columns if any(_numeric(r.get(c)) for r in ok)]
            raise ConfigError(f"--metrics: no run has {unknown}; summary columns are {known}")
        return list(wanted)
    present = [m for m in DEFAULT_METRICS if any(m in r for r in ok)]
    if present:
        return present
    numeric = [c for c in columns if c not in _FIXED and c not in _TIMING
               and any(_numeric(r.get(c)) for r in ok)]
    return numeric[:4]


def _cell(values: list[float]) -> str:
    if not values:
        return "–"
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:,.2f}"
    return f"{mean:,.2f} ± {float(np.std(values, ddof=1)):,.2f}"


def format_table(rows: list[dict[str, Any]], keys: Sequence[str], metrics: Sequence[str]) -> str:
    """Markdown: one line per combination; each metric as mean ± sample std over its ok seeds."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    header = [*keys, "runs ok", *(f"{m} (mean ± std)" for m in metrics)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for values, members in groups.items():
        ok = [r for r in members if r["status"] == "ok"]
        cells = [_cell([float(r[m]) for r in ok if _numeric(r.get(m))]) for m in metrics]
        lines.append("| " + " | ".join([*map(str, values), f"{len(ok)}/{len(members)}", *cells]) + " |")
    return "\n".join(lines)
