"""Board identity: model, SoC, L4T release and the JetPack derived from it."""
import os

import pytest
from platform_trees import R32_7_1, dpkg, identity

from edgebench.platform import board

R36_4_3 = ("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
           "DATE: Wed Jan  8 01:49:37 UTC 2025\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n")


def test_parse_tegra_release_reads_r32_revision_7_1_as_l4t_32_7_1():
    info = board.parse_tegra_release(R32_7_1)
    found = (info["l4t"], info["release"], info["revision"], info["board"])
    assert found == ("32.7.1", "R32", "7.1", "t210ref")


def test_parse_tegra_release_reads_the_multi_line_r36_file():
    info = board.parse_tegra_release(R36_4_3)
    assert (info["l4t"], info["board"], info["kernel_variant"]) == ("36.4.3", "generic", "oot")


def test_parse_tegra_release_accepts_a_line_broken_before_eabi():
    text = ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref \n"
            "# EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022\n")
    assert board.parse_tegra_release(text)["l4t"] == "32.7.1"


def test_parse_tegra_release_pads_a_single_number_revision():
    assert board.parse_tegra_release("# R32 (release), REVISION: 5, GCID: 1")["l4t"] == "32.5.0"


@pytest.mark.parametrize("text", ["", "garbage", "R32.7.1"])
def test_parse_tegra_release_returns_none_for_text_that_is_not_a_release_line(text):
    assert board.parse_tegra_release(text) is None


@pytest.mark.parametrize("l4t, jetpack", [
    ("32.4.3", "4.4"), ("32.4.4", "4.4.1"), ("32.5.0", "4.5"), ("32.5.1", "4.5.1"), ("32.6.1", "4.6"),
    ("32.7.1", "4.6.1"), ("32.7.2", "4.6.2"), ("32.7.3", "4.6.3"), ("32.7.4", "4.6.4"), ("35.1.0", "5.0.2"),
    ("35.2.1", "5.1"), ("35.3.1", "5.1.1"), ("35.4.1", "5.1.2"), ("35.5.0", "5.1.3"), ("35.6.0", "5.1.4"),
    ("36.2.0", "6.0 DP"), ("36.3.0", "6.0"), ("36.4.0", "6.1"), ("36.4.3", "6.2"), ("R35.5", "5.1.3"),
])
def test_jetpack_for_l4t_follows_the_release_table(l4t, jetpack):
    assert board.jetpack_for_l4t(l4t) == (jetpack, None)


def test_jetpack_for_l4t_marks_a_row_the_sources_disagree_on():
    jetpack, note = board.jetpack_for_l4t("36.4.2")
    assert jetpack == "6.1 (rev. 1)" and "disagree" in note


def test_jetpack_for_an_unknown_l4t_is_none_with_the_reason():
    assert board.jetpack_for_l4t("36.9.9") == (None, "L4T 36.9.9 is not in edgebench's JetPack table")


@pytest.mark.parametrize("model, name", [
    ("NVIDIA Jetson Nano Developer Kit", "Jetson Nano"),
    ("NVIDIA Jetson TX1 Developer Kit", "Jetson TX1"),
    ("quill", "Jetson TX2"),
    ("Jetson-AGX", "Jetson AGX Xavier"),
    ("NVIDIA Jetson Xavier NX Developer Kit", "Jetson Xavier NX"),
    ("NVIDIA Jetson AGX Orin Developer Kit", "Jetson AGX Orin"),
    ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "Jetson Orin NX"),
    ("NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", "Jetson Orin Nano Super"),
    ("NVIDIA Jetson Orin Nano Engineering Reference Developer Kit", "Jetson Orin Nano"),
    ("NVIDIA Jetson AGX Thor Developer Kit", "Jetson AGX Thor"),
    ("Raspberry Pi 4 Model B Rev 1.4", None),
])
def test_board_name_normalizes_device_tree_models(model, name):
    assert board.board_name(model) == name


def test_read_model_strips_the_trailing_nul(make_board):
    root = make_board(identity())
    assert board.read_model(root) == "NVIDIA Jetson Nano Developer Kit"


def test_detect_soc_prefers_the_compatible_string_over_the_model(make_board):
    root = make_board(identity(model="NVIDIA Jetson Nano Developer Kit",
                               compatible=("nvidia,p3737-0000+p3701-0000", "nvidia,tegra234")))
    assert board.detect_soc(root, board.read_model(root)) == ("tegra234", "/proc/device-tree/compatible")


