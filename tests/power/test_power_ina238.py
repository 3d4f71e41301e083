"""Jetson AGX Thor: the carrier INA238's VIN is board input, replacing the module INA3221 rails.

The fake tree ``tests/fixtures/agx_thor_jp7`` follows the mainline ina238 hwmon layout
(Documentation/hwmon/ina238.rst: ``in1_input`` mV, ``curr1_input`` mA, ``power1_input`` µW) and
jetson-stats' discovery (an i2c device whose ``name`` contains ``ina238``; rbonghi/jetson_stats
jtop/core/power.py, PR #900), with synthetic readings: VIN 19.008 V x 1.263 A.
"""
import os
import shutil

from power_helpers import board_root, write

from edgebench.power import url as power_url
from edgebench.power.ina3221 import INA3221Source, discover
from edgebench.power.rails import board_input_rule

THOR = "agx_thor_jp7"
MODULE_RAILS = ["VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0"]


def test_thor_board_input_is_vin_alone():
    listed = INA3221Source.list_rails(board_root(THOR))
    assert (listed["board_rails"], round(listed["board_input_w"], 3)) == (["VIN"], 24.007)


def test_thor_module_rails_are_listed_but_not_added():
    listed = INA3221Source.list_rails(board_root(THOR))
    assert [r["rail"] for r in listed["rails"]] == MODULE_RAILS + ["VIN"]


def test_vin_replaces_even_a_vdd_in_rail():
    assert board_input_rule(["VDD_IN", "VDD_SOC", "VIN"]).rails == ("VIN",)


def test_an_open_thor_source_sums_only_vin_into_board_power():
    source = INA3221Source(power_url.parse_url("ina3221"), root=board_root(THOR)).open()
    try:
        sample = source.read()
    finally:
        source.close()
    assert round(sample.power_w, 3) == 24.007 and "carrier INA238" in source.board_rule


def test_an_ina238_found_only_under_i2c_devices_by_its_name(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(board_root(THOR), str(root))
    moved = root / "sys/bus/i2c/devices/2-0044"
    os.makedirs(str(moved.parent))
    shutil.move(str(root / "sys/bus/i2c/drivers/ina238/2-0044"), str(moved))
    rails = [(c.rail, c.driver, c.device) for c in discover(str(root)).channels]
    assert ("VIN", "ina238", "2-0044") in rails


def test_an_unreadable_ina238_is_skipped_with_a_note_and_the_module_rails_stay(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(board_root(THOR), str(root))
    write(root, "sys/bus/i2c/drivers/ina238/2-0044/hwmon/hwmon2/curr1_input", "")
    found = discover(str(root))
    assert found.rail_names == MODULE_RAILS and any("VIN" in note for note in found.notes)


def test_ina238_rail_is_selectable_by_name():
    source = INA3221Source(power_url.parse_url("ina3221:VIN"), root=board_root(THOR)).open()
    try:
        assert source.rails == ("VIN",)
    finally:
        source.close()
