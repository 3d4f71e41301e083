"""Per-layer profiles: the shared format, TensorRT layer names, and ONNX Runtime's profiling trace
(real onnxruntime on small onnx.helper models)."""
import json

import onnx_models
import pytest

from edgebench.engines import get_backend, layer_profile
from edgebench.engines.base import EngineSpec
from edgebench.models.prepare import sha256_file


def test_summarize_drops_the_first_run_and_computes_shares():
    rows = layer_profile.summarize(["a", "b"], {"a": [9.0, 1.0, 3.0], "b": [5.0, 6.0]}, {"a": "Conv"})
    assert rows == [
        {"name": "a", "type": "Conv", "time_ms": 2.0, "share": 0.25},
        {"name": "b", "type": None, "time_ms": 6.0, "share": 0.75},
    ]
    assert layer_profile.summarize(["a"], {"a": [4.0]})[0]["time_ms"] == 4.0  # one run: kept


def test_tensorrt_layer_names_map_to_onnx_operators():
    ops = {"conv1": "Conv", "relu1": "Relu", "add": "Add", "fc": "Gemm"}
    assert layer_profile.fused_parts("conv1 + relu1") == ["conv1", "relu1"]
    assert layer_profile.type_from_onnx("conv1 + relu1", ops) == "Conv+Relu"
    assert layer_profile.type_from_onnx("PWN(relu1, add)", ops) == "Relu+Add"
    assert layer_profile.type_from_onnx("Reformatting CopyNode for Input Tensor 0 to fc", ops) == "Reformat"
    assert layer_profile.type_from_onnx("{ForeignNode[conv1...fc]}", {}) is None


def test_parse_ort_trace_keeps_node_kernel_times_in_microseconds():
    events = [
        {"cat": "Session", "name": "model_run", "dur": 500},
        {"cat": "Node", "name": "conv_fence_before", "dur": 0, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "conv_kernel_time", "dur": 120, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "fc_kernel_time", "dur": 30, "args": {"op_name": "Gemm"}},
        {"cat": "Node", "name": "conv_kernel_time", "dur": 80, "args": {"op_name": "Conv"}},
    ]
    order, times, types = layer_profile.parse_ort_trace(events)
    assert order == ["conv", "fc"] and times["conv"] == [0.12, 0.08] and types == {"conv": "Conv", "fc": "Gemm"}


def _ort_spec(path, cache_dir, layers):
    options = {"layers": True} if layers else {}
    return EngineSpec(path, sha256_file(path), "tiny", "fp32", 2, cache_dir, threads=1, options=options)


def test_onnxruntime_layer_profile_from_a_separate_profiling_session(tiny_onnx, cache_dir, tmp_path, monkeypatch):
    import tempfile

    trace_dir = tmp_path / "trace"
    monkeypatch.setattr(tempfile, "mkdtemp", lambda prefix="": str(trace_dir.mkdir() or trace_dir))
    session = get_backend("onnxruntime").load(_ort_spec(tiny_onnx, cache_dir, layers=True))
    session.run()
    rows = json.loads(session.extra_columns()["layers_json"])
    types = [r["type"] for r in rows]
    assert "Conv" in types and "Gemm" in types
    assert sum(r["share"] for r in rows) == pytest.approx(1.0, abs=1e-3)
    assert all(r["time_ms"] >= 0 for r in rows)
    session.close()
    assert not trace_dir.exists()  # the trace file and its directory are removed


def test_onnxruntime_without_layers_adds_no_columns(tiny_onnx, cache_dir):
    session = get_backend("onnxruntime").load(_ort_spec(tiny_onnx, cache_dir, layers=False))
    session.run()
    assert session.extra_columns() == {}
    session.close()


def test_onnxruntime_layer_profile_of_a_bn_model_names_each_node(cache_dir, tmp_path):
    path = onnx_models.conv_net(tmp_path / "bn.onnx", bn=True)
    session = get_backend("onnxruntime").load(_ort_spec(path, cache_dir, layers=True))
    rows = json.loads(session.extra_columns()["layers_json"])
    assert rows and all(set(r) == {"name", "type", "time_ms", "share"} for r in rows)
    session.close()
