"""daggen-style generator: validation, reproducibility, file layout, DAG shape, and statistics.

The statistical checks compare means over seeded batches (so they are deterministic) with either
daggen's closed-form rules or the MRLCO authors' own files. Tolerances are stated as multiples of the
standard error of the difference of two means, ``TOL_SE`` of them, wide enough for honest noise and
narrow enough to catch a wrong rule (e.g. ``fat * sqrt(n)`` widths, a single ``MIN`` draw).
"""
from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

from mecsim.workload import datasets
from mecsim.workload.daggen import DaggenParams, _level_widths, generate_dag, generate_dataset
from mecsim.workload.gv import format_gv, read_gv, write_gv
from mecsim.workload.taskgraph import TaskGraph

TOL_SE = 4.0  # allowed |difference of means| in standard errors



def _set8(**overrides) -> DaggenParams:
    """The paper's Topology I parameters (authors' set 8), ccr 0.5 unless overridden."""
    kw = dict(n=20, fat=0.6, density=0.8, regularity=0.5, ccr=0.5)
    kw.update(overrides)
    return DaggenParams(**kw)


def _depths(graph: TaskGraph) -> list[int]:
    """Longest-path level of each task (0 for entries); equals daggen's level when jump = 1."""
    depth = [0] * graph.n
    for i in range(graph.n):  # ids are a topological order
        depth[i] = max((depth[p] + 1 for p in graph.parents[i]), default=0)
    return depth


def _summary(graph: TaskGraph) -> dict[str, float]:
    depth = _depths(graph)
    statements = len(graph.edge_raw)
    return {
        "edges": statements,  # edge statements, duplicates included, as in the files
        "duplicates": statements - len(graph.edges),
        "entries": sum(1 for p in graph.parents if not p),
        "exits": len(graph.exits()),
        "depth": max(depth) + 1,
    }


def _batch(params_for, count: int, seed: int) -> list[TaskGraph]:
    rng = np.random.default_rng(seed)
    return [generate_dag(params_for(rng), rng) for _ in range(count)]


def _authors_ccr(fat: float, density: float):
    """As in the authors' sets: ccr drawn per graph from {0.3, 0.4, 0.5}."""
    return lambda rng: _set8(fat=fat, density=density, ccr=float(rng.choice([0.3, 0.4, 0.5])))


def _expected_width(perfect: int, regularity: float) -> float:
    """Mean of daggen's level width max(1, floor(perfect * (1 + u))), u ~ U[-(1-reg), 1-reg)."""
    spread = 1.0 - regularity
    u = -spread + 2 * spread * (np.arange(400_000) + 0.5) / 400_000
    return float(np.maximum(1, np.floor(perfect * (1 + u))).mean())


