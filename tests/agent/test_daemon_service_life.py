"""The real agent as systemd would run it: notify, watchdog, reload, metrics, bad jobs, cancel, clients."""
import json
import os
import signal
import socket
import urllib.request

import agent_process as ap
import pytest
from cli_helpers import edgebench, edgebench_json

from edgebench.agent import protocol


@pytest.fixture
def agents():
    procs = []
    yield procs
    for proc in procs:
        proc.stop()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_notify_watchdog_reload_metrics_and_clean_stop(state_dir, fake_root, agents, tmp_path, tiny_onnx):
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_path = os.path.join(state_dir, "notify.sock")
    notify.bind(notify_path)
    notify.settimeout(30)
    config = tmp_path / "agent.toml"
    config.write_text("max_attempts = 4\n")
    port = _free_port()
    agent = ap.AgentProcess(state_dir, fake_root, "--config", config, "--metrics-port", port,
                            env={"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "1000000"})
    agents.append(agent)
    agent.start(wait=False)
    seen = []

    def until(prefix):
        while True:
            lines = notify.recv(4096).decode().split("\n")
            seen.extend(lines)
            if any(line.startswith(prefix) for line in lines):
                return lines

    try:
        ready = until("READY=1")
        assert "STATUS=idle; 0 jobs queued" in ready
        until("WATCHDOG=1")  # WatchdogSec=1 s: a ping every 1/3 s while the main loop is alive
        snap = agent.status()
        assert snap["agent"]["max_attempts"] == 4 and snap["agent"]["metrics"] == "127.0.0.1:{}".format(port)
        with urllib.request.urlopen("http://127.0.0.1:{}/metrics".format(port), timeout=10) as resp:
            body = resp.read().decode()
        assert "edgebench_agent_up 1.0" in body and "edgebench_queue_jobs 0.0" in body
        used = [float(ln.split()[1]) for ln in body.splitlines() if ln.startswith("edgebench_memory_used_bytes ")]
        assert used and abs(used[0] - 3000000 * 1024) < 0.1 * 1024 * 1024  # the fake root's meminfo

        config.write_text("max_attempts = 7\nmax_attemps = 1\n")
        agent.signal(signal.SIGHUP)
        until("RELOADING=1")
        until("READY=1")
        snap = agent.status()
        assert snap["agent"]["max_attempts"] == 7
        assert any("unknown key 'max_attemps'" in w for w in snap["agent"]["config_warnings"])

        config.write_text("max_attempts = oops\n")  # a broken reload keeps the old config
        agent.signal(signal.SIGHUP)
        until("RELOADING=1")
        until("READY=1")
        assert agent.status()["agent"]["max_attempts"] == 7
        assert "configuration not reloaded" in agent.log()

        # STATUS= names the point being measured; the watchdog keeps being fed during the job
        edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1,2", "--json",
                       *ap.FAST)
        until("STATUS=job ")
        point = until("STATUS=job ")
        while not any("tiny/onnxruntime/fp32/" in line for line in point):
            point = until("STATUS=")
        del seen[:]
        until("STATUS=idle")
        assert seen.count("WATCHDOG=1") >= 2
        assert "not feeding the systemd watchdog" not in agent.log()

        agent.signal(signal.SIGTERM)
        until("STOPPING=1")
        assert agent.wait(30) == 0
        assert not os.path.exists(agent.socket)
    finally:
        notify.close()


def test_malformed_job_file_fails_with_reason_and_the_agent_keeps_serving(state_dir, fake_root, agents, tiny_onnx):
    agent = ap.AgentProcess(state_dir, fake_root).start()
    agents.append(agent)
    incoming = os.path.join(state_dir, "spool", "incoming")
    with open(os.path.join(incoming, "broken.json"), "w") as fh:
        fh.write('{"models": ["tiny"], "batch_sizes": [1,')
    ap.wait_for(lambda: ap.job_dirs(state_dir, "failed"), 30, 0.05, "the broken file to be rejected")
    [bad_id] = ap.job_dirs(state_dir, "failed")
    state = ap.job_state(state_dir, "failed", bad_id)
    assert state["status"] == "failed" and "broken.json: not valid JSON" in state["reason"]
    # the spool moves the file to failed/ before the agent logs it: wait for the line, do not race it
    ap.wait_for(lambda: "job file rejected" in agent.log(), 30, 0.05, "the rejection to be logged")
    assert "job file rejected" in agent.log()

    # a plan that parses but cannot run: rejected at submit, over the socket
    reply = agent.request({"cmd": "submit", "plan": {"models": [tiny_onnx], "batch_sizes": [0]}})
    assert reply["ok"] is False and "batch size 0" in reply["error"]
    reply = agent.request({"cmd": "submit", "plan": {"models": ["/nope/missing.onnx"], "batch_sizes": [1]}})
    assert reply["ok"] is False and "cannot read model file /nope/missing.onnx" in reply["error"]
    # malformed and oversized messages on the real socket: error reply, connection closed, agent fine
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(agent.socket)
    sock.sendall(b"x" * (protocol.MAX_LINE_BYTES + 10))
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert "byte limit" in json.loads(data.decode())["error"]

    # and a good job dropped in as a file still runs
    with open(os.path.join(incoming, "good.json"), "w") as fh:
        json.dump({"models": [tiny_onnx], "batch_sizes": [1], "duration_s": 0.2, "iterations": 3, "warmup_s": 0.0}, fh)
    ap.wait_for(lambda: len(ap.job_dirs(state_dir, "done")) == 1, 60, 0.1, "the good job to finish")
    assert [k for _, k, _ in ap.measurements(state_dir)] == ["tiny/onnxruntime/fp32/1"]


def test_clients_without_an_agent_then_cancel_a_running_job(state_dir, fake_root, agents, tiny_onnx):
    # no agent has ever run here: submit explains what to do
    proc = edgebench("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1")
    assert proc.returncode == 2 and "start the agent once" in proc.stderr
    agent = ap.AgentProcess(state_dir, fake_root).start()
    agent.stop()  # creates the spool, then goes away

    # queued in the spool while the agent is down
    first = edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1,2,4",
                           "--duration", "2", "--iterations", "3", "--warmup-ms", "0", "--json")
    assert first["via"] == "spool" and "no agent is running" in first["note"]
    second = edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1", "--json",
                            *ap.FAST)
    jobs = edgebench_json("jobs", "--state-dir", state_dir, "--json")
    assert jobs["agent_running"] is False
    assert [(j["id"], j["status"]) for j in jobs["jobs"]] == [(first["job"]["id"], "queued"),
                                                              (second["job"]["id"], "queued")]
    cancelled = edgebench_json("cancel", second["job"]["id"][-6:], "--state-dir", state_dir, "--json")
    assert cancelled == {"job": {"id": second["job"]["id"], "status": "cancelled"}, "via": "spool"}

    # the agent starts, runs the first job; cancel it mid-sweep over the socket
    agent = ap.AgentProcess(state_dir, fake_root).start()
    agents.append(agent)
    job_id = first["job"]["id"]
    ap.wait_for(lambda: agent.status()["job"] and agent.status()["job"]["current_point"], 60, 0.1, "a point")
    out = edgebench("cancel", job_id, "--state-dir", state_dir)
    assert out.returncode == 0 and "cancelling" in out.stdout
    ap.wait_for(lambda: job_id in ap.job_dirs(state_dir, "failed"), 30, 0.05, "the cancelled job")
    state = ap.job_state(state_dir, "failed", job_id)
    assert state["status"] == "cancelled" and state["reason"] == "cancelled by {}".format(_me())
    run = ap.runs(state_dir)[-1]
    assert run[1] == "interrupted" and "cancelled" in run[2]
    assert len(ap.measurements(state_dir)) < 3
    again = edgebench("cancel", job_id, "--state-dir", state_dir)
    assert again.returncode == 2 and "already ended (cancelled)" in again.stderr
    human = edgebench("jobs", "--state-dir", state_dir)
    assert human.returncode == 0 and "cancelled" in human.stdout


def _me():
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def test_submit_rejects_bad_input_with_one_line(state_dir, tiny_onnx, tmp_path):
    proc = edgebench("submit", "--state-dir", state_dir, "--plan", tmp_path / "missing.json")
    assert proc.returncode == 2 and "plan file" in proc.stderr and "Traceback" not in proc.stderr
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"models": [tiny_onnx], "batch_sizes": [1]}))
    proc = edgebench("submit", "--state-dir", state_dir, "--plan", plan, "--batches", "1,2")
    assert proc.returncode == 2 and "drop --batches" in proc.stderr
    proc = edgebench("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "0")
    assert proc.returncode == 2
    proc = edgebench("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--power", "bogus://x")
    assert proc.returncode == 2 and "bogus" in proc.stderr and "Traceback" not in proc.stderr
