"""jetson-stats glue that needs no jtop: comparing its board power with ours, power-mode names, absence."""
import pytest

from edgebench.platform import clocks, jetson_stats

AGX_ORIN_JTOP = {  # the shape of jtop's `power` (jtop/jtop.py docstring), mW; AGX Orin sums every rail
    "rail": {"VDD_GPU_SOC": {"power": 5201, "type": "INA3221"}, "VDD_CPU_CV": {"power": 2680, "type": "INA3221"},
             "VIN_SYS_5V0": {"power": 4734, "type": "INA3221"}, "VDDQ_VDD2_1V8AO": {"power": 613, "type": "INA3221"}},
    "tot": {"power": 13228, "avg": 13228},
}
AGX_ORIN_OURS = {"VDD_GPU_SOC": 5.2013, "VDD_CPU_CV": 2.6809, "VIN_SYS_5V0": 4.7345, "VDDQ_VDD2_1V8AO": 0.6138}
AGX_ORIN_RULE = ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")


def test_agx_orin_difference_is_vddq_counted_twice():
    found = jetson_stats.compare_board_power(AGX_ORIN_JTOP, AGX_ORIN_OURS, AGX_ORIN_RULE, "rule")
    assert (found["extra_rails"], "already inside" in found["explanation"]) == (["VDDQ_VDD2_1V8AO"], True)


def test_a_named_jtop_total_is_that_one_rail():
    jtop_power = {"rail": {"VDD_SOC": {"power": 1475}}, "tot": {"power": 4824, "name": "VDD_IN"}}
    found = jetson_stats.compare_board_power(jtop_power, {"VDD_IN": 4.824, "VDD_SOC": 1.475}, ["VDD_IN"], "rule")
    assert (found["jtop_rails"], found["extra_rails"], found["difference_w"]) == (["VDD_IN"], [], 0.0)


def test_a_power_supply_entry_jtop_adds_is_named_with_its_type():
    jtop_power = {"rail": {"VDD_GPU": {"power": 1000}, "ucsi-source-psy-1-00081": {"power": 500, "type": "USB"}},
                  "tot": {"power": 1500}}
    found = jetson_stats.compare_board_power(jtop_power, {"VDD_GPU": 1.0}, ["VDD_GPU"], "rule")
    assert "jtop adds ucsi-source-psy-1-00081 (USB)" in found["explanation"]


def test_no_reading_on_our_side_gives_no_difference():
    found = jetson_stats.compare_board_power(AGX_ORIN_JTOP, {}, AGX_ORIN_RULE, "rule")
    assert (found["edgebench_w"], found["difference_w"]) == (None, None)


@pytest.mark.parametrize("mode, expected", [(0, 0), ("2", 2), ("maxn_super", 2), ("25W", 1)])
def test_resolve_mode_takes_ids_and_names(mode, expected):
    assert jetson_stats.resolve_mode(mode, ["15W", "25W", "MAXN_SUPER"]) == expected


def test_resolve_mode_refuses_an_unknown_mode_naming_the_modes():
    with pytest.raises(jetson_stats.JtopUnavailable, match="modes: 0 15W, 1 25W"):
        jetson_stats.resolve_mode("7", ["15W", "25W"])


def _jtop_importable():
    try:
        import jtop  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


@pytest.mark.skipif(_jtop_importable(), reason="jetson-stats is importable here")
def test_without_jetson_stats_the_status_says_how_to_install_it():
    status = jetson_stats.service_status()
    assert (status["installed"], status["running"], "pip install jetson-stats" in status["reason"]) == (
        False, False, True)


@pytest.mark.skipif(_jtop_importable(), reason="jetson-stats is importable here")
def test_without_jetson_stats_power_mode_uses_nvpmodel_through_the_runner(fixture_root):
    calls = []
    state = {"id": 1}

    def runner(argv):
        calls.append(argv[1:])
        if argv[1] == "-m":
            state["id"] = int(argv[2])
            return clocks.CommandResult(0)
        names = {0: "15W", 1: "25W", 2: "MAXN_SUPER"}
        return clocks.CommandResult(0, "NV Power Mode: {}\n{}\n".format(names[state["id"]], state["id"]))

    mode = clocks.PowerMode("MAXN_SUPER", root=fixture_root("orin_nano_super_jp62"), runner=runner).apply()
    during = state["id"]
    mode.restore()
    assert (during, state["id"], [c for c in calls if c[0] == "-m"]) == (2, 1, [["-m", "2"], ["-m", "1"]])


def test_nvpmodel_that_keeps_the_old_mode_says_reboot(fixture_root):
    def runner(argv):
        if argv[1] == "-m":
            return clocks.CommandResult(0)
        return clocks.CommandResult(0, "NV Power Mode: 25W\n1\n")

    with pytest.raises(clocks.PowerModeError, match="needs a reboot"):
        clocks.PowerMode(2, root=fixture_root("orin_nano_super_jp62"), runner=runner, use_jtop=False).apply()
