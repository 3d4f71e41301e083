import os

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebench.engines import get_backend, resolve_backend_name
from edgebench.engines.base import EngineSpec
from edgebench.engines.onnxruntime import classify_mac_precision
from edgebench.errors import BackendUnavailable, UsageError
from edgebench.models.prepare import sha256_file


def _spec(path, cache_dir, precision="fp32", batch=2):
    return EngineSpec(path, sha256_file(path), "tiny", precision, batch, cache_dir, threads=1)


def test_fp32_session_infers_like_plain_onnxruntime(tiny_onnx, cache_dir):
    session = get_backend("onnxruntime").load(_spec(tiny_onnx, cache_dir))
    x = np.random.RandomState(1).standard_normal((2, 3, 16, 16)).astype(np.float32)
    expected = ort.InferenceSession(tiny_onnx, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(session.infer(x), expected, rtol=1e-5, atol=1e-6)
    assert session.info.precision_effective == "fp32"


def test_run_executes_the_bound_batch(tiny_onnx, cache_dir):
    session = get_backend("onnxruntime").load(_spec(tiny_onnx, cache_dir, batch=4))
    session.run()
    assert session.info.provider == "CPUExecutionProvider" and session.info.threads == 1


def test_fp16_conversion_is_cached_in_the_engine_cache(tiny_onnx, cache_dir):
    backend = get_backend("onnxruntime")
    backend.load(_spec(tiny_onnx, cache_dir, "fp16"))
    files = os.listdir(os.path.join(cache_dir, "engines", "onnxruntime"))
    fp16 = [f for f in files if "-fp16-" in f and f.endswith(".onnx")]
    assert len(fp16) == 1
    mtime = os.path.getmtime(os.path.join(cache_dir, "engines", "onnxruntime", fp16[0]))
    backend.load(_spec(tiny_onnx, cache_dir, "fp16"))
    assert os.path.getmtime(os.path.join(cache_dir, "engines", "onnxruntime", fp16[0])) == mtime


def test_fp16_point_states_what_really_ran(tiny_onnx, cache_dir):
    session = get_backend("onnxruntime").load(_spec(tiny_onnx, cache_dir, "fp16"))
    info = session.info
    assert info.precision_effective in ("fp16", "fp32", "mixed")
    if info.precision_effective != "fp16":
        assert info.notes and "fp32" in info.notes[0]
    x = np.zeros((2, 3, 16, 16), dtype=np.float32)
    assert session.infer(x).dtype == np.float32  # fp32 inputs and outputs are kept


def _graph(conv_input_type):
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), dtype=np.float16), "w")
    nodes = []
    if conv_input_type == TensorProto.FLOAT16:
        nodes.append(helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16, name="cast"))
        conv_in = "x16"
    else:
        conv_in = "x"
    nodes.append(helper.make_node("Conv", [conv_in, "w"], ["y"], name="conv"))
    nodes.append(helper.make_node("MatMul", ["y", "m"], ["z"], name="mm"))
    return helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8]),
                     helper.make_tensor_value_info("m", TensorProto.FLOAT, [6, 6])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [w])


def test_conv_fed_with_fp16_counts_as_fp16_and_its_successors_inherit_it():
    result = classify_mac_precision(_graph(TensorProto.FLOAT16), {"conv": 100, "mm": 100}, "fp16")
    assert result["precision_effective"] == "fp16" and result["fp16_mac_fraction"] == 1.0


def test_conv_fed_with_fp32_counts_as_kept_in_fp32():
    result = classify_mac_precision(_graph(TensorProto.FLOAT), {"conv": 100, "mm": 100}, "fp16")
    assert result["precision_effective"] == "fp32" and result["kept_fp32"] == ["Conv x1", "MatMul x1"]


def test_mac_fraction_is_weighted_by_each_layers_macs():
    graph = _graph(TensorProto.FLOAT16)
    graph.node[2].input[0] = "x"  # the MatMul now reads an fp32 tensor
    result = classify_mac_precision(graph, {"conv": 300, "mm": 100}, "fp16")
    assert result["precision_effective"] == "mixed" and result["fp16_mac_fraction"] == 0.75


def test_auto_backend_is_onnxruntime_without_tensorrt():
    pytest.importorskip("onnxruntime")
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    assert resolve_backend_name("auto") == "onnxruntime"


def test_tensorrt_backend_without_tensorrt_is_unavailable_with_install_hint():
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    with pytest.raises(BackendUnavailable) as info:
        get_backend("tensorrt")
    assert "python3-libnvinfer" in str(info.value)


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError):
        get_backend("openvino")
