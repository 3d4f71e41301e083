import numpy as np
import pytest

from edgebench.power import nyquist
from edgebench.power.source import INTEGRATING


def test_bandwidth_of_a_sine_is_its_frequency():
    t = np.arange(0, 2, 1e-3)
    result = nyquist.analyze(t, 5 + np.sin(2 * np.pi * 50 * t))
    assert result["bandwidth_hz"] == pytest.approx(50, abs=5) and result["verdict"] == nyquist.ADEQUATE
    assert result["nyquist_rate_hz"] == pytest.approx(2 * result["bandwidth_hz"])


def test_broadband_signal_is_an_aliasing_risk_for_point_samples():
    t = np.arange(0, 2, 1e-3)
    result = nyquist.analyze(t, 5 + np.random.RandomState(0).normal(0, 1, t.size))
    assert result["aliasing_risk"] and result["nyquist_ok"] == 0 and "bias energy" in result["detail"]


def test_integrating_source_verdict_says_energy_is_unbiased():
    t = np.arange(0, 2, 1e-3)
    result = nyquist.analyze(t, 5 + np.random.RandomState(0).normal(0, 1, t.size), INTEGRATING)
    assert result["verdict"] == nyquist.ALIASING_RISK and "unbiased" in result["detail"]


def test_too_few_samples_gives_no_verdict():
    result = nyquist.analyze(np.arange(10.0), np.ones(10))
    assert result["verdict"] == nyquist.NOT_ENOUGH and result["nyquist_ok"] is None


def test_flat_signal_with_tiny_noise_is_adequate():
    t = np.arange(0, 1, 1e-3)
    result = nyquist.analyze(t, 5 + 1e-4 * np.random.RandomState(0).normal(size=t.size))
    assert result["verdict"] == nyquist.ADEQUATE


def test_threshold_is_configurable():
    t = np.arange(0, 2, 1e-4)
    square = 5 + np.sign(np.sin(2 * np.pi * 37 * t))
    low = nyquist.analyze(t, square, threshold=0.9)["bandwidth_hz"]
    high = nyquist.analyze(t, square, threshold=0.999)["bandwidth_hz"]
    assert low < high


def test_uneven_timestamps_are_resampled():
    rng = np.random.RandomState(2)
    t = np.cumsum(1e-3 * (1 + 0.3 * rng.uniform(-1, 1, 3000)))
    result = nyquist.analyze(t, 5 + np.sin(2 * np.pi * 20 * t))
    assert result["bandwidth_hz"] == pytest.approx(20, abs=5)


def test_burst_check_warns_with_a_remedy_when_the_source_cannot_keep_up(tmp_path, opened):
    from edgebench.power.trace import write_trace

    path = str(tmp_path / "noise.csv")
    t = np.arange(0, 2, 0.002)
    write_trace(path, t, 5 + np.random.RandomState(0).normal(0, 1, t.size))
    result = nyquist.burst_check(opened("trace://" + path), seconds=0.3)
    assert result["verdict"] == nyquist.ALIASING_RISK and "faster source" in result["warning"]