def _assert_close_means(ours: list[float], theirs: list[float], what: str) -> None:
    a, b = np.asarray(ours, float), np.asarray(theirs, float)
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) <= TOL_SE * se, (
        f"{what}: generated mean {a.mean():.3f} vs {b.mean():.3f} (tolerance {TOL_SE * se:.3f})")


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, message", [
    ({"n": 0}, "n: must be >= 1, got 0"),
    ({"n": 2.5}, "n: must be an integer, got 2.5"),
    ({"n": True}, "n: must be an integer, got True"),
    ({"fat": 0}, r"fat: must be in \(0, 1\], got 0"),
    ({"fat": 1.5}, r"fat: must be in \(0, 1\], got 1.5"),
    ({"density": -0.1}, r"density: must be in \[0, 1\], got -0.1"),
    ({"density": float("nan")}, "density: must be a finite number, got nan"),
    ({"regularity": 1.01}, r"regularity: must be in \[0, 1\], got 1.01"),
    ({"jump": 0}, "jump: must be >= 1, got 0"),
    ({"ccr": 0.0}, "ccr: must be > 0, got 0.0"),
    ({"ccr": "0.5"}, "ccr: must be a finite number, got '0.5'"),
    ({"mindata": 100}, r"mindata: must be >= 1024 \(data sizes are whole KiB\), got 100"),
    ({"maxdata": 4096}, r"maxdata: must be >= mindata \(5242880\), got 4096"),
])
def test_invalid_parameters_are_named(overrides, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        _set8(**overrides)


def test_parameters_are_keyword_only_and_defaults_are_the_authors():
    with pytest.raises(TypeError):
        DaggenParams(20, 0.6, 0.8, 0.5, 1, 0.5)  # type: ignore[misc]
    p = _set8()
    assert (p.jump, p.mindata, p.maxdata) == (1, 5242880, 52428800)
    # daggen's perfect width is floor(exp(fat ln n)), not fat * sqrt(n) (which would be 2 here)
    assert p.perfect_width == 6
    assert DaggenParams(n=25, fat=0.5, density=0.5, regularity=0.5, ccr=0.3).perfect_width == 4


# --- reproducibility and files --------------------------------------------------------------------


def test_same_seed_same_text_and_other_seed_differs():
    a = format_gv(generate_dag(_set8(), np.random.default_rng(11)))
    b = format_gv(generate_dag(_set8(), np.random.default_rng(11)))
    c = format_gv(generate_dag(_set8(), np.random.default_rng(12)))
    assert a == b
    assert a != c


def test_header_names_the_parameters_without_a_date():
    g = generate_dag(_set8(ccr=0.3, jump=2), np.random.default_rng(0))
    assert g.header == (
        "// DAG generated by mecsim daggen",
        "// mecsim.workload.daggen -n 20 --ccr 0.3 --fat 0.6 --regular 0.5 --density 0.8 --jump 2"
        " --mindata 5242880 --maxdata 52428800")
    assert re.search(r"--ccr (\S+)", g.header[1]).group(1) == "0.3"  # parsed like the authors' lines


def test_layout_matches_the_authors_files():
    text = format_gv(generate_dag(_set8(), np.random.default_rng(3)))
    body = text.splitlines()[2:]
    assert body[0] == "digraph G {" and body[-1] == "}"
    node = re.compile(r'^  \d+ \[size="\d+", alpha="0\.\d\d", expect_size="\d+"\] $')
    edge = re.compile(r'^  \d+ -> \d+ \[size ="\d+"\]$')
    assert all(node.match(line) or edge.match(line) for line in body[1:-1])
    assert sum(1 for line in body if node.match(line)) == 20


def test_round_trip_through_a_file_is_byte_identical(tmp_path):
    graphs = _batch(lambda rng: _set8(), 40, seed=5)
    with_duplicates = [g for g in graphs if len(g.edge_raw) > len(g.edges)]
    assert with_duplicates, "expected daggen's occasional duplicate edge in 40 graphs"
    for k, g in enumerate([graphs[0], with_duplicates[0]]):
        path = tmp_path / f"random.20.{k}.gv"
        write_gv(g, path)
        back = read_gv(path)
        assert format_gv(back) == format_gv(g) == path.read_text()
        assert back.edges == g.edges
        np.testing.assert_array_equal(back.cycles, g.cycles)
        np.testing.assert_array_equal(back.up_bytes, g.up_bytes)
        np.testing.assert_array_equal(back.down_bytes, g.down_bytes)


def test_dataset_is_deterministic_named_and_prefix_stable(tmp_path):
    a = generate_dataset(tmp_path / "a", _set8(), count=4, seed=9)
    b = generate_dataset(tmp_path / "b", _set8(), count=4, seed=9)
    c = generate_dataset(tmp_path / "c", _set8(), count=2, seed=9)
    d = generate_dataset(tmp_path / "d", _set8(), count=2, seed=10)
    assert [p.name for p in a] == [f"random.20.{k}.gv" for k in range(4)]
    assert all(p.parent == tmp_path / "a" for p in a)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert [p.read_bytes() for p in a[:2]] == [p.read_bytes() for p in c]  # graph k ignores count
    assert [p.read_bytes() for p in c] != [p.read_bytes() for p in d]
    assert len({p.read_bytes() for p in a}) == 4
    assert generate_dataset(tmp_path / "e", _set8(), count=0, seed=1) == []


def test_dataset_params_may_be_drawn_per_graph(tmp_path):
    def draw(rng: np.random.Generator) -> DaggenParams:
        return _set8(n=int(rng.choice([10, 15])), ccr=float(rng.choice([0.3, 0.4, 0.5])))

    paths = generate_dataset(tmp_path, draw, count=12, seed=2)
    again = generate_dataset(tmp_path / "again", draw, count=12, seed=2)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    ccrs = set()
    for k, path in enumerate(paths):
        g = read_gv(path)
        assert path.name == f"random.{g.n}.{k}.gv" and g.n in (10, 15)
        ccrs.add(re.search(r"--ccr (\S+)", g.header[1]).group(1))
    assert len(ccrs) > 1
    with pytest.raises(TypeError, match="must return DaggenParams"):
        generate_dataset(tmp_path / "bad", lambda rng: {"n": 20}, count=1, seed=0)
    with pytest.raises(ValueError, match="count: must be an integer >= 0"):
        generate_dataset(tmp_path / "bad", _set8(), count=-1, seed=0)


# --- graph shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    _set8(), _set8(n=50, fat=0.4, density=1.0, regularity=0.0), _set8(n=30, jump=3),
    _set8(n=1), _set8(n=7, fat=1.0, regularity=1.0),
])
def test_every_graph_is_a_layered_dag(params):
    rng = np.random.default_rng(21)
    spans: set[int] = set()
    for _ in range(30):
        widths = _level_widths(params, copy.deepcopy(rng))  # the draws generate_dag starts with
        g = generate_dag(params, rng)
        level = np.repeat(np.arange(len(widths)), widths)
        assert sum(widths) == g.n == params.n and g.labels == tuple(str(i + 1) for i in range(g.n))
        assert not g.find_cycle()
        for a, b, attrs in g.edge_raw:
            assert a < b, "ids must be a topological order"
            assert 1 <= level[b] - level[a] <= params.jump
            assert attrs == {"size": g.raw[a]["expect_size"]}
            spans.add(int(level[b] - level[a]))
        for i in range(g.n):
            assert bool(g.parents[i]) == (level[i] > 0), f"task {i + 1}: parents iff not in level 0"
    if params.jump > 1 and params.n > 1:
        assert max(spans) > 1, "with jump > 1 some edges skip a level"


