"""Parser tests on real tegrastats lines (shared/reference/jetson_sysfs.md section 3)."""
import os
import stat

import pytest
from power_helpers import write

from edgebench.errors import PowerSourceError
from edgebench.power.tegrastats import parse_power_fields

NANO_JP46 = ("RAM 1923/3964MB (lfb 2x2MB) SWAP 191/1982MB (cached 6MB) IRAM 0/252kB(lfb 252kB) CPU [5%@1224,4%@1224,"
             "3%@1224,6%@1224] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25 PLL@37C CPU@40C PMIC@50C GPU@40C AO@45C "
             "thermal@40C POM_5V_IN 1750/1628 POM_5V_GPU 0/0 POM_5V_CPU 366/406")
XAVIER_NX_JP512 = ("07-09-2024 13:31:31 RAM 3168/6851MB (lfb 2x4MB) SWAP 161/3426MB (cached 0MB) CPU [23%@1397,"
                   "17%@1192,"
                   "16%@1190,13%@1190,23%@1190,10%@1190] EMC_FREQ 2%@204 GR3D_FREQ 0%@[114] VIC_FREQ 115 APE 150 "
                   "AUX@45C CPU@46.5C thermal@45.6C AO@45C GPU@45.5C PMIC@50C VDD_IN 2763mW/2846mW "
                   "VDD_CPU_GPU_CV 650mW/670mW VDD_SOC 650mW/711mW")
AGX_ORIN_JP6 = ("04-11-2025 10:36:27 RAM 4321/62801MB (lfb 1759x4MB) SWAP 19/31400MB (cached 0MB) CPU [0%@729,0%@729,"
                "0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729] EMC_FREQ 0%@2133 "
                "GR3D_FREQ 0%@[0,0] VIC_FREQ 729 APE 174 CV0@-256C CPU@44.562C Tboard@32C SOC2@40.093C Tdiode@33C "
                "SOC0@41.093C CV1@-256C GPU@-256C tj@44.343C SOC1@41.25C CV2@-256C VDD_GPU_SOC 2340mW/2340mW "
                "VDD_CPU_CV 390mW/390mW VIN_SYS_5V0 4025mW/4025mW NC 0mW/0mW VDDQ_VDD2_1V8AO 301mW/301mW NC 0mW/0mW")
AGX_ORIN_JP72 = ("07-25-2026 09:08:28 RAM 20642/62817MB (lfb 1x2MB) CPU [23%@2201,10%@2201,4%@2201,14%@2201,30%@2201,"
                 "18%@2201,10%@2201,10%@2201,33%@2201,7%@2201,5%@2201,27%@2201] EMC_FREQ 3%@3199 GR3D_FREQ "
                 "12%@[1300,1300] NVENC0 off NVDEC0 off NVJPG0 off NVJPG1 off VIC off OFA off NVDLA0 off NVDLA1 off "
                 "PVA0_FREQ off APE 174 cpu@52.968C/52.968C soc2@48.406C/48.406C soc0@49.531C/49.531C "
                 "gpu@47.625C/47.625C VDD_GPU_SOC 5139mW/5139mW/5139mW VDD_CPU_CV 3268mW/3268mW/3268mW "
                 "VIN_SYS_5V0 5500mW/5500mW/5500mW")
AGX_XAVIER_JP42 = ("RAM 14700/15692MB (lfb 3x2MB) SWAP 898/8192MB (cached 23MB) CPU [0%@1190,0%@1190,0%@1190,0%@1190,"
                   "0%@1190,0%@1190,0%@1190,0%@1190] EMC_FREQ 0% GR3D_FREQ 0% AO@30C GPU@30.5C Tboard@31C Tdiode@32C "
                   "AUX@30.5C CPU@31.5C thermal@30.8C PMIC@100C GPU 463/463 CPU 618/618 SOC 2936/2936 CV 0/0 "
                   "VDDRQ 309/309 SYS5V 3306/3306")
