"""The monitor screen is a pure function of a snapshot: render into a fixed-size capture console."""
import copy

import monitor_snapshots as snaps
import pytest

from edgebench.monitor.render import bar, fmt_duration, render, sparkline
from edgebench.monitor.snapshot import empty_snapshot


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch):
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)


def test_sparkline_scales_to_the_eight_blocks():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == u"▁▂▃▄▅▆▇█"
    assert sparkline([1.0, None, float("nan"), 3.0]) == u"▁  █"
    assert sparkline([5, 5, 5]) == u"▄▄▄"
    assert sparkline([]) == "" and sparkline([None, None]) == "  "
    assert sparkline(list(range(100)), width=4) == u"▁▃▆█"
    assert sparkline([2.0], lo=0.0, hi=4.0) == u"▅"


def test_bar_and_durations():
    assert bar(1, 4, width=8) == u"██░░░░░░" and bar(0, 0, width=3) == u"░░░"
    assert fmt_duration(4.4) == "4 s" and fmt_duration(65) == "1 m 05 s" and fmt_duration(7380) == "2 h 03 m"
    assert fmt_duration(None) == "-"


def test_running_job_shows_point_progress_eta_power_board_and_results():
    out = snaps.capture(render(snaps.running_snapshot()), width=120)
    assert "agent running  pid 4242  up 2 m 05 s" in out
    assert "20250101-000000-000001  resnet18  onnxruntime  fp32  batches 1,2,4" in out
    assert u"████████████████████░░░░░░░░░░  2/3 points  67%  elapsed 12 s  ETA 4 s" in out
    assert "resnet18/onnxruntime/fp32/4  (3 s in, point 3 of 3)" in out
    assert "queue    1 job: 20250101-000100-000002" in out
    # power: rails with sparklines, board input gross, idle and net
    assert u"VDD_IN         9.75 W ▄▅▆ █" in out
    assert u"VDD_CPU_GPU_CV 4.25 W ▁▂▃▃▄" in out
    assert "idle           3.25 W measured before run" in out and "net            6.50 W" in out
    # board: memory (with nvmap), hottest real sensors (not PMIC-Die), clocks and GPU load
    assert "memory 3120 / 7772 MB  (GPU nvmap 512 MB)" in out
    assert "max 47.5 C  CPU-therm 48  GPU-therm 45" in out and "PMIC" not in out
    assert "CPU    6 cores  1420 MHz (max 1420)  schedutil" in out
    assert "GPU    1109 MHz (max 1109)  load 87 %" in out
    # results table
    assert "resnet18/onnxruntime/fp32/1 │ ok     │   21.500 │     46.5 │         212 │  6.50 │   140.00" in out
    assert "resnet18/onnxruntime/fp32/2 │ oom" in out


def test_same_snapshot_same_screen():
    snap = snaps.running_snapshot()
    assert snaps.capture(render(snap)) == snaps.capture(render(copy.deepcopy(snap)))


def test_idle_agent_shows_last_job_and_no_power_source():
    snap = snaps.running_snapshot()
    snap["job"] = None
    snap["queue"] = []
    snap["agent"]["state"] = "idle"
    snap["recent_jobs"] = [{"id": "20250101-000000-000001", "status": "complete", "points_done": 3,
                            "points_total": 3, "reason": None}]
    snap["sensors"]["power"] = None
    out = snaps.capture(render(snap))
    assert "agent idle" in out
    assert "none running; last: 20250101-000000-000001 complete (3/3 points)" in out
    assert "queue empty" in out
    assert "no power source" in out


def test_agent_not_running_says_why():
    snap = empty_snapshot("/tmp/eb", "/tmp/eb/agent.sock")
    snap["agent"]["reason"] = "no agent is running on /tmp/eb/agent.sock"
    out = snaps.capture(render(snap))
    assert "agent offline" in out and "no agent is running on /tmp/eb/agent.sock" in out
    assert "no measurements yet" in out and "no board readings" in out


def test_standalone_screen_has_sensors_only():
    snap = empty_snapshot(".", None)
    snap["agent"]["state"] = "standalone"
    snap["sensors"] = {"board": snaps.BOARD, "power": dict(snaps.POWER, idle_w=None, net_w=None, simulated=True,
                                                           source="SIMULATED sim://?idle_w=1")}
    out = snaps.capture(render(snap))
    assert "monitor  standalone" in out
    assert "sweep" not in out and "last measurements" not in out
    assert "no idle baseline yet" in out and "SIMULATED" in out


def test_power_error_is_shown_not_raised():
    snap = snaps.running_snapshot()
    snap["sensors"]["power"] = {"source": "serial:///dev/ttyACM0?protocol=ppk2", "error": "no such port"}
    out = snaps.capture(render(snap))
    assert "no such port" in out


def test_resumed_job_and_notes():
    snap = snaps.running_snapshot()
    snap["job"]["attempts"] = 2
    snap["agent"]["config_warnings"] = ["agent.toml: unknown key 'max_attempt' ignored"]
    out = snaps.capture(render(snap, footer="refresh 1 s; Ctrl-C to quit"), width=140)
    assert "start    2 (resumed run 1)" in out
    assert "note: agent.toml: unknown key 'max_attempt' ignored" in out
    assert "refresh 1 s; Ctrl-C to quit" in out


def test_results_are_trimmed_to_the_limit():
    snap = snaps.running_snapshot()
    row = snap["last_results"][0]
    snap["last_results"] = [dict(row, point_key="m/onnxruntime/fp32/{}".format(b)) for b in range(1, 21)]
    out = snaps.capture(render(snap, max_results=3), height=200)
    assert "m/onnxruntime/fp32/18 " in out and "m/onnxruntime/fp32/20 " in out
    assert "m/onnxruntime/fp32/17 " not in out


def test_missing_pieces_do_not_break_the_render():
    assert "agent offline" in snaps.capture(render({}))
    snap = snaps.running_snapshot()
    snap["job"].update(points_total=None, eta_s=None, current_point=None, phase="preparing models")
    snap["sensors"]["board"] = {"memory": None, "temperatures_c": {}, "cpu": None, "gpu": None}
    out = snaps.capture(render(snap))
    assert "now      preparing models" in out and "no sensors readable here" in out
