"""edgebench doctor: checks, exit status, JSON keys and the human report."""
import io
import json
import os
import subprocess
import sys

import pytest
from platform_trees import nano_files

from edgebench import cli
from edgebench.platform import doctor
from edgebench.platform.versions import python_package

ON_A_JETSON = os.path.exists("/etc/nv_tegra_release")
TENSORRT_HERE = python_package("tensorrt")["available"]


def checks_by_name(report):
    return {check["name"]: check for check in report["checks"]}


def run_main(argv, monkeypatch, capsys):
    """The real CLI entry point with only the doctor command registered."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("edgebench.platform.cli",))
    status = cli.main(argv)
    return status, capsys.readouterr().out


def test_the_nano_fixture_is_reported_with_its_jetpack_and_precision(fixture_root, monkeypatch, capsys):
    status, out = run_main(["doctor", "--json", "--root", fixture_root("nano_jp46")], monkeypatch, capsys)
    report = json.loads(out)
    board = report["board"]
    assert (board["name"], board["l4t"], board["jetpack"], report["precision"]["fast_fp16"],
            report["precision"]["fast_int8"]) == ("Jetson Nano", "32.7.1", "4.6.1", True, False)


def test_the_json_report_has_the_documented_keys(fixture_root):
    report = doctor.diagnose(fixture_root("nano_jp46"))
    assert tuple(report) == doctor.report_keys()


def test_every_check_has_a_level_state_and_advice_field(fixture_root):
    for check in doctor.diagnose(fixture_root("xavier_nx_jp51"))["checks"]:
        assert check["level"] in doctor.LEVELS and check["state"] and "advice" in check


@pytest.mark.parametrize("name", ["tx1_jp46", "nano_jp46", "xavier_nx_jp51", "agx_xavier_jp51", "orin_nx_jp6",
                                  "agx_orin_jp6", "orin_nano_super_jp62", "agx_thor_jp7"])
def test_every_fixture_board_is_diagnosed_as_a_jetson(fixture_root, name):
    report = doctor.diagnose(fixture_root(name))
    assert report["jetson"] and json.loads(json.dumps(report)) == report


@pytest.mark.parametrize("name, state", [
    ("agx_thor_jp7", "Jetson AGX Thor (NVIDIA Jetson AGX Thor Developer Kit), tegra264 Blackwell sm_110"),
    ("orin_nano_super_jp62", "Jetson Orin Nano Super (NVIDIA Jetson Orin Nano Engineering Reference Developer Kit "
                             "Super), tegra234 Ampere sm_87"),
])
def test_doctor_names_the_newest_boards_gpu_architecture(fixture_root, name, state):
    assert checks_by_name(doctor.diagnose(fixture_root(name)))["board"]["state"] == state


@pytest.mark.parametrize("name", ["agx_thor_jp7", "orin_nano_super_jp62"])
def test_doctor_says_the_newest_boards_have_fast_fp16_and_int8(fixture_root, name):
    precision = doctor.diagnose(fixture_root(name))["precision"]
    assert (precision["fast_fp16"], precision["fast_int8"]) == (True, True)


def test_doctor_finds_thors_ina238_as_a_power_sensor(fixture_root):
    kinds = [source["kind"] for source in doctor.diagnose(fixture_root("agx_thor_jp7"))["power_sources"]]
    assert "ina238 (hwmon driver, Thor carrier board input)" in kinds


@pytest.mark.skipif(TENSORRT_HERE, reason="TensorRT bindings installed here")
def test_a_jetson_whose_python_cannot_import_tensorrt_fails_with_the_fix(fixture_root):
    report = doctor.diagnose(fixture_root("nano_jp46"))
    tensorrt = checks_by_name(report)["tensorrt"]
    assert (report["exit_status"], tensorrt["level"], "--system-site-packages" in tensorrt["advice"]) == (
        1, "error", True)


@pytest.mark.skipif(TENSORRT_HERE, reason="TensorRT bindings installed here")
def test_missing_tensorrt_bindings_on_a_jetson_advise_apt(make_board):
    report = doctor.diagnose(make_board(nano_files()))
    assert checks_by_name(report)["tensorrt"]["advice"] == "sudo apt install python3-libnvinfer"


def test_pycuda_is_the_required_binding_before_tensorrt_10(make_board):
    report = doctor.diagnose(make_board(nano_files()))
    if python_package("pycuda")["available"] or python_package("cuda-python")["available"]:
        pytest.skip("a CUDA binding is installed here")
    assert checks_by_name(report)["pycuda"]["level"] == "error"


def test_a_power_mode_other_than_maxn_advises_nvpmodel_m_0(fixture_root):
    check = checks_by_name(doctor.diagnose(fixture_root("agx_xavier_jp51")))["nvpmodel"]
    assert (check["level"], check["advice"]) == ("warning", "sudo nvpmodel -m 0")


def test_a_board_without_a_maxn_mode_gets_no_nvpmodel_advice(fixture_root):
    check = checks_by_name(doctor.diagnose(fixture_root("xavier_nx_jp51")))["nvpmodel"]
    assert (check["level"], check["advice"]) == ("info", None)


def test_the_tx1_has_no_power_modes_and_that_is_fine(fixture_root):
    assert checks_by_name(doctor.diagnose(fixture_root("tx1_jp46")))["nvpmodel"]["level"] == "info"


def test_floating_clocks_advise_jetson_clocks(fixture_root):
    check = checks_by_name(doctor.diagnose(fixture_root("nano_jp46")))["clocks"]
    assert (check["level"], check["advice"]) == ("warning", "sudo jetson_clocks")


def test_locked_clocks_are_ok(fixture_root):
    assert checks_by_name(doctor.diagnose(fixture_root("agx_orin_jp6")))["clocks"]["level"] == "ok"


def test_an_ina3221_driver_directory_is_found_as_a_power_sensor(make_board):
    files = nano_files()
    files["/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/rail_name_0"] = "POM_5V_IN\n"
    check = checks_by_name(doctor.diagnose(make_board(files)))["power_sources"]
    assert (check["level"], check["details"]["sources"][0]["url"]) == ("ok", "ina3221")


def test_no_power_sensor_on_a_jetson_advises_an_external_meter_or_none(make_board):
    check = checks_by_name(doctor.diagnose(make_board(nano_files())))["power_sources"]
    assert check["level"] == "warning" and "--power none" in check["advice"]


def test_rapl_package_zones_are_found_but_not_subzones(make_board):
    root = make_board({"/sys/class/powercap/intel-rapl:0/name": "package-0\n",
                       "/sys/class/powercap/intel-rapl:0/energy_uj": "123456\n",
                       "/sys/class/powercap/intel-rapl:0:0/name": "core\n"})
    sources = doctor.find_power_sources(root)
    assert [(source["kind"], source["readable"]) for source in sources] == [("rapl package-0", True)]


def test_low_available_memory_is_a_warning(make_board):
    from platform_trees import meminfo

    files = nano_files(meminfo=meminfo(total_kb=4059756, available_kb=200000))
    check = checks_by_name(doctor.diagnose(make_board(files)))["memory"]
    assert check["level"] == "warning" and "multi-user.target" in check["advice"]


def test_a_busy_gpu_is_a_warning(make_board):
    from platform_trees import gpu

    check = checks_by_name(doctor.diagnose(make_board(nano_files(gpu=gpu(load=900)))))["gpu_load"]
    assert check["level"] == "warning"


HOST_MEMINFO = {"/proc/meminfo": "MemTotal: 8000000 kB\nMemAvailable: 6000000 kB\n"}


def test_a_non_jetson_tree_says_so_and_lists_what_tensorrt_needs(make_board):
    report = doctor.diagnose(make_board(HOST_MEMINFO))
    names = checks_by_name(report)
    assert (report["jetson"], report["summary"].startswith("not a Jetson"), "nvpmodel" in names,
            names["tensorrt"]["level"] in ("ok", "info", "warning")) == (False, True, False, True)


def test_the_human_report_of_the_nano_names_board_jetpack_and_precision(fixture_root):
    from rich.console import Console

    buffer = io.StringIO()
    doctor.render(doctor.diagnose(fixture_root("nano_jp46")), Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert all(needle in text for needle in ("Jetson Nano", "L4T 32.7.1", "JetPack 4.6.1",
                                             "fast fp16 yes, fast int8 no", "sudo jetson_clocks"))


def test_advice_with_square_brackets_is_printed_literally(make_board):
    from rich.console import Console

    report = doctor.diagnose(make_board(HOST_MEMINFO))
    report["checks"].append({"name": "x", "title": "X", "level": "warning", "state": "s",
                             "advice": "pip install 'edgebench[zoo]'", "details": {}})
    buffer = io.StringIO()
    doctor.render(report, Console(file=buffer, width=200))
    assert "edgebench[zoo]" in buffer.getvalue()


@pytest.mark.skipif(ON_A_JETSON, reason="this machine is a Jetson")
def test_doctor_on_this_machine_says_not_a_jetson_and_exits_0():
    code = ("import sys\nfrom edgebench import cli\ncli.COMMAND_MODULES = ('edgebench.platform.cli',)\n"
            "sys.exit(cli.main(['doctor']))\n")
    env = dict(os.environ, COLUMNS="200")
    env.pop("EDGEBENCH_ROOT", None)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, env=env)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, "not a Jetson" in out, "TensorRT" in out) == (0, True, True), err


def test_doctor_json_exit_status_matches_the_report(fixture_root, monkeypatch, capsys):
    status, out = run_main(["doctor", "--json", "--root", fixture_root("agx_orin_jp6")], monkeypatch, capsys)
    assert status == json.loads(out)["exit_status"]
