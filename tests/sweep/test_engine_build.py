"""ONNX Runtime's fp16 conversion is a build: once per model and precision, in its own process, before
the batch workers - recorded as build_s / engine_cache_hit / engine_size_mb, never charged to batch 1."""
import onnx_models
import pytest
from cli_helpers import edgebench_json

FAST = ("--duration", "0.05", "--iterations", "3", "--warmup-ms", "0")


def _sweep(model, cache, out, batches="1,2,4"):
    doc = edgebench_json("sweep", "--model", model, "--engine", "fp16", "--batches", batches, "--json",
                         "--out", out, "--cache-dir", cache, *FAST)
    return doc["measurements"]


@pytest.fixture
def weighty_onnx(tmp_path):
    """16 M parameters (65 MB in fp32) but little compute: converting it costs memory a worker would show."""
    return onnx_models.conv_net(tmp_path / "weighty.onnx", channels=2048, size=8, classes=8000)


def test_the_conversion_is_recorded_once_as_build_s(tiny_onnx, tmp_path):
    rows = _sweep(tiny_onnx, tmp_path / "cache", tmp_path / "r")
    assert [r["build_s"] is not None for r in rows] == [True, False, False]
    assert [r["engine_cache_hit"] for r in rows] == [0, 1, 1]


def test_every_point_records_the_converted_models_size(tiny_onnx, tmp_path):
    rows = _sweep(tiny_onnx, tmp_path / "cache", tmp_path / "r")
    assert all(r["engine_size_mb"] and r["engine_size_mb"] > 0 for r in rows)


def test_a_second_sweep_finds_the_converted_model_in_the_cache(tiny_onnx, tmp_path):
    _sweep(tiny_onnx, tmp_path / "cache", tmp_path / "r1", batches="1")
    (row,) = _sweep(tiny_onnx, tmp_path / "cache", tmp_path / "r2", batches="1")
    assert row["engine_cache_hit"] == 1 and row["build_s"] is None


@pytest.mark.slow
def test_batch_1_memory_is_not_charged_with_the_conversion(weighty_onnx, tmp_path):
    one, two = _sweep(weighty_onnx, tmp_path / "cache", tmp_path / "r", batches="1,2")
    assert one["peak_rss_mb"] == pytest.approx(two["peak_rss_mb"], rel=0.2)
