"""Scenario values that may be random, written in YAML as one of:

    3.5                                  constant
    {uniform: [low, high]}               low < high; integer keys draw integers low..high inclusive
    {normal: [mu, sigma]}                sigma >= 0; add ``clip: [lo, hi]`` (null = unbounded side)
    {choice: [v1, v2, ...], p: [...]}    p is optional (equal weights) and must sum to 1
    {poisson: rate}                      integer counts, rate >= 0
    {exponential: mean}                  mean > 0

A normal can take any value, so on a key with a min or max it is rejected unless the YAML clips it
(values outside ``clip`` are set to the bound, not redrawn; `mean` accounts for that). Units are the
caller's business: a distribution only holds numbers, the key that reads it says what they mean.
Sampling takes the caller's ``numpy.random.Generator``; nothing here keeps random state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union, overload

import numpy as np

from mecsim.scenario.checks import REQUIRED, Node, bounds_text, must, number_text, suggest
from mecsim.scenario.source import show

__all__ = ["DISTRIBUTIONS", "Choice", "as_yaml", "Constant", "Distribution", "Exponential", "Normal",
           "Poisson", "Uniform", "read_distribution"]

_INF = math.inf
_SUM_TOLERANCE = 1e-6


def _out(values: Any, size: int | None) -> Any:
    """A Python scalar for ``size=None`` (plain floats/ints are easier to log and compare)."""
    if size is None and isinstance(values, (np.generic, np.ndarray)):
        return values.item()
    return values


@dataclass(frozen=True)
class Constant:
    """Always `value` (an int on integer keys)."""

    value: float

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return self.value if size is None else np.full(size, self.value)

    @property
    def mean(self) -> float:
        return float(self.value)

    def support(self) -> tuple[float, float]:
        return (self.value, self.value)


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high]; with `integer`, each integer low..high equally likely."""

    low: float
    high: float
    integer: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"uniform needs low < high, got [{self.low}, {self.high}]")

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        if self.integer:
            return _out(rng.integers(int(self.low), int(self.high), size=size, endpoint=True),
                        size)
        return _out(rng.uniform(self.low, self.high, size), size)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


def _phi(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi) if math.isfinite(x) else 0.0


def _cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@dataclass(frozen=True)
class Normal:
    """Gaussian, clipped to [low, high] (default unbounded): outside values become the bound."""

    mu: float
    sigma: float
    low: float = -_INF
    high: float = _INF

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise ValueError(f"normal needs sigma >= 0, got {self.sigma}")
        if not self.low < self.high:
            raise ValueError(f"normal clip needs low < high, got [{self.low}, {self.high}]")

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        values = rng.normal(self.mu, self.sigma, size)
        if math.isfinite(self.low) or math.isfinite(self.high):
            values = np.clip(values, self.low, self.high)
        return _out(values, size)

    @property
    def mean(self) -> float:
        """The mean after clipping (equals mu when unclipped)."""
        if self.sigma == 0:
            return min(max(self.mu, self.low), self.high)
        a, b = (self.low - self.mu) / self.sigma, (self.high - self.mu) / self.sigma
        inside = self.mu * (_cdf(b) - _cdf(a)) + self.sigma * (_phi(a) - _phi(b))
        below = self.low * _cdf(a) if math.isfinite(self.low) else 0.0
        above = self.high * (1 - _cdf(b)) if math.isfinite(self.high) else 0.0
        return inside + below + above

    def support(self) -> tuple[float, float]:
        if self.sigma == 0:
            return (self.mean, self.mean)
        return (self.low, self.high)


@dataclass(frozen=True)
class Choice:
    """One of `values`, with probabilities `p` (None = equal); `p` is renormalised to sum to 1."""

    values: tuple[float, ...]
    p: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ValueError("choice needs at least one value")
        if self.p is not None:
            p = tuple(float(x) for x in self.p)
            if len(p) != len(self.values) or min(p) < 0 or abs(sum(p) - 1) > _SUM_TOLERANCE:
                raise ValueError(f"choice p must be {len(self.values)} weights >= 0 summing to "
                                 f"1, got {list(p)}")
            # numpy's own tolerance is tighter than ours.
            object.__setattr__(self, "p", tuple(x / sum(p) for x in p))

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        index = rng.choice(len(self.values), size=size, p=self.p)
        if size is None:
            return self.values[int(index)]
        return np.asarray(self.values)[index]

    @property
    def mean(self) -> float:
        if self.p is None:
            return sum(self.values) / len(self.values)
        return sum(v * w for v, w in zip(self.values, self.p))

    def support(self) -> tuple[float, float]:
        return (min(self.values), max(self.values))


