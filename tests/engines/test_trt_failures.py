"""How the glue meets TensorRT's real failure modes, on the FAKE tensorrt (trt_fakes.py) that now
fails where the real one fails: no GPU/driver (as the real 8.5.2.2 wheel here, tests/engines/real_trt/),
calibrator exceptions per version (8.2 aborts, 8.4+ ends the data), ``trt.nptype`` with numpy >= 1.24,
engine I/O in dtypes other than float32. No GPU here: nothing is timed."""
import os

import numpy as np
import onnx_models
import pytest
import trt_fakes
from cli_helpers import edgebench
from onnx import TensorProto, helper
from testutil import RaisingCalibrationSource

from edgebench.engines import trt_compat
from edgebench.engines.tensorrt import TensorRTBackend
from edgebench.errors import BackendUnavailable, UsageError

NUMPY_1_24 = tuple(int(p) for p in np.__version__.split(".")[:2]) >= (1, 24)


def _load(spec):
    return TensorRTBackend().load(spec)


# ----------------------------------------------------------------------------- no GPU, no driver


def test_load_without_a_driver_names_cuda_pythons_reason(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch, version="8.5.2.2", gpu="none", cuda=("cuda-python",))
    with pytest.raises(BackendUnavailable, match="Failed to dlopen libcuda.so.1"):
        _load(trt_fakes.spec_for(tiny_onnx, cache_dir))


def test_builder_without_a_gpu_is_tensorrts_logged_reason_not_pybinds(monkeypatch):
    world = trt_fakes.install(monkeypatch, version="8.5.2.2", gpu="none")
    trt = world.trt
    with pytest.raises(trt_compat.TensorRTUnusable, match="cannot create a Builder: CUDA initialization failure"):
        trt_compat.create(trt, trt_compat.TrtApi(trt.__version__), trt_compat.make_logger(trt), "Builder")


def test_sweep_with_tensorrt_but_no_gpu_exits_2_before_storing_anything(tmp_path, tiny_onnx):
    env = trt_fakes.child_env(version="8.5.2.2", gpu="none")
    proc = edgebench("sweep", "--model", tiny_onnx, "--backend", "tensorrt", "--batches", "1",
                         "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache", env=env)
    assert (proc.returncode, "CUDA" in proc.stderr, os.path.exists(str(tmp_path / "out"))) == (2, True, False)


def test_sweep_with_auto_and_no_gpu_measures_on_onnxruntime(tmp_path, tiny_onnx):
    env = trt_fakes.child_env(version="8.5.2.2", gpu="none")
    proc = edgebench("sweep", "--model", tiny_onnx, "--backend", "auto", "--batches", "1", "--iterations", "2",
                         "--duration", "0", "--warmup-ms", "0", "--out", tmp_path / "out",
                         "--cache-dir", tmp_path / "cache", env=env)
    assert proc.returncode == 0 and "onnxruntime" in proc.stdout


# ----------------------------------------------------------------------------- numpy >= 1.24


@pytest.mark.skipif(not NUMPY_1_24, reason="needs numpy >= 1.24 (np.bool removed)")
def test_the_fake_nptype_of_8_5_fails_with_new_numpy_like_the_real_one(monkeypatch):
    trt = trt_fakes.install(monkeypatch, version="8.5.2.2").trt
    with pytest.raises(AttributeError, match="bool"):
        trt.nptype(trt.DataType.FLOAT)


def test_an_8_5_engine_binds_its_buffers_without_nptype(monkeypatch, tiny_onnx, cache_dir):
    trt = trt_fakes.install(monkeypatch, version="8.5.2.2").trt
    monkeypatch.setattr(trt, "nptype", lambda dtype: 1 / 0)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir))
    assert session.infer(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 10)
    session.close()


# ----------------------------------------------------------------------------- I/O dtypes


