"""`edgebench sweep` with the FAKE tensorrt/pycuda importable (PYTHONPATH, this test's environment only):
``--backend auto`` picks TensorRT, rows name the FAKE GPU, a repeat sweep reuses the engines, int8
on a Nano-like GPU is stored as unsupported. The fake GPU's times are invented, not measurements."""
import trt_fakes
from cli_helpers import edgebench_json


def test_sweep_through_the_fake_tensorrt(tmp_path, tiny_onnx):
    env = trt_fakes.child_env(version="8.2.1.8", gpu="nano")
    args = ("sweep", "--model", tiny_onnx, "--backend", "auto", "--engine", "fp32,int8", "--calib-data", "synthetic",
            "--batches", "1,2", "--iterations", "3", "--duration", "0", "--warmup-ms", "0",
            "--cache-dir", tmp_path / "cache", "--json")
    first = edgebench_json(*(args + ("--out", tmp_path / "r1")), env=env)["measurements"]
    by_key = dict(((m["precision"], m["batch_size"]), m) for m in first)
    assert all(m["backend"] == "tensorrt" for m in first)
    for batch in (1, 2):
        fp32 = by_key[("fp32", batch)]
        assert fp32["status"] == "ok" and fp32["provider"] == "FAKE NVIDIA Tegra X1 (sm_53)"
        assert fp32["engine_cache_hit"] == 0
        assert by_key[("int8", batch)]["status"] == "unsupported"
        assert "platform_has_fast_int8 is False" in by_key[("int8", batch)]["error"]
    second = edgebench_json(*(args + ("--out", tmp_path / "r2")), env=env)["measurements"]
    assert [m["engine_cache_hit"] for m in second if m["status"] == "ok"] == [1, 1]
