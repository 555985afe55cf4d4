"""Jobs on worker processes that keep state between calls: in this process, spawned processes, or Ray actors.

Meta-training hands out the same kind of work every iteration: MRLCO's inner loops (one per sampled
task), PEARL-DT's twin rollouts (one per digital twin). A worker is built once from a picklable spec
(``setup(spec)``, or the spec itself) and then serves ``work(state, shared, job)`` calls. Within every
call, job i runs on worker i mod n, so whatever a worker keeps for job i (tasks loaded once, a twin's
episode in progress) always lives in the same process; results come back in job order. A trainer that
draws every random number a job needs before dispatch and combines the results in job order therefore
gets the same result for any worker count and either backend.

Backends: ``local`` with one worker runs the jobs here; with n workers, n spawned single-process pools
(one per worker, which is what pins job i to worker i mod n); ``ray``: n Ray actors (one CPU each) on the
cluster at ``address`` or on a fresh local Ray (:func:`mecsim.raybackend.ray_session`). On Ray, n is
``workers`` capped at the cluster's CPUs (more actors than CPUs would wait forever), by default all of
them. ``shared`` travels once per worker and call (once per call on Ray, through the object store).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from mecsim.errors import ConfigError
from mecsim.raybackend import ray_session

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

__all__ = ["Dispatch", "check_backend", "cluster_cpus", "dispatcher", "spawn_pool"]

Dispatch = Callable[[Any, Sequence[Any]], list[Any]]
"""run(shared, jobs) → [work(state_i, shared, job) for each job], job i on worker i mod n, in job order"""

Work = Callable[[Any, Any, Any], Any]
Setup = Callable[[Any], Any]

_STATE: Any = None
"""This pool process's worker state (set once by :func:`_start`)."""


def check_backend(backend: str, workers: int | None) -> None:
    """One-line errors for the options every parallel trainer takes."""
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend: must be local or ray, got {backend!r}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: must be an integer >= 1, got {workers}")


def spawn_pool(workers: int, initializer: Callable[..., None] | None = None,
               initargs: tuple = ()) -> "ProcessPoolExecutor":
    """A pool of spawned processes (no fork: safe with threads and torch in the parent)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)


def cluster_cpus(ray: Any) -> int:
    """The CPUs of the Ray cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


@contextmanager
def dispatcher(work: Work, spec: Any, *, setup: Setup | None = None, backend: str = "local",
               workers: int | None = None, address: str | None = None) -> Iterator[Dispatch]:
    """Workers built from ``spec`` (``setup(spec)`` when given) serving ``work``; shut down on exit.

    ``work`` and ``setup`` must be module-level functions (they are pickled by name)."""
    check_backend(backend, workers)
    if backend == "local" and (workers or 1) == 1:
        state = _build(setup, spec)
        yield lambda shared, jobs: [work(state, shared, job) for job in jobs]
    elif backend == "local":
        assert workers is not None
        with _process_workers(work, spec, setup, workers) as run:
            yield run
    else:
        with _ray_workers(work, spec, setup, workers, address) as run:
            yield run


def _build(setup: Setup | None, spec: Any) -> Any:
    return spec if setup is None else setup(spec)


def _start(setup: Setup | None, spec: Any) -> None:
    global _STATE
    _STATE = _build(setup, spec)


def _serve(work: Work, shared: Any, jobs: Sequence[Any]) -> list[Any]:
    return [work(_STATE, shared, job) for job in jobs]


def _merge(parts: Sequence[list[Any]], n: int, total: int) -> list[Any]:
    """Worker w's results (jobs w, w + n, ...) back into job order."""
    out: list[Any] = [None] * total
    for w, part in enumerate(parts):
        out[w::n] = part
    return out


@contextmanager
def _process_workers(work: Work, spec: Any, setup: Setup | None, n: int) -> Iterator[Dispatch]:
    """n spawned single-process pools: a pool per worker keeps job i on the same process every call."""
    pools = [spawn_pool(1, _start, (setup, spec)) for _ in range(n)]

    def run(shared: Any, jobs: Sequence[Any]) -> list[Any]:
        futures = [pools[w].submit(_serve, work, shared, jobs[w::n]) for w in range(min(n, len(jobs)))]
        return _merge([f.result() for f in futures], n, len(jobs))

    try:
        yield run
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


class _Actor:
    """A Ray actor holding one worker's state."""

    def __init__(self, setup: Setup | None, spec: Any) -> None:
        self.state = _build(setup, spec)

    def serve(self, work: Work, shared: Any, jobs: Sequence[Any]) -> list[Any]:
        return [work(self.state, shared, job) for job in jobs]


@contextmanager
def _ray_workers(work: Work, spec: Any, setup: Setup | None, workers: int | None,
                 address: str | None) -> Iterator[Dispatch]:
    with ray_session(workers, address) as ray:
        cpus = cluster_cpus(ray)
        n = min(workers or cpus, cpus)
        actor = ray.remote(num_cpus=1, max_restarts=0)(_Actor)
        spec_ref = ray.put(spec)
        actors = [actor.remote(setup, spec_ref) for _ in range(n)]

        def run(shared: Any, jobs: Sequence[Any]) -> list[Any]:
            ref = ray.put(shared)
            parts = ray.get([actors[w].serve.remote(work, ref, list(jobs[w::n])) for w in range(min(n, len(jobs)))])
            return _merge(parts, n, len(jobs))

        try:
            yield run
        finally:
            for a in actors:
                ray.kill(a)
