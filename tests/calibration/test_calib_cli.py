"""``edgebench accuracy`` and ``edgebench calibrate`` end to end: real models, real ONNX Runtime."""
import json
import os
import shutil

import numpy as np
import onnx_models
import onnxruntime as ort
import pytest

from edgebench.cli import main

SHAPE = (3, 16, 16)


@pytest.fixture
def user_model(tmp_path):
    """A small ONNX classifier, labelled data it gets right in fp32, and calibration tensors."""
    model = onnx_models.conv_net(tmp_path / "net.onnx", bn=True)
    rng = np.random.RandomState(5)
    x = rng.standard_normal((40,) + SHAPE).astype(np.float32)
    y = np.argmax(ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0], 1)
    np.savez(str(tmp_path / "labelled.npz"), x=x, y=y)
    np.save(str(tmp_path / "calib.npy"), rng.standard_normal((16,) + SHAPE).astype(np.float32))
    return {"model": model, "data": str(tmp_path / "labelled.npz"), "calib": str(tmp_path / "calib.npy")}


def _json(capsys, argv):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, (json.loads(out) if status == 0 else None), err


def test_accuracy_reports_fp32_and_int8_with_the_delta(user_model, cache_dir, tmp_path, capsys):
    status, report, _ = _json(capsys, [
        "accuracy", "--model", user_model["model"], "--engine", "fp32,int8", "--data", user_model["data"],
        "--calib-data", user_model["calib"], "--backend", "onnxruntime", "--out", str(tmp_path / "res"),
        "--json"])
    assert status == 0
    fp32, int8 = report["results"]
    assert fp32["top1"] == 100.0 and fp32["samples"] == 40
    assert int8["status"] == "ok" and int8["delta_top1_vs_fp32"] == pytest.approx(int8["top1"] - 100.0)
    assert int8["calibration_fingerprint"] and report["data"]["fingerprint"]


def test_accuracy_rows_are_stored(user_model, cache_dir, tmp_path, capsys):
    from edgebench.results.store import ResultStore

    out = str(tmp_path / "res")
    main(["accuracy", "--model", user_model["model"], "--data", user_model["data"], "--backend",
          "onnxruntime", "--out", out, "--json"])
    capsys.readouterr()
    store = ResultStore(os.path.join(out, "results.db"))
    rows = store.accuracy()
    store.close()
    assert [(r["precision"], r["top1"], r["samples"]) for r in rows] == [("fp32", 100.0, 40)]


def test_int8_accuracy_without_calibration_data_exits_2(user_model, cache_dir, tmp_path, capsys):
    status = main(["accuracy", "--model", user_model["model"], "--engine", "int8", "--data",
                   user_model["data"], "--backend", "onnxruntime", "--no-store"])
    err = capsys.readouterr().err
    assert status == 2 and "--calib-data" in err and len(err.strip().splitlines()) == 1


def test_labels_outside_the_model_classes_exit_2(user_model, cache_dir, tmp_path, capsys):
    x = np.load(user_model["data"])["x"]
    np.savez(user_model["data"], x=x, y=np.full(len(x), 42))
    status = main(["accuracy", "--model", user_model["model"], "--data", user_model["data"],
                   "--backend", "onnxruntime", "--no-store"])
    err = capsys.readouterr().err
    assert status == 2 and "42" in err and "10" in err


def test_calibrate_builds_then_reuses_the_cache(user_model, cache_dir, capsys):
    argv = ["calibrate", "--model", user_model["model"], "--calib-data", user_model["calib"], "--json"]
    status, first, _ = _json(capsys, argv)
    status2, second, _ = _json(capsys, argv)
    assert (status, status2) == (0, 0)
    assert (first["cache"], second["cache"]) == ("built", "hit") and first["path"] == second["path"]
    assert first["precision_effective"] == "int8" and first["calibration"]["used"] == 16


def test_calibrate_with_wrong_shaped_data_exits_2_and_caches_nothing(user_model, cache_dir, tmp_path, capsys):
    bad = str(tmp_path / "bad.npy")
    np.save(bad, np.zeros((4, 3, 32, 32), dtype=np.float32))
    status = main(["calibrate", "--model", user_model["model"], "--calib-data", bad])
    err = capsys.readouterr().err
    assert status == 2 and "3x32x32" in err
    calib_dir = os.path.join(cache_dir, "calibration")
    assert not os.path.isdir(calib_dir) or os.listdir(calib_dir) == []


def test_calibrate_folder_without_images_exits_2(user_model, cache_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    status = main(["calibrate", "--model", user_model["model"], "--calib-data", str(empty)])
    assert status == 2 and "no images" in capsys.readouterr().err


def test_unknown_engine_precision_exits_2(user_model, cache_dir, capsys):
    status = main(["accuracy", "--model", user_model["model"], "--engine", "int4", "--data",
                   user_model["data"], "--no-store"])
    assert status == 2 and "int4" in capsys.readouterr().err


def test_lenet5_digits_accuracy_in_fp32_and_int8(digits_cache, tmp_path, capsys, monkeypatch):
    cache_dir = str(tmp_path / "cache")
    shutil.copytree(digits_cache, cache_dir)
    monkeypatch.setenv("EDGEBENCH_CACHE_DIR", cache_dir)
    status, report, _ = _json(capsys, [
        "accuracy", "--model", "lenet5_digits", "--engine", "fp32,int8", "--data", "digits",
        "--backend", "onnxruntime", "--no-store", "--json"])
    assert status == 0
    fp32, int8 = report["results"]
    assert fp32["top1"] >= 95.0 and fp32["samples"] == 360
    assert int8["top1"] >= 90.0 and int8["delta_top1_vs_fp32"] is not None