TX2_JP4 = ("RAM 2020/7852MB (lfb 1164x4MB) CPU [9%@345,21%@345,25%@345,3%@345,1%@345,1%@345] EMC_FREQ 0% GR3D_FREQ 0% "
           "PLL@42.5C MCPU@42.5C PMIC@100C Tboard@40C GPU@41C BCPU@42.5C thermal@41.9C Tdiode@41.25C VDD_SYS_GPU "
           "153/158 VDD_SYS_SOC 536/547 VDD_4V0_WIFI 633/527 VDD_IN 3140/3208 VDD_SYS_CPU 536/590 VDD_SYS_DDR 557/601")
ORIN_NX_NONROOT = ("06-18-2025 11:25:24 RAM 3452/7620MB (lfb 25x4MB) SWAP 1518/16384MB (cached 174MB) CPU [1%@1420,"
                   "2%@1420,0%@1420,2%@1420,2%@729,1%@729] GR3D_FREQ 0% cpu@50.031C soc2@49.031C soc0@50C "
                   "gpu@49.031C tj@50.25C soc1@50.25C VDD_IN 4824mW/4824mW VDD_CPU_GPU_CV 518mW/518mW "
                   "VDD_SOC 1475mW/1475mW")
TX1_L4T28 = ("RAM 3607/3983MB (lfb 47x4MB) SWAP 873/8192MB (cached 281MB) cpu [17%,11%,65%,0%]@1734 EMC 1%@1600 "
             "APE 25 GR3D 39%@76")


def test_jetpack4_bare_milliwatts():
    assert parse_power_fields(NANO_JP46) == {"POM_5V_IN": 1750.0, "POM_5V_GPU": 0.0, "POM_5V_CPU": 366.0}


def test_jetpack5_milliwatt_suffix():
    assert parse_power_fields(XAVIER_NX_JP512) == {"VDD_IN": 2763.0, "VDD_CPU_GPU_CV": 650.0, "VDD_SOC": 650.0}


def test_agx_orin_nc_channels_are_skipped():
    assert list(parse_power_fields(AGX_ORIN_JP6)) == ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"]


def test_jetpack7_three_value_form_takes_the_first():
    assert parse_power_fields(AGX_ORIN_JP72) == {"VDD_GPU_SOC": 5139.0, "VDD_CPU_CV": 3268.0, "VIN_SYS_5V0": 5500.0}


def test_agx_xavier_short_rail_names():
    assert parse_power_fields(AGX_XAVIER_JP42)["SYS5V"] == 3306.0


def test_tx2_six_rails():
    assert len(parse_power_fields(TX2_JP4)) == 6


def test_non_root_line_still_has_power():
    assert parse_power_fields(ORIN_NX_NONROOT)["VDD_IN"] == 4824.0


def test_memory_fields_are_not_taken_for_power():
    assert parse_power_fields(TX1_L4T28) == {}


def _fake_tegrastats(root, lines):
    body = "\n".join("echo '{}'; sleep 0.02".format(line) for line in lines)
    path = write(root, "/usr/bin/tegrastats", "#!/bin/sh\nwhile true; do\n{}\ndone\n".format(body))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def test_source_runs_tegrastats_under_root_and_reads_board_input(tmp_path, opened):
    _fake_tegrastats(tmp_path, [NANO_JP46])
    src = opened("tegrastats?interval_ms=20", root=str(tmp_path))
    block = src.read_block(1.0)
    while not len(block):
        block = src.read_block(1.0)
    assert src.rails == ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU") and block.power_w[0] == pytest.approx(1.75)


def test_lines_without_power_are_counted_bad(tmp_path, opened):
    _fake_tegrastats(tmp_path, [ORIN_NX_NONROOT, TX1_L4T28])
    src = opened("tegrastats?interval_ms=20", root=str(tmp_path))
    bad = 0
    for _ in range(20):
        bad += src.read_block(0.2).bad
        if bad:
            break
    assert bad >= 1


def test_missing_tegrastats_is_a_usage_error(tmp_path):
    from edgebench.power.url import open_source

    with pytest.raises(PowerSourceError, match="tegrastats not found"):
        open_source("tegrastats", root=str(tmp_path))
