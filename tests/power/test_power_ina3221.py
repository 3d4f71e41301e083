import errno
import os
import shutil

import pytest
from power_helpers import board_root, write

from edgebench.errors import PowerSourceError
from edgebench.power.ina3221 import INA3221Source, SensorReadError, discover, parse_sysfs_number
from edgebench.power.source import INSTANTANEOUS

EXPECTED = {
    # board: (rails, board-input rails, board input W)
    "tx1_jp46": (["VDD_IN", "VDD_GPU", "VDD_CPU", "VDD_MUX", "VDD_5V_IO_SYS", "VDD_3V3_SYS", "VDD_3V3_IO",
                  "VDD_1V8_IO", "VDD_M2_IN"], ["VDD_IN"], 5.583),
    "nano_jp46": (["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"], ["POM_5V_IN"], 1.750),
    "xavier_nx_jp51": (["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], ["VDD_IN"], 5.064 * 0.545),
    "agx_xavier_jp51": (["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"], ["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"],
                        19.136 * (0.024 + 0.032 + 0.152 + 0 + 0.016) + 4.984 * 0.552),
    "orin_nx_jp6": (["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"], ["VDD_IN"], 5.160 * 1.010),
    "agx_orin_jp6": (["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"],
                     ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"], 0.843 * 6.170 + 0.780 * 3.437 + 4.968 * 0.953),
}


@pytest.mark.parametrize("board", sorted(EXPECTED))
def test_list_rails_finds_the_boards_rails(board):
    info = INA3221Source.list_rails(board_root(board))
    assert [r["rail"] for r in info["rails"]] == EXPECTED[board][0]


@pytest.mark.parametrize("board", sorted(EXPECTED))
def test_board_input_follows_the_boards_rule(board):
    info = INA3221Source.list_rails(board_root(board))
    assert info["board_rails"] == EXPECTED[board][1]
    assert info["board_input_w"] == pytest.approx(EXPECTED[board][2], rel=1e-6)


@pytest.mark.parametrize("board", sorted(EXPECTED))
def test_source_reads_board_input_power(board, opened):
    src = opened("ina3221", root=board_root(board))
    assert src.read().power_w == pytest.approx(EXPECTED[board][2], rel=1e-6)
    assert src.sampling == INSTANTANEOUS


def test_jetpack4_limit_files_with_unit_suffix_are_parsed():
    info = INA3221Source.list_rails(board_root("nano_jp46"))
    assert info["rails"][0]["crit_ma"] == 32760


def test_hwmon_skips_sum_channel_and_nc_rails():
    found = discover(board_root("agx_orin_jp6"))
    assert "sum of shunt voltages" not in found.rail_names and "NC" not in found.rail_names
    assert any("'NC'" in note for note in found.notes)


def test_one_rail_url_reads_only_that_rail(opened):
    src = opened("ina3221:VDD_SOC", root=board_root("orin_nx_jp6"))
    assert src.rails == ("VDD_SOC",) and src.read().power_w == pytest.approx(5.160 * 0.296)


def test_unknown_rail_lists_the_rails_that_exist():
    from edgebench.power.url import open_source

    with pytest.raises(PowerSourceError, match="VDD_IN"):
        open_source("ina3221:VDD_GPU", root=board_root("orin_nx_jp6"))


def test_rails_input_reads_only_board_input_rails(opened):
    src = opened("ina3221?rails=input", root=board_root("agx_orin_jp6"))
    assert src.rails == ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")


def test_no_ina3221_says_what_to_do(tmp_path):
    from edgebench.power.url import open_source

    with pytest.raises(PowerSourceError, match="--power serial://"):
        open_source("ina3221", root=str(tmp_path))


def test_hwmon_number_is_globbed_not_hard_coded(tmp_path, opened):
    root = tmp_path / "root"
    shutil.copytree(board_root("orin_nx_jp6") + "/sys", str(root / "sys"), symlinks=True)
    base = root / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon"
    os.rename(str(base / "hwmon1"), str(base / "hwmon7"))
    assert opened("ina3221", root=str(root)).read().power_w == pytest.approx(5.160 * 1.010)


@pytest.fixture
def nano_copy(tmp_path):
    root = tmp_path / "nano"
    shutil.copytree(board_root("nano_jp46") + "/sys", str(root / "sys"))
    return str(root)


IIO = "/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/"


def test_rereads_changed_value_with_pread_on_the_same_fd(nano_copy, opened):
    src = opened("ina3221", root=nano_copy)
    fds = [v.fd for c in src.channels for v in c._values]
    write(nano_copy, IIO + "in_power0_input", "4200\n")
    assert src.read().power_w == pytest.approx(4.2)
    assert [v.fd for c in src.channels for v in c._values] == fds


def test_unreadable_rail_file_is_skipped_with_a_note(nano_copy):
    path = os.path.join(nano_copy, IIO.lstrip("/") + "in_power2_input")
    os.remove(path)
    os.mkdir(path)  # reading a directory fails (EISDIR) like a broken sysfs attribute
    found = discover(nano_copy)
    assert found.rail_names == ["POM_5V_IN", "POM_5V_GPU"]
    assert any("POM_5V_CPU" in note and "unreadable" in note for note in found.notes)


def test_empty_rail_file_is_skipped(nano_copy):
    write(nano_copy, IIO + "in_power1_input", "")
    assert "POM_5V_GPU" not in discover(nano_copy).rail_names


def test_enodata_during_sampling_gives_nan_not_a_number(nano_copy, opened, monkeypatch):
    src = opened("ina3221", root=nano_copy)
    real_pread = os.pread

    def kernel_says_enodata(fd, size, offset):  # fake of a disabled INA3221 channel (-ENODATA)
        raise OSError(errno.ENODATA, os.strerror(errno.ENODATA))

    monkeypatch.setattr(os, "pread", kernel_says_enodata)
    sample = src.read()
    monkeypatch.setattr(os, "pread", real_pread)
    assert sample.power_w != sample.power_w  # NaN: a failed reading, never a silent 0


def test_parse_sysfs_number_reads_leading_integer_of_limit_text():
    assert parse_sysfs_number(b"32760 ma\n") == 32760


def test_parse_sysfs_number_rejects_garbage():
    with pytest.raises(SensorReadError):
        parse_sysfs_number(b"N/A\n")


@pytest.mark.parametrize("board", sorted(EXPECTED))
def test_file_poll_converts_to_the_same_rails_and_power_as_read(board, opened):
    import numpy as np

    src = opened("ina3221", root=board_root(board))
    plan = src.file_poll()
    values = np.array([[float(int(os.pread(fd, 64, 0))) for fd in plan.fds]])
    power, rails = plan.convert(values)
    sample = src.read()
    assert power[0] == pytest.approx(sample.power_w, rel=1e-12) and rails[0] == pytest.approx(sample.rails_w)


def test_file_poll_slow_path_reads_a_value_with_a_unit(nano_copy, opened):
    src = opened("ina3221", root=nano_copy)
    write(nano_copy, IIO + "in_power0_input", "4200 mW\n")
    assert src.file_poll().slow(0, src.file_poll().fds[0]) == 4200.0


def test_file_poll_slow_path_gives_nan_for_enodata(nano_copy, opened, monkeypatch):
    src = opened("ina3221", root=nano_copy)
    plan = src.file_poll()

    def kernel_says_enodata(fd, size, offset):  # fake of a disabled INA3221 channel (-ENODATA)
        raise OSError(errno.ENODATA, os.strerror(errno.ENODATA))

    monkeypatch.setattr(os, "pread", kernel_says_enodata)
    value = plan.slow(0, plan.fds[0])
    monkeypatch.undo()
    assert value != value
