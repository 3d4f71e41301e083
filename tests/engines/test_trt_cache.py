"""The TensorRT engine cache against FAKE tensorrt/pycuda (trt_fakes.py): a repeat load never rebuilds,
keys separate what must differ, corrupt plans are rebuilt, the timing cache persists."""
import json
import logging
import os

import pytest
import trt_fakes

from edgebench.engines.tensorrt import TensorRTBackend

GENERATIONS = ("8.2.1.8", "10.3.0.30")


def _engine_dir(cache_dir):
    return os.path.join(cache_dir, "engines", "tensorrt")


def _plans(cache_dir):
    return sorted(f for f in os.listdir(_engine_dir(cache_dir)) if f.endswith(".plan"))


def _load(spec):
    return TensorRTBackend().load(spec)


@pytest.mark.parametrize("version", GENERATIONS)
def test_second_load_takes_the_cached_plan_and_does_not_rebuild(monkeypatch, tiny_onnx, cache_dir, version):
    world = trt_fakes.install(monkeypatch, version=version)
    spec = trt_fakes.spec_for(tiny_onnx, cache_dir, "fp16", batch=4)
    first = _load(spec)
    columns = first.extra_columns()
    first.close()
    assert columns["engine_cache_hit"] == 0 and columns["build_s"] is not None and columns["engine_size_mb"] > 0
    plan = os.path.join(_engine_dir(cache_dir), _plans(cache_dir)[0])
    mtime = os.path.getmtime(plan)
    second = _load(spec)
    columns = second.extra_columns()
    second.close()
    assert len(world.builds) == 1  # no rebuild
    assert columns["engine_cache_hit"] == 1 and columns["build_s"] is None
    assert os.path.getmtime(plan) == mtime and len(_plans(cache_dir)) == 1


def test_plan_file_names_and_manifest(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch, version="8.2.1.8", gpu="nano")
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "fp16", batch=4, model="resnet18")).close()
    (plan,) = _plans(cache_dir)
    assert plan.startswith("resnet18-fp16-b4-") and len(plan.split("-")[-1]) == len("0123456789abcdef.plan")
    with open(os.path.join(_engine_dir(cache_dir), plan[:-5] + ".json")) as fh:
        manifest = json.load(fh)
    key = manifest["key"]
    assert key["tensorrt"] == "8.2.1.8" and key["gpu"] == "FAKE NVIDIA Tegra X1"
    assert key["compute_capability"] == "5.3" and key["batch"] == "4" and key["precision"] == "fp16"
    assert key["builder"]["workspace_mb"] == 1024
    assert manifest["plan_bytes"] == os.path.getsize(os.path.join(_engine_dir(cache_dir), plan))
    assert not [f for f in os.listdir(_engine_dir(cache_dir)) if f.startswith(".tmp")]


@pytest.mark.parametrize("change", [
    dict(precision="fp16"), dict(batch=8), dict(workspace_mb=512), dict(shared_profile=True), dict(tf32=False),
])
def test_the_key_separates_what_makes_a_different_engine(monkeypatch, tiny_onnx, cache_dir, change):
    world = trt_fakes.install(monkeypatch)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "fp32", batch=4)).close()
    kwargs = dict(precision="fp32", batch=4)
    kwargs.update(change)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, **kwargs)).close()
    assert len(world.builds) == 2 and len(_plans(cache_dir)) == 2


def test_another_tensorrt_version_or_gpu_builds_its_own_plan(monkeypatch, tiny_onnx, cache_dir):
    for version, gpu in (("8.2.1.8", "xavier"), ("8.6.2.3", "xavier"), ("8.6.2.3", "orin")):
        world = trt_fakes.install(monkeypatch, version=version, gpu=gpu)
        session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir))
        assert session.engine_columns["engine_cache_hit"] == 0 and len(world.builds) == 1
        session.close()
    assert len(_plans(cache_dir)) == 3


def test_a_corrupt_plan_is_rebuilt_with_a_warning(monkeypatch, tiny_onnx, cache_dir, caplog):
    world = trt_fakes.install(monkeypatch)
    spec = trt_fakes.spec_for(tiny_onnx, cache_dir)
    _load(spec).close()
    plan = os.path.join(_engine_dir(cache_dir), _plans(cache_dir)[0])
    size = os.path.getsize(plan)
    with open(plan, "wb") as fh:
        fh.write(b"\0" * size)  # same size: only TensorRT's deserializer can tell
    caplog.set_level(logging.WARNING)
    session = _load(spec)
    assert session.engine_columns["engine_cache_hit"] == 0 and len(world.builds) == 2
    session.close()
    assert "could not deserialize" in caplog.text and "rebuilt" in caplog.text
    again = _load(spec)
    assert again.engine_columns["engine_cache_hit"] == 1
    again.close()


def test_a_truncated_plan_is_not_trusted(monkeypatch, tiny_onnx, cache_dir, caplog):
    world = trt_fakes.install(monkeypatch)
    spec = trt_fakes.spec_for(tiny_onnx, cache_dir)
    _load(spec).close()
    plan = os.path.join(_engine_dir(cache_dir), _plans(cache_dir)[0])
    with open(plan, "r+b") as fh:
        fh.truncate(10)
    caplog.set_level(logging.WARNING)
    _load(spec).close()
    assert len(world.builds) == 2 and "differs from the manifest" in caplog.text


def test_a_plan_without_manifest_is_not_trusted(monkeypatch, tiny_onnx, cache_dir):
    world = trt_fakes.install(monkeypatch)
    spec = trt_fakes.spec_for(tiny_onnx, cache_dir)
    _load(spec).close()
    plan = os.path.join(_engine_dir(cache_dir), _plans(cache_dir)[0])
    os.unlink(plan[:-5] + ".json")
    _load(spec).close()
    assert len(world.builds) == 2


@pytest.mark.parametrize("version", GENERATIONS)
def test_timing_cache_is_persisted_and_reused_by_the_next_build(monkeypatch, tiny_onnx, cache_dir, version):
    world = trt_fakes.install(monkeypatch, version=version)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=1)).close()
    timing = [f for f in os.listdir(_engine_dir(cache_dir)) if f.startswith("timing-")]
    assert timing == ["timing-FAKE_Orin__sm_87_-trt{}.cache".format(version)]
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=2)).close()
    assert world.builds[0]["timing_cache_hits"] == 0 and world.builds[1]["timing_cache_hits"] > 0


def test_a_timing_cache_from_another_gpu_is_replaced(monkeypatch, tiny_onnx, cache_dir, caplog):
    world = trt_fakes.install(monkeypatch)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=1)).close()
    (name,) = [f for f in os.listdir(_engine_dir(cache_dir)) if f.startswith("timing-")]
    with open(os.path.join(_engine_dir(cache_dir), name), "wb") as fh:
        fh.write(b"FAKE-TIMING-CACHE 8.2.1.8 some other GPU\nx|fp32|Conv\n")
    caplog.set_level(logging.WARNING)
    _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=2)).close()
    assert len(world.builds) == 2 and "timing cache does not match" in caplog.text


def test_tensorrt_7_1_builds_with_build_engine_and_no_timing_cache(monkeypatch, tiny_onnx, cache_dir):
    world = trt_fakes.install(monkeypatch, version="7.1.3.0", gpu="nano")
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, "fp16"))
    assert session.info.precision_effective is None  # no engine inspector before 8.2: the note says so
    assert "cannot report which precision" in session.info.columns()["note"]
    session.close()
    assert len(world.builds) == 1
    assert not [f for f in os.listdir(_engine_dir(cache_dir)) if f.startswith("timing-")]
