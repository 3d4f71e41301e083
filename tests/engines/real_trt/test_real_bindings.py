"""edgebench's TensorRT glue against NVIDIA's real bindings (8.5.2.2 wheel, numpy >= 1.24, no GPU here).

Everything short of a GPU: the dtype table, the logger/profiler/calibrator subclasses, version
dispatch, and the Builder/Runtime failure path (this machine has no CUDA driver, so the real module
logs "CUDA initialization failure with error: 35" and raises TypeError). The ONNX parser needs a
network from a Builder, so it cannot be constructed here.
"""
import ctypes

import numpy as np
import pytest
from testutil import RaisingCalibrationSource

from edgebench.calibration.sources import open_calibration_source
from edgebench.calibration.trt_calibrator import make_int8_calibrator, trt_cache_path
from edgebench.engines import trt_compat
from edgebench.errors import BackendUnavailable, UsageError


def test_the_real_nptype_fails_with_numpy_1_24_so_edgebench_does_not_use_it(trt):
    if tuple(int(p) for p in np.__version__.split(".")[:2]) < (1, 24):
        pytest.skip("numpy {} still has np.bool".format(np.__version__))
    with pytest.raises(AttributeError, match="bool"):
        trt.nptype(trt.float32)


def test_dtype_table_maps_every_data_type_of_the_real_module(trt):
    mapped = {name: trt_compat.numpy_dtype(value) for name, value in trt.DataType.__members__.items()}
    assert {name: dtype.itemsize for name, dtype in mapped.items()} == {
        name: value.itemsize for name, value in trt.DataType.__members__.items()}


def test_dtype_table_reads_the_real_enum_names(trt):
    assert [trt_compat.numpy_dtype(t) for t in (trt.float16, trt.int32, trt.bool)] == [
        np.dtype("float16"), np.dtype("int32"), np.dtype("bool")]


def test_builder_without_a_gpu_is_one_line_naming_cuda_initialization_failure(trt):
    logger = trt_compat.make_logger(trt)
    with pytest.raises(trt_compat.TensorRTUnusable) as caught:
        trt_compat.create(trt, trt_compat.TrtApi(trt.__version__), logger, "Builder")
    text = str(caught.value)
    assert "CUDA initialization failure" in text and "\n" not in text and "pybind11" not in text


def test_runtime_without_a_gpu_is_one_line_naming_cuda_initialization_failure(trt):
    logger = trt_compat.make_logger(trt)
    with pytest.raises(trt_compat.TensorRTUnusable, match="cannot create a Runtime: CUDA initialization failure"):
        trt_compat.create(trt, trt_compat.TrtApi(trt.__version__), logger, "Runtime")


def test_the_real_builder_raises_rather_than_returning_none(trt):
    with pytest.raises(TypeError, match="factory function returned nullptr"):
        trt.Builder(trt.Logger(trt.Logger.ERROR))


def test_logger_subclass_receives_tensorrts_own_messages(trt):
    logger = trt_compat.make_logger(trt)
    with pytest.raises(TypeError):
        trt.Builder(logger)
    assert any("CUDA initialization failure" in w for w in logger.warnings)


def test_profiler_subclass_is_a_real_iprofiler_that_collects_in_order(trt):
    profiler = trt_compat.make_profiler(trt)
    for name, ms in (("conv1", 0.5), ("relu1", 0.1), ("conv1", 0.7)):
        profiler.report_layer_time(name, ms)
    assert isinstance(profiler, trt.IProfiler) and (profiler.order, profiler.times["conv1"]) == (
        ["conv1", "relu1"], [0.5, 0.7])


def test_version_dispatch_agrees_with_what_the_real_module_has(trt):
    api = trt_compat.TrtApi(trt.__version__)
    has = {
        "memory_pool_limit": hasattr(trt.IBuilderConfig, "set_memory_pool_limit"),
        "serialized_build": hasattr(trt.Builder, "build_serialized_network"),
        "timing_cache": hasattr(trt.IBuilderConfig, "create_timing_cache"),
        "inspector": hasattr(trt.ICudaEngine, "create_engine_inspector"),
        "tensor_io": hasattr(trt.IExecutionContext, "execute_async_v3"),
        "parser_node_names": hasattr(getattr(trt, "IParserError", None) or trt.ParserError, "node_name"),
    }
    assert {name: getattr(api, name) for name in has} == has


def test_every_enum_value_edgebench_uses_exists_in_the_real_module(trt):
    used = [trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH, trt.MemoryPoolType.WORKSPACE, trt.BuilderFlag.FP16,
            trt.BuilderFlag.INT8, trt.BuilderFlag.TF32, trt.ProfilingVerbosity.DETAILED,
            trt.LayerInformationFormat.JSON, trt.TensorIOMode.INPUT, trt.ILogger.Severity.ERROR,
            trt.ILogger.Severity.WARNING]
    assert all(isinstance(int(value), int) for value in used)


