"""Crash safety with real processes: SIGKILL and SIGTERM mid-job, resume without lost or repeated points."""
import signal

import agent_process as ap
import pytest
from cli_helpers import edgebench, edgebench_json

from edgebench.agent.job import is_worker
from edgebench.agent.spool import Spool


@pytest.fixture
def agent(state_dir, fake_root):
    procs = []

    def start(*extra):
        proc = ap.AgentProcess(state_dir, fake_root, *extra).start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


def _planned(model, batches):
    return set("{}/onnxruntime/fp32/{}".format(model, b) for b in batches)


def test_sigkill_after_the_first_point_then_restart_measures_each_point_once(state_dir, agent, tiny_onnx):
    first = agent()
    sub = edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1,2,4,8",
                         "--json", *ap.FAST)
    job_id = sub["job"]["id"]
    assert sub["via"] == "socket" and sub["job"]["points_total"] == 4
    ap.wait_for(lambda: len(ap.measurements(state_dir)) >= 1, 60, 0.01, "the first stored point")
    assert first.kill() == -signal.SIGKILL
    stored_before = ap.measurements(state_dir)
    state = ap.job_state(state_dir, "active", job_id)
    assert state["status"] == "running" and state["attempts"] == 1 and state["run_id"]

    second = agent()
    ap.wait_for(lambda: ap.job_dirs(state_dir, "done") == [job_id], 90, 0.1, "the resumed job to finish")
    rows = ap.measurements(state_dir)
    keys = [key for _, key, _ in rows]
    assert sorted(keys) == sorted(_planned("tiny", (1, 2, 4, 8)))  # every planned point, none twice
    assert set(run for run, _, _ in rows) == {state["run_id"]}  # the resumed job reused its run
    assert rows[:len(stored_before)] == stored_before
    assert [r[1] for r in ap.runs(state_dir)] == ["complete"]
    final = ap.job_state(state_dir, "done", job_id)
    assert final["status"] == "complete" and final["attempts"] == 2 and final["points_done"] == 4
    assert any(h["event"] == "agent stopped unexpectedly" for h in final["history"])
    assert "resuming run" in second.log()

    # the finished job is what status reports, through the socket and from disk
    snap = edgebench_json("status", "--state-dir", state_dir, "--json")
    assert snap["agent"]["running"] is True and snap["job"] is None
    assert snap["recent_jobs"][-1]["id"] == job_id and snap["recent_jobs"][-1]["status"] == "complete"
    assert [r["point_key"] for r in snap["last_results"]][-4:] == keys[-4:]
    monitor = edgebench("monitor", "--once", "--state-dir", state_dir)
    assert monitor.returncode == 0 and "{} complete (4/4 points)".format(job_id) in monitor.stdout
    second.stop()
    offline = edgebench_json("status", "--state-dir", state_dir, "--json")
    assert offline["agent"]["running"] is False and "no agent is running" in offline["agent"]["reason"]
    assert offline["recent_jobs"][-1]["id"] == job_id and len(offline["last_results"]) == 4


def test_sigterm_mid_point_exits_zero_and_the_job_resumes(state_dir, agent, tiny_onnx):
    first = agent()
    job_id = edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1,2",
                            "--duration", "2.5", "--iterations", "3", "--warmup-ms", "0", "--json")["job"]["id"]

    def worker_running():
        state = ap.job_state(state_dir, "active", job_id) if ap.job_dirs(state_dir, "active") else {}
        pid = state.get("worker_pid")
        return pid if pid and is_worker(pid) and state.get("current_point") else None

    pid = ap.wait_for(worker_running, 60, 0.05, "a worker measuring the first point")
    first.signal(signal.SIGTERM)
    assert first.wait(30) == 0, first.log()
    assert not is_worker(pid)  # the agent killed its worker
    assert "SIGTERM: stopping" in first.log()
    assert ap.measurements(state_dir) == []  # the aborted point was not stored as a crash
    state = ap.job_state(state_dir, "active", job_id)
    assert state["status"] == "interrupted" and state["current_point"] is None
    assert [r[1] for r in ap.runs(state_dir)] == ["interrupted"]

    second = agent()
    ap.wait_for(lambda: ap.job_dirs(state_dir, "done") == [job_id], 90, 0.1, "the resumed job to finish")
    assert sorted(k for _, k, _ in ap.measurements(state_dir)) == sorted(_planned("tiny", (1, 2)))
    final = ap.job_state(state_dir, "done", job_id)
    assert final["attempts"] == 2 and final["stalled"] == 0  # a clean stop is not held against the job
    assert [r[1] for r in ap.runs(state_dir)] == ["complete"]
    assert "agent stopped unexpectedly" not in second.log()


def test_a_job_that_keeps_stopping_the_agent_is_failed_with_the_point(state_dir, agent, tiny_onnx):
    spool = Spool(state_dir).ensure()
    job_id = spool.submit({"models": [tiny_onnx], "batch_sizes": [1]})
    spool.claim(job_id)
    state = spool.read_state("active", job_id)
    # two starts already ended without a word and without a new point
    state.update(status="running", attempts=2, stalled=1, current_point="tiny/onnxruntime/fp32/1")
    spool.write_state("active", job_id, state)
    running = agent("--max-attempts", "2")
    ap.wait_for(lambda: ap.job_dirs(state_dir, "failed") == [job_id], 30, 0.05, "the job to be failed")
    final = ap.job_state(state_dir, "failed", job_id)
    assert final["status"] == "failed"
    assert "the agent stopped 2 times in a row during tiny/onnxruntime/fp32/1" in final["reason"]
    assert running.status()["agent"]["state"] == "idle"  # and the agent keeps serving
    jobs = edgebench_json("jobs", "--state-dir", state_dir, "--json")
    assert jobs["agent_running"] is True and jobs["jobs"][0]["reason"] == final["reason"]
