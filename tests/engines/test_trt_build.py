"""Building TensorRT engines against FAKE tensorrt/pycuda (trt_fakes.py): flags, profiles, precision
checks, int8 calibration and parser errors, on both API generations. No GPU here: nothing is timed."""
import logging
import os

import numpy as np
import onnx_models
import pytest
import trt_fakes
from onnx import TensorProto, helper

from edgebench.engines.tensorrt import TensorRTBackend
from edgebench.errors import EdgebenchError, UnsupportedPrecision, UsageError

GENERATIONS = ("8.2.1.8", "10.3.0.30")
MIB = 1024 * 1024


def _load(spec):
    return TensorRTBackend().load(spec)


@pytest.mark.parametrize("version, network_flags", [("8.2.1.8", 1), ("8.6.2.3", 1), ("10.3.0.30", 0)])
def test_network_is_explicit_batch_with_the_flag_only_where_needed(monkeypatch, tiny_onnx, cache_dir, version,
                                                                   network_flags):
    world = trt_fakes.install(monkeypatch, version=version)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir)).close()
    assert world.builds[0]["network_flags"] == network_flags


@pytest.mark.parametrize("version", ("7.1.3.0", "8.2.1.8", "8.4.1.5", "10.3.0.30"))
def test_workspace_limit_uses_the_api_of_the_version(monkeypatch, tiny_onnx, cache_dir, version):
    world = trt_fakes.install(monkeypatch, version=version)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, workspace_mb=256)).close()
    assert world.builds[0]["workspace"] == 256 * MIB


@pytest.mark.parametrize("version", GENERATIONS)
def test_one_profile_per_engine_with_min_opt_max_at_the_point_batch(monkeypatch, tiny_onnx, cache_dir, version):
    world = trt_fakes.install(monkeypatch, version=version)
    for batch in (1, 8):
        session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=batch))
        assert session.engine_columns["engine_cache_hit"] == 0
        session.close()
    assert [b["profile"]["input"] for b in world.builds] == [[[1, 3, 16, 16]] * 3, [[8, 3, 16, 16]] * 3]


def test_shared_profile_builds_one_engine_for_all_batches(monkeypatch, tiny_onnx, cache_dir):
    world = trt_fakes.install(monkeypatch)
    for batch in (1, 4, 64):
        session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=batch, shared_profile=True))
        assert session.infer(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 10)
        assert "shared engine" in session.info.columns()["note"]
        session.close()
    assert len(world.builds) == 1
    assert world.builds[0]["profile"]["input"] == [[1, 3, 16, 16], [64, 3, 16, 16], [64, 3, 16, 16]]


@pytest.mark.parametrize("version", GENERATIONS)
def test_fp16_sets_the_flag_and_reports_what_ran(monkeypatch, tiny_onnx, cache_dir, version):
    world = trt_fakes.install(monkeypatch, version=version)
    fp16 = int(world.trt.BuilderFlag.FP16)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "fp32")).close()
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "fp16"))
    assert fp16 not in world.builds[0]["flags"] and fp16 in world.builds[1]["flags"]
    assert session.info.precision_effective == "fp16" and session.info.fp16_mac_fraction == 1.0
    session.close()


def test_tf32_can_be_forbidden(monkeypatch, tiny_onnx, cache_dir):
    world = trt_fakes.install(monkeypatch)
    tf32 = int(world.trt.BuilderFlag.TF32)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir)).close()
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, tf32=False)).close()
    assert tf32 in world.builds[0]["flags"] and tf32 not in world.builds[1]["flags"]


@pytest.mark.parametrize("gpu", ("nano", "tx1", "tx2"))
def test_int8_on_a_gpu_without_fast_int8_is_unsupported_not_fp32(monkeypatch, tiny_onnx, cache_dir, gpu):
    world = trt_fakes.install(monkeypatch, gpu=gpu)
    with pytest.raises(UnsupportedPrecision) as err:
        _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "int8"))  # no calibration data either: int8 is refused first
    assert "platform_has_fast_int8 is False" in str(err.value) and "fp16" in str(err.value)
    assert world.builds == [] and world.contexts == []


