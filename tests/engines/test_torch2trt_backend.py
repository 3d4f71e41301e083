"""The torch2trt backend against FAKE torch2trt/tensorrt (trt_fakes.py) and a CPU stand-in for
torch.cuda (no GPU here): zoo-only rule, conversion arguments per precision and torch2trt version,
the engine cache, calibration batches, timing plumbing. Numbers are invented; nothing is measured."""
import importlib.util
import json
import time

import numpy as np
import pytest
import trt_fakes

from edgebench.engines import torch2trt as t2t_backend
from edgebench.engines.base import EngineSpec
from edgebench.errors import BackendUnavailable, EdgebenchError, UnsupportedPrecision, UsageError
from edgebench.models import registry

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch (the zoo extra)")

MODEL = "tiny_t2t_test"


class CpuStandIn(object):
    """torch.cuda's part, played on the CPU with host-clock 'events' (a test stand-in, not a GPU)."""

    def __init__(self, torch):
        self.torch = torch
        self.device = torch.device("cpu")
        self.current = ["default"]  # the stream CUDA work would go on
        self.streams_used = []

    def new_stream(self):
        return "side-stream-{}".format(len(self.streams_used))

    def on_stream(self, stream):
        stand_in = self

        class OnStream(object):
            def __enter__(self):
                stand_in.current.append(stream)

            def __exit__(self, *exc):
                stand_in.current.pop()

        return OnStream()

    def name(self):
        return "FAKE CPU stand-in"

    def capability(self):
        return (8, 7)

    def to_device(self, tensor):
        return tensor.to(self.device)

    def pinned(self, tensor):
        return tensor

    def event(self):
        return [None]

    def record(self, event):
        self.streams_used.append(self.current[-1])
        event[0] = time.perf_counter()

    def wait(self, event):
        pass

    def elapsed_ms(self, start, end):
        return (end[0] - start[0]) * 1e3

    def synchronize(self):
        pass


@pytest.fixture
def t2t(monkeypatch):
    def install(version="8.2.1.8", gpu="orin", torch2trt_version="0.5.0"):
        world = trt_fakes.install(monkeypatch, version=version, gpu=gpu, torch2trt=True)
        world.torch2trt.__version__ = torch2trt_version
        monkeypatch.setattr(t2t_backend, "_cuda_device", CpuStandIn)
        monkeypatch.setitem(registry.ZOO, MODEL, registry.ModelSpec(
            MODEL, "test", "python:trt_fakes:tiny_torch_net", input_shape=(3, 16, 16), num_classes=10))
        return world

    return install


def _spec(cache_dir, precision="fp32", batch=2, model=MODEL, **options):
    options.setdefault("model_source", "zoo")
    return EngineSpec("unused.onnx", "ab" * 32, model, precision, batch, cache_dir, options=options)


def _load(spec):
    return t2t_backend.Torch2TRTBackend().load(spec)


def test_user_onnx_models_are_refused(t2t, cache_dir):
    t2t()
    with pytest.raises(UnsupportedPrecision, match="torch2trt converts zoo models only"):
        _load(_spec(cache_dir, model="my_model", model_source="onnx"))
    with pytest.raises(UnsupportedPrecision, match="zoo models only"):
        _load(_spec(cache_dir, model="not_in_the_zoo"))


