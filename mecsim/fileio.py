"""Atomic output files: a reader never sees a half-written file, a crash never leaves one."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_write", "atomic_write_text", "publish", "temp_beside"]


def temp_beside(path: str | os.PathLike) -> tuple[int, str]:
    """(fd, name) of a new temporary file next to `path`: the same file system, so :func:`publish`'s
    rename is atomic."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)


def publish(tmp: str, path: str | os.PathLike) -> None:
    """Move a finished temporary file over `path`, with the mode open() would have given it
    (mkstemp makes 0600)."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file next to `path`; rename it over `path` only if the block succeeds."""
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        publish(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
