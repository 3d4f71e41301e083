"""Power through the agent: a live feed while idle, the job's own source during a sweep (one open at a time)."""
import os
import sqlite3

import agent_process as ap
import pytest
from cli_helpers import edgebench_json

SIM = "sim://?idle_w=1.3&active_w=13.1"


def test_live_power_while_idle_and_job_power_in_the_rows(state_dir, fake_root, tiny_onnx):
    with open(os.path.join(fake_root, "proc", "stat"), "w") as fh:  # frozen CPU counters: idle
        fh.write("cpu  100 0 100 1000 0 0 0 0 0 0\n")
    agent = ap.AgentProcess(state_dir, fake_root, "--power", SIM).start()
    try:
        live = ap.wait_for(lambda: (agent.status()["sensors"]["power"] or {}).get("board_w"), 30, 0.2,
                           "a live power reading")
        power = agent.status()["sensors"]["power"]
        assert live == 1.3 and power["simulated"] is True and "SIMULATED" in power["source"]
        assert power["idle_w"] is None and power["net_w"] is None

        job_id = edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1,2",
                                "--power", SIM, "--idle-seconds", "0.5", "--json", *ap.FAST)["job"]["id"]
        ap.wait_for(lambda: ap.job_dirs(state_dir, "done") == [job_id], 90, 0.1, "the job with power")
        conn = sqlite3.connect(os.path.join(state_dir, "results.db"))
        rows = conn.execute("SELECT point_key, status, power_source, simulated, gross_power_w, idle_power_w, "
                            "net_power_w FROM measurements ORDER BY id").fetchall()
        [(run_status, power_json)] = conn.execute("SELECT status, power_json FROM runs").fetchall()
        conn.close()
        assert run_status == "complete" and '"idle_before"' in power_json and '"idle_after"' in power_json
        assert [r[0] for r in rows] == ["tiny/onnxruntime/fp32/1", "tiny/onnxruntime/fp32/2"]
        for _key, status, source, simulated, gross, idle, net in rows:
            assert status == "ok" and "SIMULATED" in source and simulated == 1
            assert gross is not None and idle is not None and net == pytest.approx(gross - idle)

        # back to the live feed, which now knows the job's idle baseline
        def live_with_idle():
            p = agent.status()["sensors"]["power"] or {}
            return p if p.get("idle_w") is not None and p.get("board_w") is not None else None

        power = ap.wait_for(live_with_idle, 30, 0.2, "the live feed with an idle baseline")
        assert power["idle_from"] == "measured before the last job"
        assert power["net_w"] == pytest.approx(power["board_w"] - power["idle_w"], abs=0.002)
    finally:
        agent.stop()
    assert "live power" not in agent.log()  # the live source never failed to open


def test_a_power_source_that_cannot_open_fails_the_job_with_its_reason(state_dir, fake_root, tiny_onnx):
    agent = ap.AgentProcess(state_dir, fake_root).start()
    try:
        job_id = edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1",
                                "--power", "trace:///nope/missing.csv", "--json", *ap.FAST)["job"]["id"]
        ap.wait_for(lambda: ap.job_dirs(state_dir, "failed") == [job_id], 60, 0.1, "the job to fail")
        state = ap.job_state(state_dir, "failed", job_id)
        assert state["status"] == "failed" and "missing.csv" in state["reason"]
        assert ap.runs(state_dir)[-1][1] == "failed"
        assert agent.status()["agent"]["state"] == "idle"
    finally:
        agent.stop()