def _fp16_io_net(path):
    """float16 image in, float16 scores out (Cast around a global average pool)."""
    nodes = [helper.make_node("Cast", ["image"], ["x32"], to=TensorProto.FLOAT),
             helper.make_node("GlobalAveragePool", ["x32"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("Cast", ["flat"], ["scores"], to=TensorProto.FLOAT16)]
    graph = helper.make_graph(nodes, "fp16_io", [helper.make_tensor_value_info("image", TensorProto.FLOAT16,
                                                                               ["batch", 3, 16, 16])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT16, ["batch", 3])])
    return onnx_models._save(graph, path)


@pytest.mark.parametrize("version", ("8.2.1.8", "8.5.2.2", "10.3.0.30"))
def test_float16_engine_io_gets_float16_buffers(monkeypatch, cache_dir, tmp_path, version):
    trt_fakes.install(monkeypatch, version=version)
    session = _load(trt_fakes.spec_for(_fp16_io_net(tmp_path / "fp16.onnx"), cache_dir))
    assert [t.dtype for t in session._io] == [np.dtype("float16")] * 2
    session.close()


def test_float16_engine_answers_in_float16(monkeypatch, cache_dir, tmp_path):
    trt_fakes.install(monkeypatch, version="8.5.2.2")
    session = _load(trt_fakes.spec_for(_fp16_io_net(tmp_path / "fp16.onnx"), cache_dir))
    out = session.infer(np.ones((2, 3, 16, 16), np.float32))
    session.close()
    assert out.dtype == np.float16 and out.shape == (2, 3)


def test_an_io_type_numpy_lacks_is_refused_with_the_reason():
    class Bf16(object):
        name = "BF16"

    with pytest.raises(Exception, match="BF16 has no numpy equivalent"):
        trt_compat.numpy_dtype(Bf16())


# ----------------------------------------------------------------------------- calibrator exceptions


def _int8_spec(monkeypatch, tiny_onnx, cache_dir, tmp_path):
    from edgebench.calibration import ort_int8

    monkeypatch.setattr(ort_int8, "source_for_spec", lambda spec: RaisingCalibrationSource((3, 16, 16)))
    return trt_fakes.spec_for(tiny_onnx, cache_dir, "int8", batch=4, calib_data=str(tmp_path / "unused.npy"))


@pytest.mark.parametrize("version", ("8.2.1.8", "8.5.2.2", "10.3.0.30"))
def test_a_failing_calibration_source_fails_the_build_with_its_own_error(monkeypatch, tiny_onnx, cache_dir, tmp_path,
                                                                        version):
    trt_fakes.install(monkeypatch, version=version, gpu="orin")
    with pytest.raises(UsageError, match="Input/output error reading img_0004.png"):
        _load(_int8_spec(monkeypatch, tiny_onnx, cache_dir, tmp_path))


def test_a_failing_calibration_source_leaves_no_calibration_cache(monkeypatch, tiny_onnx, cache_dir, tmp_path):
    trt_fakes.install(monkeypatch, version="8.5.2.2", gpu="orin")
    with pytest.raises(UsageError):
        _load(_int8_spec(monkeypatch, tiny_onnx, cache_dir, tmp_path))
    assert [n for n in os.listdir(os.path.join(cache_dir, "calibration")) if n.endswith(".cache")] == []


def _naive_calibrator(trt):
    class Naive(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)

        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            raise OSError("disk error")

        def read_calibration_cache(self):
            return None

        def write_calibration_cache(self, data):
            return None

    return Naive()


def _network(trt, tiny_onnx):
    builder = trt.Builder(trt.Logger())
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = trt.OnnxParser(network, trt.Logger())
    with open(tiny_onnx, "rb") as fh:
        assert parser.parse(fh.read())
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.INT8)
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 3, 16, 16), (1, 3, 16, 16), (1, 3, 16, 16))
    config.add_optimization_profile(profile)
    return builder, network, config


def test_the_fake_8_2_aborts_when_a_calibrator_callback_raises(monkeypatch, tiny_onnx):
    trt = trt_fakes.install(monkeypatch, version="8.2.1.8", gpu="orin").trt
    builder, network, config = _network(trt, tiny_onnx)
    config.int8_calibrator = _naive_calibrator(trt)
    with pytest.raises(trt_fakes.fake_lib().CalibratorTerminate):
        builder.build_serialized_network(network, config)


def test_the_fake_8_5_takes_a_raising_get_batch_as_the_end_of_the_data(monkeypatch, tiny_onnx, capfd):
    trt = trt_fakes.install(monkeypatch, version="8.5.2.2", gpu="orin").trt
    builder, network, config = _network(trt, tiny_onnx)
    config.int8_calibrator = _naive_calibrator(trt)
    assert builder.build_serialized_network(network, config) is None  # no batch at all: no scales
    assert "OSError: disk error" in capfd.readouterr().err