def test_level_widths_stay_within_daggen_bounds():
    for params in (_set8(), _set8(n=40, fat=0.7, regularity=0.2), _set8(n=20, fat=0.4, regularity=1.0)):
        p, spread = params.perfect_width, 1 - params.regularity
        low = max(1, int(p * (1 - spread)))
        high = math.ceil(p * (1 + spread)) - 1 if spread else p  # u < spread strictly
        rng = np.random.default_rng(4)
        for _ in range(200):
            widths = _level_widths(params, rng)
            assert all(low <= w <= high for w in widths[:-1]), widths
            assert 1 <= widths[-1] <= high


@pytest.mark.parametrize("n, fat, regularity", [(20, 0.6, 0.5), (20, 0.8, 0.5), (50, 0.5, 0.2),
                                                (30, 0.4, 1.0)])
def test_mean_entry_width_follows_n_to_the_fat(n, fat, regularity):
    """Level 0 (the entry tasks) is a plain draw around floor(n ** fat), never cut short here."""
    params = _set8(n=n, fat=fat, regularity=regularity)
    rng = np.random.default_rng(n)
    first = np.array([_level_widths(params, rng)[0] for _ in range(3000)], float)
    expected = _expected_width(params.perfect_width, regularity)
    se = max(first.std(ddof=1), 0.25) / math.sqrt(len(first))
    assert abs(first.mean() - expected) <= TOL_SE * se, (first.mean(), expected)
    if regularity == 1.0:
        assert set(first) == {params.perfect_width}
    # and in whole graphs the entry tasks are exactly level 0
    graphs = _batch(lambda rng: params, 20, seed=n)
    assert np.mean([_summary(g)["entries"] for g in graphs]) == pytest.approx(expected, abs=1.5)


def test_edge_count_grows_with_density():
    means = []
    for density in (0.0, 0.3, 0.6, 0.9):
        graphs = _batch(lambda rng, density=density: _set8(density=density), 60, seed=8)
        if density == 0.0:  # exactly one parent per non-entry task
            assert all(len(g.edges) == g.n - _summary(g)["entries"] for g in graphs)
        means.append(np.mean([len(g.edges) for g in graphs]))
    assert all(b - a > 3.0 for a, b in zip(means, means[1:])), means


def test_min_macro_double_draw_after_narrow_levels():
    """After a 2-task level at density 0.8 a task has both as parents with P = 1 - (1/1.6)^2."""
    graphs = _batch(lambda rng: _set8(fat=0.4), 150, seed=13)
    both = total = 0
    for g in graphs:
        depth = _depths(g)
        width = np.bincount(depth)
        for i in range(g.n):
            if depth[i] > 0 and width[depth[i] - 1] == 2:
                total += 1
                both += len(g.parents[i]) == 2
    assert total > 700
    assert abs(both / total - (1 - (1 / 1.6) ** 2)) < 0.04, both / total  # one draw would give 0.375


