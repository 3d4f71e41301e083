"""int8 through the sweep: calibration data, the cache, honest precision, measured accuracy carried in."""
import os

import numpy as np
from cli_helpers import edgebench, edgebench_json

FAST = ("--duration", "0.05", "--iterations", "3", "--warmup-ms", "0")


def _calib(tmp_path, n=16):
    path = tmp_path / "calib.npy"
    np.save(str(path), np.random.RandomState(0).standard_normal((n, 3, 16, 16)).astype(np.float32))
    return str(path)


def test_int8_point_runs_and_says_it_really_ran_in_int8(tiny_onnx, cache_dir, tmp_path):
    doc = edgebench_json("sweep", "--model", tiny_onnx, "--engine", "int8", "--calib-data", _calib(tmp_path),
                         "--batches", "1,2", "--json", "--out", tmp_path / "r", *FAST)
    rows = doc["measurements"]
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    assert rows[0]["precision"] == "int8" and rows[0]["precision_effective"] in ("int8", "mixed", "fp32")
    assert rows[0]["fp16_mac_fraction"] is not None


def test_second_int8_sweep_reuses_the_calibration_cache(tiny_onnx, cache_dir, tmp_path):
    calib = _calib(tmp_path)
    args = ("sweep", "--model", tiny_onnx, "--engine", "int8", "--calib-data", calib, "--batches", "1", "--json")
    edgebench_json(*(args + ("--out", tmp_path / "a") + FAST))
    cal_dir = os.path.join(cache_dir, "calibration")
    before = dict((f, os.path.getmtime(os.path.join(cal_dir, f))) for f in os.listdir(cal_dir))
    edgebench_json(*(args + ("--out", tmp_path / "b") + FAST))
    after = dict((f, os.path.getmtime(os.path.join(cal_dir, f))) for f in os.listdir(cal_dir))
    assert after == before


def test_int8_without_calibration_data_is_refused(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--engine", "int8", "--out", tmp_path / "r")
    assert proc.returncode == 2 and "--calib-data" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_calibration_folder_is_refused_before_anything_is_stored(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--engine", "int8", "--calib-data", tmp_path / "nope",
                     "--out", tmp_path / "r")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_measured_accuracy_is_carried_into_the_sweep_rows(tiny_onnx, cache_dir, tmp_path):
    data = tmp_path / "labelled.npz"
    rng = np.random.RandomState(1)
    np.savez(str(data), x=rng.standard_normal((40, 3, 16, 16)).astype(np.float32), y=rng.randint(0, 10, 40))
    out = tmp_path / "r"
    acc = edgebench_json("accuracy", "--model", tiny_onnx, "--engine", "fp32", "--data", data, "--out", out, "--json")
    doc = edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1", "--json", "--out", out, *FAST)
    row = doc["measurements"][0]
    assert row["top1_measured"] == acc["results"][0]["top1"]
    assert row["accuracy_data"] == acc["data"]["fingerprint"]
