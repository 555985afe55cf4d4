"""Radio propagation, fading and mobility: reference values from TR 38.901 RMa and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mecsim.mobility import RandomWaypoint, Static
from mecsim.net.fading import NoFading, RayleighBlockFading, ergodic_rayleigh_rate_bps
from mecsim.net.pathloss import (
    db_to_linear,
    dbm_to_w,
    free_space_db,
    linear_to_db,
    log_distance_db,
    noise_power_w,
    rma_breakpoint_m,
    rma_db,
    rma_los_db,
    rma_los_probability,
    rma_nlos_db,
    shannon_rate_bps,
    w_to_dbm,
)

# --- path loss -------------------------------------------------------------------------------------

# Reference table (f, d_BP, LOS at 200 m / 1 km / 2 km, NLOS at the same distances), defaults
# h_BS=35 m, h_UT=1.5 m, W=20 m, h=5 m.
RMA_TABLE = [
    (0.7e9, 770.0, (76.2, 93.4, 105.4), (89.7, 116.4, 128.1)),
    (3.5e9, 3848.0, (90.1, 105.5, 113.0), (103.6, 130.4, 142.0)),
]
DISTANCES = np.array([200.0, 1000.0, 2000.0])


@pytest.mark.parametrize("f, d_bp, los, nlos", RMA_TABLE)
def test_rma_reference_table(f, d_bp, los, nlos):
    assert rma_breakpoint_m(f) == pytest.approx(d_bp, abs=0.5)
    np.testing.assert_allclose(rma_los_db(DISTANCES, f), los, atol=0.1)
    np.testing.assert_allclose(rma_nlos_db(DISTANCES, f), nlos, atol=0.1)
    # Scalar calls agree with the vectorised ones and return plain floats.
    for d, want in zip(DISTANCES, los):
        got = rma_los_db(float(d), f)
        assert isinstance(got, float) and got == pytest.approx(want, abs=0.1)
    np.testing.assert_allclose(rma_db(DISTANCES, f, condition="los"), los, atol=0.1)
    np.testing.assert_allclose(rma_db(DISTANCES, f, condition="nlos"), nlos, atol=0.1)


def test_rma_los_branch_is_continuous_at_breakpoint():
    d_bp = rma_breakpoint_m(0.7e9)
    below, above = rma_los_db(np.array([d_bp * (1 - 1e-9), d_bp * (1 + 1e-9)]), 0.7e9)
    # The spec evaluates PL1 at d_3D below d_BP but at d_BP above it: a tiny jump, no more.
    assert above == pytest.approx(below, abs=0.02)


def test_rma_nlos_never_below_los_and_clamped_below_10m():
    d = np.geomspace(1.0, 10_000.0, 200)
    for f in (0.7e9, 3.5e9):
        assert np.all(rma_nlos_db(d, f) >= rma_los_db(d, f))
    assert rma_los_db(0.0, 3.5e9) == rma_los_db(10.0, 3.5e9) == rma_los_db(5.0, 3.5e9)
    assert rma_nlos_db(3.0, 3.5e9) == rma_nlos_db(10.0, 3.5e9)


def test_rma_los_probability():
    assert rma_los_probability(0.0) == 1.0
    assert rma_los_probability(10.0) == 1.0
    assert rma_los_probability(1010.0) == pytest.approx(math.exp(-1.0))
    d = np.array([5.0, 510.0, 5010.0])
    np.testing.assert_allclose(rma_los_probability(d), [1.0, math.exp(-0.5), math.exp(-5.0)])


def test_rma_expected_and_random_conditions():
    f = 3.5e9
    p = rma_los_probability(DISTANCES)
    want = p * rma_los_db(DISTANCES, f) + (1 - p) * rma_nlos_db(DISTANCES, f)
    np.testing.assert_allclose(rma_db(DISTANCES, f), want)
    # Random draws pick one of the two values, LOS about P_LOS of the time, reproducibly per seed.
    d = np.full(20_000, 700.0)
    draws = rma_db(d, f, condition="random", rng=np.random.default_rng(3))
    los, nlos = rma_los_db(700.0, f), rma_nlos_db(700.0, f)
    assert np.all((draws == los) | (draws == nlos))
    assert np.mean(draws == los) == pytest.approx(rma_los_probability(700.0), abs=0.02)
    again = rma_db(d, f, condition="random", rng=np.random.default_rng(3))
    np.testing.assert_array_equal(draws, again)


@pytest.mark.parametrize("kwargs, match", [
    ({"condition": "random"}, "rng"),
    ({"condition": "maybe"}, "condition"),
    ({"h_bs": -1.0}, "h_bs"),
    ({"street_width": 0.0}, "street_width"),
])
def test_rma_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rma_db(100.0, 3.5e9, **kwargs)


def test_rma_rejects_frequency_out_of_range_and_negative_distance():
    with pytest.raises(ValueError, match="frequency_hz"):
        rma_los_db(100.0, 3.5)  # GHz passed as Hz
    with pytest.raises(ValueError, match="d2d"):
        rma_nlos_db(np.array([100.0, -1.0]), 3.5e9)


def test_free_space_known_value_and_slope():
    assert free_space_db(100.0, 2.4e9) == pytest.approx(80.05, abs=0.01)
    # 20 dB per decade of distance and of frequency.
    assert free_space_db(1000.0, 2.4e9) - free_space_db(100.0, 2.4e9) == pytest.approx(20.0)
    assert free_space_db(100.0, 24e9) - free_space_db(100.0, 2.4e9) == pytest.approx(20.0)


def test_log_distance():
    f = 2.4e9
    assert log_distance_db(1.0, f, 3.0) == pytest.approx(free_space_db(1.0, f))
    assert log_distance_db(100.0, f, 3.5) == pytest.approx(free_space_db(1.0, f) + 70.0)
    assert log_distance_db(500.0, f, 2.0, reference_m=10.0) == pytest.approx(free_space_db(500.0, f))
    with pytest.raises(ValueError, match="exponent"):
        log_distance_db(10.0, f, -2.0)
    with pytest.raises(ValueError, match="reference_m"):
        log_distance_db(10.0, f, 2.0, reference_m=0.0)


def test_path_loss_increases_with_distance():
    d = np.geomspace(10.0, 5000.0, 300)
    for pl in (free_space_db(d, 3.5e9), log_distance_db(d, 3.5e9, 3.0),
               rma_los_db(d, 3.5e9), rma_nlos_db(d, 0.7e9), rma_db(d, 3.5e9)):
        assert np.all(np.diff(pl) > 0)


@pytest.mark.parametrize("call, match", [
    (lambda: free_space_db(0.0, 1e9), "distance_m"),
    (lambda: free_space_db(10.0, -1.0), "frequency_hz"),
    (lambda: free_space_db(np.array([1.0, np.nan]), 1e9), "distance_m"),
    (lambda: noise_power_w(0.0), "bandwidth_hz"),
    (lambda: shannon_rate_bps(1e6, 1.0, 1.0, 0.0), "noise_w"),
    (lambda: shannon_rate_bps(1e6, -1.0, 1.0, 1e-12), "tx_power_w"),
    (lambda: w_to_dbm(-1.0), "watts"),
])
def test_errors_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unit_conversions():
    assert dbm_to_w(30.0) == pytest.approx(1.0)
    assert dbm_to_w(0.0) == pytest.approx(1e-3)
    assert w_to_dbm(0.1) == pytest.approx(20.0)
    assert w_to_dbm(0.0) == -math.inf
    assert db_to_linear(10.0) == pytest.approx(10.0)
    assert linear_to_db(db_to_linear(-37.5)) == pytest.approx(-37.5)
    x = np.array([-10.0, 0.0, 23.0])
    np.testing.assert_allclose(w_to_dbm(dbm_to_w(x)), x)


def test_noise_power_examples():
    assert w_to_dbm(noise_power_w(10e6, noise_figure_db=5.0)) == pytest.approx(-99.0, abs=0.01)
    # 10·log10(2) = 3.01: the rounded examples are good to 0.05 dB.
    assert w_to_dbm(noise_power_w(20e6, noise_figure_db=5.0)) == pytest.approx(-96.0, abs=0.05)
    assert w_to_dbm(noise_power_w(20e6, noise_figure_db=9.0)) == pytest.approx(-92.0, abs=0.05)
    assert w_to_dbm(noise_power_w(5e6, noise_figure_db=9.0)) == pytest.approx(-98.0, abs=0.05)
    assert noise_power_w(1.0, density_dbm_hz=30.0) == pytest.approx(1.0)  # 30 dBm = 1 W


@pytest.mark.parametrize("condition, snr_db, rate_mbps, rate_tol", [
    ("los", 13.5, 46.0, 1.0),
    ("nlos", -11.4, 1.0, 0.05),
])
def test_rma_link_budget_example(condition, snr_db, rate_mbps, rate_tol):
    # 3.5 GHz at 1 km, 20 dBm, 10 MHz, NF 5 dB, no antenna gains.
    noise = noise_power_w(10e6, noise_figure_db=5.0)
    gain = db_to_linear(-rma_db(1000.0, 3.5e9, condition=condition))
    p_tx = dbm_to_w(20.0)
    assert linear_to_db(p_tx * gain / noise) == pytest.approx(snr_db, abs=0.1)
    assert shannon_rate_bps(10e6, p_tx, gain, noise) / 1e6 == pytest.approx(rate_mbps, abs=rate_tol)


def test_shannon_rate():
    assert shannon_rate_bps(1e6, 1.0, 1.0, 1.0) == pytest.approx(1e6)  # SNR 1 -> 1 bit/s/Hz
    assert shannon_rate_bps(2e6, 3.0, 1.0, 1.0) == pytest.approx(4e6)
    assert shannon_rate_bps(1e6, 0.0, 1.0, 1.0) == 0.0
    np.testing.assert_allclose(shannon_rate_bps(1e6, np.array([1.0, 3.0, 7.0]), 1.0, 1.0),
                               [1e6, 2e6, 3e6])


# --- fading ----------------------------------------------------------------------------------------

def test_no_fading():
    fading = NoFading()
    assert fading.gain_at(0.0) == fading.gain_at(123.4) == 1.0
    assert fading.next_change_after(5.0) == math.inf


def test_rayleigh_block_constant_within_block_and_boundaries():
    fading = RayleighBlockFading(0.1, np.random.default_rng(0))
    g0 = fading.gain_at(0.0)
    assert fading.gain_at(0.05) == fading.gain_at(0.0999) == g0
    assert fading.next_change_after(0.0) == pytest.approx(0.1)
    assert fading.next_change_after(0.05) == pytest.approx(0.1)
    # A boundary (start + k·T, as computed in floats) opens block k; next_change_after is strictly
    # later, at most one block away, and lands exactly in the next block, even where t/T rounds badly.
    boundaries = [k * 0.1 for k in range(1, 40)]
    for t in boundaries + [0.3, 0.7, 2.9, 1.23456]:
        k = fading.block_index(t)
        assert k * 0.1 <= t < (k + 1) * 0.1
        nxt = fading.next_change_after(t)
        assert t < nxt <= t + 0.1 + 1e-12
        assert fading.block_index(nxt) == k + 1
    for k, t in enumerate(boundaries, start=1):
        assert fading.block_index(t) == k


def test_rayleigh_same_seed_same_sequence_whatever_the_queries():
    dense = RayleighBlockFading(1.0, np.random.default_rng(7))
    gains = [dense.gain_at(k + 0.5) for k in range(200)]
    np.testing.assert_array_equal(gains, np.random.default_rng(7).standard_exponential(200))
    sparse = RayleighBlockFading(1.0, np.random.default_rng(7))
    for k in (0, 3, 4, 57, 57, 199):
        assert sparse.gain_at(k + 0.25) == gains[k]


def test_rayleigh_long_jump_keeps_sequence():
    fading = RayleighBlockFading(1e-3, np.random.default_rng(11), start=2.0)
    g = fading.gain_at(2.0 + 150_000.5e-3)
    assert g == np.random.default_rng(11).standard_exponential(150_001)[-1]


def test_rayleigh_gain_is_exponential():
    fading = RayleighBlockFading(1.0, np.random.default_rng(1))
    g = np.array([fading.gain_at(k) for k in range(20_000)])
    assert g.mean() == pytest.approx(1.0, abs=0.03)
    assert np.mean(g > 1.0) == pytest.approx(math.exp(-1.0), abs=0.015)


def test_rayleigh_rejects_bad_input():
    with pytest.raises(ValueError, match="coherence_s"):
        RayleighBlockFading(0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        RayleighBlockFading(1.0, 42)  # type: ignore[arg-type]
    fading = RayleighBlockFading(1.0, np.random.default_rng(0), start=1.0)
    with pytest.raises(ValueError, match="t:"):
        fading.gain_at(0.5)
    fading.gain_at(5.0)
    with pytest.raises(ValueError, match="go back"):
        fading.gain_at(3.0)


@pytest.mark.parametrize("snr", [0.05, 1.0, 20.0, 300.0])
def test_ergodic_rate_matches_monte_carlo(snr):
    x = np.random.default_rng(5).standard_exponential(400_000)
    mc = 1e6 * np.mean(np.log2(1.0 + snr * x))
    assert ergodic_rayleigh_rate_bps(1e6, snr) == pytest.approx(mc, rel=0.01)
    # Fading costs rate (Jensen): below the AWGN capacity at the same mean SNR.
    assert ergodic_rayleigh_rate_bps(1e6, snr) < 1e6 * math.log2(1.0 + snr)


def test_ergodic_rate_edges():
    assert ergodic_rayleigh_rate_bps(1e6, 0.0) == 0.0
    tiny = ergodic_rayleigh_rate_bps(1e6, 1e-6)  # series branch: ≈ B·snr/ln2 at low SNR
    assert tiny == pytest.approx(1e6 * 1e-6 / math.log(2.0), rel=1e-5)
    both = ergodic_rayleigh_rate_bps(1e6, np.array([1 / 49.9, 1 / 50.1]))
    assert np.all(np.isfinite(both)) and both[0] > both[1]
    with pytest.raises(ValueError, match="mean_snr"):
        ergodic_rayleigh_rate_bps(1e6, -1.0)
    with pytest.raises(ValueError, match="bandwidth_hz"):
        ergodic_rayleigh_rate_bps(0.0, 1.0)


# --- mobility --------------------------------------------------------------------------------------

AREA = ((0.0, 0.0), (500.0, 300.0))


def test_static():
    user = Static((3.0, 4.0))
    assert user.position_at(0.0) == user.position_at(1e6) == (3.0, 4.0)
    assert user.next_leg_end(10.0) == math.inf
    with pytest.raises(ValueError, match="position"):
        Static((1.0,))  # type: ignore[arg-type]


def _sample(model: RandomWaypoint, times: np.ndarray) -> np.ndarray:
    return np.array([model.position_at(t) for t in times])


def test_random_waypoint_stays_in_area_and_respects_vmax():
    model = RandomWaypoint(AREA, (1.0, 5.0), 2.0, np.random.default_rng(0))
    times = np.arange(0.0, 2000.0, 0.5)
    pos = _sample(model, times)
    (x0, y0), (x1, y1) = AREA
    assert np.all((pos[:, 0] >= x0) & (pos[:, 0] <= x1) & (pos[:, 1] >= y0) & (pos[:, 1] <= y1))
    speeds = np.hypot(*np.diff(pos, axis=0).T) / np.diff(times)
    assert speeds.max() <= 5.0 + 1e-9
    assert speeds.max() > 0.0


def test_random_waypoint_legs_have_speed_in_range_and_pauses():
    model = RandomWaypoint(AREA, (2.0, 3.0), 4.0, np.random.default_rng(1), start=(10.0, 20.0))
    assert model.position_at(0.0) == (10.0, 20.0)
    t = 0.0
    for _ in range(30):
        arrive = model.next_leg_end(t)
        p_start, p_end = model.position_at(t), model.position_at(arrive)
        speed = math.dist(p_start, p_end) / (arrive - t)
        assert 2.0 - 1e-9 <= speed <= 3.0 + 1e-9
        mid = model.position_at((t + arrive) / 2)  # straight line, constant speed
        np.testing.assert_allclose(mid, np.add(p_start, p_end) / 2, atol=1e-6)
        leave = model.next_leg_end(arrive)
        assert leave == pytest.approx(arrive + 4.0)
        assert model.position_at(arrive + 2.0) == p_end  # paused at the waypoint
        t = leave


def test_random_waypoint_deterministic_for_seed():
    times = np.sort(np.random.default_rng(9).uniform(0.0, 1000.0, 300))
    a = _sample(RandomWaypoint(AREA, (1.0, 2.0), 0.0, np.random.default_rng(4)), times)
    b = _sample(RandomWaypoint(AREA, (1.0, 2.0), 0.0, np.random.default_rng(4)), times)
    c = _sample(RandomWaypoint(AREA, (1.0, 2.0), 0.0, np.random.default_rng(5)), times)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Sparse queries see the same trajectory as dense ones.
    dense = RandomWaypoint(AREA, (1.0, 2.0), 0.0, np.random.default_rng(4))
    _sample(dense, np.linspace(0.0, times[0], 50))
    np.testing.assert_array_equal(_sample(dense, times), a)


def test_random_waypoint_zero_pause_next_leg_end_moves_forward():
    model = RandomWaypoint(AREA, (5.0, 5.0), 0.0, np.random.default_rng(2))
    t = 0.0
    for _ in range(20):
        nxt = model.next_leg_end(t)
        assert nxt > t
        t = nxt


@pytest.mark.parametrize("kwargs, match", [
    ({"area": ((0.0, 0.0), (0.0, 0.0))}, "area"),
    ({"area": ((5.0, 0.0), (0.0, 10.0))}, "area"),
    ({"speed": (0.0, 1.0)}, "speed"),
    ({"speed": (3.0, 1.0)}, "speed"),
    ({"pause_s": -1.0}, "pause_s"),
    ({"start": (600.0, 10.0)}, "start"),
])
def test_random_waypoint_rejects_bad_arguments(kwargs, match):
    args = {"area": AREA, "speed": (1.0, 2.0), "pause_s": 0.0, "rng": np.random.default_rng(0)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        RandomWaypoint(**args)


def test_random_waypoint_rejects_going_back():
    model = RandomWaypoint(AREA, (1.0, 2.0), 0.0, np.random.default_rng(0))
    model.position_at(5000.0)
    with pytest.raises(ValueError, match="go back"):
        model.position_at(1.0)