# --- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("ccr", [0.3, 0.4, 0.5, 2.0])
def test_sizes_follow_data_and_ccr(ccr):
    params = _set8(ccr=ccr)
    for g in _batch(lambda rng: params, 20, seed=1):
        data = g.down_bytes
        assert np.all(data % 1024 == 0)
        assert data.min() >= params.mindata and data.max() < params.maxdata
        assert np.all(np.abs(g.cycles - data / ccr) <= 0.5)  # size = data / ccr, rounded
        np.testing.assert_allclose(data / g.cycles, ccr, rtol=1e-6)
        np.testing.assert_array_equal(g.up_bytes, g.cycles)
        alphas = [float(r["alpha"]) for r in g.raw]
        assert min(alphas) >= 0.0 and max(alphas) <= 0.2
        assert [list(r) for r in g.raw] == [["size", "alpha", "expect_size"]] * g.n
        assert all(float(r["size"]) == c for r, c in zip(g.raw, g.cycles))


def test_sizes_cover_the_documented_range():
    """With the authors' ccr values, size spans about 1.05e7 (5 MiB / 0.5) to 1.75e8 (50 MiB / 0.3)."""
    sizes = np.concatenate([g.cycles for g in _batch(_authors_ccr(0.6, 0.8), 100, seed=6)])
    assert 10_485_760 <= sizes.min() < 11_000_000
    assert 170_000_000 < sizes.max() <= 174_762_667


# --- against the authors' files -------------------------------------------------------------------


@pytest.mark.parametrize("set_index, fat, density", [(8, 0.6, 0.8), (21, 0.4, 0.8)])
def test_summary_statistics_match_the_authors_set(set_index, fat, density):
    """Set 8 is the paper's Topology I; set 21 (narrow levels) is the most sensitive to daggen's
    double MIN draw. Each statistic's mean must agree within TOL_SE standard errors."""
    folder = f"meta_offloading_20/offload_random20_{set_index}"     # in the shipped mrlco archive
    real = [g for _, g in datasets.read_graphs("mrlco", folder, "random.20.*.gv")]
    assert len(real) == 100
    assert all(f"--fat {fat} " in g.header[1] and f"--density {density} " in g.header[1] for g in real)
    ours = _batch(_authors_ccr(fat, density), 250, seed=100 + set_index)
    theirs_s, ours_s = [_summary(g) for g in real], [_summary(g) for g in ours]
    for key in ("edges", "duplicates", "entries", "exits", "depth"):
        _assert_close_means([s[key] for s in ours_s], [s[key] for s in theirs_s], key)


def test_generated_graphs_take_the_attribute_map_like_read_gv(tmp_path):
    from mecsim.workload.gv import AttributeMap, read_gv, write_gv
    params = DaggenParams(n=12, fat=0.6, density=0.6, regularity=0.5, jump=2, ccr=0.4)
    scaled = AttributeMap(cycles_factor=200.0, down_bytes="size", down_factor=0.5)
    plain = generate_dag(params, np.random.default_rng(5))
    graph = generate_dag(params, np.random.default_rng(5), attributes=scaled)
    np.testing.assert_allclose(graph.cycles, 200.0 * np.asarray(plain.cycles))
    np.testing.assert_allclose(graph.down_bytes, 0.5 * np.asarray(plain.up_bytes))
    write_gv(plain, tmp_path / "g.gv")
    again = read_gv(tmp_path / "g.gv", scaled)
    np.testing.assert_array_equal(again.cycles, graph.cycles)
    np.testing.assert_array_equal(again.down_bytes, graph.down_bytes)


def test_generate_rejects_an_attribute_the_generator_does_not_write():
    from mecsim.errors import ConfigError
    from tests.helpers import scenario
    gen = {"n": 5, "fat": 0.5, "density": 0.5, "ccr": 0.4, "count": 2}
    with pytest.raises(ConfigError, match=r"attributes\.cycles.*'weight'"):
        scenario({"workload": {"dags": {"generate": gen, "attributes": {"cycles": "weight"}}}})