def test_fp32_conversion_runs_and_times(t2t, cache_dir):
    world = t2t()
    session = _load(_spec(cache_dir, batch=4))
    call = world.torch2trt_calls[0]
    assert call["fp16_mode"] is False and call["int8_mode"] is False
    assert call["max_workspace_size"] == 1024 * 1024 * 1024 and call["max_batch_size"] is None
    session.run()
    session.begin_timed_window()
    session.run()
    columns = session.extra_columns()
    assert columns["engine_cache_hit"] == 0 and columns["build_s"] is not None
    assert columns["gpu_compute_median_ms"] >= 0 and columns["h2d_median_ms"] >= 0
    assert session.info.provider == "FAKE CPU stand-in (sm_87)"
    x = np.random.RandomState(0).standard_normal((3, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(session.infer(x), x.reshape(3, -1).mean(1)[:, None] + np.arange(10), rtol=1e-5,
                               atol=1e-5)
    session.close()


def test_second_load_uses_the_cached_plan(t2t, cache_dir):
    world = t2t()
    _load(_spec(cache_dir, "fp16")).close()
    session = _load(_spec(cache_dir, "fp16"))
    assert len(world.torch2trt_calls) == 1
    assert session.extra_columns()["engine_cache_hit"] == 1
    assert session.infer(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 10)
    session.close()


def test_fp16_mode_and_explicit_batch_profile(t2t, cache_dir):
    world = t2t()
    _load(_spec(cache_dir, "fp16", batch=8, shared_profile=True)).close()
    call = world.torch2trt_calls[0]
    assert call["fp16_mode"] is True
    assert call["min_shapes"] == [(1, 3, 16, 16)] and call["max_shapes"] == [(64, 3, 16, 16)]


def test_torch2trt_0_4_builds_a_static_engine_of_the_point_batch(t2t, cache_dir):
    world = t2t(torch2trt_version="0.4.0")
    _load(_spec(cache_dir, batch=4)).close()
    call = world.torch2trt_calls[0]
    assert (call["max_batch_size"], call["min_shapes"], call["static_shape"]) == (4, None, [4, 3, 16, 16])


def test_torch2trt_0_4_points_say_their_engine_is_static(t2t, cache_dir):
    t2t(torch2trt_version="0.4.0")
    session = _load(_spec(cache_dir, batch=4))
    session.close()
    assert "static-shape engine for batch 4 only" in session.info.columns()["note"]


def test_torch2trt_0_4_refuses_a_shared_profile(t2t, cache_dir):
    t2t(torch2trt_version="0.4.0")
    with pytest.raises(EdgebenchError, match="static shapes.*no shared profile"):
        _load(_spec(cache_dir, batch=4, shared_profile=True))


def test_torch2trt_0_4_int8_calibrates_single_images_into_an_engine_batch(t2t, cache_dir, tmp_path):
    world = t2t(gpu="orin", torch2trt_version="0.4.0")
    calib = str(tmp_path / "calib.npy")
    np.save(calib, np.random.RandomState(0).standard_normal((10, 3, 16, 16)).astype(np.float32))
    _load(_spec(cache_dir, "int8", batch=4, calib_data=calib, calib_images=10)).close()
    call = world.torch2trt_calls[0]
    assert (call["calib_shapes"], call["int8_calib_batch_size"]) == ([(3, 16, 16)], 4)


def test_the_0_5_0_release_on_tensorrt_10_is_refused_with_the_reason(t2t, cache_dir):
    t2t(version="10.3.0.30")
    with pytest.raises(BackendUnavailable, match="v0.5.0 release.*build_engine.*master branch"):
        _load(_spec(cache_dir))


def test_torch2trt_master_on_tensorrt_10_converts(t2t, cache_dir):
    world = t2t(version="10.3.0.30")
    world.torch2trt.use_master()
    session = _load(_spec(cache_dir))
    assert session.infer(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 10)
    session.close()


def test_torch2trt_runs_on_a_stream_of_its_own(t2t, cache_dir, monkeypatch):
    t2t()
    session = _load(_spec(cache_dir))
    session.run()
    used = set(session._device.streams_used)
    session.close()
    assert used == {"side-stream-0"}


def test_torch2trt_points_are_labelled_not_comparable_one_to_one(t2t, cache_dir):
    t2t()
    session = _load(_spec(cache_dir))
    session.close()
    assert "not one-to-one with --backend tensorrt" in session.info.columns()["note"]


def test_int8_on_a_nano_is_unsupported(t2t, cache_dir):
    t2t(gpu="nano")
    with pytest.raises(UnsupportedPrecision, match="platform_has_fast_int8 is False"):
        _load(_spec(cache_dir, "int8"))


def test_int8_calibrates_with_batches_of_the_engine_batch(t2t, cache_dir, tmp_path):
    world = t2t(gpu="orin")
    calib = str(tmp_path / "calib.npy")
    np.save(calib, np.random.RandomState(0).standard_normal((10, 3, 16, 16)).astype(np.float32))
    session = _load(_spec(cache_dir, "int8", batch=4, calib_data=calib, calib_images=10))
    call = world.torch2trt_calls[0]
    assert call["int8_mode"] is True and call["fp16_mode"] is True
    assert call["calib_items"] == 2 and call["calib_shapes"] == [(4, 3, 16, 16)]
    assert session.info.calibration_fingerprint
    session.close()


def test_int8_without_calibration_data_says_how_to_give_it(t2t, cache_dir):
    t2t(gpu="orin")
    with pytest.raises(UsageError, match="--calib-data"):
        _load(_spec(cache_dir, "int8"))


def test_no_transfers_and_layers(t2t, cache_dir):
    t2t()
    session = _load(_spec(cache_dir, no_transfers=True, layers=True))
    session.run()
    session.run()
    columns = session.extra_columns()
    assert columns["h2d_median_ms"] is None and columns["gpu_compute_median_ms"] is not None
    rows = json.loads(columns["layers_json"])
    assert rows and rows[0]["name"].startswith("Conv2d")
    session.close()


def test_unavailable_without_torch2trt(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch2trt", None)
    assert not t2t_backend.Torch2TRTBackend.is_available()
    assert "torch2trt" in t2t_backend.Torch2TRTBackend.unavailable_reason()
