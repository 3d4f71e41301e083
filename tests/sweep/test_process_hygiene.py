"""Process hygiene (issue 13, part 5): children die with their parent and leave nothing behind; a SIGKILLed
worker is not blamed on the OOM killer without evidence; SIGTERM on a sweep is like Ctrl-C; a run whose
process is gone is marked interrupted."""
import glob
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from agent_process import wait_for
from cli_helpers import ROOT

_PARENT = r'''
import sys
from edgebench.models import prepare
# an ONNX "file" that is a FIFO: the child's onnx.load blocks on it for as long as nobody writes
prepare._run_child({"kind": "onnx", "path": sys.argv[1], "sha256": "0" * 64, "rewrite_path": sys.argv[1] + ".dyn",
                    "result_path": sys.argv[2] + "/onnx/result.json"}, sys.argv[2], "a model")
'''


def _env():
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_model_export_child_dies_with_its_killed_parent_and_leaves_no_request_file(tmp_path):
    fifo = str(tmp_path / "model.onnx")
    os.mkfifo(fifo)
    cache = str(tmp_path / "cache")
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, fifo, cache], env=_env())
    try:
        child = wait_for(lambda: [c for c in psutil.Process(parent.pid).children()
                                  if "edgebench.models.prepare" in " ".join(c.cmdline())], 30, 0.05,
                         "the export child")[0]
        wait_for(lambda: not glob.glob(cache + "/onnx/.request-*"), 30, 0.05, "the child to read its request")
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 10, 0.05,
                 "the export child to die with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert glob.glob(cache + "/onnx/.request-*") == []


def test_request_files_of_dead_parents_are_removed_and_live_ones_kept(tmp_path):
    from edgebench.models.prepare import _remove_orphan_requests

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / ".request-{}-abc.json".format(dead.pid)
    live = tmp_path / ".request-{}-def.json".format(os.getpid())
    stale.write_text("{}")
    live.write_text("{}")
    _remove_orphan_requests(str(tmp_path))
    assert not stale.exists() and live.exists()


# ---------------------------------------------------------------------- SIGKILL: killed, or oom with evidence

def _proc_tree(root, vmstat_oom_kill, cgroup_line, events_path=None, events=None):
    """A fake root with the kernel files edgebench.sweep.oom reads, in the kernel's formats: /proc/vmstat
    "name value" lines (mm/vmstat.c), /proc/self/cgroup "id:controllers:path" lines (cgroups(7)), and a
    cgroup v2 memory.events (Documentation/admin-guide/cgroup-v2.rst)."""
    (root / "proc" / "self").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "vmstat").write_text("nr_free_pages 1000\noom_kill {}\npgfault 7\n".format(vmstat_oom_kill))
    (root / "proc" / "self" / "cgroup").write_text(cgroup_line + "\n")
    if events_path:
        path = root / events_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(events)


def test_a_rising_vmstat_oom_kill_counter_is_evidence(tmp_path):
    from edgebench.sweep import oom

    _proc_tree(tmp_path, 3, "0::/")
    before = oom.kill_counts(str(tmp_path))
    _proc_tree(tmp_path, 4, "0::/")
    assert oom.evidence(1234, before, str(tmp_path)) == "/proc/vmstat oom_kill rose from 3 to 4 while it ran"


def test_a_rising_cgroup_v2_oom_kill_counter_is_evidence(tmp_path):
    from edgebench.sweep import oom

    events = "low 0\nhigh 0\nmax 2\noom {n}\noom_kill {n}\n"
    _proc_tree(tmp_path, 0, "0::/system.slice/edgebench-agent.service",
               "sys/fs/cgroup/system.slice/edgebench-agent.service/memory.events", events.format(n=0))
    before = oom.kill_counts(str(tmp_path))
    (tmp_path / "sys/fs/cgroup/system.slice/edgebench-agent.service/memory.events").write_text(events.format(n=1))
    assert "memory.events oom_kill rose from 0 to 1" in oom.evidence(1234, before, str(tmp_path))


