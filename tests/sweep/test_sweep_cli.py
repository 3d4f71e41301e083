"""`edgebench sweep` as a user runs it: real subprocesses, real files, real onnxruntime."""
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import onnx_models
from cli_helpers import ROOT, edgebench, edgebench_json

FAST = ("--duration", "0.05", "--iterations", "3", "--warmup-ms", "0")


def test_user_model_sweep_prints_one_ok_point_per_batch_as_json(tiny_onnx, cache_dir, tmp_path):
    doc = edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1,2,4", "--json", "--out", tmp_path / "r",
                         *FAST)
    rows = doc["measurements"]
    assert [r["batch_size"] for r in rows] == [1, 2, 4]
    assert all(r["status"] == "ok" and r["precision"] == "fp32" for r in rows)
    assert rows[0]["macs"] == onnx_models.conv_net_macs()


def test_json_mode_keeps_progress_off_stdout(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--batches", "1", "--json", "--out", tmp_path / "r", *FAST)
    json.loads(proc.stdout)  # nothing but the JSON document
    assert "onnxruntime/fp32/1" in proc.stderr


def test_results_directory_holds_db_csv_and_json_with_equal_columns(tiny_onnx, cache_dir, tmp_path):
    out = tmp_path / "r"
    edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1,2", "--json", "--out", out, *FAST)
    db_cols = [r[1] for r in sqlite3.connect(str(out / "results.db")).execute("PRAGMA table_info(measurements)")]
    with open(str(out / "results.csv")) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == db_cols and len(rows) == 2
    doc = json.loads((out / "results.json").read_text())
    assert list(doc["measurements"][0]) == db_cols


def test_fp16_points_say_what_precision_really_ran(tiny_onnx, cache_dir, tmp_path):
    doc = edgebench_json("sweep", "--model", tiny_onnx, "--engine", "fp16", "--batches", "1", "--json",
                         "--out", tmp_path / "r", *FAST)
    row = doc["measurements"][0]
    assert row["status"] == "ok" and row["precision"] == "fp16"
    assert row["precision_effective"] in ("fp16", "fp32", "mixed")
    if row["precision_effective"] != "fp16":
        assert "fp32" in row["note"]


def test_tight_memory_limit_records_large_batches_as_oom_in_the_same_run(tmp_path, cache_dir):
    from sweep.test_runner import _vm_peak_mb

    path = onnx_models.conv_net(tmp_path / "big.onnx", channels=64, size=224)
    limit = _vm_peak_mb(path) + 250
    doc = edgebench_json("sweep", "--model", path, "--batches", "1,2,64", "--memory-limit-mb", limit, "--json",
                         "--out", tmp_path / "r", *FAST)
    statuses = [r["status"] for r in doc["measurements"]]
    assert statuses == ["ok", "ok", "oom"], doc["measurements"]


def test_summary_table_lists_every_point(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--batches", "1,2", "--out", tmp_path / "r", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("tiny") >= 2 and "results.db" in proc.stdout


def test_ctrl_c_keeps_measured_points_and_marks_the_run_interrupted(tiny_onnx, cache_dir, tmp_path):
    out = tmp_path / "r"
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgebench", "sweep", "--model", tiny_onnx, "--batches", "1..40",
         "--duration", "0.3", "--warmup-ms", "0", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, universal_newlines=True,
    )
    db = out / "results.db"
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline:
        if db.exists():
            try:
                count = sqlite3.connect(str(db)).execute("SELECT count(*) FROM measurements").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count >= 2:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    conn = sqlite3.connect(str(db))
    stored = conn.execute("SELECT count(*) FROM measurements").fetchone()[0]
    assert 2 <= stored < 40
    assert conn.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    with open(str(out / "results.csv")) as fh:
        assert len(list(csv.DictReader(fh))) == stored
    assert "Traceback" not in stderr


def test_report_flag_writes_the_report_of_the_run(tiny_onnx, cache_dir, tmp_path):
    doc = edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1..4", "--json", "--out", tmp_path / "r",
                         "--report", tmp_path / "rep", *FAST)
    assert (tmp_path / "rep" / "index.html").exists() and (tmp_path / "rep" / "summary.json").exists()
    assert doc["report"]["out_dir"] == str(tmp_path / "rep")


def test_table_names_the_memory_knee_when_one_is_found():
    from edgebench.report.table import summary_table
    from edgebench.results import schema

    rows = [schema.empty_point(point_key="m/ort/fp32/%d" % b, model="m", model_source="onnx", backend="ort",
                               precision="fp32", batch_size=b, status="ok", peak_rss_mb=300.0 + 12 * max(0, b - 8),
                               env_key="e", per_image_ms=1.0, images_per_s=1000.0)
            for b in (1, 2, 4, 8, 16, 32)]
    _, notes = summary_table(rows)
    assert any("memory knee m ort fp32: 300 MB up to batch 8" in n for n in notes), notes