def test_int8_without_calibration_data_says_how_to_give_it(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch, gpu="orin")
    with pytest.raises(UsageError, match="--calib-data"):
        _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "int8"))


def _calib_npy(tmp_path, count=12):
    path = str(tmp_path / "calib.npy")
    np.save(path, np.random.RandomState(0).standard_normal((count, 3, 16, 16)).astype(np.float32))
    return path


@pytest.mark.parametrize("version", GENERATIONS)
def test_int8_calibrates_once_then_uses_the_calibration_cache(monkeypatch, tiny_onnx, cache_dir, tmp_path, version):
    world = trt_fakes.install(monkeypatch, version=version, gpu="orin")
    calib = _calib_npy(tmp_path)
    first = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "int8", batch=4, calib_data=calib, calib_images=12))
    assert first.info.precision_effective == "int8"
    assert first.info.calibration_fingerprint
    flags = world.builds[0]["flags"]
    assert int(world.trt.BuilderFlag.INT8) in flags and int(world.trt.BuilderFlag.FP16) in flags
    first.close()
    caches = os.listdir(os.path.join(cache_dir, "calibration"))
    assert any(name.startswith("trt-entropy2-") and name.endswith(".cache") for name in caches)
    second = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "int8", batch=2, calib_data=calib, calib_images=12))
    assert second.engine_columns["engine_cache_hit"] == 0  # another batch: another engine ...
    assert second.info.calibration_fingerprint == first.info.calibration_fingerprint
    second.close()
    assert world.builds[0]["calibration"] == "3 batches of [4, 3, 16, 16]"
    assert world.builds[1]["calibration"] == "cache"  # ... but the calibration cache was read, not recomputed


def test_int8_calibration_profile_is_fixed_at_the_calibration_batch(monkeypatch, tiny_onnx, cache_dir, tmp_path):
    world = trt_fakes.install(monkeypatch, gpu="orin")
    calib = _calib_npy(tmp_path, count=20)
    spec = trt_fakes.spec_for(tiny_onnx, cache_dir, "int8", batch=8, shared_profile=True, calib_data=calib,
                              calib_images=20)
    _load(spec).close()
    assert world.builds[0]["profile"]["input"][0] == [1, 3, 16, 16]  # the engine profile stays 1..64
    assert world.builds[0]["calibration"] == "2 batches of [8, 3, 16, 16]"  # calibration at a fixed batch


def test_int8_fp16_fallback_can_be_switched_off(monkeypatch, tiny_onnx, cache_dir, tmp_path):
    world = trt_fakes.install(monkeypatch, gpu="orin")
    spec = trt_fakes.spec_for(tiny_onnx, cache_dir, "int8", batch=4, calib_data=_calib_npy(tmp_path),
                              calib_images=12, int8_fp16_fallback=False)
    _load(spec).close()
    assert int(world.trt.BuilderFlag.FP16) not in world.builds[0]["flags"]


