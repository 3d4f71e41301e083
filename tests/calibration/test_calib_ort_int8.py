import logging
import os

import numpy as np
import onnx
import onnx_models
import onnxruntime as ort
import pytest
from calib_helpers import requires_pil
from onnx import TensorProto, helper, numpy_helper

from edgebench.calibration import cache, ort_int8
from edgebench.calibration.sources import open_calibration_source
from edgebench.engines.base import EngineSpec
from edgebench.errors import UnsupportedPrecision, UsageError

SHAPE = (3, 16, 16)


@pytest.fixture
def model(tmp_path):
    return onnx_models.conv_net(tmp_path / "net.onnx", bn=True)


@pytest.fixture
def calib_npy(tmp_path):
    path = str(tmp_path / "calib.npy")
    np.save(path, np.random.RandomState(3).standard_normal((12,) + SHAPE).astype(np.float32))
    return path


def _prepare(model, data, cache_dir, **kw):
    source = open_calibration_source(data, shape=SHAPE)
    return ort_int8.prepare_int8_onnx(model, cache.sha256_file(model), source, cache_dir, **kw)


def _files(cache_dir):
    return sorted(os.listdir(os.path.join(cache_dir, "calibration")))


def test_quantized_model_runs_its_mac_layers_in_int8_on_the_cpu(model, calib_npy, tmp_path):
    _, info = _prepare(model, calib_npy, str(tmp_path / "c"))
    assert info["precision_effective"] == "int8"
    assert info["int8_kernels"] >= 2 and info["float_mac_kernels"] == 0


def test_int8_output_stays_close_to_fp32(model, calib_npy, tmp_path):
    path, _ = _prepare(model, calib_npy, str(tmp_path / "c"))
    x = np.load(calib_npy)[:8]
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    out = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert np.max(np.abs(out - ref)) < 0.1 * np.max(np.abs(ref))


def test_second_prepare_reuses_the_cached_model(model, calib_npy, tmp_path):
    cache_dir = str(tmp_path / "c")
    path, first = _prepare(model, calib_npy, cache_dir)
    mtime = os.path.getmtime(path)
    path2, second = _prepare(model, calib_npy, cache_dir)
    assert (first["cache"], second["cache"]) == ("built", "hit")
    assert path2 == path and os.path.getmtime(path) == mtime


def test_changed_calibration_data_builds_a_new_model(model, calib_npy, tmp_path):
    cache_dir = str(tmp_path / "c")
    first, _ = _prepare(model, calib_npy, cache_dir)
    np.save(calib_npy, np.random.RandomState(4).standard_normal((12,) + SHAPE).astype(np.float32))
    second, info = _prepare(model, calib_npy, cache_dir)
    assert second != first and info["cache"] == "built"


OLD_ORT = tuple(int(p) for p in ort.__version__.split(".")[:2]) < (1, 11)


@pytest.mark.skipif(OLD_ORT, reason="onnxruntime 1.10's entropy calibration cannot range graph outputs")
def test_another_algorithm_is_cached_separately(model, calib_npy, tmp_path):
    cache_dir = str(tmp_path / "c")
    a, _ = _prepare(model, calib_npy, cache_dir)
    b, info = _prepare(model, calib_npy, cache_dir, algorithm="entropy")
    assert a != b and info["algorithm"] == "entropy"


@pytest.mark.skipif(not OLD_ORT, reason="the failure is specific to onnxruntime 1.10")
def test_entropy_failure_on_onnxruntime_1_10_suggests_minmax(model, calib_npy, tmp_path):
    with pytest.raises(UnsupportedPrecision, match="--calib-algorithm minmax"):
        _prepare(model, calib_npy, str(tmp_path / "c"), algorithm="entropy")
    assert _files(str(tmp_path / "c")) == []


def test_corrupt_cached_model_is_rebuilt_with_a_warning(model, calib_npy, tmp_path, caplog):
    cache_dir = str(tmp_path / "c")
    path, _ = _prepare(model, calib_npy, cache_dir)
    with open(path, "r+b") as fh:
        fh.truncate(100)
    with caplog.at_level(logging.WARNING):
        path2, info = _prepare(model, calib_npy, cache_dir)
    assert "corrupt" in caplog.text and info["cache"] == "built"
    onnx.checker.check_model(onnx.load(path2))


def test_wrong_shaped_calibration_data_fails_and_caches_nothing(model, tmp_path):
    cache_dir = str(tmp_path / "c")
    bad = str(tmp_path / "bad.npy")
    np.save(bad, np.zeros((4, 3, 8, 8), dtype=np.float32))
    source = open_calibration_source(bad, shape=(3, 8, 8))
    with pytest.raises(UsageError, match="takes 3x16x16"):
        ort_int8.prepare_int8_onnx(model, cache.sha256_file(model), source, cache_dir)
    assert _files(cache_dir) == []


@requires_pil
def test_calibration_that_runs_out_of_images_caches_nothing(model, tmp_path):
    cache_dir = str(tmp_path / "c")
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(3):
        (folder / "img{}.jpg".format(i)).write_bytes(b"not a jpeg")
    from edgebench.calibration.preprocess import Preprocess

    source = open_calibration_source(str(folder), Preprocess(16))
    with pytest.raises(UsageError, match="could not be decoded"):
        ort_int8.prepare_int8_onnx(model, cache.sha256_file(model), source, cache_dir)
    assert _files(cache_dir) == []


