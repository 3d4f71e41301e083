"""TensorRT and torch2trt on a real device (deselected by default; run on a Jetson with ``pytest -m jetson``).

These use NVIDIA's real tensorrt with pycuda or cuda-python and a CUDA GPU; they cross-check the
engine's output against ONNX Runtime on the CPU and exercise the cache, timing and profile paths.
"""
import importlib.util
import json

import numpy as np
import pytest

from edgebench.engines.base import EngineSpec
from edgebench.errors import UnsupportedPrecision
from edgebench.models.prepare import sha256_file

NEEDS_DEVICE = "needs NVIDIA TensorRT, CUDA Python bindings and a CUDA GPU (a Jetson)"
pytestmark = [
    pytest.mark.jetson(reason=NEEDS_DEVICE),
    pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason=NEEDS_DEVICE),
]


def _spec(path, cache_dir, precision="fp32", batch=2, **options):
    options.setdefault("input_shape", [3, 16, 16])
    return EngineSpec(path, sha256_file(path), "tiny", precision, batch, cache_dir, options=options)


def _reference(path, x):
    import onnxruntime as ort

    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def _backend():
    from edgebench.engines.tensorrt import TensorRTBackend

    return TensorRTBackend()


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 2e-2)])
def test_engine_output_matches_onnxruntime(tiny_onnx, cache_dir, precision, tolerance):
    pytest.importorskip("onnxruntime")
    try:
        session = _backend().load(_spec(tiny_onnx, cache_dir, precision, batch=4))
    except UnsupportedPrecision as exc:
        pytest.skip(str(exc))
    x = np.random.RandomState(0).standard_normal((4, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(session.infer(x), _reference(tiny_onnx, x), rtol=tolerance, atol=tolerance)
    session.close()


def test_second_load_is_a_cache_hit(tiny_onnx, cache_dir):
    first = _backend().load(_spec(tiny_onnx, cache_dir))
    assert first.extra_columns()["engine_cache_hit"] == 0
    first.close()
    second = _backend().load(_spec(tiny_onnx, cache_dir))
    columns = second.extra_columns()
    assert columns["engine_cache_hit"] == 1 and columns["build_s"] is None
    second.close()


def test_gpu_compute_time_is_within_the_host_latency(tiny_onnx, cache_dir):
    import time

    session = _backend().load(_spec(tiny_onnx, cache_dir, batch=8))
    session.run()
    session.begin_timed_window()
    host = []
    for _ in range(50):
        start = time.perf_counter()
        session.run()
        host.append((time.perf_counter() - start) * 1e3)
    columns = session.extra_columns()
    assert 0 < columns["gpu_compute_median_ms"] <= float(np.median(host))
    assert columns["h2d_median_ms"] > 0 and columns["d2h_median_ms"] > 0
    session.close()


def test_no_transfers_busy_stream_copy_outlasts_the_enqueue_once_sized(tiny_onnx, cache_dir):
    session = _backend().load(_spec(tiny_onnx, cache_dir, batch=8, no_transfers=True))
    for _ in range(10):  # the copy grows until it covers the host's enqueue
        session.run()
    session.begin_timed_window()
    for _ in range(50):
        session.run()
    covered = session._window_values(session._pad_covered)
    session.close()
    assert sum(covered) >= 0.9 * len(covered)


def test_layer_profile_on_the_device(tiny_onnx, cache_dir):
    session = _backend().load(_spec(tiny_onnx, cache_dir, layers=True))
    session.run()
    session.run()
    rows = json.loads(session.extra_columns()["layers_json"])
    assert rows and sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-3)
    session.close()


def test_int8_is_unsupported_or_calibrated(tiny_onnx, cache_dir):
    try:
        session = _backend().load(_spec(tiny_onnx, cache_dir, "int8", batch=4, calib_data="synthetic",
                                        calib_images=16))
    except UnsupportedPrecision as exc:
        assert "platform_has_fast_int8 is False" in str(exc)  # TX1 / Nano / TX2
        return
    assert session.info.precision_effective in ("int8", "mixed", None)
    session.run()
    session.close()


def test_through_the_worker(tiny_onnx, cache_dir):
    from edgebench.sweep.runner import run_worker

    job = {"engine": _spec(tiny_onnx, cache_dir).to_dict(), "backend": "tensorrt", "warmup_s": 0.1,
           "iterations": 20, "duration_s": 0.2, "max_duration_s": 30.0, "memory_limit_mb": None, "root": None}
    result = run_worker(job, timeout_s=600)
    assert result["status"] == "ok", result
    assert result["gpu_compute_median_ms"] > 0 and "FAKE" not in (result["provider"] or "")


@pytest.mark.skipif(importlib.util.find_spec("torch2trt") is None, reason="needs torch2trt on the device")
def test_torch2trt_converts_a_small_zoo_module(monkeypatch, cache_dir):
    from edgebench.engines.torch2trt import Torch2TRTBackend
    from edgebench.models import registry

    monkeypatch.setitem(registry.ZOO, "tiny_t2t_device", registry.ModelSpec(
        "tiny_t2t_device", "test", "python:trt_fakes:tiny_torch_net", input_shape=(3, 16, 16), num_classes=10))
    spec = EngineSpec("unused.onnx", "cd" * 32, "tiny_t2t_device", "fp32", 2, cache_dir,
                      options={"model_source": "zoo"})
    session = Torch2TRTBackend().load(spec)
    session.run()
    session.run()
    assert session.extra_columns()["gpu_compute_median_ms"] > 0
    assert session.infer(np.zeros((2, 3, 16, 16), np.float32)).shape == (2, 10)
    session.close()
