import pytest

from edgebench.errors import UsageError
from edgebench.sweep.plan import SweepPlan, parse_batches


def test_dash_range_means_powers_of_two():
    assert parse_batches("1-64") == [1, 2, 4, 8, 16, 32, 64]


def test_dash_range_keeps_its_upper_end():
    assert parse_batches("1-12") == [1, 2, 4, 8, 12]


def test_dot_range_means_every_batch():
    assert parse_batches("1..4") == [1, 2, 3, 4]


def test_list_and_ranges_combine_sorted_without_duplicates():
    assert parse_batches("8,1..3,2") == [1, 2, 3, 8]


@pytest.mark.parametrize("text", ["0", "-1", "4097", "1-5000", "a,b", "", "8..2"])
def test_bad_batch_specs_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_batches(text)


def test_plan_round_trips_through_json_types():
    plan = SweepPlan(models=["resnet18"], precisions=["fp16"], batch_sizes=[4, 1]).validate()
    again = SweepPlan.from_dict(plan.to_dict())
    assert again.to_dict() == plan.to_dict() and again.batch_sizes == [1, 4]


def test_points_are_model_then_precision_then_rising_batch():
    plan = SweepPlan(models=["a", "b"], precisions=["fp32", "fp16"], batch_sizes=[2, 1]).validate()
    assert plan.points()[:3] == [("a", "fp32", 1), ("a", "fp32", 2), ("a", "fp16", 1)]


def test_unknown_precision_is_refused():
    with pytest.raises(UsageError):
        SweepPlan(models=["a"], precisions=["fp8"]).validate()


def test_max_duration_shorter_than_duration_is_refused():
    with pytest.raises(UsageError) as info:
        SweepPlan(models=["a"], duration_s=5.0, max_duration_s=2.0).validate()
    assert "--max-duration" in str(info.value)


def test_weights_with_several_models_conflict(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    with pytest.raises(UsageError):
        SweepPlan(models=["a", "b"], weights=str(weights)).validate()


def test_unknown_plan_field_is_refused():
    with pytest.raises(UsageError):
        SweepPlan.from_dict({"models": ["a"], "batchsizes": [1]})


def test_every_tensorrt_option_of_the_plan_reaches_the_engine_spec(tmp_path):
    from edgebench.engines.base import EngineSpec
    from edgebench.models.prepare import PreparedModel
    from edgebench.results.store import ResultStore
    from edgebench.sweep.runner import Sweep

    plan = SweepPlan(models=["m.onnx"], batch_sizes=[1, 8], tf32=False, int8_fp16_fallback=False,
                     trt_calib_algorithm="minmax", cuda_api="cuda-python", workspace_mb=512, cache_dir=str(tmp_path))
    prepared = {"m.onnx": PreparedModel(name="m", source="onnx", onnx_path="m.onnx", onnx_sha256="ab" * 32,
                                        inputs=[{"name": "input", "shape": [3, 8, 8]}])}
    with ResultStore(str(tmp_path / "results.db")) as store:
        job = Sweep(plan.validate(), prepared, store, 1, {}, "tensorrt").job_for(prepared["m.onnx"], "int8", 8)
    options = EngineSpec.from_dict(job.engine).options
    assert (options.tf32, options.int8_fp16_fallback, options.trt_calib_algorithm, options.cuda_api,
            options.workspace_mb, options.shared_profile_max) == (False, False, "minmax", "cuda-python", 512, 8)


def test_an_engine_option_nobody_reads_is_an_error():
    from edgebench.engines.base import EngineSpec

    with pytest.raises(ValueError, match="unknown engine options: tf16"):
        EngineSpec("m.onnx", None, "m", "fp32", 1, "/tmp", options={"tf16": True})


def test_the_flags_take_their_defaults_from_the_plan():
    import argparse

    from edgebench.sweep.cli import add_plan_arguments
    from edgebench.sweep.plan import default

    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    args = parser.parse_args([])
    assert (args.iterations, args.duration, args.max_duration, args.warmup_ms / 1000.0, args.point_timeout,
            args.idle_seconds, args.calib_images, args.tf32) == (
        default("iterations"), default("duration_s"), default("max_duration_s"), default("warmup_s"),
        default("point_timeout_s"), default("idle_s"), default("calib_images"), default("tf32"))


def test_a_plan_flag_for_tensorrt_is_refused_on_onnxruntime():
    from edgebench.errors import UsageError
    from edgebench.sweep.preflight import check_backend

    with pytest.raises(UsageError, match="apply to TensorRT backends only"):
        check_backend(SweepPlan(models=["a"], backend="onnxruntime", tf32=False).validate())


# ---------------------------------------------------------------------- one validator (issue 13)

def test_a_model_named_twice_is_measured_once():
    plan = SweepPlan(models=["squeezenet1_1", "resnet18", "squeezenet1_1"], batch_sizes=[1, 2]).validate()
    assert plan.models == ["squeezenet1_1", "resnet18"]
    keys = [(m, p, b) for m, p, b in plan.points()]
    assert len(keys) == len(set(keys)) == 4


def test_an_onnx_file_given_twice_is_measured_once():
    assert SweepPlan(models=["a.onnx", "a.onnx"]).validate().models == ["a.onnx"]


@pytest.mark.parametrize("field, value, words", [
    ("point_timeout_s", "abc", "point_timeout_s must be a finite number"),
    ("duration_s", float("inf"), "duration_s must be a finite number"),
    ("max_duration_s", float("inf"), "max_duration_s must be a finite number"),
    ("idle_s", float("nan"), "idle_s must be a finite number"),
    ("point_timeout_s", 0, "--point-timeout"),
    ("threads", 100000, "--threads must be a whole number from 1 to 1024"),
    ("iterations", True, "iterations must be a whole number"),
    ("batch_sizes", 4, "batch_sizes must be a list"),
    ("batch_sizes", [], "no batch sizes"),
    ("models", "resnet18", "models must be a list"),
    ("models", [["resnet18"]], "models must be a list of text"),
    ("precisions", [{"a": 1}], "precisions must be a list of text"),
    ("backend", 3, "backend must be text"),
    ("weights", "a\x00b", "no NUL"),
    ("calib_algorithm", "magic", "--calib-algorithm must be one of"),
    ("tf32", "yes", "tf32 must be true or false"),
    ("duration_s", 1e300, "--duration"),
])
def test_loosely_typed_or_unbounded_field_is_one_clear_line(field, value, words):
    data = {"models": ["m"], field: value}
    with pytest.raises(UsageError) as info:
        SweepPlan.from_dict(data)
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("groups", [[","], [""], [" , "]])
def test_models_flag_naming_nothing_is_refused_not_the_default_set(groups):
    from edgebench.sweep.plan import models_from_flags

    with pytest.raises(UsageError) as info:
        models_from_flags(groups, None, ["resnet18"])
    assert "names no model" in str(info.value)


def test_no_models_flag_means_the_default_set():
    from edgebench.sweep.plan import models_from_flags

    assert models_from_flags(None, None, ("resnet18", "vgg16")) == ["resnet18", "vgg16"]
