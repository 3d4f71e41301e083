"""The TensorRT session against FAKE tensorrt/pycuda/cuda-python (trt_fakes.py): buffers, the timed
call, event bookkeeping, --no-transfers, the per-layer profile. The fake GPU's times are invented;
these tests check plumbing (which events bound which step, which calls are summarised), never speed."""
import json

import numpy as np
import onnx_models
import pytest
import trt_fakes

from edgebench.engines.tensorrt import TensorRTBackend, classify_trt_layers
from edgebench.errors import EdgebenchError

COMBINATIONS = [(v, c) for v in ("8.2.1.8", "8.6.2.3", "10.3.0.30") for c in ("pycuda", "cuda-python")]


def _load(spec):
    return TensorRTBackend().load(spec)


@pytest.mark.parametrize("version, cuda", COMBINATIONS)
def test_infer_round_trips_data_through_the_engine(monkeypatch, tiny_onnx, cache_dir, version, cuda):
    world = trt_fakes.install(monkeypatch, version=version, cuda=(cuda,))
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=4))
    assert session._cuda.name == cuda
    x = np.random.RandomState(3).standard_normal((3, 3, 16, 16)).astype(np.float32)
    out = session.infer(x)
    # the fake engine answers mean(image) + [0, 1, ..., 9]: the data went H2D, through, and D2H intact
    np.testing.assert_allclose(out, x.reshape(3, -1).mean(axis=1)[:, None] + np.arange(10), rtol=1e-5, atol=1e-6)
    session.run()  # the bound batch is restored after infer
    session.close()
    session.close()
    assert world.contexts == []


def test_infer_refuses_more_images_than_the_engine_batch(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=2))
    with pytest.raises(EdgebenchError, match="at most 2"):
        session.infer(np.zeros((3, 3, 16, 16), np.float32))
    session.close()


@pytest.mark.parametrize("version", ("8.2.1.8", "10.3.0.30"))
def test_each_run_records_h2d_compute_and_d2h_from_its_own_events(monkeypatch, tiny_onnx, cache_dir, version):
    world = trt_fakes.install(monkeypatch, version=version)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=4))
    session.begin_timed_window()
    session.run()
    columns = session.timing_columns()
    input_bytes = 4 * 3 * 16 * 16 * 4
    lib = trt_fakes.fake_lib()
    assert columns["h2d_median_ms"] == pytest.approx(input_bytes / lib.H2D_BYTES_PER_MS)
    assert columns["d2h_median_ms"] == pytest.approx(4 * 10 * 4 / lib.H2D_BYTES_PER_MS)
    layers = world.builds[0]["layers"]
    assert columns["gpu_compute_median_ms"] == pytest.approx(lib.LAYER_MS * 4 * layers)
    session.close()


def test_statistics_cover_the_timed_window_only(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir))
    ticks = iter(range(1000))
    session._cuda.elapsed_ms = lambda start, end: float(next(ticks))
    for _ in range(3):  # first run and warm-up
        session.run()
    session.begin_timed_window()
    for _ in range(2):
        session.run()
    columns = session.timing_columns()
    # calls 4 and 5 produced ticks 9..14: (h2d, compute, d2h) = (9, 10, 11), (12, 13, 14)
    assert columns["gpu_compute_median_ms"] == 11.5 and columns["gpu_compute_mean_ms"] == 11.5
    assert columns["h2d_median_ms"] == 10.5 and columns["d2h_median_ms"] == 12.5
    session.close()


def test_without_a_timed_window_all_calls_but_the_first_are_summarised(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, no_transfers=True))
    ticks = iter([100.0, 1.0, 3.0])
    start, end = session._events[1], session._events[2]
    session._cuda.elapsed_ms = lambda a, b: next(ticks) if (a, b) == (start, end) else 0.0
    for _ in range(3):
        session.run()
    assert session.timing_columns()["gpu_compute_median_ms"] == 2.0
    session.close()