@dataclass(frozen=True)
class Poisson:
    """Integer counts with mean `rate`."""

    rate: float

    def __post_init__(self) -> None:
        if not self.rate >= 0:
            raise ValueError(f"poisson needs rate >= 0, got {self.rate}")

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _out(rng.poisson(self.rate, size), size)

    @property
    def mean(self) -> float:
        return float(self.rate)

    def support(self) -> tuple[float, float]:
        return (0, _INF)


@dataclass(frozen=True)
class Exponential:
    """Exponential with the given `mean` (the scale, 1/rate)."""

    mean: float

    def __post_init__(self) -> None:
        if not self.mean > 0:
            raise ValueError(f"exponential needs mean > 0, got {self.mean}")

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return _out(rng.exponential(self.mean, size), size)

    def support(self) -> tuple[float, float]:
        return (0, _INF)


Distribution = Union[Constant, Uniform, Normal, Choice, Poisson, Exponential]
DISTRIBUTIONS: tuple[str, ...] = ("choice", "exponential", "normal", "poisson", "uniform")
_TYPES = (Constant, Uniform, Normal, Choice, Poisson, Exponential)
_EXTRA_KEYS = {"choice": ("p",), "normal": ("clip",)}


def as_yaml(dist: Distribution) -> Any:
    """`dist` as a scenario file writes it (the inverse of read_distribution), e.g. for a reference."""
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Uniform):
        return {"uniform": [dist.low, dist.high]}
    if isinstance(dist, Normal):
        bounds = [None if math.isinf(b) else b for b in (dist.low, dist.high)]
        return {"normal": [dist.mu, dist.sigma], **({"clip": bounds} if bounds != [None, None] else {})}
    if isinstance(dist, Choice):
        return {"choice": list(dist.values), **({"p": list(dist.p)} if dist.p is not None else {})}
    if isinstance(dist, Poisson):
        return {"poisson": dist.rate}
    return {"exponential": dist.mean}


@overload
def read_distribution(node: Node, key: str | int | None, default: None, *,
                      min: float | None = None, max: float | None = None,
                      integer: bool = False) -> Distribution | None: ...


@overload
def read_distribution(node: Node, key: str | int | None, default: Any = REQUIRED, *,
                      min: float | None = None, max: float | None = None,
                      integer: bool = False) -> Distribution: ...


def read_distribution(node: Node, key: str | int | None, default: Any = REQUIRED, *,
                      min: float | None = None, max: float | None = None,
                      integer: bool = False) -> Distribution | None:
    """Read a constant or a one-key distribution mapping whose every value lies in [min, max].

    A missing key gives `default`: a number becomes a Constant, a Distribution or None is returned
    as is. With `integer`, constants, uniform bounds and choice values must be integers, and
    normal/exponential are rejected.
    """
    target = node if key is None else node.child(key)
    target.note("distribution", default, min=min, max=max, integer=integer)
    if not target.exists():
        if default is REQUIRED:
            raise target.error("is required")
        dist = default if default is None or isinstance(default, _TYPES) else Constant(default)
        if dist is not None:        # for validate --show, as a file would write it
            target.doc.defaults.setdefault(target.path, as_yaml(dist))
        return dist
    value = target.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Constant(_number(target, None, integer, min, max))
    if not isinstance(value, dict):
        kind = "an integer" if integer else "a number"
        raise target.error(f"must be {kind}{bounds_text(min, max)} or a distribution such as "
                           f"{{uniform: [a, b]}}, got {show(value)}")
    names = [k for k in value if k in DISTRIBUTIONS]
    if len(names) > 1:
        raise target.error(f"must name one distribution, got {', '.join(names)} together")
    if not names:
        listed = ", ".join(DISTRIBUTIONS)
        for k in value:
            if k not in ("p", "clip"):
                close = suggest(k, DISTRIBUTIONS)
                hint = f", did you mean {close!r}?" if close else ""
                raise target.error(f"unknown distribution{hint} (allowed: {listed})", k)
        raise target.error(f"must name a distribution ({listed}), got {show(value)}")
    name = names[0]
    target.allow(name, *_EXTRA_KEYS.get(name, ()))
    if integer and name in ("normal", "exponential"):
        raise target.error(f"must give integers, got {show(value)}, which draws real numbers. "
                           "Hint: use uniform, choice or poisson")
    dist = _READERS[name](target, integer, min, max)
    low, high = dist.support()
    if (min is not None and low < min) or (max is not None and high > max):
        hint = ""
        if name == "normal":
            clip = f"[{'null' if min is None else number_text(min)}, {'null' if max is None else number_text(max)}]"
            hint = f". Hint: add clip: {clip}"
        raise target.error(f"must stay{bounds_text(min, max)}, but {name} ranges over "
                           f"{_interval(low, high)}, got {show(value)}{hint}")
    return dist


