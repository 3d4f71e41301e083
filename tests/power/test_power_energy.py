import math

import numpy as np
import pytest

from edgebench.power.energy import SUMMARY_KEYS, IdleBaseline, integrate, summarize_window, t_quantile_975, window_stats
from edgebench.power.sampler import WindowData
from edgebench.power.source import INSTANTANEOUS, INTEGRATING


def test_trapezoid_is_exact_for_a_ramp_clipped_to_the_window():
    t = np.linspace(0, 10, 11)
    energy, covered = integrate(t, t, 2.5, 7.5, INSTANTANEOUS)
    assert (energy, covered) == (pytest.approx(25.0), pytest.approx(5.0))  # integral of t from 2.5 to 7.5


def test_rectangles_weight_interval_means_by_overlap():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    p = np.array([9.0, 2.0, 4.0, 6.0])  # 2 W over (0,1], 4 W over (1,2], 6 W over (2,3]
    energy, _ = integrate(t, p, 0.5, 2.5, INTEGRATING)
    assert energy == pytest.approx(0.5 * 2 + 1 * 4 + 0.5 * 6)


def test_a_gap_is_not_bridged():
    t = np.concatenate([np.arange(0, 1, 0.01), np.arange(2, 3, 0.01)])
    energy, covered = integrate(t, np.ones_like(t), 0, 3)
    assert covered == pytest.approx(1.98) and energy == pytest.approx(1.98)


def test_a_single_failed_point_reading_is_skipped():
    t = np.arange(0, 1.001, 0.1)
    p = np.ones_like(t)
    p[5] = np.nan
    assert integrate(t, p, 0, 1) == (pytest.approx(1.0), pytest.approx(1.0))


def test_t_quantile_for_few_batches():
    assert t_quantile_975(1) == pytest.approx(12.706) and t_quantile_975(15) == pytest.approx(2.131)


def test_batch_means_interval_widens_for_autocorrelated_noise():
    rng = np.random.RandomState(1)
    n = 20000
    white = rng.normal(0, 1, n)
    red = np.empty(n)
    red[0] = 0
    for k in range(1, n):  # AR(1), correlation 0.99 per sample
        red[k] = 0.99 * red[k - 1] + white[k] * math.sqrt(1 - 0.99 ** 2)
    t = np.arange(n) * 1e-3
    ci_white = window_stats(t, 10 + white, 0, t[-1])["ci_w"]
    ci_red = window_stats(t, 10 + red, 0, t[-1])["ci_w"]
    assert ci_red > 5 * ci_white  # same variance, far fewer independent samples


def _data(t, p, start, end, sampling=INSTANTANEOUS, **kw):
    return WindowData(start, end, np.asarray(t, float), np.asarray(p, float), None, (), sampling, "test-source",
                      kw.pop("simulated", False), kw.pop("has_data", True), **kw)


def test_summary_has_exactly_the_store_columns():
    t = np.arange(0, 2.0, 0.001)
    row = summarize_window(_data(t, 5 + np.sin(t), 0.5, 1.5), images=100, idle=IdleBaseline(2.0, 0.01, 100, 5))
    assert tuple(row) == SUMMARY_KEYS


def test_summary_energy_per_image_and_net():
    t = np.arange(0, 2.0, 0.001)
    row = summarize_window(_data(t, np.full_like(t, 6.0), 0.5, 1.5), images=100, idle=IdleBaseline(2.0, 0.01, 100, 5))
    assert row["energy_per_image_j"] == pytest.approx(6.0 / 100)
    assert row["net_energy_per_image_j"] == pytest.approx(4.0 / 100)
    assert row["net_power_w"] == pytest.approx(4.0)


def test_net_power_inside_its_uncertainty_is_flagged():
    rng = np.random.RandomState(3)
    t = np.arange(0, 2.0, 0.01)
    row = summarize_window(_data(t, 5 + rng.normal(0, 1, t.size), 0, 2), images=1, idle=IdleBaseline(5.0, 0.5, 50, 5))
    assert "inside its own uncertainty" in row["power_flags"]


def test_fewer_than_eight_samples_is_flagged_without_an_interval():
    t = np.arange(0, 1.0, 0.2)
    row = summarize_window(_data(t, np.ones_like(t), 0, 0.8), images=1, idle=IdleBaseline(0.5, 0.1, 10, 1))
    assert "only 5 samples" in row["power_flags"] and row["net_power_ci_w"] is None


def test_null_source_summary_says_no_power_data():
    row = summarize_window(_data([], [], 0, 1, has_data=False), images=1)
    assert row["power_flags"].startswith("no power data") and row["gross_power_w"] is None


def test_simulated_window_is_labelled():
    t = np.arange(0, 1.0, 0.001)
    row = summarize_window(_data(t, np.ones_like(t), 0, 1, simulated=True), images=1)
    assert row["simulated"] == 1 and "SIMULATED" in row["power_flags"]


def test_low_coverage_window_is_flagged():
    t = np.concatenate([np.arange(0, 0.3, 0.01), np.arange(0.9, 1.0, 0.01)])
    row = summarize_window(_data(t, np.ones_like(t), 0, 1), images=1)
    assert "cover" in row["power_flags"] and row["gross_power_w"] == pytest.approx(1.0)