def test_detect_soc_falls_back_to_the_tegra_chip_id(make_board):
    files = identity(model=None, compatible=None)
    files["/sys/module/tegra_fuse/parameters/tegra_chip_id"] = "25\n"
    root = make_board(files)
    assert board.detect_soc(root) == ("tegra194", board.CHIP_ID_PATH)


def test_identify_board_is_none_on_a_tree_that_is_not_a_jetson(make_board):
    root = make_board({"/proc/cpuinfo": "processor\t: 0\nmodel name\t: AMD EPYC\n"})
    assert board.identify_board(root) is None


@pytest.mark.skipif(os.path.exists("/etc/nv_tegra_release"), reason="this machine is a Jetson")
def test_detect_board_on_this_machine_is_none():
    assert board.detect_board() is None


@pytest.mark.parametrize("name, expected", [
    ("tx1_jp46", ("Jetson TX1", "tegra210", "Maxwell", "32.7.1", "4.6.1", True, False)),
    ("nano_jp46", ("Jetson Nano", "tegra210", "Maxwell", "32.7.1", "4.6.1", True, False)),
    ("xavier_nx_jp51", ("Jetson Xavier NX", "tegra194", "Volta", "35.4.1", "5.1.2", True, True)),
    ("agx_xavier_jp51", ("Jetson AGX Xavier", "tegra194", "Volta", "35.4.1", "5.1.2", True, True)),
    ("orin_nx_jp6", ("Jetson Orin NX", "tegra234", "Ampere", "36.4.0", "6.1", True, True)),
    ("agx_orin_jp6", ("Jetson AGX Orin", "tegra234", "Ampere", "36.4.3", "6.2", True, True)),
    ("orin_nano_super_jp62", ("Jetson Orin Nano Super", "tegra234", "Ampere", "36.5.0", "6.2.2", True, True)),
    ("agx_thor_jp7", ("Jetson AGX Thor", "tegra264", "Blackwell", "38.2.0", "7.0", True, True)),
])
def test_identify_board_recognises_each_fixture_board(fixture_root, name, expected):
    found = board.identify_board(fixture_root(name))
    keys = ("name", "soc", "gpu_arch", "l4t", "jetpack", "fast_fp16", "fast_int8")
    assert tuple(found[key] for key in keys) == expected


def test_nano_fast_int8_answer_names_its_source(fixture_root):
    found = board.identify_board(fixture_root("nano_jp46"))
    assert "Maxwell sm_53" in found["precision_source"]


def test_installed_nvidia_jetpack_package_is_preferred_over_the_table(fixture_root):
    found = board.identify_board(fixture_root("xavier_nx_jp51"))
    assert found["jetpack_source"] == "dpkg nvidia-jetpack 5.1.2-b104"


def test_l4t_comes_from_nvidia_l4t_core_when_the_release_file_is_missing(make_board):
    files = identity(release=None)
    files.update(dpkg([("nvidia-l4t-core", "35.4.1-20230801124926")]))
    found = board.identify_board(make_board(files))
    assert (found["l4t"], found["jetpack"]) == ("35.4.1", "5.1.2")


def test_detect_board_adds_power_mode_and_clock_state(fixture_root):
    found = board.detect_board(fixture_root("agx_xavier_jp51"))
    assert (found["nvpmodel"]["name"], found["clocks_locked"]) == ("MODE_15W", False)


def test_thor_is_blackwell_sm_110_from_its_compatible_string(fixture_root):
    found = board.identify_board(fixture_root("agx_thor_jp7"))
    assert (found["soc_source"], found["compute_capability"], "Blackwell sm_110" in found["precision_source"]) == (
        "/proc/device-tree/compatible", "11.0", True)


def test_a_thor_model_string_alone_still_names_tegra264(make_board):
    root = make_board(identity(model="NVIDIA Jetson AGX Thor Developer Kit", compatible=None))
    assert board.detect_soc(root, board.read_model(root)) == ("tegra264", "/proc/device-tree/model")


@pytest.mark.parametrize("l4t, jetpack", [("38.2.0", "7.0"), ("38.2.1", "7.0")])
def test_jetpack_7_follows_jetson_linux_38_2(l4t, jetpack):
    assert board.jetpack_for_l4t(l4t) == (jetpack, None)


def test_orin_nano_super_reads_its_maxn_super_power_mode(fixture_root):
    found = board.detect_board(fixture_root("orin_nano_super_jp62"))
    assert (found["nvpmodel"]["name"], found["nvpmodel"]["fastest_id"]) == ("MAXN_SUPER", 2)
