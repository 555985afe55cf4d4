"""Engine fast paths give exactly what the general code gives: fading blocks."""
from __future__ import annotations

import numpy as np

from mecsim.net.fading import RayleighBlockFading


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
