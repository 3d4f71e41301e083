"""The sweep's ETA from measured points of the same model and neighbouring batch, as a range while unsure."""
from edgebench.sweep.eta import EtaEstimator, format_eta

POINTS = [("a", "fp32", 1), ("a", "fp32", 2), ("a", "fp32", 4), ("b", "fp32", 1), ("b", "fp32", 2)]


def test_nothing_is_estimated_before_the_first_point():
    assert EtaEstimator(POINTS).remaining() is None


def test_a_point_is_estimated_from_its_neighbouring_batch_between_same_time_and_batch_scaled():
    eta = EtaEstimator(POINTS[:3])
    eta.record(("a", "fp32", 1), 10.0)
    eta.record(("a", "fp32", 2), 12.0)
    assert eta.remaining() == (12.0, 24.0)


def test_an_unmeasured_model_is_scaled_by_its_macs_at_the_high_end():
    eta = EtaEstimator([("a", "fp32", 1), ("b", "fp32", 1)], macs={"a": 1, "b": 3})
    eta.record(("a", "fp32", 1), 10.0)
    assert eta.remaining() == (10.0, 30.0)


def test_the_running_point_counts_only_what_is_left_of_it():
    eta = EtaEstimator(POINTS[:2])
    eta.record(("a", "fp32", 1), 10.0)
    assert eta.remaining(current=("a", "fp32", 2), current_elapsed_s=4.0) == (6.0, 16.0)


def test_a_model_whose_engine_is_still_to_be_built_adds_the_builds_seen():
    eta = EtaEstimator([("a", "fp16", 1), ("b", "fp16", 1)], builds_ahead=("fp16",))
    eta.record(("a", "fp16", 1), 10.0, build_s=5.0)
    assert eta.remaining() == (15.0, 15.0)


def test_the_estimate_does_not_jump_when_a_slow_point_lands():
    """Rich's rate-based ETA jumps with each point; this one moves only by what was learned."""
    eta = EtaEstimator([("a", "fp32", b) for b in (1, 2, 4, 8)])
    eta.record(("a", "fp32", 1), 10.0)
    first = eta.remaining()
    eta.record(("a", "fp32", 2), 11.0)
    second = eta.remaining()
    assert second[0] <= first[1] and second[1] <= first[1]


def test_format_shows_one_time_when_sure_and_a_range_when_not():
    assert (format_eta((100.0, 110.0)), format_eta((60.0, 450.0)), format_eta(None)) == (
        "ETA 1:45", "ETA 1:00-7:30", "ETA estimating")