def _model_with_unsupported_ops(path):
    nodes = [
        helper.make_node("Relu", ["input"], ["a"], name="first_relu"),
        helper.make_node("FancyOp", ["a"], ["b"], name="fancy", domain="com.example"),
        helper.make_node("OtherOp", ["b"], ["output"], name="other", domain="com.example"),
    ]
    graph = helper.make_graph(
        nodes, "unsupported",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, 16, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
    model.ir_version = 7
    import onnx

    onnx.save(model, str(path))
    return str(path)


@pytest.mark.parametrize("version", GENERATIONS)
def test_parser_errors_name_every_failing_node(monkeypatch, cache_dir, tmp_path, version):
    trt_fakes.install(monkeypatch, version=version)
    path = _model_with_unsupported_ops(tmp_path / "bad.onnx")
    with pytest.raises(EdgebenchError) as err:
        _load(trt_fakes.spec_for(path, cache_dir))
    text = str(err.value)
    assert "cannot parse" in text and "(2 errors)" in text
    assert "node #1 'fancy' (FancyOp): UNSUPPORTED_NODE" in text
    assert "node #2 'other' (OtherOp)" in text
    assert "--backend onnxruntime" in text


def test_a_fixed_batch_model_is_refused_at_another_batch(monkeypatch, cache_dir, tmp_path):
    trt_fakes.install(monkeypatch)
    path = onnx_models.reshape_net(tmp_path / "fixed.onnx", batch=1)
    with pytest.raises(EdgebenchError, match="fixed batch of 1"):
        _load(trt_fakes.spec_for(path, cache_dir, batch=4, input_shape=[3, 8, 8]))
    session = _load(trt_fakes.spec_for(path, cache_dir, batch=1, input_shape=[3, 8, 8]))
    assert session.infer(np.zeros((1, 3, 8, 8), np.float32)).shape == (1, 5)
    session.close()


def test_a_failed_build_reports_tensorrts_reason(monkeypatch, tiny_onnx, cache_dir):
    world = trt_fakes.install(monkeypatch)

    def fail(self, network, config):
        self.logger.log(world.trt.ILogger.Severity.ERROR, "10: [optimizer.cpp] Could not find any implementation")
        return None

    monkeypatch.setattr(world.trt.Builder, "build_serialized_network", fail)
    with pytest.raises(EdgebenchError, match="Could not find any implementation"):
        _load(trt_fakes.spec_for(tiny_onnx, cache_dir))
    assert world.contexts == []  # the CUDA context was released


def test_a_build_out_of_memory_is_a_memory_error(monkeypatch, tiny_onnx, cache_dir):
    world = trt_fakes.install(monkeypatch)

    def fail(self, network, config):
        self.logger.log(world.trt.ILogger.Severity.ERROR, "2: [virtualMemoryBuffer.cpp] Error Code 2: OutOfMemory "
                        "(no further information); Cuda Runtime (out of memory)")
        return None

    monkeypatch.setattr(world.trt.Builder, "build_serialized_network", fail)
    with pytest.raises(MemoryError, match="out of memory"):
        _load(trt_fakes.spec_for(tiny_onnx, cache_dir))


def test_vendor_exceptions_become_edgebench_errors_with_the_stage(monkeypatch, tiny_onnx, cache_dir):
    world = trt_fakes.install(monkeypatch)

    def boom(self):
        raise RuntimeError("pybind11::error_already_set: something inside TensorRT")

    monkeypatch.setattr(world.trt.Builder, "create_builder_config", boom)
    with pytest.raises(EdgebenchError, match="while configuring the builder: RuntimeError"):
        _load(trt_fakes.spec_for(tiny_onnx, cache_dir))


def test_no_cuda_binding_says_what_to_install(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch, cuda=())
    with pytest.raises(EdgebenchError, match="pip3 install pycuda"):
        _load(trt_fakes.spec_for(tiny_onnx, cache_dir))


def test_fp16_on_the_nano_builds_with_fp16(monkeypatch, tiny_onnx, cache_dir, caplog):
    world = trt_fakes.install(monkeypatch, gpu="nano")
    caplog.set_level(logging.WARNING)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "fp16"))
    assert session.info.provider == "FAKE NVIDIA Tegra X1 (sm_53)"
    assert world.builds[0]["precision"] == "fp16"
    session.close()


def test_a_fixed_batch_model_in_a_shared_engine_is_refused_at_another_batch(monkeypatch, cache_dir, tmp_path):
    trt_fakes.install(monkeypatch)
    path = onnx_models.reshape_net(tmp_path / "fixed.onnx", batch=1)
    _load(trt_fakes.spec_for(path, cache_dir, batch=1, shared_profile=True, input_shape=[3, 8, 8])).close()
    with pytest.raises(EdgebenchError, match="fixed batch of 1"):  # the cached shared engine must not run batch 1
        _load(trt_fakes.spec_for(path, cache_dir, batch=4, shared_profile=True, input_shape=[3, 8, 8]))


def test_int8_calibrates_with_cuda_python_when_pycuda_is_absent(monkeypatch, tiny_onnx, cache_dir, tmp_path):
    world = trt_fakes.install(monkeypatch, version="10.3.0.30", gpu="orin", cuda=("cuda-python",))
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "int8", batch=4, calib_data=_calib_npy(tmp_path),
                                       calib_images=12, cuda_api="cuda-python"))
    session.close()
    assert world.builds[0]["calibration"] == "3 batches of [4, 3, 16, 16]"
