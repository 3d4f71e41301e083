"""jetson-stats where it is installed: --lock-clocks / --power-mode through its service, doctor's jtop line.

The client is jetson-stats' real one (the PyPI wheel pinned in requirements/test-jtop.txt, installed
into a cached folder); only its root service is faked, at the socket (tests/platform/
fake_jtop_service.py, modelled on jtop/service.py). The socket path is the client's own
``jtop.service.JTOP_PIPE``, pointed at a folder under /tmp.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from platform_trees import FIXTURES

from edgebench.platform import clocks, doctor, jetson_stats

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIREMENTS = os.path.join(REPO, "requirements", "test-jtop.txt")
CACHE = os.environ.get("EDGEBENCH_VENV_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgebench-venvs")

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 7),
    reason="jetson-stats 7.x (the client tested here) needs Python 3.7+; its 3.6 releases are sdists only")


def _overlay():
    """A folder holding the pinned jetson-stats wheel (cached); None with the reason if unavailable."""
    with open(REQUIREMENTS, "rb") as handle:
        key = hashlib.sha256(handle.read() + sys.version.encode()).hexdigest()[:12]
    target = os.path.join(CACHE, "jtop-client-" + key)
    if os.path.isfile(os.path.join(target, ".complete")):
        return target, None
    shutil.rmtree(target, ignore_errors=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pip", "install", "-q", "--isolated", "--index-url", "https://pypi.org/simple",
         "--only-binary=:all:", "--no-deps", "--target", target, "-r", REQUIREMENTS],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    out, _ = proc.communicate(timeout=300)
    if proc.returncode != 0:
        return None, out.strip().splitlines()[-1] if out.strip() else "pip failed"
    open(os.path.join(target, ".complete"), "w").close()
    return target, None


@pytest.fixture
def jtop_client(monkeypatch):
    """The real ``jtop`` package, its socket pointed at a fresh folder; removed again afterwards."""
    target, reason = _overlay()
    if target is None:
        pytest.skip("cannot install jetson-stats from PyPI: {}".format(reason))
    monkeypatch.syspath_prepend(target)
    import jtop
    import jtop.service

    folder = tempfile.mkdtemp(prefix="jtop", dir="/tmp")  # AF_UNIX paths must stay short
    monkeypatch.setattr(jtop.service, "JTOP_PIPE", os.path.join(folder, "jtop.sock"))
    yield jtop
    shutil.rmtree(folder, ignore_errors=True)
    for name in [m for m in sys.modules if m == "jtop" or m.startswith("jtop.")]:
        del sys.modules[name]


@pytest.fixture
def service(jtop_client):
    """``service(**kw)`` starts a fake jtop service at the client's socket; stopped afterwards."""
    from fake_jtop_service import FakeJtopService

    started = []

    def start(**kw):
        fake = FakeJtopService(jtop_client.service.JTOP_PIPE, **kw).start()
        started.append(fake)
        return fake
    yield start
    for fake in started:
        fake.stop()


def test_service_status_without_a_socket_says_how_to_start_the_service(jtop_client):
    status = jetson_stats.service_status()
    assert (status["installed"], status["running"], "systemctl enable --now jtop" in status["reason"]) == (
        True, False, True)


def test_service_status_sees_a_running_service(service):
    service()
    status = jetson_stats.service_status()
    assert (status["running"], status["accessible"], status["version"]) == (True, True, "7.2.2")


def test_lock_clocks_goes_through_jtop_and_is_restored(service):
    fake = service(clocks_locked=False)
    lock = clocks.ClockLock(store_path="/nonexistent/never-written.conf").lock()
    locked_during = fake.clocks_locked
    lock.restore()
    assert (lock.via, locked_during, fake.clocks_locked) == ("jtop", True, False)


def test_clocks_already_locked_stay_locked_after_restore(service):
    fake = service(clocks_locked=True)
    lock = clocks.ClockLock(store_path="/nonexistent/never-written.conf").lock()
    lock.restore()
    assert (fake.clocks_locked, [r for r in fake.requests if "jc" in r]) == (True, [])


def test_power_mode_switches_through_jtop_and_back(service):
    fake = service(models=("MAXN", "10W", "15W", "30W"), mode_id=3)
    mode = clocks.PowerMode("maxn").apply()
    via, during = mode.via, fake.mode_id
    mode.restore()
    assert (via, during, fake.mode_id) == ("jtop", 0, 3)


def test_a_mode_with_another_cpu_mask_is_refused_with_the_reboot_advice(service):
    fake = service(models=("MAXN", "10W", "15W"), masks=("0x0", "0x1", "0x0"), mode_id=0)
    with pytest.raises(clocks.PowerModeError, match="sudo nvpmodel -m 1 and reboot"):
        clocks.PowerMode(1).apply()
    assert fake.mode_id == 0


def test_an_unknown_power_mode_names_the_modes_there_are(service):
    service(models=("MAXN", "10W"))
    with pytest.raises(clocks.PowerModeError, match="modes: 0 MAXN, 1 10W"):
        clocks.PowerMode("25W").apply()


def test_doctor_shows_jtop_board_power_and_explains_vddq_on_agx_orin(service):
    root = os.path.join(FIXTURES, "agx_orin_jp6")
    service(board_root=root)
    check = {c["name"]: c for c in doctor.diagnose(root, use_jtop=True)["checks"]}["jtop"]
    power = check["details"]["power"]
    assert (power["extra_rails"], round(power["difference_w"], 2), "already inside" in check["state"]) == (
        ["VDDQ_VDD2_1V8AO"], 0.61, True)


def test_doctor_on_thor_finds_jtop_and_edgebench_both_on_vin(service):
    root = os.path.join(FIXTURES, "agx_thor_jp7")
    service(board_root=root)
    power = {c["name"]: c for c in doctor.diagnose(root, use_jtop=True)["checks"]}["jtop"]["details"]["power"]
    assert (power["jtop_rails"], power["edgebench_rails"], round(power["difference_w"], 2)) == (
        ["VIN"], ["VIN"], 0.0)


def test_doctor_on_a_fake_root_does_not_ask_the_running_service(service):
    service()
    check = {c["name"]: c for c in doctor.diagnose(os.path.join(FIXTURES, "agx_orin_jp6"))["checks"]}["jtop"]
    assert "not asked" in check["state"]
