"""Reading and writing the authors' .gv files unchanged, and the errors for broken ones."""
from __future__ import annotations

from pathlib import Path

import pytest

from mecsim.errors import ConfigError
from mecsim.workload.gv import AttributeMap, format_gv, read_gv

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrlco"


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data/mrlco is not beside the repo")
def test_every_authors_file_round_trips_byte_identical():
    files = sorted(DATA.rglob("*.gv"))
    assert len(files) == 3400
    for f in files:
        assert format_gv(read_gv(f)) == f.read_text(), f


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data/mrlco is not beside the repo")
def test_attribute_mapping_and_profiles():
    f = DATA / "meta_offloading_20" / "offload_random20_8" / "random.20.0.gv"
    g = read_gv(f)
    assert g.n == 20 and g.labels[0] == "1"
    assert g.cycles[0] == 52594688 and g.up_bytes[0] == 52594688 and g.down_bytes[0] == 26297344
    assert g.children[0] == (7, 8) and g.parents[8] == (0, 1, 2, 5)
    scaled = read_gv(f, AttributeMap(cycles_factor=2.0, down_bytes="size", down_factor=0.5))
    assert scaled.cycles[0] == 2 * 52594688 and scaled.down_bytes[0] == 52594688 / 2


@pytest.mark.parametrize("text, message", [
    ('digraph G {\n  1 [size="1", expect_size="1"] \n  2 [size="1", expect_size="1"] \n'
     '  1 -> 2 [size ="1"]\n  2 -> 1 [size ="1"]\n}\n', "cycle: 1 -> 2"),
    ('digraph G {\n  1 [size="1"] \n}\n', "task 1 has no attribute 'expect_size'"),
    ('digraph G {\n  1 [size="x", expect_size="1"] \n}\n', "must be a number, got 'x'"),
    ('digraph G {\n  1 [size="1", expect_size="1"] \n  1 -> 3 [size ="1"]\n}\n', "unknown task 3"),
    ('graph G {\n}\n', "expected 'digraph NAME {'"),
    ('digraph G {\n  1 [size="1", expect_size="1"] \n', "no complete"),
])
def test_broken_files_name_file_and_problem(tmp_path, text, message):
    f = tmp_path / "bad.gv"
    f.write_text(text)
    with pytest.raises(ConfigError, match="bad.gv") as err:
        read_gv(f)
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        read_gv(tmp_path / "nope.gv")
