"""One seed, named independent random streams.

Each consumer asks for its stream by name (``streams.get("arrivals")``); the stream is derived from
the seed and the name only, so adding a new consumer never shifts the numbers another one draws.
"""
from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RandomStreams"]


def _key(name: str) -> int:
    """A stable hash of the name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


class RandomStreams:
    """Lazily created ``numpy.random.Generator`` per name, all derived from one integer seed."""

    __slots__ = ("seed", "_streams")

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: must be an integer >= 0, got {seed!r}")
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        stream = self._streams.get(name)
        if stream is None:
            stream = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, _key(name)])))
            self._streams[name] = stream
        return stream