def test_no_transfers_times_compute_only(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, no_transfers=True))
    copies = []
    session._cuda.htod_async = lambda *a: copies.append("h2d")
    session._cuda.dtoh_async = lambda *a: copies.append("d2h")
    session.run()
    session.run()
    columns = session.extra_columns()
    assert copies == [] and columns["gpu_compute_median_ms"] > 0
    assert columns["h2d_median_ms"] is None and columns["d2h_median_ms"] is None
    assert "--no-transfers" in session.info.columns()["note"]
    session.close()


def test_a_failed_enqueue_is_an_edgebench_error(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch, version="10.3.0.30")
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir))
    session._execute = lambda: False
    with pytest.raises(EdgebenchError, match="failed to enqueue"):
        session.run()
    session._execute = lambda: 1 / 0
    with pytest.raises(EdgebenchError, match="inference failed: ZeroDivisionError"):
        session.run()
    session.close()


@pytest.mark.parametrize("version", ("8.2.1.8", "10.3.0.30"))
def test_layer_profile_runs_after_the_timed_loop_with_an_iprofiler(monkeypatch, tiny_onnx, cache_dir, version):
    trt_fakes.install(monkeypatch, version=version)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=2, layers=True))
    for _ in range(3):
        session.run()
    assert session._context.profiler is None  # nothing attached while timing
    rows = json.loads(session.extra_columns()["layers_json"])
    assert [r["name"] for r in rows] == ["conv + relu", "gap", "flatten", "fc"]
    assert rows[0]["type"] == "CaskConvolution"  # from the engine inspector (DETAILED verbosity)
    assert rows[1]["type"] == "GlobalAveragePool"
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert all(r["time_ms"] > 0 for r in rows)
    session.close()


def test_layer_types_fall_back_to_the_onnx_operators(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch, version="7.1.3.0")  # no inspector
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, layers=True))
    rows = json.loads(session.extra_columns()["layers_json"])
    assert rows[0]["type"] == "Conv+Relu" and rows[-1]["type"] == "Gemm"
    session.close()


def test_a_failing_layer_profile_keeps_the_point_and_says_so(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, layers=True))
    session.run()
    session.run()

    def broken(runs=10):
        raise RuntimeError("profiler exploded")

    session.profile_layers = broken
    columns = session.extra_columns()
    assert "layers_json" not in columns and "per-layer profile failed: profiler exploded" in columns["note"]
    assert columns["gpu_compute_median_ms"] is not None
    session.close()


def test_classify_trt_layers_weights_by_macs():
    layers = [
        {"Name": "conv1 + relu1", "LayerType": "CaskConvolution", "Inputs": [{"Format/Datatype": "Half"}]},
        {"Name": "conv2", "LayerType": "CaskConvolution", "Inputs": [{"Format/Datatype": "Row major linear FP32"}]},
        {"Name": "pool", "LayerType": "Pooling", "Inputs": [{"Format/Datatype": "FP32"}]},
    ]
    report = classify_trt_layers(layers, {"conv1": 300, "conv2": 100}, "fp16")
    assert report["precision_effective"] == "mixed" and report["fp16_mac_fraction"] == 0.75
    assert report["kept"] == ["CaskConvolution x1"]
    assert classify_trt_layers([{"Name": "conv1"}], {}, "fp16") is None  # names only: unknown


def _fp16(name, layer_type):
    return {"Name": name, "LayerType": layer_type, "Inputs": [{"Format/Datatype": "Channel major FP16 format"}]}


def _fp32(name, layer_type):
    return {"Name": name, "LayerType": layer_type, "Inputs": [{"Format/Datatype": "Row major linear FP32"}]}


def test_a_fused_conv_act_pool_layer_counts_its_macs():
    layers = [_fp16("conv1 + relu1 + pool1", "ConvActPool"), _fp32("conv2", "CaskConvolution")]
    report = classify_trt_layers(layers, {"conv1": 300, "conv2": 100}, "fp16")
    assert (report["precision_effective"], report["fp16_mac_fraction"]) == ("mixed", 0.75)


