"""The TensorRT backend through the real worker process, with the FAKE tensorrt/pycuda importable in
the child only (PYTHONPATH=tests/engines/fake_trt_site, set for these tests). The numbers the fake
GPU produces are invented; these tests check the path (status, columns, cache), never speed."""
import json

import pytest
import trt_fakes

from edgebench.engines.base import EngineSpec
from edgebench.models.prepare import sha256_file
from edgebench.sweep.runner import run_worker


def _job(onnx_path, cache_dir, precision="fp32", batch=2, **options):
    options.setdefault("input_shape", [3, 16, 16])
    spec = EngineSpec(onnx_path, sha256_file(onnx_path), "tiny", precision, batch, cache_dir, options=options)
    return {
        "engine": spec.to_dict(),
        "backend": "tensorrt",
        "warmup_s": 0.0,
        "iterations": 5,
        "duration_s": 0.0,
        "max_duration_s": 10.0,
        "memory_limit_mb": None,
        "root": None,
    }


@pytest.fixture
def fake_child(monkeypatch, tmp_path):
    log = tmp_path / "builds.jsonl"

    def configure(version="8.2.1.8", gpu="orin"):
        for key, value in trt_fakes.child_env(version, gpu, build_log=log).items():
            monkeypatch.setenv(key, value)
        return log

    return configure


@pytest.mark.parametrize("version", ("8.2.1.8", "10.3.0.30"))
def test_worker_measures_through_the_fake_and_a_repeat_does_not_rebuild(fake_child, tiny_onnx, cache_dir, version):
    log = fake_child(version=version, gpu="orin")
    first = run_worker(_job(tiny_onnx, cache_dir, "fp16", layers=True), timeout_s=120)
    assert first["status"] == "ok", first
    assert first["provider"] == "FAKE Orin (sm_87)"  # a fake GPU says so in every row
    assert first["engine_cache_hit"] == 0 and first["build_s"] is not None
    assert first["precision_effective"] == "fp16"
    for column in ("gpu_compute_median_ms", "gpu_compute_mean_ms", "h2d_median_ms", "d2h_median_ms"):
        assert first[column] > 0
    assert first["iterations"] >= 5 and first["latency_median_ms"] > 0
    rows = json.loads(first["layers_json"])
    assert rows[0]["name"] == "conv + relu"
    second = run_worker(_job(tiny_onnx, cache_dir, "fp16"), timeout_s=120)
    assert second["status"] == "ok", second
    assert second["engine_cache_hit"] == 1 and second.get("build_s") is None
    assert second.get("layers_json") is None
    with open(str(log)) as fh:
        assert len(fh.read().splitlines()) == 1  # one build across both worker processes


def test_worker_records_int8_on_a_nano_as_unsupported(fake_child, tiny_onnx, cache_dir):
    fake_child(version="8.2.1.8", gpu="nano")
    result = run_worker(_job(tiny_onnx, cache_dir, "int8"), timeout_s=120)
    assert result["status"] == "unsupported"
    assert "platform_has_fast_int8 is False" in result["error"]


def test_worker_reports_a_parser_failure_as_an_error(fake_child, cache_dir, tmp_path):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Weird", ["input"], ["output"], name="weird_node", domain="x.y")], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 16, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, 16, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("x.y", 1)])
    model.ir_version = 7
    path = str(tmp_path / "weird.onnx")
    save(model, path)
    fake_child(version="10.3.0.30")
    result = run_worker(_job(path, cache_dir), timeout_s=120)
    assert result["status"] == "error" and "node #0 'weird_node' (Weird)" in result["error"]
