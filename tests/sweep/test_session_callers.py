"""`edgebench sweep` and the agent's job run one SweepSession: the same plan stores the same columns."""
import json
import sqlite3

import agent_process as ap
import pytest
from cli_helpers import edgebench_json

# Columns that describe the point, not its timing: both callers must store exactly these values.
DESCRIPTIVE = ("point_key", "model", "model_source", "family", "onnx_sha256", "backend", "provider", "precision",
               "precision_effective", "fp16_mac_fraction", "batch_size", "input_shape", "status", "error",
               "params", "macs", "gops", "threads", "iterations", "power_source", "simulated")


# Filled or not by what was measured, not by who ran the sweep: a verdict on an unstable point, gaps in
# the power window, and the power statistics that need a window long enough for a spectrum or for
# batch means (a timed loop of a few milliseconds may have too few samples for them).
NOISE_DEPENDENT = ("id", "run_id", "stability_note", "power_flags", "bandwidth_hz", "nyquist_ok", "net_power_ci_w")


def _filled(row):
    return set(k for k, v in row.items() if v is not None and k not in NOISE_DEPENDENT)


def _rows(db):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM measurements ORDER BY id")]
    finally:
        conn.close()


def _through_the_agent(state_dir, fake_root, plan):
    agent = ap.AgentProcess(state_dir, fake_root).start()
    try:
        job_id = edgebench_json("submit", "--state-dir", state_dir, *plan, "--json")["job"]["id"]
        ap.wait_for(lambda: ap.job_dirs(state_dir, "done") == [job_id], 120, 0.1, "the job to complete")
    finally:
        agent.stop()


@pytest.fixture
def state_dir():
    path = ap.short_state_dir()
    yield path
    ap.cleanup(path)


@pytest.mark.slow  # a CLI sweep and an agent job of four points each (~20 s)
def test_the_cli_and_the_agent_store_the_same_columns_for_one_plan(state_dir, fake_root, tiny_onnx, cache_dir,
                                                                 tmp_path):
    plan = ["--model", tiny_onnx, "--batches", "1,2", "--engine", "fp32,fp16", "--threads", "1",
            "--power", "sim://?idle_w=1.3&active_w=13.1&cpu=tree", "--idle-seconds", "0.2",
            "--duration", "0", "--iterations", "3", "--warmup-ms", "0", "--root", fake_root]
    edgebench_json("sweep", *plan, "--out", tmp_path / "cli", "--json")
    _through_the_agent(state_dir, fake_root, plan)
    cli, job = _rows(str(tmp_path / "cli" / "results.db")), _rows(state_dir + "/results.db")
    assert len(cli) == len(job) == 4
    assert [dict((c, r[c]) for c in DESCRIPTIVE) for r in cli] == [dict((c, r[c]) for c in DESCRIPTIVE) for r in job]
    for c, j in zip(cli, job):  # the same columns are filled, except those the measured noise decides
        assert _filled(c) ^ _filled(j) == set(), c["point_key"]


def test_both_callers_write_the_export_of_their_own_run(state_dir, fake_root, tiny_onnx, cache_dir, tmp_path):
    plan = ["--model", tiny_onnx, "--batches", "1", "--duration", "0", "--iterations", "2", "--warmup-ms", "0"]
    for _ in range(2):
        edgebench_json("sweep", *plan, "--root", fake_root, "--out", tmp_path / "cli", "--json")
    doc = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert [r["id"] for r in doc["runs"]] == [2] and [m["run_id"] for m in doc["measurements"]] == [2]
    _through_the_agent(state_dir, fake_root, plan)
    with open(state_dir + "/results.json") as fh:
        assert [m["point_key"] for m in json.load(fh)["measurements"]] == ["tiny/onnxruntime/fp32/1"]