def test_a_myelin_subgraph_counts_the_macs_of_the_range_it_holds():
    node_macs = {"conv1": 100, "relu1": 0, "fc1": 200, "fc2": 100}
    layers = [_fp32("conv1", "CaskConvolution"), _fp16("{ForeignNode[relu1...fc2]}", "Myelin")]
    assert classify_trt_layers(layers, node_macs, "fp16")["fp16_mac_fraction"] == 0.75


def test_a_kgen_subgraph_without_mac_nodes_is_not_a_mac_layer():
    layers = [_fp16("conv1", "CaskConvolution"), _fp32("{ForeignNode[/act/Relu]}", "kgen")]
    assert classify_trt_layers(layers, {"conv1": 100, "/act/Relu": 0}, "fp16")["precision_effective"] == "fp16"


def test_a_myelin_layer_without_mac_counts_is_judged_by_its_node_names():
    layers = [_fp32("{ForeignNode[/fc/Gemm]}", "Myelin")]
    assert classify_trt_layers(layers, {}, "fp16")["precision_effective"] == "fp32"


def _external_weights_net(tmp_path):
    import onnx

    (tmp_path / "ext").mkdir()
    path = onnx_models.conv_net(tmp_path / "ext" / "model.onnx")
    model = onnx.load(path)
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="model.onnx.data",
              size_threshold=0)
    return path


def test_a_model_with_external_weights_builds(monkeypatch, cache_dir, tmp_path):
    trt_fakes.install(monkeypatch, version="8.5.2.2")
    session = TensorRTBackend().load(trt_fakes.spec_for(_external_weights_net(tmp_path), cache_dir))
    assert session.infer(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 10)
    session.close()


def test_no_transfers_starts_the_compute_clock_on_a_busy_stream(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch)
    session = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, no_transfers=True))
    order = []
    cuda = session._cuda
    record, dtod = cuda.record, cuda.dtod_async
    monkeypatch.setattr(cuda, "record", lambda event, stream: order.append(session._events.index(event)) or
                        record(event, stream))
    monkeypatch.setattr(cuda, "dtod_async", lambda *a: order.append("copy") or dtod(*a))
    session.run()
    session.close()
    assert order == [0, "copy", 1, 2]


def test_no_transfers_compute_time_leaves_out_the_busy_stream_copy(monkeypatch, tiny_onnx, cache_dir):
    trt_fakes.install(monkeypatch)
    with_copies = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=2))
    with_copies.run()
    with_copies.run()
    expected = with_copies.timing_columns()["gpu_compute_median_ms"]
    with_copies.close()
    compute_only = _load(trt_fakes.spec_for(tiny_onnx, cache_dir, batch=2, no_transfers=True))
    compute_only.run()
    compute_only.run()
    assert compute_only.timing_columns()["gpu_compute_median_ms"] == pytest.approx(expected)
    compute_only.close()


def test_the_busy_stream_copy_grows_until_it_outlasts_the_enqueue():
    from edgebench.engines.tensorrt import next_pad_bytes

    assert next_pad_bytes(1 << 20, pad_ms=0.1, enqueue_ms=0.4) == int((1 << 20) / 0.1 * 0.4 * 1.5)


def test_the_busy_stream_copy_stays_when_it_already_outlasts_the_enqueue():
    from edgebench.engines.tensorrt import next_pad_bytes

    assert next_pad_bytes(1 << 20, pad_ms=0.5, enqueue_ms=0.4) == 1 << 20


def test_the_busy_stream_copy_is_capped():
    from edgebench.engines.tensorrt import PAD_MAX_BYTES, next_pad_bytes

    assert next_pad_bytes(16 << 20, pad_ms=0.01, enqueue_ms=50.0) == PAD_MAX_BYTES