def _interval(low: float, high: float) -> str:
    left = "(-inf" if low == -_INF else f"[{number_text(low)}"
    right = "inf)" if high == _INF else f"{number_text(high)}]"
    return f"{left}, {right}"


def _number(node: Node, key: str | int | None, integer: bool, min: float | None,
            max: float | None) -> float:
    if integer:
        return node.int(key, min=min, max=max)
    return node.float(key, min=min, max=max)


def _pair(node: Node, name: str, what: str) -> list[Node]:
    raw = node.value[name]
    must(isinstance(raw, list) and len(raw) == 2, node, name, f"must be {what}, got {show(raw)}")
    return node.items(name)


def _uniform(node: Node, integer: bool, min: float | None, max: float | None) -> Uniform:
    low, high = (_number(item, None, integer, min, max) for item in _pair(node, "uniform",
                                                                          "[low, high]"))
    must(low < high, node, "uniform", f"must be [low, high] with low < high, got "
                                      f"{show(node.value['uniform'])}. Hint: write a plain number "
                                      "for a fixed value")
    return Uniform(low, high, integer)


def _normal(node: Node, integer: bool, min: float | None, max: float | None) -> Normal:
    mu_node, sigma_node = _pair(node, "normal", "[mu, sigma]")
    mu, sigma = mu_node.float(None), sigma_node.float(None, min=0)
    low, high = -_INF, _INF
    if node.has("clip"):
        lo_node, hi_node = _pair(node, "clip", "[low, high] (null for no bound)")
        lo, hi = lo_node.float(None, allow_none=True), hi_node.float(None, allow_none=True)
        low = -_INF if lo is None else lo
        high = _INF if hi is None else hi
        must(low < high, node, "clip", f"must be [low, high] with low < high, got "
                                       f"{show(node.value['clip'])}")
    return Normal(mu, sigma, low, high)


def _choice(node: Node, integer: bool, min: float | None, max: float | None) -> Choice:
    values = tuple(_number(item, None, integer, min, max)
                   for item in node.items("choice", min_len=1))
    p = None
    if node.has("p"):
        p = node.float_list("p", length=len(values), min=0)
        must(abs(sum(p) - 1) <= _SUM_TOLERANCE, node, "p",
             f"must sum to 1, got {show(node.value['p'])} (sum {sum(p):g})")
    return Choice(values, p)


def _poisson(node: Node, integer: bool, min: float | None, max: float | None) -> Poisson:
    return Poisson(node.float("poisson", min=0))


def _exponential(node: Node, integer: bool, min: float | None, max: float | None) -> Exponential:
    return Exponential(node.float("exponential", min=0, min_open=True))


_Reader = Callable[[Node, bool, Optional[float], Optional[float]], Distribution]
_READERS: dict[str, _Reader] = {"uniform": _uniform, "normal": _normal, "choice": _choice,
                                "poisson": _poisson, "exponential": _exponential}
