import pytest

from edgebench.sweep.stats import latency_stats


def test_figures_of_a_known_sample():
    stats = latency_stats([0.010, 0.020, 0.030, 0.040], batch_size=2, wall_s=0.100)
    assert stats["latency_min_ms"] == pytest.approx(10.0)
    assert stats["latency_median_ms"] == pytest.approx(25.0)
    assert stats["latency_mean_ms"] == pytest.approx(25.0)
    assert stats["latency_std_ms"] == pytest.approx(11.1803, rel=1e-4)
    assert stats["per_image_ms"] == pytest.approx(12.5)
    assert stats["images_per_s"] == pytest.approx(2 * 4 / 0.100)


def test_percentiles_interpolate_between_ranks():
    stats = latency_stats([i / 1000.0 for i in range(1, 101)], batch_size=1, wall_s=5.05)
    assert stats["latency_p90_ms"] == pytest.approx(90.1)
    assert stats["latency_p99_ms"] == pytest.approx(99.01)


def test_cv_above_five_percent_is_unstable():
    assert latency_stats([0.010, 0.012], 1, 0.022)["stable"] == 0
    assert latency_stats([0.010, 0.0101], 1, 0.0201)["stable"] == 1
