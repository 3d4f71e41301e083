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
