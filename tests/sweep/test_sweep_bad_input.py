"""Bad input: one clear line, exit status 2, no traceback, nothing stored damaged."""
import sqlite3

import onnx_models
import pytest
from cli_helpers import edgebench, edgebench_json


def _fails_cleanly(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def test_unknown_model_lists_close_names(cache_dir, tmp_path):
    _fails_cleanly(edgebench("sweep", "--models", "resnet19", "--out", tmp_path / "r"), "resnet18")


def test_corrupt_onnx_file(cache_dir, tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 50)
    _fails_cleanly(edgebench("sweep", "--model", bad, "--out", tmp_path / "r"), "broken.onnx")


def test_unreadable_onnx_path(cache_dir, tmp_path):
    _fails_cleanly(edgebench("sweep", "--model", tmp_path / "missing.onnx", "--out", tmp_path / "r"),
                   "does not exist")


@pytest.mark.parametrize("spec", ["0", "1,-2", "5000", "1-8000"])
def test_batch_out_of_range(cache_dir, tmp_path, tiny_onnx, spec):
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--batches", spec, "--out", tmp_path / "r"))


def test_out_that_is_a_file(cache_dir, tmp_path, tiny_onnx):
    target = tmp_path / "notadir"
    target.write_text("keep me")
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--out", target), "is a file")
    assert target.read_text() == "keep me"


def test_conflicting_weights_and_several_models(cache_dir, tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    _fails_cleanly(edgebench("sweep", "--models", "resnet18,alexnet", "--weights", weights, "--out", tmp_path / "r"),
                   "--weights")


def test_unavailable_backend_says_how_to_install_it(cache_dir, tmp_path, tiny_onnx):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--backend", "tensorrt", "--out", tmp_path / "r"),
                   "tensorrt")


def test_existing_results_survive_a_later_bad_invocation(cache_dir, tmp_path, tiny_onnx):
    out = tmp_path / "r"
    edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1", "--json", "--out", out, "--duration", "0.05")
    before = (out / "results.db").read_bytes()
    _fails_cleanly(edgebench("sweep", "--models", "nosuchnet", "--out", out))
    assert (out / "results.db").read_bytes() == before


def test_results_db_that_is_not_ours_is_left_untouched(cache_dir, tmp_path, tiny_onnx):
    out = tmp_path / "r"
    out.mkdir()
    conn = sqlite3.connect(str(out / "results.db"))
    conn.execute("CREATE TABLE photos (path TEXT)")
    conn.commit()
    conn.close()
    before = (out / "results.db").read_bytes()
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--batches", "1", "--out", out), "not an edgebench")
    assert (out / "results.db").read_bytes() == before


def test_model_with_fixed_batch_of_eight(cache_dir, tmp_path):
    path = onnx_models.conv_net(tmp_path / "b8.onnx", batch=8)
    _fails_cleanly(edgebench("sweep", "--model", path, "--out", tmp_path / "r"), "fixed batch of 8")


def test_a_power_mode_off_a_jetson_is_refused_before_anything_is_stored(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--power-mode", "MAXN", "--out", tmp_path / "r",
                     env={"PATH": str(tmp_path)})  # no nvpmodel, no jtop service reachable
    assert proc.returncode == 2 and "--power-mode MAXN needs a Jetson" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()


@pytest.mark.parametrize("flags", [["--models", ","], ["--models", ""]])
def test_models_flag_naming_nothing_is_refused_before_anything_starts(cache_dir, tmp_path, flags):
    _fails_cleanly(edgebench("sweep", *flags, "--out", tmp_path / "r"), "names no model")
    assert not (tmp_path / "r").exists()


def test_thread_count_beyond_any_board_is_refused(cache_dir, tmp_path, tiny_onnx):
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--threads", "100000", "--out", tmp_path / "r"),
                   "--threads must be a whole number from 1 to 1024")


def test_a_model_given_twice_stores_one_row_per_point(cache_dir, tmp_path, tiny_onnx):
    out = tmp_path / "r"
    rows = edgebench_json("sweep", "--model", tiny_onnx, "--model", tiny_onnx, "--batches", "1,2", "--json",
                          "--out", out, "--duration", "0.05", "--iterations", "2", "--warmup-ms", "0")
    conn = sqlite3.connect(str(out / "results.db"))
    keys = [k for (k,) in conn.execute("SELECT point_key FROM measurements")]
    conn.close()
    assert len(keys) == len(set(keys)) == 2, rows
