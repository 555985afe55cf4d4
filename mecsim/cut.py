"""What a horizon interrupts: activities begun and not ended when a run stops, recorded as ``cut``.

A system's process notes what each of its tasks is doing before it yields (a :data:`Doing`); when the
run reaches its horizon, :func:`record_cut` turns every such note into trace activities that end at
the horizon with ``cut`` 1. A job still queued at a station becomes a cut ``queue``; one in service,
its queue (if it waited) and then its cut service; a note without a station (a dependency wait, a
propagation delay, a timed run) is cut as it is. So the trace accounts for every busy second up to
the horizon, as the stations' utilisation does.

Not covered: a transfer sent in packets (``packet_bytes``) whose first packet is through is found by
its first packet only, so it is recorded as a cut queue (no shipped scenario uses packets).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from mecsim.sharing import FactoredShare, VirtualShare
from mecsim.station import Job, Station

__all__ = ["Doing", "in_service", "record_cut", "started"]

# (kind, resource, since, bytes, cycles, station or None): an activity begun and not yet recorded
Doing = tuple[str, str, float, float, float, "Station | None"]


def in_service(station: Station) -> list[Job]:
    """The jobs `station` serves now, wherever it keeps them: fixed jobs by their timeouts, shared ones
    in its sharing pool (:mod:`mecsim.sharing`), the others in its general path.

    Reads the station's private state: a public view of it belongs in mecsim/station.py.
    """
    pool = station._pool
    if isinstance(pool, VirtualShare):
        return [job for _, _, job in (*pool.held, *pool.free)]
    if isinstance(pool, FactoredShare):
        return list(pool.active)
    return [*station._timers.values(), *station._active]


def started(station: Station, owner: Any, group: Hashable, ticket: Hashable, since: float,
            horizon: float) -> float | None:
    """When the job of `owner` (`ticket` of `group`, where the caller gave them) submitted at `since`
    started service at `station`, None if it still waits.

    """
    for job in in_service(station):
        if (job.owner is owner and job.submitted == since and job.group in (group, None)
                and job.ticket in (ticket, None) and 0.0 <= job.started <= horizon):
            return job.started
    return None


def record_cut(record: Callable[..., None], app: int, task: int, device: int, owner: Any, doing: Doing,
               horizon: float) -> None:
    """Record `doing` of task `task` of `app` (on `device`, the station's job `owner`) as cut at `horizon`."""
    kind, resource, since, nbytes, cycles, station = doing
    begun = None if station is None else started(station, owner, app, task, since, horizon)
    if station is not None and begun is None:
        record(app, task, device, "queue", resource, since, horizon, 0.0, 0.0, 1)
        return
    if begun is not None and begun > since:
        record(app, task, device, "queue", resource, since, begun, 0.0, 0.0)
    record(app, task, device, kind, resource, since if begun is None else begun, horizon, nbytes, cycles, 1)
