from edgebench.power.rails import board_input_rule


def test_nano_uses_pom_5v_in_alone():
    rule = board_input_rule(["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"])
    assert rule.rails == ("POM_5V_IN",) and rule.known


def test_vdd_in_is_never_summed_with_its_sub_rails():
    assert board_input_rule(["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]).rails == ("VDD_IN",)


def test_agx_xavier_sums_its_six_rails():
    rule = board_input_rule(["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"])
    assert sorted(rule.rails) == sorted(["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"])


def test_agx_orin_excludes_vddq_which_is_inside_vin_sys_5v0():
    rule = board_input_rule(["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "NC", "VDDQ_VDD2_1V8AO", "NC"])
    assert rule.rails == ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")
    assert "VDDQ_VDD2_1V8AO" in rule.text


def test_unknown_rail_set_is_summed_and_marked_unknown():
    rule = board_input_rule(["A", "B"])
    assert rule.rails == ("A", "B") and not rule.known and "double" in rule.text
