"""Small-scale fading as a piecewise-constant power gain over time.

A fading process tells the simulator two things: the gain now (``gain_at``) and when it next changes
(``next_change_after``), so link rates are recomputed only at block boundaries instead of every tick.
"""
from __future__ import annotations

import math
from typing import Protocol, Union

import numpy as np

__all__ = ["Fading", "NoFading", "RayleighBlockFading", "ergodic_rayleigh_rate_bps"]

ArrayLike = Union[float, np.ndarray]

# Blocks skipped by a long jump are drawn in chunks of this size: the generator advances exactly as if
# they were drawn one by one, but memory stays bounded.
_SKIP_CHUNK = 1 << 16


class Fading(Protocol):
    """What the link model needs from a fading process."""

    def gain_at(self, t: float) -> float: ...

    def next_change_after(self, t: float) -> float: ...


class NoFading:
    """Gain 1 forever: the path-loss-only channel."""

    __slots__ = ()

    def gain_at(self, t: float) -> float:
        return 1.0

    def next_change_after(self, t: float) -> float:
        return math.inf


class RayleighBlockFading:
    """Rayleigh block fading: |h|² ~ Exp(1), constant for ``coherence_s``, independent across blocks.

    Block k covers [start + k·coherence_s, start + (k+1)·coherence_s). Block gains are drawn lazily and
    strictly in block order (one exponential per block, skipped blocks included), so a seed gives the
    same gain sequence whatever times are queried. Only the current block is kept, hence queries must
    not go back to an earlier block. The current block's bounds are kept too: a station asks for the
    gain and the next change at every update, mostly within the block it asked about last.
    """

    __slots__ = ("coherence_s", "start", "_rng", "_block", "_gain", "_lo", "_hi")

    def __init__(self, coherence_s: float, rng: np.random.Generator, start: float = 0.0) -> None:
        if not (isinstance(coherence_s, (int, float, np.floating, np.integer))
                and math.isfinite(coherence_s) and coherence_s > 0):
            raise ValueError(f"coherence_s: must be finite and > 0, got {coherence_s!r}")
        if not (isinstance(start, (int, float, np.floating, np.integer)) and math.isfinite(start)):
            raise ValueError(f"start: must be finite, got {start!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
        self.coherence_s = float(coherence_s)
        self.start = float(start)
        self._rng = rng
        self._block = -1  # no block drawn yet
        self._gain = math.nan
        self._lo = self._hi = math.nan    # [start + k·T, start + (k+1)·T) of the current block k

    def block_index(self, t: float) -> int:
        """Index k with start + k·T <= t < start + (k+1)·T, exact in float arithmetic."""
        if not math.isfinite(t) or t < self.start:
            raise ValueError(f"t: must be finite and >= start ({self.start!r}), got {t!r}")
        k = math.floor((t - self.start) / self.coherence_s)
        # Division can round across a boundary; fix so gain_at(next_change_after(t)) is the next block.
        while self.start + (k + 1) * self.coherence_s <= t:
            k += 1
        while k > 0 and self.start + k * self.coherence_s > t:
            k -= 1
        return k

    def gain_at(self, t: float) -> float:
        """Power gain of the block containing ``t`` (mean 1; multiply by the path gain)."""
        if self._lo <= t < self._hi:       # the current block: block_index(t) would give it
            return self._gain
        k = self.block_index(t)
        if k < self._block:
            raise ValueError(f"t: block {k} is before the current block {self._block}; "
                             f"queries must not go back in time, got {t!r}")
        skip = k - self._block - 1  # blocks strictly between the current one and k
        while skip > 0:
            n = min(skip, _SKIP_CHUNK)
            self._rng.standard_exponential(n)
            skip -= n
        if k > self._block:
            self._gain = float(self._rng.standard_exponential())
            self._block = k
            self._lo = self.start + k * self.coherence_s
            self._hi = self.start + (k + 1) * self.coherence_s
        return self._gain

    def next_change_after(self, t: float) -> float:
        """The first block boundary strictly after ``t``."""
        if self._lo <= t < self._hi:
            return self._hi
        return self.start + (self.block_index(t) + 1) * self.coherence_s


def ergodic_rayleigh_rate_bps(bandwidth_hz: ArrayLike, mean_snr: ArrayLike) -> ArrayLike:
    """B·E[log2(1 + snr·X)], X ~ Exp(1): the long-run rate of a fast-fading Rayleigh link.

    Closed form B/ln2 · e^{1/snr} · E1(1/snr). For 1/snr > 50 the product over/underflows, so the
    asymptotic series e^x E1(x) ≈ (1/x)·Σ (-1)^k k!/x^k is used instead (relative error < 1e-10).
    """
    from scipy.special import exp1    # here, not at the top: importing scipy.special is slow (BENCHMARKS.md)

    b = np.asarray(bandwidth_hz, dtype=float)
    s = np.asarray(mean_snr, dtype=float)
    bad_b = ~np.isfinite(b) | (b <= 0)
    if bad_b.any():
        raise ValueError(f"bandwidth_hz: must be finite and > 0, got {float(b[bad_b].flat[0])!r}")
    bad_s = np.isnan(s) | (s < 0)
    if bad_s.any():
        raise ValueError(f"mean_snr: must be >= 0 (linear, not dB), got {float(s[bad_s].flat[0])!r}")
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        x = 1.0 / s
        direct = np.exp(np.minimum(x, 50.0)) * exp1(np.minimum(x, 50.0))
        series = np.zeros_like(x)
        term = 1.0 / x
        for k in range(10):
            series = series + term
            term = -term * (k + 1) / x
        ex_e1 = np.where(x <= 50.0, direct, series)
        ex_e1 = np.where(s == 0, 0.0, np.where(np.isinf(s), np.inf, ex_e1))
    out = b / math.log(2.0) * ex_e1
    return float(out) if out.ndim == 0 else out
