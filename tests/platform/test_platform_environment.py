"""Run metadata: host facts, library versions, the board, and what must agree between runs."""
import json
import os
import subprocess
import sys

import pytest

from edgebench.platform import environment

ON_A_JETSON = os.path.exists("/etc/nv_tegra_release")


def test_arm_cores_are_named_from_their_part_numbers(fixture_root):
    with open(os.path.join(fixture_root("nano_jp46"), "proc", "cpuinfo")) as handle:
        assert environment.parse_cpuinfo(handle.read()) == {"cpu": "ARM Cortex-A57", "processors": 4}


def test_a_mixed_cluster_lists_each_core_type():
    block = "processor\t: {}\nCPU implementer\t: {}\nCPU part\t: {}\n\n"
    text = "".join(block.format(i, "0x4e", "0x003") for i in range(2))
    text += "".join(block.format(i, "0x41", "0xd07") for i in range(2, 6))
    assert environment.parse_cpuinfo(text)["cpu"] == "2x NVIDIA Denver 2 + 4x ARM Cortex-A57"


def test_x86_cpus_use_the_model_name():
    text = "processor\t: 0\nmodel name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz\n"
    assert environment.parse_cpuinfo(text)["cpu"] == "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz"


@pytest.mark.parametrize("text, count", [("0-3", 4), ("0-3,6", 5), ("0", 1), ("", None), ("x-y", None)])
def test_cpu_lists_are_counted(text, count):
    assert environment.count_cpu_list(text) == count


def test_os_release_pretty_name_is_used(fixture_root):
    host = environment.describe_host(fixture_root("nano_jp46"))
    assert (host["os"], host["kernel"], host["cores"], host["memory_total_mb"]) == (
        "Ubuntu 18.04.6 LTS (Bionic Beaver)", "4.9.253-tegra", 4, 3964.6)


def test_a_fake_root_does_not_borrow_this_machines_kernel_or_hostname(make_board):
    host = environment.describe_host(make_board({"/proc/meminfo": "MemTotal: 1024 kB\n"}))
    assert (host["kernel"], host["host"], host["machine"]) == (None, None, None)


@pytest.mark.skipif(ON_A_JETSON, reason="this machine is a Jetson")
def test_this_machine_has_host_facts_and_no_board():
    env = environment.collect_environment()
    assert env["board"] is None and env["kernel"] and env["cores"] >= 1 and env["memory_total_mb"] > 0


def test_the_environment_is_json_serialisable(fixture_root):
    env = environment.collect_environment(fixture_root("agx_orin_jp6"))
    assert json.loads(json.dumps(env)) == env


def test_the_nano_fixture_environment_has_the_board_and_its_libraries(fixture_root):
    env = environment.collect_environment(fixture_root("nano_jp46"))
    assert (env["board"]["name"], env["versions"]["cuda"], env["versions"]["cudnn"], env["machine"]) == (
        "Jetson Nano", "10.2.300", "8.2.1.32", "aarch64")


def test_collecting_the_environment_imports_no_vendor_library():
    code = ("import sys\nfrom edgebench.platform import collect_environment\ncollect_environment()\n"
            "heavy = [m for m in ('torch', 'tensorrt', 'onnxruntime', 'torchvision', 'pycuda', 'onnx') "
            "if m in sys.modules]\nprint(','.join(heavy))\n")
    out = subprocess.check_output([sys.executable, "-c", code], universal_newlines=True)
    assert out.strip() == ""


def test_importing_edgebench_platform_stays_light():
    code = ("import sys\nimport edgebench.platform\n"
            "print(','.join(m for m in ('rich', 'numpy', 'subprocess', 'json') if m in sys.modules))\n")
    out = subprocess.check_output([sys.executable, "-c", code], universal_newlines=True)
    assert "rich" not in out and "numpy" not in out


def test_comparable_keys_of_the_nano_fixture(fixture_root):
    keys = environment.comparable_keys(environment.collect_environment(fixture_root("nano_jp46")))
    expected = {"board": "NVIDIA Jetson Nano Developer Kit", "power_mode": "MAXN", "clocks_locked": False,
                "jetpack": "4.6.1", "cpu": "ARM Cortex-A57"}
    assert {key: keys[key] for key in expected} == expected


def nano_keys(**changes):
    keys = {"board": "NVIDIA Jetson Nano Developer Kit", "power_mode": "MAXN", "clocks_locked": True,
            "jetpack": "4.6.1", "tensorrt": "8.2.1", "cpu": "ARM Cortex-A57"}
    keys.update(changes)
    return keys


def test_identical_environments_have_no_differences():
    assert environment.diff_comparable(nano_keys(), nano_keys()) == []


def test_differences_name_the_key_and_both_values():
    differences = environment.diff_comparable(nano_keys(), nano_keys(power_mode="5W", clocks_locked=False),
                                              labels=("run 1", "run 2"))
    assert differences == ["power mode (nvpmodel) differs: MAXN (run 1) vs 5W (run 2)",
                           "clocks locked (jetson_clocks) differs: yes (run 1) vs no (run 2)"]


def test_unknown_on_one_side_is_a_difference():
    assert environment.diff_comparable(nano_keys(), nano_keys(tensorrt=None)) == [
        "TensorRT differs: 8.2.1 (A) vs unknown (B)"]


def test_diff_environments_compares_two_fixture_boards(fixture_root):
    nano = environment.collect_environment(fixture_root("nano_jp46"))
    orin = environment.collect_environment(fixture_root("agx_orin_jp6"))
    assert [line.split(" differs")[0] for line in environment.diff_environments(nano, orin)][:4] == [
        "board", "clocks locked (jetson_clocks)", "JetPack", "TensorRT"]
