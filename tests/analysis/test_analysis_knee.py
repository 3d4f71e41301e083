import pytest

from edgebench.analysis import analyze, synthetic
from edgebench.analysis.fits import fit_knee


def _knee(points, tmp_path, **kwargs):
    paths = synthetic.write_results_files(points, str(tmp_path))
    summary = analyze(paths["db"], **kwargs)
    (entry,) = summary["memory_knee"]
    return entry


def test_knee_found_exactly_on_noise_free_curve(tmp_path):
    entry = _knee(synthetic.knee_points(static_mb=300.0, mb_per_image=12.0, knee_batch=8.0), tmp_path)
    assert entry["status"] == "ok"
    assert entry["knee_batch"] == pytest.approx(8.0, abs=1e-9)
    assert entry["static_mb"] == pytest.approx(300.0, abs=1e-9)
    assert entry["mb_per_image"] == pytest.approx(12.0, abs=1e-9)
    assert entry["r2"] == pytest.approx(1.0)


def test_knee_between_measured_batch_sizes_found_exactly():
    batches = [1, 2, 4, 8, 16, 32, 64]
    fit = fit_knee(batches, [synthetic.knee_curve(b, 300.0, 12.0, 12.0) for b in batches])
    assert (fit["knee"], fit["static"], fit["slope"]) == pytest.approx((12.0, 300.0, 12.0))


def test_knee_robust_to_one_outlier(tmp_path):
    entry = _knee(synthetic.knee_points(outliers={32: 250.0}), tmp_path)
    assert (entry["knee_batch"], entry["static_mb"], entry["mb_per_image"]) == pytest.approx(
        (8.0, 300.0, 12.0)
    )
    assert entry["outlier_batches"] == [32]


def test_knee_fit_keeps_every_point_of_a_noisy_curve():
    batches = [1, 2, 4, 8, 16, 32, 64]
    noise = [1.5, -2.0, 0.5, 2.0, -1.0, 1.0, -1.5]
    fit = fit_knee(batches, [synthetic.knee_curve(b, 300.0, 12.0, 8.0) + e for b, e in zip(batches, noise)])
    assert fit["outliers"] == [] and fit["knee"] == pytest.approx(8.0, abs=1.0)


def test_knee_fit_keeps_every_point_without_outlier(tmp_path):
    entry = _knee(synthetic.knee_points(), tmp_path)
    assert entry["outlier_batches"] == [] and entry["points_used"] == 7


def test_flat_memory_reports_no_knee(tmp_path):
    entry = _knee(synthetic.knee_points(knee_batch=64.0), tmp_path)
    assert entry["status"] == "flat" and entry["knee_batch"] is None
    assert entry["static_mb"] == pytest.approx(300.0)


def test_model_with_too_few_ok_points_says_so(tmp_path):
    points = synthetic.knee_points(batches=(1, 2))
    points += [synthetic.failed_point("kneenet", b, backend="tensorrt") for b in (4, 8)]
    entry = _knee(points, tmp_path)
    assert entry["status"] == "too_few_points"
    assert "has 2 (batch 1, 2)" in entry["message"] and "oom 2" in entry["message"]


def test_out_of_memory_batches_are_reported(tmp_path):
    points = synthetic.knee_points(batches=(1, 2, 4, 8, 16)) + [
        synthetic.failed_point("kneenet", 32, backend="tensorrt")
    ]
    assert _knee(points, tmp_path)["oom_batches"] == [32]


def test_gpu_engine_memory_subtracts_what_was_used_before_loading(tmp_path):
    entry = _knee(synthetic.knee_points(before_mb=1500.0), tmp_path)
    assert entry["memory_basis"] == "system"
    assert entry["memory_column"] == "system_used_peak_mb - system_used_before_mb"
    assert entry["static_mb"] == pytest.approx(300.0)


def test_system_absolute_fits_system_used_peak_as_measured(tmp_path):
    entry = _knee(synthetic.knee_points(before_mb=1500.0), tmp_path, memory_basis="system-absolute")
    assert entry["memory_column"] == "system_used_peak_mb"
    assert entry["static_mb"] == pytest.approx(1800.0)


def _rss_points(backend, **values):
    return [
        synthetic.ok_point(
            "rssnet",
            b,
            backend=backend,
            per_image_ms=5.0,
            peak_rss_mb=synthetic.knee_curve(b, 300.0, 12.0, 8.0),
            **values,
        )
        for b in synthetic.BATCHES
    ]


def test_cpu_engine_memory_is_the_worker_peak_rss(tmp_path):
    points = _rss_points("onnxruntime", system_used_before_mb=700.0, system_used_peak_mb=900.0)
    entry = _knee(points, tmp_path)
    assert entry["memory_basis"] == "rss" and entry["memory_column"] == "peak_rss_mb"
    assert entry["knee_batch"] == pytest.approx(8.0) and "memory_note" not in entry


def test_gpu_engine_falls_back_to_peak_rss_and_says_so(tmp_path):
    entry = _knee(_rss_points("tensorrt"), tmp_path)
    assert entry["memory_column"] == "peak_rss_mb"
    assert "system_used_peak_mb - system_used_before_mb missing" in entry["memory_note"]
    assert entry["static_mb"] == pytest.approx(300.0)
