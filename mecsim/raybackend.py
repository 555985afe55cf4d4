"""Ray, the optional distributed backend of sweeps and meta-training: import it and join or start a cluster.

One place for the error a user sees without Ray, and for the way a session starts: ``address`` names a
running cluster; without it a fresh local Ray starts with ``workers`` CPUs (never one that a stale
/tmp/ray file points to) and is shut down afterwards. A session that finds Ray already initialised
uses it and leaves it running.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from mecsim.errors import MecsimError

__all__ = ["require_ray", "ray_session"]


def require_ray() -> Any:
    """The ray module, or a one-line error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise MecsimError("--backend ray: Ray is not installed; pip install 'mecsim[ray]'") from None
    return ray


@contextmanager
def ray_session(workers: int | None, address: str | None) -> Iterator[Any]:
    """Yield the ray module with a session up; shut down only what this call started."""
    ray = require_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address or "local", num_cpus=None if address else workers,
                     include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 (Ray raises ConnectionError, RuntimeError, ...)
            where = f"the cluster at {address}" if address else "a local Ray"
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise MecsimError(f"--backend ray: cannot start or reach {where}: {first}. Hint: a cluster "
                              "with token authentication needs RAY_AUTH_MODE=token here") from None
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
