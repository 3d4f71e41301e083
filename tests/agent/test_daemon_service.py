"""The systemd unit: packaged, installed by command into a temporary prefix, verified by systemd-analyze."""
import os
import re
import shutil
import subprocess
import sys

import pytest
from cli_helpers import edgebench

from edgebench.agent.service import PACKAGE_SYSUSERS, PACKAGE_UNIT, package_text, render_unit


@pytest.fixture
def fake_systemd(tmp_path):
    """``systemctl`` and ``systemd-sysusers`` stand-ins on PATH that log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("systemctl", "systemd-sysusers"):
        script = bin_dir / name
        script.write_text("#!/bin/sh\necho \"{} $*\" >> {}\n".format(name, log))
        script.chmod(0o755)
    env = {"PATH": "{}:{}".format(bin_dir, os.environ.get("PATH", ""))}
    return env, log


def _calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_every_setting_in_the_service_section_is_explained():
    text = package_text(PACKAGE_UNIT)
    section = text.split("[Service]", 1)[1].split("[Install]", 1)[0]
    lines = section.splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#") and "=" in line:
            above = [ln for ln in lines[max(0, i - 12):i] if ln.strip()]
            assert above and (above[-1].startswith("#") or "=" in above[-1]), line
    for key in ("Type=notify", "WatchdogSec=", "KillMode=mixed", "User=edgebench", "StateDirectory=edgebench",
                "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes", "PrivateTmp=yes",
                "SupplementaryGroups=video dialout"):
        assert key in section, key
    assert re.search(r"^# PrivateDevices=yes would hide", section, re.M)
    assert "PrivateDevices=yes\n" not in section.replace("# PrivateDevices=yes", "")


def test_render_sets_execstart_to_the_interpreter():
    text = render_unit("/opt/edgebench/bin/python3")
    assert "\nExecStart=/opt/edgebench/bin/python3 -m edgebench agent\n" in text
    assert render_unit("/opt/my env/python").count('ExecStart="/opt/my env/python" -m edgebench agent') == 1


def test_install_into_a_prefix_runs_daemon_reload(tmp_path, fake_systemd):
    env, log = fake_systemd
    prefix = tmp_path / "root"
    proc = edgebench("service", "install", "--prefix", prefix, env=env)
    assert proc.returncode == 0, proc.stderr
    unit = prefix / "etc/systemd/system/edgebench-agent.service"
    sysusers = prefix / "etc/sysusers.d/edgebench.conf"
    assert "ExecStart={} -m edgebench agent".format(os.path.abspath(sys.executable)) in unit.read_text()
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    assert sysusers.read_text() == package_text(PACKAGE_SYSUSERS)
    assert _calls(log) == ["systemctl daemon-reload"]  # sysusers is not run for a staged --prefix install
    assert "write {}".format(unit) in proc.stdout and "systemctl enable --now edgebench-agent" in proc.stdout
    again = edgebench("service", "install", "--prefix", prefix, env=env)
    assert again.returncode == 0 and "keep {} (unchanged)".format(unit) in again.stdout


def test_install_with_unit_dir_runs_sysusers(tmp_path, fake_systemd):
    env, log = fake_systemd
    proc = edgebench("service", "install", "--unit-dir", tmp_path / "units", "--sysusers-dir", tmp_path / "users",
                     env=env)
    assert proc.returncode == 0, proc.stderr
    assert _calls(log) == ["systemd-sysusers {}".format(tmp_path / "users/edgebench.conf"),
                           "systemctl daemon-reload"]


def test_dry_run_changes_nothing(tmp_path, fake_systemd):
    env, log = fake_systemd
    proc = edgebench("service", "install", "--prefix", tmp_path / "root", "--dry-run", env=env)
    assert proc.returncode == 0
    assert not (tmp_path / "root").exists() and _calls(log) == []
    assert "would write" in proc.stdout and "would run `systemctl daemon-reload`" in proc.stdout


def test_uninstall_disables_removes_and_keeps_results(tmp_path, fake_systemd):
    env, log = fake_systemd
    prefix = tmp_path / "root"
    assert edgebench("service", "install", "--prefix", prefix, env=env).returncode == 0
    proc = edgebench("service", "uninstall", "--prefix", prefix, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not (prefix / "etc/systemd/system/edgebench-agent.service").exists()
    assert _calls(log)[-2:] == ["systemctl disable --now edgebench-agent.service", "systemctl daemon-reload"]
    assert "kept" in proc.stdout


def test_unwritable_unit_dir_says_to_use_root(tmp_path, fake_systemd):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    env, _ = fake_systemd
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    proc = edgebench("service", "install", "--unit-dir", locked, "--sysusers-dir", tmp_path / "u", env=env)
    assert proc.returncode == 2 and "run it as root" in proc.stderr


def test_missing_systemctl_is_a_warning_not_a_crash(tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = edgebench("service", "install", "--prefix", tmp_path / "root", env={"PATH": str(empty)})
    assert proc.returncode == 0, proc.stderr
    assert "systemctl not found" in proc.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_installed_unit(tmp_path):
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    unit = unit_dir / "edgebench-agent.service"
    unit.write_text(render_unit(sys.executable))
    proc = subprocess.Popen(["systemd-analyze", "verify", str(unit)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    output, _ = proc.communicate(timeout=120)
    relevant = [ln for ln in output.splitlines() if "edgebench-agent.service" in ln]
    assert proc.returncode == 0, output
    assert not [ln for ln in relevant if "Unknown" in ln or "ignoring" in ln or "not executable" in ln], relevant


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_security_scores_the_unit_at_most_3_4(tmp_path):
    import re

    unit = tmp_path / "edgebench-agent.service"
    unit.write_text(render_unit(sys.executable))
    proc = subprocess.Popen(["systemd-analyze", "security", "--offline=yes", str(unit)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, encoding="utf-8", errors="replace", cwd=str(tmp_path))
    output, _ = proc.communicate(timeout=120)
    if "--offline" in output and "unrecognized" in output:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", output)
    assert match, output
    assert float(match.group(1)) <= 3.4, output
    for setting in ("PrivateMounts=", "RemoveIPC="):
        assert not [ln for ln in output.splitlines() if ln.startswith("\u2717 " + setting)], output
