"""The DAG system's energy terms (:mod:`mecsim.energy`): which resource costs what.

Devices: ``local`` on their CPU (κ·f²·cycles), ``uplink`` (the uplink's ``tx_power_dbm`` where its
rate model is shannon, else ``energy.device.tx_w``) and ``downlink`` (``rx_w``) on their access
point's channels, idle draw over their CPU's idle time. Edge servers: the linear model over their
cores, each ``exec`` on one of their VMs carrying its share. Not accounted: the cloud, wired links.
"""
from __future__ import annotations

from mecsim.energy import Meter, cpu_cost, cpu_idle_s, power_cost, server_cost
from mecsim.net.pathloss import dbm_to_w
from mecsim.net.spec import ChannelSpec
from mecsim.systems.dag_offloading.infrastructure import Infrastructure
from mecsim.systems.dag_offloading.spec import DagScenario
from mecsim.trace import TraceRecorder, TraceStream

__all__ = ["TERMS", "build_meter"]

TERMS = ("cpu", "tx", "rx")


def _tx_w(channel: ChannelSpec, fallback: float) -> float:
    power = channel.rate.tx_power_dbm     # set exactly for shannon rates
    return fallback if power is None else float(dbm_to_w(power))


def build_meter(scenario: DagScenario, infra: Infrastructure, trace: TraceRecorder | TraceStream) -> Meter:
    """The meter of a run of `scenario` (which must have an ``energy`` block) over `infra`."""
    spec = scenario.energy
    assert spec is not None
    dev = spec.device
    meter = Meter(spec, trace, [d.name for d in infra.devices], TERMS, [s.name for s in infra.servers])
    local = cpu_cost(dev.kappa, scenario.devices.cpu.speed_hz)
    for device in infra.devices:
        meter.device_cost(device.cpu.name, "cpu", local)
    for ap, ap_spec in zip(infra.access_points, scenario.access_points):
        meter.device_cost(ap.uplink.name, "tx", power_cost(_tx_w(ap_spec.uplink, dev.tx_w)))
        meter.device_cost(ap.downlink.name, "rx", power_cost(dev.rx_w))
    for server in infra.servers:
        s = server.spec
        cost = server_cost(spec.server, s.cores * s.speed_hz, server.vm_speed_hz)
        for vm in server.vms:
            meter.server_cost(vm.name, server.name, cost)
    meter.idle_s = cpu_idle_s([d.cpu for d in infra.devices])
    return meter
