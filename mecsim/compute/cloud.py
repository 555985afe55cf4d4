"""The cloud: a processor pool reached from every access point over a wired link each way."""
from __future__ import annotations

from typing import Sequence

import simpy

from mecsim.compute.processor import processor
from mecsim.compute.spec import CloudSpec
from mecsim.net.channel import WiredLink

__all__ = ["Cloud"]


class Cloud:
    """``up[ap]`` / ``down[ap]``: the links between access point `ap` and the cloud."""

    __slots__ = ("cpu", "up", "down", "name")

    def __init__(self, env: simpy.Environment, spec: CloudSpec, access_points: Sequence[str]) -> None:
        self.name = "cloud"
        self.cpu = processor(env, "cloud/cpu", spec.cores, spec.speed_hz, spec.discipline)
        self.up = {ap: WiredLink(env, f"{ap}-cloud/link", spec.rate_bps, spec.delay_s) for ap in access_points}
        self.down = {ap: WiredLink(env, f"cloud-{ap}/link", spec.rate_bps, spec.delay_s) for ap in access_points}
