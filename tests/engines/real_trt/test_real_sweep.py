"""`edgebench sweep --backend tensorrt` with the real 8.5.2.2 bindings and cuda-python, no GPU: refused.

Before this check every point was stored as "error: RuntimeError: Failed to dlopen libcuda.so.1"
and the sweep exited 0.
"""
import os

import onnx_models
from cli_helpers import edgebench


def _sweep(tmp_path, *extra):
    model = onnx_models.conv_net(tmp_path / "tiny.onnx")
    proc = edgebench("sweep", "--model", model, "--batches", "1", "--out", tmp_path / "out",
                     "--cache-dir", tmp_path / "cache", *extra)
    return proc.returncode, proc.stdout, proc.stderr


def test_sweep_on_tensorrt_without_a_gpu_exits_2_with_one_line_naming_cuda(trt, tmp_path):
    status, out, err = _sweep(tmp_path, "--backend", "tensorrt")
    lines = err.strip().splitlines()
    assert (status, len(lines), "CUDA" in err, "Traceback" in err) == (2, 1, True, False)


def test_sweep_on_tensorrt_without_a_gpu_stores_nothing(trt, tmp_path):
    _sweep(tmp_path, "--backend", "tensorrt")
    assert not os.path.exists(str(tmp_path / "out"))
