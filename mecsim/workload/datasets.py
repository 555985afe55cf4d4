"""Data sets shipped with mecsim: one compressed archive each in ``mecsim/data/``, read in place.

A scenario names a folder of a data set as ``dataset:NAME/FOLDER`` wherever it would name a folder
of ``.gv`` files (``workload.dags.folder``), e.g. ``dataset:mrlco/meta_offloading_20/offload_random20_8``;
FOLDER is the path inside the archive (``mecsim/data/README.md`` gives each set's layout and source).
The archive is a ``.tar.xz``: one stream compresses thousands of small, similar files far better
than a zip, which compresses each member alone. An xz stream has no index, so the first use in a
process decompresses the archive whole into memory and later reads are served from there; nothing
is extracted to disk.
"""
from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import tarfile
from functools import cache
from importlib import resources
from typing import Mapping

from mecsim.naming import natural_key
from mecsim.workload.gv import AttributeMap, parse_gv
from mecsim.workload.taskgraph import TaskGraph

__all__ = ["PREFIX", "DATASETS", "parse_ref", "folders", "files", "read_text", "read_graphs", "digest"]

PREFIX = "dataset:"
DATASETS: Mapping[str, str] = {"mrlco": "mrlco.tar.xz"}    # name -> archive in mecsim/data/


def parse_ref(text: str) -> tuple[str, str] | None:
    """``dataset:NAME/FOLDER`` -> (NAME, FOLDER without trailing slashes); None for any other text."""
    if not text.startswith(PREFIX):
        return None
    name, _, folder = text[len(PREFIX):].partition("/")
    return name, folder.strip("/")


@cache
def _members(name: str) -> dict[str, bytes]:
    """Every file of data set `name` (a key of DATASETS), by its path inside the archive."""
    with resources.files("mecsim").joinpath("data", DATASETS[name]).open("rb") as raw, \
            tarfile.open(fileobj=raw, mode="r:xz") as tar:
        return {m.name: _read(tar, m) for m in tar if m.isfile()}


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    assert handle is not None                    # a regular file always has content to extract
    return handle.read()


def folders(name: str) -> list[str]:
    """The folders of data set `name` that hold files, in natural order."""
    return sorted({posixpath.dirname(m) for m in _members(name)}, key=natural_key)


def files(name: str, folder: str, pattern: str = "*.gv") -> list[str]:
    """The archive paths of the files directly in `folder` whose name matches `pattern`, natural order."""
    found = [m for m in _members(name)
             if posixpath.dirname(m) == folder and fnmatch.fnmatchcase(posixpath.basename(m), pattern)]
    return sorted(found, key=lambda m: natural_key(posixpath.basename(m)))


def read_text(name: str, member: str) -> str:
    return _members(name)[member].decode("utf-8")


def read_graphs(name: str, folder: str, pattern: str = "*.gv",
                attributes: AttributeMap = AttributeMap()) -> list[tuple[str, TaskGraph]]:
    """(source, graph) for each file :func:`files` lists; source = ``dataset:NAME/PATH``, as scenarios name it."""
    sources = [(f"{PREFIX}{name}/{m}", m) for m in files(name, folder, pattern)]
    return [(source, parse_gv(read_text(name, m), source, attributes)) for source, m in sources]


def digest(contents: Mapping[str, bytes]) -> str:
    """sha256 over (path, size, bytes) of every file in path order: names the content, not the packing."""
    h = hashlib.sha256()
    for path in sorted(contents):
        h.update(f"{path}\0{len(contents[path])}\0".encode())
        h.update(contents[path])
    return h.hexdigest()
