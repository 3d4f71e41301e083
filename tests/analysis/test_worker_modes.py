"""Comparing a reused-worker sweep with a fresh-worker sweep of the same plan (edgebench.analysis.worker_modes)."""
from edgebench.analysis.worker_modes import compare


def _rows(peaks, before=1000.0, added=None, latency=10.0, model="m"):
    """One ok row per batch 1, 2, 4, 8 with these peak_rss_mb; system memory added per point ``added``."""
    added = added or [50.0, 60.0, 80.0, 120.0]
    return [{"point_key": "{}/onnxruntime/fp32/{}".format(model, b), "model": model, "batch_size": b, "status": "ok",
             "peak_rss_mb": p, "system_used_before_mb": before, "system_used_peak_mb": before + a,
             "latency_median_ms": latency * b} for b, p, a in zip((1, 2, 4, 8), peaks, added)]


FRESH = [100.0, 100.0, 140.0, 220.0]


def test_reused_points_within_the_tolerance_agree():
    assert compare(_rows([101.0, 99.0, 141.0, 225.0]), _rows(FRESH))["agrees"] is True


def test_a_reused_peak_beyond_the_tolerance_is_named():
    doc = compare(_rows([100.0, 100.0, 170.0, 221.0]), _rows(FRESH))
    assert doc["agrees"] is False and doc["columns"]["peak_rss_mb"]["differing"] == [
        "m/onnxruntime/fp32/4 peak_rss_mb: reused 170.0 vs fresh 140.0"]


def test_a_column_whose_control_differs_is_not_judged():
    doc = compare(_rows(FRESH, added=[90.0, 60.0, 80.0, 200.0]), _rows(FRESH))
    column = doc["columns"]["system_added_mb"]
    assert (column["judged"], len(column["differing"]), doc["agrees"]) == (False, 2, True)


def test_a_column_neither_sweep_measured_is_left_out():
    assert "nvmap_used_peak_mb" not in compare(_rows(FRESH), _rows(FRESH))["columns"]


def test_a_moved_knee_is_a_disagreement():
    fresh = _rows([100.0, 100.0, 100.0, 200.0])  # flat to batch 4
    reused = _rows([91.0, 100.0, 109.0, 200.0])  # every point within 10 %, but rising from batch 1: knee 3.4
    doc = compare(reused, fresh)
    assert doc["columns"]["peak_rss_mb"]["differing"] == [] and doc["knees"]["same"] is False


def test_latency_ratios_are_reported_with_their_control():
    doc = compare(_rows(FRESH, latency=11.0), _rows(FRESH, latency=10.0))
    ratio = doc["latency_ratio"]
    assert round(ratio["median"], 6) == 1.1 and round(ratio["control_max"], 6) == 1.1


def test_knees_half_a_batch_apart_near_the_first_batch_are_one_knee():
    from edgebench.analysis.worker_modes import same_knees

    assert same_knees({"m": 1.0}, {"m": 1.2}) is True
