"""Version dispatch of the TensorRT backend, against FAKE tensorrt modules (trt_fakes.py): no GPU here.

Each test picks the API generation of the fake; the fakes fail the way the real bindings do when
a call from the other generation is used (AttributeError), which is what the dispatch prevents.
"""
import pytest
import trt_fakes

from edgebench.engines import trt_compat
from edgebench.engines.tensorrt import TensorRTBackend
from edgebench.errors import EdgebenchError


def test_version_tuple_compares_numbers_not_text():
    assert trt_compat.version_tuple("8.2.1.8") == (8, 2, 1, 8)
    assert trt_compat.version_tuple("10.3.0.30") == (10, 3, 0, 30)
    assert trt_compat.version_tuple("10.0") > trt_compat.version_tuple("8.6.1")
    assert "10.0" < "8.6.1"  # why strings must never be compared
    assert trt_compat.version_tuple("") == () and trt_compat.version_tuple(None) == ()


@pytest.mark.parametrize("version, expected", [
    ("7.1.3.0", dict(explicit_batch_flag=True, memory_pool_limit=False, serialized_build=False,
                     timing_cache=False, inspector=False, tensor_io=False, parser_node_names=False)),
    ("8.2.1.8", dict(explicit_batch_flag=True, memory_pool_limit=False, serialized_build=True,
                     timing_cache=True, inspector=True, tensor_io=False, parser_node_names=False)),
    ("8.4.1.5", dict(explicit_batch_flag=True, memory_pool_limit=True, serialized_build=True, tensor_io=False)),
    ("8.5.2.2", dict(explicit_batch_flag=True, memory_pool_limit=True, tensor_io=True, parser_node_names=False)),
    ("8.6.2.3", dict(tensor_io=True, explicit_batch_flag=True)),
    ("10.3.0.30", dict(explicit_batch_flag=False, memory_pool_limit=True, serialized_build=True, tensor_io=True,
                       parser_node_names=True, precision_flags=True)),
])
def test_capability_table(version, expected):
    api = trt_compat.TrtApi(version)
    assert api.unsupported_reason() is None
    for name, value in expected.items():
        assert getattr(api, name) == value, name


@pytest.mark.parametrize("version, words", [
    ("11.0.0.1", ("unsupported TensorRT version 11.0.0.1", "FP16/INT8", "--backend onnxruntime")),
    ("7.0.0.11", ("unsupported TensorRT version 7.0.0.11", "7.1 or newer")),
])
def test_unsupported_versions_say_why_and_what_to_do(version, words):
    reason = trt_compat.TrtApi(version).unsupported_reason()
    for word in words:
        assert word in reason
    with pytest.raises(trt_compat.UnsupportedTensorRT):
        trt_compat.TrtApi(version).check_supported()


def test_tensorrt_11_is_refused_at_load_with_a_clear_error(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch, version="11.0.0.1")
    assert not TensorRTBackend.is_available()
    assert "unsupported TensorRT version" in TensorRTBackend.unavailable_reason()
    with pytest.raises(EdgebenchError, match="unsupported TensorRT version 11"):
        TensorRTBackend().load(trt_fakes.spec_for(tiny_onnx, cache_dir))


def test_available_and_version_come_from_the_installed_module(monkeypatch):
    trt_fakes.install(monkeypatch, version="8.6.2.3")
    assert TensorRTBackend.is_available()
    assert TensorRTBackend.version() == "8.6.2.3"


# The fakes refuse the calls of the other API generation, as the real bindings do.


def test_fake_8_2_has_no_execute_async_v3_and_no_tensor_addresses(monkeypatch):
    trt = trt_fakes.install(monkeypatch, version="8.2.1.8").trt
    assert not hasattr(trt, "TensorIOMode") and not hasattr(trt, "MemoryPoolType")
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(_plan(trt))
    assert not hasattr(engine, "num_io_tensors") and engine.num_bindings == 2
    context = engine.create_execution_context()
    with pytest.raises(AttributeError):
        context.execute_async_v3(0)
    with pytest.raises(AttributeError):
        context.set_tensor_address("input", 0)
    assert hasattr(context, "execute_async_v2")


def test_fake_10_has_no_build_engine_no_workspace_size_and_no_bindings(monkeypatch):
    trt = trt_fakes.install(monkeypatch, version="10.3.0.30").trt
    builder = trt.Builder(trt.Logger())
    assert not hasattr(builder, "build_engine")
    config = builder.create_builder_config()
    with pytest.raises(AttributeError):
        config.max_workspace_size = 1 << 20
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(_plan(trt))
    assert not hasattr(engine, "num_bindings")
    context = engine.create_execution_context()
    assert not hasattr(context, "execute_async_v2") and hasattr(context, "execute_async_v3")


def test_dispatch_for_the_wrong_generation_fails_like_the_real_library(monkeypatch):
    trt = trt_fakes.install(monkeypatch, version="10.3.0.30").trt
    builder = trt.Builder(trt.Logger())
    config = builder.create_builder_config()
    with pytest.raises(AttributeError):
        trt_compat.set_workspace(trt, trt_compat.TrtApi("8.2.1.8"), config, 1 << 20)
    trt_compat.set_workspace(trt, trt_compat.TrtApi("10.3.0.30"), config, 1 << 20)
    assert config.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 1 << 20
    with pytest.raises(AttributeError):
        trt_compat.build_plan(trt_compat.TrtApi("7.1.3.0"), builder, builder.create_network(0), config)


def test_subclassing_logger_without_base_init_fails_like_pybind(monkeypatch):
    trt = trt_fakes.install(monkeypatch).trt

    class Bad(trt.ILogger):
        def __init__(self):
            pass

        def log(self, severity, msg):
            pass

    with pytest.raises(TypeError, match="__init__"):
        trt.Builder(Bad())
    logger = trt_compat.make_logger(trt)
    logger.log(trt.ILogger.Severity.ERROR, "boom")
    logger.log(trt.ILogger.Severity.INFO, "chatter")
    assert logger.take_errors() == ["boom"] and logger.take_errors() == []


def _plan(trt):
    import json

    lib = trt_fakes.fake_lib()
    world = trt.fake_world
    plan = {"tensorrt": world.version_text, "gpu": world.gpu_name, "inputs": [["input", [-1, 3, 4, 4]]],
            "outputs": [["output", [-1, 2]]], "profile": {"input": [[1, 3, 4, 4]] * 3},
            "layers": [{"name": "l", "type": "Conv", "nodes": [], "precision": "fp32"}], "precision": "fp32",
            "detailed": False, "workspace": 0, "calibration": None}
    return lib.PLAN_MAGIC + json.dumps(plan).encode("utf-8")
