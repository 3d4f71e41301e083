"""Issue 13 against the real agent process: hostile input, slow readers and bad spool files never take it
down, and it answers ``status`` within 2 s after each."""
import fcntl
import json
import os
import signal
import socket
import time

import agent_process as ap
import pytest
from cli_helpers import edgebench

from edgebench.agent import protocol

NESTED = b"[" * 3000  # 3 KB, far under the 64 KB line cap, deeper than json's recursion limit


@pytest.fixture
def agent(state_dir, fake_root):
    proc = ap.AgentProcess(state_dir, fake_root).start()
    yield proc
    proc.stop()


def _answers_quickly(agent):
    """The agent is alive and answers ``status`` within 2 s."""
    assert agent.proc.poll() is None, agent.log()
    return protocol.request(agent.socket, {"cmd": "status"}, timeout_s=2.0)["ok"]


def _rss_kb(pid):
    with open("/proc/{}/status".format(pid)) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid {}".format(pid))


def test_deeply_nested_request_line_is_refused_and_the_agent_answers(agent):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(agent.socket)
    sock.sendall(NESTED + b"\n")
    reply = json.loads(sock.makefile("rb").readline())
    sock.close()
    assert reply["ok"] is False and "nested" in reply["error"]
    assert _answers_quickly(agent)


def test_deeply_nested_job_file_is_rejected_and_the_agent_keeps_running_across_restarts(state_dir, fake_root):
    incoming = os.path.join(state_dir, "spool", "incoming")
    os.makedirs(incoming)
    with open(os.path.join(incoming, "deep.json"), "wb") as fh:
        fh.write(NESTED)
    for _ in range(2):  # the first start rejects it; the second must not trip over what is left
        agent = ap.AgentProcess(state_dir, fake_root).start()
        try:
            ap.wait_for(lambda: ap.job_dirs(state_dir, "failed"), 30, 0.05, "the nested file to be rejected")
            assert _answers_quickly(agent)
        finally:
            agent.stop()
        assert agent.proc.returncode == 0, agent.log()
    [job_id] = ap.job_dirs(state_dir, "failed")
    assert "nested" in ap.job_state(state_dir, "failed", job_id)["reason"]


