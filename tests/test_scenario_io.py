"""Scenario input layer: YAML positions, typed checks with exact messages, overrides, distributions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mecsim.errors import ConfigError
from mecsim.scenario.checks import MISSING, REQUIRED, Node, must, suggest
from mecsim.scenario.distributions import (Choice, Constant, Exponential, Normal, Poisson, Uniform,
                                           read_distribution)
from mecsim.scenario.source import (Document, apply_overrides, format_path, load_yaml, parse_yaml,
                                    show)

SCENARIO = """\
# a comment line
name: demo
seed: 7
servers:
  - cores: 4
    speed_hz: 2.4e9
    discipline: fifo
  - cores: 0
    speed_hz: 1.0e+9
    load: 1.5
devices:
  cpu:
    cores: 2
    disciplin: parallel
links: [10, 20.5]
flags: {on: true}
"""


@pytest.fixture
def doc() -> Document:
    return parse_yaml(SCENARIO, "scenarios/x.yaml")


@pytest.fixture
def root(doc: Document) -> Node:
    return Node(doc)


def message(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


# --- source: lines, paths, loading ---------------------------------------------------------------

def test_lines_of_nested_keys_and_list_items(doc: Document) -> None:
    assert doc.lines[("name",)] == 2
    assert doc.lines[("servers",)] == 4
    assert doc.lines[("servers", 0)] == 5
    assert doc.lines[("servers", 1, "cores")] == 8
    assert doc.lines[("servers", 1, "load")] == 10
    assert doc.lines[("devices", "cpu", "disciplin")] == 14
    assert doc.lines[("links", 1)] == 15


def test_line_falls_back_to_nearest_ancestor(doc: Document) -> None:
    assert doc.line(("servers", 1, "absent", "deeper")) == 8
    assert doc.line(("devices", "gpu")) == 11
    assert doc.line(("nowhere",)) == 2  # the root: first line with content


def test_data_follows_safe_load_and_reads_exponent_floats(doc: Document) -> None:
    assert doc.data["servers"][0] == {"cores": 4, "speed_hz": 2.4e9, "discipline": "fifo"}
    assert doc.data["servers"][1]["speed_hz"] == 1e9
    assert doc.data["links"] == [10, 20.5]
    assert doc.data["flags"] == {"on": True}  # YAML 1.1 would make the key `on` a boolean
    assert parse_yaml("a: 1e9\nb: '1e9'\nc: 1_000\n").data == {"a": 1e9, "b": "1e9", "c": 1000}


def test_format_path_and_show() -> None:
    assert format_path(("servers", 0, "cores")) == "servers[0].cores"
    assert format_path((0, "a")) == "[0].a"
    assert format_path(()) == ""
    assert show("fifo") == "'fifo'"
    assert show([1, None, True, 2.5]) == "[1, null, true, 2.5]"
    assert show({"uniform": [1, 2]}) == "{uniform: [1, 2]}"
    assert show(math.inf) == ".inf"
    assert show("x" * 200).endswith("...") and len(show("x" * 200)) == 80


def test_document_error_formats_file_line_path(doc: Document) -> None:
    err = doc.error(("servers", 1, "cores"), "must be an integer >= 1, got 0")
    assert str(err) == "scenarios/x.yaml:8: servers[1].cores: must be an integer >= 1, got 0"
    assert (err.file, err.line, err.path) == ("scenarios/x.yaml", 8, "servers[1].cores")


def test_duplicate_key_is_rejected_with_both_lines() -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", "dup.yaml")
    assert message(excinfo) == ("dup.yaml:4: b.c: keys must be unique, got 'c' again "
                                "(first on line 3). Hint: keep one of them")


def test_merge_keys_may_be_overridden_without_a_duplicate_error() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nserver:\n  <<: *b\n  y: 3\n")
    assert doc.data["server"] == {"x": 1, "y": 3}
    assert doc.lines[("server", "y")] == 4


def test_yaml_syntax_error_gives_file_and_line() -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    assert excinfo.value.file == "bad.yaml" and excinfo.value.line == 3
    assert message(excinfo).startswith("bad.yaml:3: must be valid YAML, got an error: ")


def test_tab_indentation_gets_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"^t\.yaml:2: .*Hint: YAML indents with spaces"):
        parse_yaml("a:\n\tb: 1\n", "t.yaml")


@pytest.mark.parametrize("text, got", [("- 1\n- 2\n", "[1, 2]"), ("", "null"), ("3\n", "3")])
def test_top_level_must_be_a_mapping(text: str, got: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_yaml(text, "top.yaml")
    assert message(excinfo) == f"top.yaml:1: the top level must be a mapping of keys to values, got {got}"


def test_self_referencing_alias_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"^s\.yaml:1: a\[0\]: must not contain an alias to itself"):
        parse_yaml("a: &x [*x]\n", "s.yaml")


def test_load_yaml_reads_a_file_and_reports_missing_ones(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: a\r\nservers:\r\n  - cores: 2\r\n")
    doc = load_yaml(path)
    assert doc.file == str(path)
    assert doc.data == {"name": "a", "servers": [{"cores": 2}]}
    assert doc.lines[("servers", 0, "cores")] == 3
    with pytest.raises(ConfigError) as excinfo:
        load_yaml(tmp_path / "nope.yaml")
    assert message(excinfo).startswith(f"{tmp_path / 'nope.yaml'}: file not found")


def test_load_yaml_rejects_non_utf8_with_line(tmp_path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin\.yaml:2: must be UTF-8 text, got byte 0xe9"):
        load_yaml(path)


# --- overrides ----------------------------------------------------------------------------------

def test_override_int_in_list_item_keeps_the_line(doc: Document) -> None:
    new = apply_overrides(doc, ["servers.1.cores=16"])
    assert new.data["servers"][1]["cores"] == 16
    assert doc.data["servers"][1]["cores"] == 0  # the original is untouched
    assert new.line(("servers", 1, "cores")) == 8
    with pytest.raises(ConfigError, match=r"^scenarios/x\.yaml:8: servers\[1\]\.cores: "):
        Node(new).items("servers")[1].int("cores", max=8)


def test_override_with_a_flow_list_drops_stale_sub_lines(doc: Document) -> None:
    new = apply_overrides(doc, ["links=[1, 2, 3]", "servers=[]"])
    assert new.data["links"] == [1, 2, 3]
    assert new.data["servers"] == []
    assert ("servers", 1, "cores") not in new.lines
    assert new.line(("links", 2)) == 15


def test_override_creates_new_keys_and_parses_scalars(doc: Document) -> None:
    new = apply_overrides(doc, ["name=other", "extra.deep.flag=true", "seed=9", "devices.cpu.cores=2.5"])
    assert new.data["name"] == "other"
    assert new.data["extra"] == {"deep": {"flag": True}}
    assert new.data["seed"] == 9
    assert new.data["devices"]["cpu"]["cores"] == 2.5
    assert new.line(("extra", "deep", "flag")) == 2  # no line of its own: falls back to the root


@pytest.mark.parametrize("item, expected", [
    ("servers.0.cores", "--set servers.0.cores: must be KEY=VALUE, e.g. servers.0.cores=4"),
    ("=4", "--set =4: must be KEY=VALUE, e.g. servers.0.cores=4"),
    ("a..b=1", "--set a..b=1: key path must be dot-separated names, got 'a..b'"),
    ("servers.5.cores=1", "--set servers.5.cores=1: servers has 2 items, so the index must be "
                          "below 2, got 5"),
    ("servers.first=1", "--set servers.first=1: servers is a list, so 'first' must be an index 0..1"),
    ("name.x=1", "--set name.x=1: name must be a mapping or a list to set keys under it, got 'demo'"),
])
def test_override_bad_syntax_names_the_item(doc: Document, item: str, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        apply_overrides(doc, [item])
    assert message(excinfo) == expected


def test_override_value_that_is_not_yaml(doc: Document) -> None:
    with pytest.raises(ConfigError, match=r"^--set links=\[1, 2: value must be valid YAML, got an error"):
        apply_overrides(doc, ["links=[1, 2"])


# --- checks: each accessor's message ------------------------------------------------------------

def test_int_message_and_bool_is_not_an_int(root: Node) -> None:
    server = root.items("servers")[1]
    with pytest.raises(ConfigError) as excinfo:
        server.int("cores", min=1)
    assert message(excinfo) == "scenarios/x.yaml:8: servers[1].cores: must be an integer >= 1, got 0"
    assert root.items("servers")[0].int("cores", min=1, max=8) == 4
    with pytest.raises(ConfigError, match=r"flags\.on: must be an integer, got true$"):
        root.mapping("flags").int("on")


def test_int_rejects_integral_float_with_hint(root: Node) -> None:
    with pytest.raises(ConfigError) as excinfo:
        root.items("servers")[0].int("speed_hz")
    assert message(excinfo) == ("scenarios/x.yaml:6: servers[0].speed_hz: must be an integer, got "
                                "2400000000.0. Hint: write 2400000000, without a decimal point or "
                                "exponent")


def test_float_bounds_message(root: Node) -> None:
    server = root.items("servers")[1]
    with pytest.raises(ConfigError) as excinfo:
        server.float("load", min=0, max=1, min_open=True)
    assert message(excinfo) == "scenarios/x.yaml:10: servers[1].load: must be a number in (0, 1], got 1.5"
    assert server.float("load", min=0, max=1.5) == 1.5
    assert isinstance(root.float("seed"), float)
    with pytest.raises(ConfigError, match=r"load: must be a number < 1\.5, got 1\.5$"):
        server.float("load", max=1.5, max_open=True)


@pytest.mark.parametrize("text, expected", [
    ("x: .nan", "must be a number, got .nan"),
    ("x: .inf", "must be a number, got .inf"),
    ("x: '2'", "must be a number, got '2'. Hint: write numbers without quotes"),
    ("x: null", "must be a number, got null"),
])
def test_float_rejects_non_finite_and_non_numbers(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Node(parse_yaml(text, "f.yaml")).float("x")
    assert message(excinfo) == f"f.yaml:1: x: {expected}"


def test_float_allow_none_and_defaults(root: Node) -> None:
    node = Node(parse_yaml("x: null\ny: s\n"))
    assert node.float("x", allow_none=True) is None
    with pytest.raises(ConfigError, match=r"y: must be a number >= 0 or null, got 's'$"):
        node.float("y", min=0, allow_none=True)
    assert root.float("absent", 2.5) == 2.5
    assert root.float("absent", None) is None


def test_required_message(root: Node) -> None:
    with pytest.raises(ConfigError) as excinfo:
        root.items("servers")[1].str("discipline")
    assert message(excinfo) == "scenarios/x.yaml:8: servers[1].discipline: is required"
    with pytest.raises(ConfigError, match=r"^scenarios/x\.yaml:11: devices\.gpu\.cores: is required$"):
        root.mapping("devices").mapping("gpu", {}).int("cores")


def test_str_choices_did_you_mean(root: Node) -> None:
    node = Node(parse_yaml("d: fifoo\ne: zzz\nf: 3\n", "c.yaml"))
    with pytest.raises(ConfigError) as excinfo:
        node.str("d", choices=["fifo", "parallel"])
    assert message(excinfo) == ("c.yaml:1: d: must be one of 'fifo', 'parallel', got 'fifoo'; "
                                "did you mean 'fifo'?")
    with pytest.raises(ConfigError, match=r"e: must be one of 'fifo', 'parallel', got 'zzz'$"):
        node.str("e", choices=["fifo", "parallel"])
    with pytest.raises(ConfigError, match=r"f: must be a string, got 3$"):
        node.str("f")
    assert root.items("servers")[0].str("discipline", choices=("fifo", "parallel")) == "fifo"
    assert root.str("absent", "fifo", choices=("fifo",)) == "fifo"


def test_allow_unknown_key_did_you_mean(root: Node) -> None:
    cpu = root.mapping("devices").mapping("cpu")
    with pytest.raises(ConfigError) as excinfo:
        cpu.allow("cores", "speed_hz", "discipline")
    assert message(excinfo) == ("scenarios/x.yaml:14: devices.cpu.disciplin: unknown key, did you mean "
                                "'discipline'? (allowed: cores, discipline, speed_hz)")
    with pytest.raises(ConfigError) as excinfo:
        root.allow("name", "seed")
    assert message(excinfo) == "scenarios/x.yaml:4: servers: unknown key (allowed: name, seed)"
    assert cpu.allow("cores", "disciplin") is cpu
    assert root.child("absent").allow("a") is not None  # a missing section has nothing to reject


def test_bool_mapping_items_and_float_list_messages(root: Node) -> None:
    with pytest.raises(ConfigError, match=r"^scenarios/x\.yaml:2: name: must be true or false, got 'demo'$"):
        root.bool("name")
    assert root.mapping("flags").bool("on") is True
    with pytest.raises(ConfigError) as excinfo:
        root.mapping("links")
    assert message(excinfo) == "scenarios/x.yaml:15: links: must be a mapping, got [10, 20.5]"
    with pytest.raises(ConfigError, match=r"name: must be a list, got 'demo'$"):
        root.items("name")
    with pytest.raises(ConfigError, match=r"links: must be a list of at least 3 items, got \[10, 20\.5\]$"):
        root.items("links", min_len=3)
    with pytest.raises(ConfigError, match=r"links: must be a list of 3 numbers, got \[10, 20\.5\]$"):
        root.float_list("links", length=3)
    with pytest.raises(ConfigError, match=r"^scenarios/x\.yaml:15: links\[0\]: must be a number >= 15, got 10$"):
        root.float_list("links", min=15)
    assert root.float_list("links", length=2) == (10.0, 20.5)
    assert root.float_list("absent", (1, 2)) == (1.0, 2.0)


def test_items_give_child_nodes_with_paths(root: Node) -> None:
    servers = root.items("servers", min_len=1)
    assert [s.path for s in servers] == [("servers", 0), ("servers", 1)]
    assert [s.int("cores") for s in servers] == [4, 0]
    links = root.items("links")
    assert links[1].float(None) == 20.5  # key None reads the node itself
    assert root.items("absent", []) == []


def test_child_missing_and_wrong_container(root: Node) -> None:
    absent = root.child("absent").child("deeper")
    assert absent.value is MISSING and not absent.exists()
    assert absent.int("x", 3) == 3
    assert root.has("seed") and not root.has("absent")
    with pytest.raises(ConfigError, match=r"^scenarios/x\.yaml:3: seed: must be a mapping, got 7$"):
        root.child("seed").child("x")
    with pytest.raises(ConfigError, match=r"name: must be a list, got 'demo'$"):
        root.child("name").child(0)
    assert Node(root.doc, ("devices", "cpu")).int("cores") == 2


def test_must_and_suggest(root: Node) -> None:
    server = root.items("servers")[0]
    must(True, server, "cores", "never raised")
    with pytest.raises(ConfigError) as excinfo:
        must(False, server, "cores", "must be <= 2, got 4")
    assert message(excinfo) == "scenarios/x.yaml:5: servers[0].cores: must be <= 2, got 4"
    assert suggest("FIFO", ["fifo", "lifo"]) == "fifo"
    assert suggest("qqq", ["fifo"]) is None
    assert repr(REQUIRED) == "REQUIRED"


# --- distributions ------------------------------------------------------------------------------

DISTS = """\
c: 3.5
u: {uniform: [1, 4]}
n: {normal: [5, 2]}
nc: {normal: [1, 2], clip: [0, null]}
ch: {choice: [1, 2, 8], p: [0.5, 0.25, 0.25]}
po: {poisson: 3}
ex: {exponential: 2}
"""


@pytest.fixture
def dists() -> Node:
    return Node(parse_yaml(DISTS, "d.yaml"))


def test_reads_each_distribution(dists: Node) -> None:
    assert read_distribution(dists, "c") == Constant(3.5)
    assert read_distribution(dists, "u") == Uniform(1.0, 4.0)
    assert read_distribution(dists, "u", integer=True) == Uniform(1, 4, integer=True)
    assert read_distribution(dists, "n") == Normal(5.0, 2.0)
    assert read_distribution(dists, "nc", min=0) == Normal(1.0, 2.0, 0.0, math.inf)
    assert read_distribution(dists, "ch", integer=True) == Choice((1, 2, 8), (0.5, 0.25, 0.25))
    assert read_distribution(dists, "po", integer=True) == Poisson(3.0)
    assert read_distribution(dists, "ex", min=0) == Exponential(2.0)
    assert read_distribution(dists, "absent", 2) == Constant(2)
    assert read_distribution(dists, "absent", Poisson(1.0)) == Poisson(1.0)
    assert read_distribution(dists, "absent", None) is None


@pytest.mark.parametrize("key, kwargs", [
    ("c", {}), ("u", {}), ("u", {"integer": True}), ("n", {}), ("nc", {"min": 0}),
    ("ch", {"integer": True}), ("po", {"integer": True}), ("ex", {}),
])
def test_samples_lie_in_support_and_are_deterministic(dists: Node, key: str, kwargs: dict) -> None:
    dist = read_distribution(dists, key, **kwargs)
    lo, hi = dist.support()
    draws = dist.sample(np.random.default_rng(42), 2000)
    assert draws.shape == (2000,)
    assert np.all(draws >= lo) and np.all(draws <= hi)
    again = dist.sample(np.random.default_rng(42), 2000)
    np.testing.assert_array_equal(draws, again)
    assert abs(draws.mean() - dist.mean) < 0.25  # loose: catches a wrong parameterisation
    one = dist.sample(np.random.default_rng(1))
    assert isinstance(one, (int, float)) and lo <= one <= hi
    if kwargs.get("integer"):
        assert np.issubdtype(draws.dtype, np.integer) and isinstance(one, int)


def test_distribution_properties(dists: Node) -> None:
    assert Uniform(1, 3, integer=True).support() == (1, 3)
    assert set(Uniform(1, 3, integer=True).sample(np.random.default_rng(0), 500)) == {1, 2, 3}
    assert Normal(0.0, 1.0).support() == (-math.inf, math.inf)
    assert Normal(0.0, 1.0, low=0.0).mean == pytest.approx(1 / math.sqrt(2 * math.pi))
    clipped = Normal(0.5, 1.0, low=-0.5, high=1.0)  # clipping moves the mean off mu
    draws = clipped.sample(np.random.default_rng(3), 200_000)
    assert clipped.mean == pytest.approx(draws.mean(), abs=0.005)
    assert abs(clipped.mean - 0.5) > 0.05
    assert Choice((1, 2, 8), (0.5, 0.25, 0.25)).mean == pytest.approx(3.0)
    assert Choice((1, 3)).mean == 2
    assert Poisson(3.0).support() == (0, math.inf)
    with pytest.raises(ValueError):
        Uniform(2, 1)
    with pytest.raises(ValueError):
        Choice((1, 2), (0.5, 0.6))


@pytest.mark.parametrize("text, kwargs, expected", [
    ("x: {uniform: [-1, 2]}", {"min": 0}, "x.uniform[0]: must be a number >= 0, got -1"),
    ("x: {uniform: [2, 1]}", {}, "x.uniform: must be [low, high] with low < high, got [2, 1]. "
                                 "Hint: write a plain number for a fixed value"),
    ("x: {uniform: 3}", {}, "x.uniform: must be [low, high], got 3"),
    ("x: {uniform: [1.5, 3]}", {"integer": True}, "x.uniform[0]: must be an integer, got 1.5"),
    ("x: {normal: [1, -1]}", {}, "x.normal[1]: must be a number >= 0, got -1"),
    ("x: {normal: [5, 1]}", {"min": 0}, "x: must stay >= 0, but normal ranges over (-inf, inf), "
                                        "got {normal: [5, 1]}. Hint: add clip: [0, null]"),
    ("x: {normal: [5, 1], clip: [-1, 9]}", {"min": 0, "max": 10},
     "x: must stay in [0, 10], but normal ranges over [-1, 9], got {normal: [5, 1], clip: [-1, 9]}. "
     "Hint: add clip: [0, 10]"),
    ("x: {normal: [5, 1]}", {"integer": True}, "x: must give integers, got {normal: [5, 1]}, which "
                                               "draws real numbers. Hint: use uniform, choice or poisson"),
    ("x: {choice: [1, 2], p: [0.5, 0.6]}", {}, "x.p: must sum to 1, got [0.5, 0.6] (sum 1.1)"),
    ("x: {choice: [1, 2], p: [1]}", {}, "x.p: must be a list of 2 numbers, got [1]"),
    ("x: {choice: []}", {}, "x.choice: must be a list of at least 1 item, got []"),
    ("x: {choice: [1, -2]}", {"min": 0}, "x.choice[1]: must be a number >= 0, got -2"),
    ("x: {poisson: -1}", {}, "x.poisson: must be a number >= 0, got -1"),
    ("x: {poisson: 2}", {"max": 10}, "x: must stay <= 10, but poisson ranges over [0, inf), "
                                     "got {poisson: 2}"),
    ("x: {exponential: 0}", {}, "x.exponential: must be a number > 0, got 0"),
    ("x: {unifrom: [1, 2]}", {}, "x.unifrom: unknown distribution, did you mean 'uniform'? "
                                 "(allowed: choice, exponential, normal, poisson, uniform)"),
    ("x: {uniform: [1, 2], p: [1]}", {}, "x.p: unknown key (allowed: uniform)"),
    ("x: {uniform: [1, 2], normal: [1, 1]}", {}, "x: must name one distribution, got uniform, normal "
                                                 "together"),
    ("x: fast", {"min": 0}, "x: must be a number >= 0 or a distribution such as {uniform: [a, b]}, "
                            "got 'fast'"),
    ("x: -3", {"min": 0}, "x: must be a number >= 0, got -3"),
    ("x: 2.5", {"integer": True}, "x: must be an integer, got 2.5"),
])
def test_distribution_validation_messages(text: str, kwargs: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        read_distribution(Node(parse_yaml(text, "d.yaml")), "x", **kwargs)
    assert message(excinfo) == f"d.yaml:1: {expected}"


def test_distribution_required(dists: Node) -> None:
    with pytest.raises(ConfigError, match=r"^d\.yaml:1: size: is required$"):
        read_distribution(dists, "size")


def test_unknown_system_is_named_with_a_suggestion() -> None:
    from tests.helpers import scenario
    with pytest.raises(ConfigError) as excinfo:
        scenario({"system": "edge_tunin"})
    text = message(excinfo)
    assert "tiny.yaml" in text and "system" in text and "'edge_tunin'" in text and "edge_tuning" in text
