"""One seed, named independent random streams.

Each consumer asks for its stream by name (``streams.get("arrivals")``); the stream is derived from
the seed and the name only, so adding a new consumer never shifts the numbers another one draws.
Streams wanted by the thousand (one per device) are made together by :meth:`RandomStreams.get_many`,
the same generators at a tenth of the cost.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.random.bit_generator import ISeedSequence

__all__ = ["RandomStreams"]

# numpy.random.SeedSequence (NEP 19; M. O'Neill's seed_seq_fe): pool of 4 words, hash constants.
_POOL = 4
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_MASK = 0xFFFFFFFF


def _key(name: str, nbytes: int = 8) -> int:
    """A stable hash of the name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:nbytes], "little")


def _words(n: int) -> list[int]:
    """A non-negative int as SeedSequence reads it: 32-bit words, least significant first."""
    out = [n & _MASK]
    n >>= 32
    while n:
        out.append(n & _MASK)
        n >>= 32
    return out


def _pcg64_states(entropy: np.ndarray) -> np.ndarray:
    """``SeedSequence(e).generate_state(4, np.uint64)`` for every row e of `entropy` (uint32, at most
    4 words, zero-padded: SeedSequence hashes a missing word as 0), all rows at once."""
    const = _INIT_A

    def hashmix(value: np.ndarray) -> np.ndarray:
        nonlocal const
        value = value ^ np.uint32(const)
        const = (const * _MULT_A) & _MASK
        value = value * np.uint32(const)
        return value ^ (value >> np.uint32(16))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
        return out ^ (out >> np.uint32(16))

    pool = [hashmix(entropy[:, i]) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    const = _INIT_B
    state = np.empty((len(entropy), 2 * _POOL), dtype=np.uint32)
    for i in range(2 * _POOL):
        value = pool[i % _POOL] ^ np.uint32(const)
        const = (const * _MULT_B) & _MASK
        value = value * np.uint32(const)
        state[:, i] = value ^ (value >> np.uint32(16))
    return state.astype("<u4").view("<u8").astype(np.uint64)


class _State(ISeedSequence):
    """A seed sequence whose PCG64 state is already computed (by :func:`_pcg64_states`)."""

    __slots__ = ("state",)

    def __init__(self, state: np.ndarray) -> None:
        self.state = state

    def generate_state(self, n_words: int, dtype: type = np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("only PCG64's 4 uint64 words were computed")
        return self.state


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

    def get_many(self, names: Sequence[str]) -> list[np.random.Generator]:
        """``[get(n) for n in names]``, the same generators, made together: numpy's SeedSequence costs
        ~20 µs a stream, which 10,000 devices' streams turn into a visible part of a run."""
        new = [n for n in dict.fromkeys(names) if n not in self._streams]
        seed = _words(self.seed)
        entropy = [seed + _words(_key(n)) for n in new]
        if any(len(e) > _POOL for e in entropy):    # a seed too long for the pool: the general way
            return [self.get(n) for n in names]
        if new:
            padded = np.array([e + [0] * (_POOL - len(e)) for e in entropy], dtype=np.uint32)
            for n, state in zip(new, _pcg64_states(padded)):
                self._streams[n] = np.random.Generator(np.random.PCG64(_State(state)))
        return [self._streams[n] for n in names]

    def spawn(self, name: str) -> "RandomStreams":
        """A child family (e.g. one per device) that is independent of this one and of its siblings."""
        return RandomStreams(self.seed * 2**32 + _key(name, 4))