def test_unchanged_counters_and_no_kernel_log_are_no_evidence(tmp_path):
    from edgebench.sweep import oom

    _proc_tree(tmp_path, 5, "4:memory:/user.slice", "sys/fs/cgroup/memory/user.slice/memory.oom_control",
               "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    before = oom.kill_counts(str(tmp_path))
    assert len(before) == 2 and oom.evidence(1234, before, str(tmp_path)) is None


def test_a_worker_killed_by_sigkill_from_outside_is_stored_as_killed(tiny_onnx, cache_dir):
    from test_runner import _job  # the worker job the runner's own tests use

    from edgebench.sweep.runner import run_worker

    def kill_soon(proc):
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)

    result = run_worker(_job(tiny_onnx, cache_dir, iterations=10 ** 9, duration_s=600.0, max_duration_s=600.0),
                        timeout_s=60.0, on_start=kill_soon)
    assert result["status"] == "killed", result
    assert "no sign of the out-of-memory killer" in result["error"]


# ---------------------------------------------------------------------- a sweep that is stopped from outside

def _sweep_until_points(tiny_onnx, out, points=2):
    """A real ``edgebench sweep`` subprocess, returned once ``points`` points are stored."""
    import sqlite3

    proc = subprocess.Popen(
        [sys.executable, "-m", "edgebench", "sweep", "--model", tiny_onnx, "--batches", "1..40", "--duration", "0.3",
         "--warmup-ms", "0", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), universal_newlines=True)

    def stored():
        try:
            conn = sqlite3.connect(str(out / "results.db"))
            try:
                return conn.execute("SELECT count(*) FROM measurements").fetchone()[0] >= points
            finally:
                conn.close()
        except sqlite3.Error:
            return False

    wait_for(stored, 120, 0.1, "stored points")
    return proc


@pytest.mark.slow
def test_sigterm_on_a_sweep_interrupts_the_run_writes_its_exports_and_exits_143(tiny_onnx, cache_dir, tmp_path):
    import csv

    from edgebench.results.store import ResultStore

    out = tmp_path / "r"
    proc = _sweep_until_points(tiny_onnx, out)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    with ResultStore(str(out / "results.db"), create=False) as store:
        [run] = store.runs()
        stored = store.measurements(run["id"])
    assert run["status"] == "interrupted" and run["note"] == "stopped by SIGTERM"
    with open(str(out / "results.csv")) as fh:
        assert len(list(csv.DictReader(fh))) == len(stored) >= 2


@pytest.mark.slow
def test_a_run_whose_sweep_was_sigkilled_is_interrupted_when_the_store_is_next_opened(tiny_onnx, cache_dir,
                                                                                      tmp_path):
    from edgebench.results.store import ResultStore

    out = tmp_path / "r"
    proc = _sweep_until_points(tiny_onnx, out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    with ResultStore(str(out / "results.db"), create=False) as reader:  # a reader changes nothing
        assert reader.runs()[0]["status"] == "running"

    def reopened_run():  # a worker forked as the sweep died shares its lock until it execs and exits
        with ResultStore(str(out / "results.db")) as store:
            [run] = store.runs()
        return run if run["status"] != "running" else None

    run = wait_for(reopened_run, 10, 0.1, "the run to be closed by the next writer")
    assert run["status"] == "interrupted" and "process measuring this run is gone" in run["note"]
    assert glob.glob(str(out / ".results.db.run-*.lock")) == []


def test_a_run_still_being_measured_is_left_running_by_another_writer(tmp_path):
    from edgebench.results.store import ResultStore

    path = str(tmp_path / "results.db")
    with ResultStore(path) as measuring:
        run_id = measuring.create_run({}, {})
        with ResultStore(path) as other:
            assert other.run(run_id)["status"] == "running"
