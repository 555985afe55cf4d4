"""Engine fast paths give exactly what the general code gives: batched random streams, fading blocks."""
from __future__ import annotations

import numpy as np
import pytest

from mecsim.net.fading import RayleighBlockFading
from mecsim.rng import RandomStreams, _pcg64_states


def test_batched_states_equal_numpy_seed_sequence_on_random_entropy():
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(300):
        words = [int(w) for w in rng.integers(0, 2**32, int(rng.integers(1, 5)), dtype=np.uint64)]
        if rng.random() < 0.3:
            words[int(rng.integers(len(words)))] = 0          # zero words are entropy too
        rows.append(words)
    fast = _pcg64_states(np.array([w + [0] * (4 - len(w)) for w in rows], dtype=np.uint32))
    for words, state in zip(rows, fast):
        # a list of ints below 2**32: SeedSequence takes each as one 32-bit word of entropy
        assert np.array_equal(state, np.random.SeedSequence(words).generate_state(4, np.uint64))


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1, 2**32 + 3, 123456789012, 2**70 + 1])
def test_get_many_gives_the_streams_of_get(seed):
    names = [f"arrivals/{d}" for d in range(50)] + ["placement", "arrivals/3"]
    one, many = RandomStreams(seed), RandomStreams(seed)
    expected = [one.get(n) for n in names]
    got = many.get_many(names)
    assert got[3] is got[-1] and many.get("placement") is got[-2]
    for a, b in zip(expected, got):
        assert np.array_equal(a.random(4), b.random(4)) and a.exponential(2.0) == b.exponential(2.0)
    assert many.get_many([]) == []


def test_fading_remembers_its_block_and_gives_what_block_index_gives():
    """gain_at / next_change_after answer from the current block's bounds; they must equal the
    arithmetic of block_index at any time, boundaries included."""
    coherence, start = 0.1, 0.3
    fading = RayleighBlockFading(coherence, np.random.default_rng(5), start)
    draws = np.random.default_rng(5).standard_exponential(200)    # block k's gain is the k-th draw
    rng = np.random.default_rng(6)
    bounds = [start + k * coherence for k in range(150)]
    times = np.sort(np.concatenate([start + rng.uniform(0, 14, 400), bounds, np.nextafter(bounds, 0)]))
    for t in times[times >= start].tolist():
        k = fading.block_index(t)
        assert fading.gain_at(t) == draws[k]
        assert fading.next_change_after(t) == start + (k + 1) * coherence
        assert fading.gain_at(t) == draws[k]       # asked twice: answered from the remembered block
