"""``edgebench monitor`` as a real process: standalone with a simulated source, offline, live loop."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from cli_helpers import ROOT, edgebench

SIM = "sim://?idle_w=1.3&active_w=13.1"


@pytest.fixture
def sim_root(fake_root):
    """fake_root plus a frozen /proc/stat: sim:// then reads an idle CPU, i.e. exactly idle_w."""
    with open(os.path.join(fake_root, "proc", "stat"), "w") as fh:
        fh.write("cpu  100 0 100 1000 0 0 0 0 0 0\ncpu0 100 0 100 1000 0 0 0 0 0 0\n")
    return fake_root


def test_standalone_once_shows_simulated_power_and_board(sim_root):
    proc = edgebench("monitor", "--once", "--power", SIM, "--root", sim_root, "--idle-w", "1.3")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "standalone" in out and "SIMULATED" in out
    assert "board     1.30 W" in out and "idle      1.30 W --idle-w" in out and "net       0.00 W" in out
    assert "memory 2930 / 7812 MB" in out  # fake_root's /proc/meminfo
    assert "last measurements" not in out


def test_standalone_once_json_is_the_snapshot(sim_root):
    proc = edgebench("monitor", "--once", "--json", "--power", SIM, "--root", sim_root)
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(proc.stdout)
    assert snap["agent"]["state"] == "standalone"
    power = snap["sensors"]["power"]
    assert power["simulated"] is True and "SIMULATED" in power["source"]
    assert power["board_w"] == 1.3 and power["board_history_w"] == [1.3] and power["net_w"] is None
    assert snap["sensors"]["board"]["memory"]["total_mb"] == 7812.5


def test_sensors_only_without_power(fake_root):
    proc = edgebench("monitor", "--once", "--power", "none", "--root", fake_root)
    assert proc.returncode == 0 and "no power source" in proc.stdout


def test_bad_power_url_and_conflicting_flags_are_usage_errors(tmp_path):
    proc = edgebench("monitor", "--once", "--power", "bogus://x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = edgebench("monitor", "--once", "--power", SIM, "--state-dir", tmp_path)
    assert proc.returncode == 2 and "--power runs the monitor without an agent" in proc.stderr
    proc = edgebench("monitor", "--once", "--idle-w", "2", "--state-dir", tmp_path)
    assert proc.returncode == 2 and "standalone" in proc.stderr


def test_attached_without_an_agent_shows_why(tmp_path):
    proc = edgebench("monitor", "--once", "--state-dir", tmp_path / "eb")
    assert proc.returncode == 0, proc.stderr
    assert "agent offline" in proc.stdout and "no agent is running" in proc.stdout


def test_live_loop_refreshes_and_quits_on_ctrl_c(sim_root):
    env = dict(os.environ, PYTHONPATH=ROOT, COLUMNS="120", LINES="40")
    proc = subprocess.Popen([sys.executable, "-m", "edgebench", "monitor", "--power", SIM, "--root", sim_root,
                             "--refresh", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            universal_newlines=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.count("standalone") >= 1 and "refresh 0.2 s; Ctrl-C to quit" in out
