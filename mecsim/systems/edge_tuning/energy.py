"""The edge-tuning system's energy terms (:mod:`mecsim.energy`).

A UE pays its task's transmit power p_u (already drawn per task, HMPPO §VI-A) × the upload's airtime,
``energy.device.rx_w`` × an emulator download's airtime, ``train_w`` × its local fine-tuning time, and
``idle_w`` while it is not fine-tuning. Not accounted: the server (its training runs are timed, any
number at once: it has no utilisation to price), UE batteries.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from mecsim.energy import EnergySpec, Meter, power_cost
from mecsim.trace import TraceRecorder, TraceStream

__all__ = ["TERMS", "build_meter"]

TERMS = ("tx", "rx", "train")


def build_meter(spec: EnergySpec, trace: TraceRecorder | TraceStream, ues: int,
                power_w: Callable[[int], float], training_s: Callable[[int, float], float]) -> Meter:
    """`power_w(n)`: UE n's transmit power now; `training_s(n, t)`: its fine-tuning seconds up to t."""
    names: Sequence[str] = [f"ue{n}" for n in range(ues)]
    meter = Meter(spec, trace, names, TERMS)

    def transmit(device: int, seconds: float, nbytes: float, cycles: float, cut: int) -> float:
        return power_w(device) * seconds
    meter.device_cost("server/uplink", "tx", transmit)
    meter.device_cost("server/downlink", "rx", power_cost(spec.device.rx_w))
    train = power_cost(spec.device.train_w)
    for n in range(ues):
        meter.device_cost(f"ue{n}/gpu", "train", train)
    meter.idle_s = lambda n, t: t - training_s(n, t)
    return meter
