"""Compute specifications: a processor's cores, an edge server's VMs and memory, the cloud.

SI units: cycle/s, byte, bit/s, s.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CpuSpec", "ServerSpec", "CloudSpec", "CPU_DISCIPLINES"]

CPU_DISCIPLINES = ("fifo", "schedule_order", "processor_sharing")


@dataclass(frozen=True)
class CpuSpec:
    cores: int = 1
    speed_hz: float = 1e9           # per core, cycles/s
    discipline: str = "fifo"        # fifo | schedule_order | processor_sharing


@dataclass(frozen=True)
class ServerSpec:
    name: str
    access_point: str
    cores: int
    speed_hz: float                 # per core, cycles/s
    discipline: str = "fifo"
    vms: str = "dedicated"          # dedicated: one VM per device (MRLCO §3); shared: one pool of cores
    vm_speed_hz: float | None = None  # dedicated: default cores × speed_hz / devices (f_vm = f_s / k)
    memory_bytes: float | None = None
    memory_policy: str = "wait"     # wait | drop: a task that does not fit


@dataclass(frozen=True)
class CloudSpec:
    cores: int
    speed_hz: float
    rate_bps: float                 # wired link from every access point to the cloud
    delay_s: float = 0.0
    discipline: str = "fifo"
