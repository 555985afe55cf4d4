"""Reading and writing the authors' .gv files unchanged, and the errors for broken ones."""
from __future__ import annotations

import pytest

from mecsim.errors import ConfigError
from mecsim.workload import datasets
from mecsim.workload.gv import AttributeMap, format_gv, parse_gv, read_gv

SET8_FIRST = "meta_offloading_20/offload_random20_8/random.20.0.gv"   # in the shipped mrlco archive


def test_every_authors_file_round_trips_byte_identical():
    members = [m for folder in datasets.folders("mrlco") for m in datasets.files("mrlco", folder)]
    assert len(members) == 3400
    for m in members:
        text = datasets.read_text("mrlco", m)
        assert format_gv(parse_gv(text, m)) == text, m


def test_attribute_mapping_and_profiles(tmp_path):
    f = tmp_path / "random.20.0.gv"
    f.write_text(datasets.read_text("mrlco", SET8_FIRST))
    g = read_gv(f)
    assert g.n == 20 and g.labels[0] == "1" and g.name == "random.20.0"
    assert g.cycles[0] == 52594688 and g.up_bytes[0] == 52594688 and g.down_bytes[0] == 26297344
    assert g.children[0] == (7, 8) and g.parents[8] == (0, 1, 2, 5)
    scaled = read_gv(f, AttributeMap(cycles_factor=2.0, down_bytes="size", down_factor=0.5))
    assert scaled.cycles[0] == 2 * 52594688 and scaled.down_bytes[0] == 52594688 / 2
    assert parse_gv(datasets.read_text("mrlco", SET8_FIRST), SET8_FIRST, AttributeMap(cycles_factor=2.0)) \
        .cycles.tolist() == (2 * g.cycles).tolist()


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
