"""The MRLCO authors' graphs ship inside mecsim (mecsim/data/mrlco.tar.xz) and scenarios name them as
``dataset:mrlco/FOLDER``; a folder of one's own still works the same way."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from mecsim.cli import main
from mecsim.workload import datasets

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "mecsim" / "data"
AUTHORS = ROOT / "scenarios" / "mrlco" / "authors.yaml"
SET8 = "meta_offloading_20/offload_random20_8"


def test_archive_holds_the_layout_its_readme_records():
    folders = datasets.folders("mrlco")
    assert folders == [f"meta_offloading_20/offload_random20_{k}" for k in range(1, 26)] + \
        [f"meta_offloading_n/offload_random{n}" for n in range(10, 55, 5)]
    assert all(len(datasets.files("mrlco", f)) == 100 for f in folders)
    readme = (DATA / "README.md").read_text()
    contents = {m: datasets.read_text("mrlco", m).encode() for f in folders for m in datasets.files("mrlco", f)}
    assert f"`{datasets.digest(contents)}`" in readme           # the README names exactly these bytes
    assert (DATA / "mrlco.tar.xz").stat().st_size <= 2 * 2 ** 20


def test_files_are_in_natural_order_and_the_pattern_matches_names():
    names = [m.rsplit("/", 1)[1] for m in datasets.files("mrlco", SET8)]
    assert names == [f"random.20.{k}.gv" for k in range(100)]
    assert [m.rsplit("/", 1)[1] for m in datasets.files("mrlco", SET8, "random.20.1?.gv")] == \
        [f"random.20.{k}.gv" for k in range(10, 20)]
    assert datasets.parse_ref("dataset:mrlco/a/b/") == ("mrlco", "a/b")
    assert datasets.parse_ref("../data/mrlco") is None


def _apps(folder: Path) -> list[dict[str, str]]:
    with (folder / "apps.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_a_user_folder_of_the_same_files_gives_the_same_run(tmp_path):
    """The reference and a copy of its files on disk: same applications, same numbers; only `source` differs."""
    mine = tmp_path / "graphs"
    mine.mkdir()
    for m in datasets.files("mrlco", SET8, "random.20.?.gv"):
        (mine / m.rsplit("/", 1)[1]).write_text(datasets.read_text("mrlco", m))
    common = ["--controller", "heft", "--quiet", "--no-trace", "--set", "workload.dags.pattern=random.20.?.gv"]
    assert main(["run", str(AUTHORS), "--out", str(tmp_path / "shipped"), *common]) == 0
    assert main(["run", str(AUTHORS), "--out", str(tmp_path / "mine"), *common,
                 "--set", f"workload.dags.folder={mine}"]) == 0
    shipped, own = _apps(tmp_path / "shipped"), _apps(tmp_path / "mine")
    assert len(shipped) == 10
    assert [r["source"] for r in shipped] == [f"dataset:mrlco/{SET8}/random.20.{k}.gv" for k in range(10)]
    assert [r["source"] for r in own] == [str(mine / f"random.20.{k}.gv") for k in range(10)]
    for a, b in zip(shipped, own, strict=True):
        assert {**a, "source": ""} == {**b, "source": ""}


@pytest.mark.parametrize("folder, message", [
    ("dataset:mrclo/x", "workload.dags.folder: must name a data set shipped with mecsim (mrlco) as "
                        "dataset:NAME/FOLDER, got 'mrclo'; did you mean dataset:mrlco/...?"),
    ("dataset:mrlco/offload_random20_12", "workload.dags.folder: must be a folder of data set mrlco "
     "(listed in mecsim/data/README.md), got 'offload_random20_12'; did you mean "
     "dataset:mrlco/meta_offloading_20/offload_random20_12?"),
    ("dataset:mrlco/meta_offloading_n/ofload_random30", "got 'meta_offloading_n/ofload_random30'; did you mean "
     "dataset:mrlco/meta_offloading_n/offload_random30?"),
    ("dataset:mrlco/elsewhere", "must be a folder of data set mrlco (listed in mecsim/data/README.md), "
                                "got 'elsewhere'"),
])
def test_bad_references_fail_in_one_line_with_a_suggestion(folder, message, capsys):
    assert main(["validate", str(AUTHORS), "--set", f"workload.dags.folder={folder}"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"mecsim: error: {AUTHORS}:") and err.endswith(message), err


def test_a_pattern_that_matches_nothing_in_the_set_names_it(capsys):
    assert main(["validate", str(AUTHORS), "--set", "workload.dags.pattern='*.dot'"]) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(r"workload\.dags\.pattern: matches no file in dataset:mrlco/meta_offloading_20/"
                     r"offload_random20_8, got '\*\.dot'$", err), err


def test_shipped_scenarios_name_no_path_outside_the_project():
    for path in (ROOT / "scenarios").rglob("*.yaml"):
        assert "../shared" not in path.read_text(), path
