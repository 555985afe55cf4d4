"""Names sorted as people read them: ``device2`` before ``device10``, ``random.20.9.gv`` before ``random.20.10.gv``."""
from __future__ import annotations

import re

__all__ = ["natural_key"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """A sort key; the raw name breaks ties such as ``dev01`` vs ``dev1``, so the order is total."""
    parts = _DIGITS.split(name)
    # split() alternates text, digits, text...; odd positions are always digit runs.
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name