def test_submit_of_a_deeply_nested_plan_file_is_one_line_and_exit_2(state_dir, tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_bytes(NESTED)
    proc = edgebench("submit", "--state-dir", state_dir, "--plan", plan)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "nested" in proc.stderr


@pytest.mark.slow
def test_client_that_never_reads_its_replies_does_not_grow_the_agent(agent):
    before_kb = _rss_kb(agent.proc.pid)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(agent.socket)
    sock.setblocking(False)
    line = b'{"cmd":"status"}\n'
    sent = blocked = 0
    while sent < 40000 * len(line) and blocked < 200:
        try:
            sent += sock.send(line * 100)
        except BlockingIOError:
            blocked += 1  # the agent stopped reading from us
            time.sleep(0.01)
    grown_mb = (_rss_kb(agent.proc.pid) - before_kb) / 1024.0
    assert _answers_quickly(agent)
    sock.close()
    assert blocked == 200 and grown_mb < 20, grown_mb


def test_clients_trickling_bytes_in_every_slot_do_not_lock_status_out(agent, state_dir):
    squatters = []
    for _ in range(protocol.MAX_CONNECTIONS):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(agent.socket)
        sock.send(b" ")
        squatters.append(sock)
    try:
        proc = edgebench("status", "--state-dir", state_dir)
        assert proc.returncode == 0, proc.stderr
        assert "agent: idle (pid {}".format(agent.proc.pid) in proc.stdout and "not running" not in proc.stdout
    finally:
        for sock in squatters:
            sock.close()


def test_status_says_unreachable_and_exits_1_while_an_agent_holds_the_lock(state_dir):
    fd = os.open(os.path.join(state_dir, "agent.lock"), os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a live agent holds it (daemon._lock_state_dir)
    os.write(fd, "{}\n".format(os.getpid()).encode())
    try:
        proc = edgebench("status", "--state-dir", state_dir)
    finally:
        os.close(fd)
    assert proc.returncode == 1, proc.stdout
    assert "running (pid {}) but busy or unreachable".format(os.getpid()) in proc.stdout
    assert "not running" not in proc.stdout


@pytest.mark.slow
def test_status_of_a_stopped_agent_says_unreachable_not_not_running(agent, state_dir):
    agent.signal(signal.SIGSTOP)  # alive, holds its lock, answers nothing
    try:
        proc = edgebench("status", "--state-dir", state_dir)
    finally:
        agent.signal(signal.SIGCONT)
    assert proc.returncode == 1 and "busy or unreachable" in proc.stdout and "not running" not in proc.stdout
    assert _answers_quickly(agent)


def test_symlinked_job_directory_is_refused_and_nothing_outside_the_spool_is_written(agent, state_dir, tmp_path,
                                                                                      tiny_onnx):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "job.json").write_text(json.dumps({"id": "x", "plan": {"models": [tiny_onnx], "batch_sizes": [1]}}))
    (outside / "state.json").write_text(json.dumps({"status": "queued"}))
    os.symlink(str(outside), os.path.join(state_dir, "spool", "incoming", "20990101-000000-000000"))
    ap.wait_for(lambda: ap.job_dirs(state_dir, "failed"), 30, 0.05, "the link to be refused")
    [job_id] = ap.job_dirs(state_dir, "failed")
    assert "symbolic link" in ap.job_state(state_dir, "failed", job_id)["reason"]
    assert json.loads((outside / "state.json").read_text()) == {"status": "queued"}
    assert ap.measurements(state_dir) == [] and _answers_quickly(agent)


def test_a_job_naming_a_model_twice_stores_one_row_per_point(agent, state_dir, tiny_onnx):
    plan = {"models": [tiny_onnx, tiny_onnx], "batch_sizes": [1, 2], "duration_s": 0.05, "iterations": 2,
            "warmup_s": 0.0}
    reply = agent.request({"cmd": "submit", "plan": plan})
    assert reply["ok"], reply
    ap.wait_for(lambda: ap.job_dirs(state_dir, "done"), 120, 0.1, "the job to finish")
    keys = [k for _, k, _ in ap.measurements(state_dir)]
    assert sorted(keys) == ["tiny/onnxruntime/fp32/1", "tiny/onnxruntime/fp32/2"]


def test_loosely_typed_plan_over_the_socket_is_a_usage_error(agent, tiny_onnx):
    reply = agent.request({"cmd": "submit", "plan": {"models": [tiny_onnx], "point_timeout_s": "abc"}})
    assert reply["ok"] is False and reply.get("kind") == "usage"
    assert "point_timeout_s must be a finite number" in reply["error"]
    assert _answers_quickly(agent)


_DISK_FULL_DRIVER = r'''
import json, os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import agent_process as ap
fs, root, model, log = sys.argv[2:6]
subprocess.check_call(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", fs])
agent = ap.AgentProcess(fs, root)
agent.log_path = log  # outside the small filesystem
agent.start()
out = {}
try:
    plan = {"models": [model], "batch_sizes": [1, 2, 4, 8], "duration_s": 0.3, "iterations": 3, "warmup_s": 0.0}
    job_id = agent.request({"cmd": "submit", "plan": plan})["job"]["id"]
    ap.wait_for(lambda: ap.measurements(fs), 60, 0.02, "a first stored point")
    with open(os.path.join(fs, "pad"), "wb", buffering=0) as fh:  # fill the filesystem to the last block
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    ap.wait_for(lambda: "the job resumes in" in agent.log(), 60, 0.1, "the job to stop for lack of space")
    out["stored_when_full"] = [k for _, k, _ in ap.measurements(fs)]
    out["answers"] = ap.protocol.request(agent.socket, {"cmd": "status"}, timeout_s=2.0)["ok"]
    os.unlink(os.path.join(fs, "pad"))
    ap.wait_for(lambda: job_id in ap.job_dirs(fs, "done"), 120, 0.2, "the job to finish once space returned")
    out["keys"] = [k for _, k, _ in ap.measurements(fs)]
    out["statuses"] = [s for _, _, s in ap.measurements(fs)]
    out["history"] = [h["event"] for h in ap.job_state(fs, "done", job_id)["history"]]
finally:
    agent.stop()
    subprocess.call(["umount", fs])
print(json.dumps(out))
'''


@pytest.mark.slow
def test_a_job_stopped_by_a_full_disk_resumes_when_space_returns_keeping_its_points(fake_root, tiny_onnx, tmp_path):
    """A real full filesystem (a 4 MB tmpfs in a user + mount namespace, util-linux unshare)."""
    import shutil
    import subprocess
    import sys

    if not shutil.which("unshare") or subprocess.call(["unshare", "-rm", "true"], stderr=subprocess.DEVNULL):
        pytest.skip("unshare -rm (user and mount namespaces) is not available here")
    fs = ap.short_state_dir()
    log = str(tmp_path / "agent.log")
    try:
        proc = subprocess.run(["unshare", "-rm", sys.executable, "-c", _DISK_FULL_DRIVER,
                               os.path.dirname(os.path.dirname(os.path.abspath(__file__))), fs, fake_root, tiny_onnx,
                               log], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              env=dict(os.environ, PYTHONPATH=ap.ROOT), timeout=400)
    finally:
        ap.cleanup(fs)
    with open(log) as fh:
        agent_log = fh.read()
    assert proc.returncode == 0, proc.stderr[-3000:] + agent_log[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["answers"]
    expected = ["tiny/onnxruntime/fp32/{}".format(b) for b in (1, 2, 4, 8)]
    assert sorted(out["keys"], key=lambda k: int(k.rsplit("/", 1)[1])) == expected, agent_log[-3000:]
    assert set(out["stored_when_full"]) <= set(out["keys"]) and out["statuses"] == ["ok"] * 4
    assert "retried" in out["history"]


def test_int8_job_with_undecodable_calibration_images_is_refused_at_submit(agent, tiny_onnx, tmp_path):
    pytest.importorskip("PIL")
    images = tmp_path / "calib"
    images.mkdir()
    (images / "a.png").write_bytes(b"\x89PNG not an image")
    reply = agent.request({"cmd": "submit", "plan": {"models": [tiny_onnx], "precisions": ["int8"],
                                                     "calib_data": str(images)}})
    assert reply["ok"] is False and reply.get("kind") == "usage" and "can be decoded" in reply["error"]
    assert _answers_quickly(agent)