# ----------------------------------------------------------------------------- calibrator


class HostMemoryCuda(object):
    """Stands in for the backend's CUDA API (no GPU here): 'device' buffers are host ctypes buffers."""

    def __init__(self):
        self.buffers = {}
        self.freed = []

    def device_alloc(self, nbytes):
        buf = ctypes.create_string_buffer(int(nbytes))
        self.buffers[ctypes.addressof(buf)] = buf
        return ctypes.addressof(buf)

    def htod(self, device, host):
        ctypes.memmove(int(device), np.ascontiguousarray(host).ctypes.data, host.nbytes)

    def device_free(self, device):
        self.freed.append(device)


@pytest.fixture
def calib_data(tmp_path):
    path = str(tmp_path / "calib.npy")
    np.save(path, np.arange(8 * 48, dtype=np.float32).reshape((8, 3, 4, 4)))
    return path


def _calibrator(trt, source, tmp_path, cuda):
    path = trt_cache_path(str(tmp_path / "cache"), "ab" * 32, source.fingerprint, "entropy2", trt.__version__)
    return make_int8_calibrator(source, 2, path, "entropy2", cuda=cuda)


def test_calibrator_is_a_real_entropy_calibrator_2(trt, calib_data, tmp_path):
    calibrator = _calibrator(trt, open_calibration_source(calib_data, shape=(3, 4, 4)), tmp_path, HostMemoryCuda())
    assert calibrator.get_algorithm() == trt.CalibrationAlgoType.ENTROPY_CALIBRATION_2


def test_calibrator_serves_every_batch_through_the_cuda_api_then_none(trt, calib_data, tmp_path):
    cuda = HostMemoryCuda()
    calibrator = _calibrator(trt, open_calibration_source(calib_data, shape=(3, 4, 4)), tmp_path, cuda)
    served = []
    while True:
        pointers = calibrator.get_batch(["input"])
        if pointers is None:
            break
        served.append(ctypes.string_at(pointers[0], 2 * 48 * 4))
    assert (len(served), served[1], calibrator.complete()) == (4, np.load(calib_data)[2:4].tobytes(), True)


def test_calibrator_whose_data_source_raises_returns_none(trt, tmp_path):
    calibrator = _calibrator(trt, RaisingCalibrationSource((3, 4, 4)), tmp_path, HostMemoryCuda())
    assert calibrator.get_batch(["input"]) is not None
    assert calibrator.get_batch(["input"]) is None


def test_the_build_reports_the_data_sources_error(trt, tmp_path):
    calibrator = _calibrator(trt, RaisingCalibrationSource((3, 4, 4)), tmp_path, HostMemoryCuda())
    while calibrator.get_batch(["input"]) is not None:
        pass
    with pytest.raises(UsageError, match="stopped after 1 batch.*OSError: Input/output error reading img_0004.png"):
        calibrator.raise_if_failed()


def test_a_short_calibration_is_not_cached(trt, tmp_path):
    calibrator = _calibrator(trt, RaisingCalibrationSource((3, 4, 4)), tmp_path, HostMemoryCuda())
    while calibrator.get_batch(["input"]) is not None:
        pass
    calibrator.write_calibration_cache(b"TRT-8502-EntropyCalibration2\ninput: 3c010a14\n")
    assert calibrator.read_calibration_cache() is None


def test_calibration_cache_key_names_the_tensorrt_version(trt, tmp_path):
    path = trt_cache_path(str(tmp_path), "ab" * 32, "cd" * 32, "entropy2", trt.__version__)
    assert "-8.5.2-" in path


# ----------------------------------------------------------------------------- the backend, no GPU


def test_backend_preflight_refuses_tensorrt_naming_cuda(trt):
    from edgebench.engines.tensorrt import TensorRTBackend

    with pytest.raises(BackendUnavailable, match="needs an NVIDIA GPU with its CUDA driver") as caught:
        TensorRTBackend.check_usable()
    assert "\n" not in str(caught.value) and caught.value.exit_status == 2


def test_auto_backend_falls_back_to_onnxruntime_without_a_gpu(trt):
    from edgebench.engines import resolve_backend_name

    assert resolve_backend_name("auto") == "onnxruntime"


def test_doctor_says_tensorrt_is_refused_here(trt):
    from edgebench.platform.doctor import diagnose

    checks = {c["name"]: c for c in diagnose()["checks"]}
    assert "refused" in checks["cuda_device"]["state"] and "CUDA" in checks["cuda_device"]["state"]


def test_real_nvml_without_a_driver_is_reported_not_raised(trt):
    from edgebench.platform.cuda_probe import probe_here

    nvml = probe_here()["nvml"]
    assert nvml is not None and "NVML Shared Library Not Found" in nvml["error"]
