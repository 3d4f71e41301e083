"""Temperatures, over-current counters and INA3221 alarms; GPU load."""
import json

from platform_trees import gpu, nano_files, thermal

from edgebench.platform import gpu as gpu_module
from edgebench.platform import thermal as thermal_module


def test_temperatures_are_converted_from_millidegrees(make_board):
    root = make_board(thermal([("CPU-therm", 39500), ("GPU-therm", 37000)]))
    assert thermal_module.read_temperatures(root) == {"CPU-therm": 39.5, "GPU-therm": 37.0}


def test_a_zone_reading_minus_256_degrees_is_offline(fixture_root):
    assert thermal_module.read_temperatures(fixture_root("orin_nx_jp6"))["cv0-thermal"] is None


def test_an_unreadable_zone_is_offline(make_board):
    root = make_board({"/sys/class/thermal/thermal_zone0/type": "cv1-thermal\n",
                       "/sys/class/thermal/thermal_zone0/temp/.keep": ""})
    assert thermal_module.read_temperatures(root) == {"cv1-thermal": None}


def test_max_temperature_skips_the_pmic_that_always_reads_100(fixture_root):
    assert thermal_module.sample_thermal(fixture_root("nano_jp46"))["max_temp_c"] == 39.5


def test_zones_with_the_same_type_get_unique_names(make_board):
    root = make_board(thermal([("soc-thermal", 40000), ("soc-thermal", 41000)]))
    assert sorted(thermal_module.read_temperatures(root)) == ["soc-thermal", "soc-thermal#1"]


def test_zones_sort_numerically(make_board):
    root = make_board(thermal([("zone{}".format(index), 30000 + index) for index in range(11)]))
    assert [name for name, _ in thermal_module.thermal_zones(root)][-2:] == ["zone9", "zone10"]


def test_over_current_counters_are_read_from_soctherm_oc(fixture_root):
    counts = thermal_module.read_oc_event_counts(fixture_root("agx_orin_jp6"))
    assert counts == {"oc1": 0, "oc2": 3, "oc3": 0}


def test_throttle_delta_reports_counters_that_rose():
    before = {"oc_event_counts": {"oc1": 0, "oc2": 3}, "current_alarms": {}}
    after = {"oc_event_counts": {"oc1": 0, "oc2": 5}, "current_alarms": {}}
    assert thermal_module.throttle_delta(before, after) == {"oc_events": {"oc2": 2}, "alarms": [],
                                                            "throttled": True}


def test_throttle_delta_is_quiet_when_nothing_changed(fixture_root):
    sample = thermal_module.sample_thermal(fixture_root("agx_orin_jp6"))
    assert thermal_module.throttle_delta(sample, sample)["throttled"] is False


def test_ina3221_current_alarms_are_named_after_their_rail(make_board):
    hwmon = "/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3"
    root = make_board({hwmon + "/in1_label": "VDD_IN\n", hwmon + "/curr1_crit_alarm": "1\n",
                       hwmon + "/curr1_max_alarm": "0\n", hwmon + "/in2_label": "NC\n",
                       hwmon + "/curr2_crit_alarm": "0\n"})
    assert thermal_module.read_current_alarms(root) == {"VDD_IN crit": 1, "VDD_IN max": 0}


def test_an_active_alarm_counts_as_throttling(make_board):
    hwmon = "/sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3"
    root = make_board({hwmon + "/in1_label": "VDD_IN\n", hwmon + "/curr1_crit_alarm": "1\n"})
    sample = thermal_module.sample_thermal(root)
    assert (sample["alarm_active"], thermal_module.throttle_delta(sample, sample)["alarms"]) == (
        True, ["VDD_IN crit"])


def test_a_thermal_sample_is_json_safe(fixture_root):
    sample = thermal_module.sample_thermal(fixture_root("orin_nx_jp6"))
    assert json.loads(json.dumps(sample)) == sample


def test_gpu_load_is_read_in_percent_on_a_nano(make_board):
    root = make_board(nano_files(gpu=gpu(load=537)))
    assert gpu_module.read_gpu_load(root) == 53.7


def test_gpu_load_is_found_at_the_orin_jetpack_6_path(fixture_root):
    root = fixture_root("agx_orin_jp6")
    assert gpu_module.gpu_load_path(root) == "/sys/devices/platform/bus@0/17000000.gpu/load"


def test_gpu_load_is_none_without_a_load_file(make_board):
    assert gpu_module.read_gpu_load(make_board(gpu(load_path=None))) is None


def test_gpu_load_is_found_through_the_devfreq_device_link(make_board):
    root = make_board(gpu(name="17000000.gv11b", load_path="/sys/class/devfreq/17000000.gv11b/device/load",
                          load=250))
    assert gpu_module.read_gpu_load(root) == 25.0


def test_gpu_devfreq_node_is_recognised_by_name(fixture_root):
    frequencies = gpu_module.read_gpu_frequencies(fixture_root("xavier_nx_jp51"))
    assert (frequencies["name"], frequencies["max_hz"]) == ("17000000.gv11b", 1109250000)
