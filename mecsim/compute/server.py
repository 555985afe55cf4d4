"""An edge server: its cores as VMs (one per device, MRLCO §3, or one shared pool) and its memory."""
from __future__ import annotations

import simpy

from mecsim.compute.memory import memory_pool
from mecsim.compute.processor import processor
from mecsim.compute.spec import ServerSpec
from mecsim.station import Station

__all__ = ["EdgeServer"]


class EdgeServer:
    """VMs and memory of one server; ``access_point`` names where it is attached."""

    __slots__ = ("name", "spec", "access_point", "vms", "memory", "vm_speed_hz")

    def __init__(self, env: simpy.Environment, spec: ServerSpec, devices: int) -> None:
        self.name, self.spec, self.access_point = spec.name, spec, spec.access_point
        if spec.vms == "dedicated":
            # f_vm = f_s / k: the server's capacity split evenly among the k devices (MRLCO §3).
            self.vm_speed_hz = spec.vm_speed_hz or spec.cores * spec.speed_hz / max(devices, 1)
            self.vms = [processor(env, f"{spec.name}/vm{d}", 1, self.vm_speed_hz, spec.discipline)
                        for d in range(devices)]
        else:
            self.vm_speed_hz = spec.speed_hz
            self.vms = [processor(env, f"{spec.name}/cpu", spec.cores, spec.speed_hz, spec.discipline)]
        capacity = int(spec.memory_bytes) if spec.memory_bytes else 0
        self.memory = memory_pool(env, capacity) if capacity else None

    def vm_for(self, device: int) -> Station:
        return self.vms[device] if self.spec.vms == "dedicated" else self.vms[0]
