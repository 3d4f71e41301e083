import os

from edgebench.sweep.runner import thermal_columns

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def _sample(temp, oc2=5):
    return {"max_temp_c": temp, "oc_event_counts": {"oc2": oc2}, "current_alarms": {}}


def test_rising_over_current_counter_marks_the_point_throttled():
    cols = thermal_columns(_sample(50.0, oc2=5), _sample(61.5, oc2=7))
    assert cols == {"temperature_max_c": 61.5, "throttled": 1}


def test_steady_counters_leave_the_point_unthrottled():
    assert thermal_columns(_sample(50.0), _sample(49.0))["throttled"] == 0


def test_without_throttle_counters_throttling_is_unknown_not_zero():
    before = {"max_temp_c": 40.0, "oc_event_counts": {}, "current_alarms": {}}
    assert thermal_columns(before, dict(before))["throttled"] is None


def test_a_fake_orin_tree_gives_a_temperature():
    from edgebench.platform.thermal import sample_thermal

    root = os.path.join(FIXTURES, "agx_orin_jp6")
    cols = thermal_columns(sample_thermal(root), sample_thermal(root))
    assert cols["temperature_max_c"] is not None and cols["throttled"] == 0
