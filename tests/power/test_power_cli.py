import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from power_helpers import BOARDS, board_root, write

from edgebench.cli import main
from edgebench.power.trace import write_trace

BOARD_INPUT_W = {
    "tx1_jp46": 5.583, "nano_jp46": 1.75, "xavier_nx_jp51": 2.75988, "agx_xavier_jp51": 7.037632,
    "orin_nx_jp6": 5.2116, "agx_orin_jp6": 12.616674,
}


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("board", BOARDS)
def test_list_json_reports_board_input(board, capsys):
    status, out, _ = run(capsys, "power", "list", "--root", board_root(board), "--json")
    info = json.loads(out)
    assert status == 0 and info["auto"] == "ina3221"
    assert info["ina3221"]["board_input_w"] == pytest.approx(BOARD_INPUT_W[board], rel=1e-6)


def test_list_table_shows_rails_and_rule(capsys):
    status, out, _ = run(capsys, "power", "list", "--root", board_root("agx_orin_jp6"))
    assert status == 0 and "VDDQ_VDD2_1V8AO" in out and "board input: 12.62 W" in out


def test_list_on_a_machine_without_sensors_says_none(tmp_path, capsys):
    status, out, _ = run(capsys, "power", "list", "--root", str(tmp_path))
    assert status == 0 and "auto picks: none" in out


def test_read_sim_json_is_labelled_simulated(stat_root, capsys):
    status, out, _ = run(capsys, "power", "read", "--power", "sim://?idle_w=3&active_w=9", "--seconds", "0.3",
                         "--root", stat_root, "--json")
    info = json.loads(out)
    assert status == 0 and info["simulated"] is True and info["source"].startswith("SIMULATED")
    assert info["mean_w"] == pytest.approx(3.0) and info["samples"] > 200


def test_read_table_of_sim_marks_every_line(stat_root, capsys):
    status, out, _ = run(capsys, "power", "read", "--power", "sim://", "--seconds", "0.2", "--root", stat_root)
    assert status == 0 and all(line.startswith("SIMULATED") for line in out.splitlines() if line.strip())


def test_read_ina3221_reports_per_rail_means(tmp_path, capsys):
    status, out, _ = run(capsys, "power", "read", "--power", "ina3221", "--seconds", "0.3",
                         "--root", board_root("orin_nx_jp6"), "--json")
    info = json.loads(out)
    assert info["rails"]["VDD_SOC"] == pytest.approx(5.160 * 0.296, rel=1e-5) and info["sampling"] == "instantaneous"


def test_record_writes_a_trace_with_a_simulated_label(stat_root, tmp_path, capsys):
    out_path = str(tmp_path / "rec.csv")
    status, _, _ = run(capsys, "power", "record", "--power", "sim://", "--seconds", "0.2", "--root", stat_root,
                       "--out", out_path)
    lines = open(out_path).read().splitlines()
    assert status == 0 and lines[0] == "t_s,power_w,label" and lines[1].endswith(",SIMULATED")


def test_record_multi_rail_source_adds_rail_columns(tmp_path, capsys):
    out_path = str(tmp_path / "rails.csv")
    run(capsys, "power", "record", "--power", "ina3221", "--seconds", "0.2", "--root", board_root("nano_jp46"),
        "--out", out_path)
    assert open(out_path).readline().strip() == "t_s,power_w,POM_5V_IN_w,POM_5V_GPU_w,POM_5V_CPU_w"


def test_analyze_json_has_the_documented_keys(tmp_path, capsys):
    path = str(tmp_path / "t.csv")
    t = np.arange(0, 2, 1e-3)
    write_trace(path, t, 5 + np.sin(2 * np.pi * 25 * t))
    status, out, _ = run(capsys, "power", "analyze", path, "--json")
    info = json.loads(out)
    for key in ("sample_rate_hz", "bandwidth_hz", "nyquist_rate_hz", "aliasing_risk", "mean_w", "energy_j",
                "duration_s", "samples"):
        assert key in info
    assert info["mean_w"] == pytest.approx(5.0, abs=0.01) and info["aliasing_risk"] is False


def test_analyze_of_a_headerless_trace_exits_2_with_one_line(tmp_path, capsys):
    path = write(tmp_path, "/bad.csv", "".join("{},{}\n".format(k, k) for k in range(20)))
    status, out, err = run(capsys, "power", "analyze", path)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "no header" in err


def test_unknown_power_url_exits_2(capsys):
    status, _, err = run(capsys, "power", "read", "--power", "wattmeter://x", "--seconds", "0.1")
    assert status == 2 and "unknown power source" in err


def test_missing_serial_port_exits_2(capsys):
    status, _, err = run(capsys, "power", "read", "--power", "serial:///dev/edgebench-none?protocol=ppk2")
    assert status == 2 and "does not exist" in err


def test_emulate_and_read_in_two_processes(tmp_path):
    env = dict(os.environ)
    env.pop("EDGEBENCH_DEBUG", None)
    emu = subprocess.Popen([sys.executable, "-m", "edgebench", "power", "emulate", "--protocol", "ppk2",
                            "--watts", "0.2", "--ripple", "0", "--seconds", "30"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env)
    try:
        pty = emu.stdout.readline().decode().strip()
        out = subprocess.check_output([sys.executable, "-m", "edgebench", "power", "read", "--power",
                                       "serial://{}?protocol=ppk2".format(pty), "--seconds", "0.5", "--json"],
                                      env=env)
        info = json.loads(out.decode())
    finally:
        emu.terminate()
        status = emu.wait(timeout=10)
        emu.stdout.close()
        emu.stderr.close()
    assert info["rate_hz"] == pytest.approx(100000, rel=0.05) and info["mean_w"] == pytest.approx(0.2, rel=0.01)
    assert status == 0  # SIGTERM ends the emulator cleanly


def test_emulate_stops_after_seconds(capsys):
    start = time.perf_counter()
    status, out, _ = run(capsys, "power", "emulate", "--protocol", "csv", "--seconds", "0.2")
    assert status == 0 and out.startswith("/dev/") and time.perf_counter() - start < 5


def test_read_of_a_probe_with_an_unexpected_field_count_exits_2_naming_columns(emulator, capsys):
    emu = emulator("csv", watts=5.0, ripple=0.0, power_column=True, header=False)
    status, out, err = run(capsys, "power", "read", "--power", emu.url, "--seconds", "0.5")
    assert status == 2 and "columns=" in err and len(err.strip().splitlines()) == 1


def test_read_of_a_probe_with_its_header_sent_before_open_reads_right_or_exits_2(emulator, capsys):
    emu = emulator("csv", watts=5.0, ripple=0.0, power_column=True)
    time.sleep(0.2)
    status, out, err = run(capsys, "power", "read", "--power", emu.url, "--seconds", "0.5", "--json")
    assert (status == 0 and json.loads(out)["mean_w"] == pytest.approx(5.0, rel=0.02)) or \
        (status == 2 and "columns=" in err)