def test_quantization_writes_nothing_into_the_working_directory(model, calib_npy, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(str(cwd))
    _prepare(model, calib_npy, str(tmp_path / "c"))
    assert os.listdir(str(cwd)) == [] and os.getcwd() == str(cwd)


def _relu_add_net(path):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["r"], name="relu"),
         helper.make_node("Add", ["r", "bias"], ["output"], name="add")],
        "no_macs",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + list(SHAPE))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch"] + list(SHAPE))],
        [numpy_helper.from_array(np.ones(SHAPE, dtype=np.float32), "bias")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, str(path))
    return str(path)


def test_model_without_int8_layers_is_unsupported_and_not_cached(calib_npy, tmp_path):
    cache_dir = str(tmp_path / "c")
    with pytest.raises(UnsupportedPrecision, match="int8"):
        _prepare(_relu_add_net(tmp_path / "plain.onnx"), calib_npy, cache_dir)
    assert _files(cache_dir) == []


def test_quantizer_exception_becomes_unsupported_precision(model, calib_npy, tmp_path, monkeypatch):
    from onnxruntime import quantization

    def broken(*args, **kwargs):
        raise RuntimeError("Unsupported op SomethingNew")

    monkeypatch.setattr(quantization, "quantize_static", broken)
    with pytest.raises(UnsupportedPrecision, match="SomethingNew"):
        _prepare(model, calib_npy, str(tmp_path / "c"))


def test_fixed_batch_model_is_calibrated_with_full_batches(tmp_path, calib_npy):
    fixed = onnx_models.conv_net(tmp_path / "fixed.onnx", batch=5)
    _, info = _prepare(fixed, calib_npy, str(tmp_path / "c"))
    assert info["calibration_batch_size"] == 5 and info["calibration_images_fed"] == 10


def test_mac_weighted_fraction_uses_node_macs(model, calib_npy, tmp_path):
    _, info = _prepare(model, calib_npy, str(tmp_path / "c"), node_macs={"conv": 1000, "fc": 80})
    assert info["fraction_basis"] == "macs" and info["int8_mac_fraction"] == 1.0


def test_partly_quantized_graph_is_mixed_weighted_by_macs():
    graph = helper.make_graph(
        [helper.make_node("QLinearConv", ["a"], ["b"], name="conv"),
         helper.make_node("Gemm", ["b"], ["c"], name="fc")],
        "g", [], [],
    )
    report = ort_int8.classify_graph(graph, {"conv": 900, "fc": 100})
    assert report["precision_effective"] == "mixed" and report["int8_mac_fraction"] == 0.9
    assert report["kept_float"] == ["Gemm x1"]


def test_engine_spec_options_drive_the_backend_hook(model, calib_npy, tmp_path):
    spec = EngineSpec(model, cache.sha256_file(model), "net", "int8", 4, str(tmp_path / "c"),
                      options={"calib_data": calib_npy, "calib_images": 8, "input_shape": list(SHAPE),
                               "model_source": "onnx"})
    path = ort_int8.prepare_int8_onnx_for_spec(spec)
    info = ort_int8.read_int8_info(path)
    assert info["calibration"]["selected"] == 8 and info["precision_effective"] == "int8"


def test_engine_spec_without_calibration_data_is_a_usage_error(model, tmp_path):
    spec = EngineSpec(model, cache.sha256_file(model), "net", "int8", 4, str(tmp_path / "c"))
    with pytest.raises(UsageError, match="--calib-data"):
        ort_int8.prepare_int8_onnx_for_spec(spec)


def test_unknown_int8_option_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown int8 option"):
        ort_int8.quantization_options("minmax", {"bits": 4})


def _residual_block_net(path, channels=8):
    """Conv -> Relu -> Conv -> Add(block input) -> Relu -> GlobalAveragePool -> Flatten -> Gemm."""
    rng = np.random.RandomState(7)

    def w(name, shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["input", "w0", "b0"], ["x0"], pads=[1, 1, 1, 1], name="stem"),
        helper.make_node("Relu", ["x0"], ["r0"], name="relu0"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["x1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["x1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["x2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Add", ["x2", "r0"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["output"], transB=1, name="fc"),
    ]
    inits = [w("w0", (channels, 3, 3, 3)), w("b0", (channels,)), w("w1", (channels, channels, 3, 3)),
             w("b1", (channels,)), w("w2", (channels, channels, 3, 3)), w("b2", (channels,)),
             w("fc_w", (10, channels)), w("fc_b", (10,))]
    graph = helper.make_graph(
        nodes, "residual",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + list(SHAPE))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, str(path))
    return str(path)


def test_residual_block_with_relus_runs_every_layer_in_int8(calib_npy, tmp_path):
    _, info = _prepare(_residual_block_net(tmp_path / "res.onnx"), calib_npy, str(tmp_path / "c"))
    assert (info["int8_kernels"], info["float_mac_kernels"]) == (4, 0)
