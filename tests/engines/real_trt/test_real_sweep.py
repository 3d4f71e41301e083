"""`edgebench sweep --backend tensorrt` with the real 8.5.2.2 bindings and cuda-python, no GPU: refused.

Before this check every point was stored as "error: RuntimeError: Failed to dlopen libcuda.so.1"
and the sweep exited 0.
"""
import os
import subprocess
import sys

import onnx_models


def _sweep(tmp_path, *extra):
    model = onnx_models.conv_net(tmp_path / "tiny.onnx")
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    argv = [sys.executable, "-m", "edgebench", "sweep", "--model", str(model), "--batches", "1",
            "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")] + list(extra)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def test_sweep_on_tensorrt_without_a_gpu_exits_2_with_one_line_naming_cuda(trt, tmp_path):
    status, out, err = _sweep(tmp_path, "--backend", "tensorrt")
    lines = err.strip().splitlines()
    assert (status, len(lines), "CUDA" in err, "Traceback" in err) == (2, 1, True, False)


def test_sweep_on_tensorrt_without_a_gpu_stores_nothing(trt, tmp_path):
    _sweep(tmp_path, "--backend", "tensorrt")
    assert not os.path.exists(str(tmp_path / "out"))
