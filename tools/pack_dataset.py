"""Pack a folder of `.gv` files into a dataset archive that mecsim reads in place (mecsim/data/).

    python tools/pack_dataset.py SOURCE_FOLDER mecsim/data/NAME.tar.xz

The archive is reproducible: members in sorted order, paths relative to SOURCE_FOLDER, and every
header field that would record this machine (time, owner, mode) fixed, so packing the same files
twice gives the same bytes. Prints the file count and the content digest that mecsim/data/README.md
records (:func:`mecsim.workload.datasets.digest`).
"""
from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

from mecsim.workload.datasets import digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("archive", type=Path)
    args = parser.parse_args()
    files = sorted(p.relative_to(args.source).as_posix() for p in args.source.rglob("*.gv"))
    if not files:
        parser.error(f"source: must hold .gv files, got {str(args.source)!r}")
    contents = {name: (args.source / name).read_bytes() for name in files}
    with tarfile.open(args.archive, "w:xz", format=tarfile.PAX_FORMAT, preset=9) as tar:
        for name in files:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(contents[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(contents[name]))
    print(f"{len(files)} files, {args.archive.stat().st_size} bytes, digest {digest(contents)}")


if __name__ == "__main__":
    main()
