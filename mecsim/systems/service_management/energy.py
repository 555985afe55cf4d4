"""The service-management system's energy terms (:mod:`mecsim.energy`).

An ED pays κ·f²·cycles for a request it serves itself, counting one FLOP as one cycle (PEARL-DT gives
ED speeds in FLOP/s, eq. 5), at its own speed P^f_u; p_u = ``devices.tx_power_dbm`` (§IV-C: 20 dBm) ×
the upload's airtime; ``energy.device.rx_w`` × the result's download; ``idle_w`` while its CPU is idle.
Edge servers follow the linear model over their virtual cores (capacity cores × FLOP/s). Not
accounted: the cloud, the backhaul, ED batteries.
"""
from __future__ import annotations

from collections.abc import Sequence

from mecsim.energy import EnergySpec, Meter, cpu_cost, cpu_idle_s, power_cost, server_cost
from mecsim.net.pathloss import dbm_to_w
from mecsim.station import Station
from mecsim.trace import TraceRecorder, TraceStream

__all__ = ["TERMS", "build_meter"]

TERMS = ("cpu", "tx", "rx")


def build_meter(spec: EnergySpec, trace: TraceRecorder | TraceStream, tx_power_dbm: float,
                cpus: Sequence[Station], flops: Sequence[float], radios: Sequence[tuple[str, str]],
                servers: Sequence[tuple[Station, float]]) -> Meter:
    """`cpus` and `flops`: each ED's CPU and its speed; `radios`: (uplink, downlink) names per access
    point; `servers`: each server's cores station and its per-core FLOP/s."""
    names = [cores.name.split("/")[0] for cores, _ in servers]
    meter = Meter(spec, trace, [cpu.name.split("/")[0] for cpu in cpus], TERMS, names)
    for cpu, hz in zip(cpus, flops):
        meter.device_cost(cpu.name, "cpu", cpu_cost(spec.device.kappa, float(hz)))
    for up, down in radios:
        meter.device_cost(up, "tx", power_cost(float(dbm_to_w(tx_power_dbm))))
        meter.device_cost(down, "rx", power_cost(spec.device.rx_w))
    for (cores, hz), name in zip(servers, names):
        meter.server_cost(cores.name, name, server_cost(spec.server, (cores.capacity or 1) * hz, hz))
    meter.idle_s = cpu_idle_s(cpus)
    return meter
