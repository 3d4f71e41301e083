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



def _in_small_filesystem(tmp_path, prepare, *args):
    """``edgebench ARGS`` in a private mount namespace where ``tmp_path/fs`` is a 64 KB tmpfs after the shell
    command ``prepare`` ran there (util-linux ``unshare -rm``: a real full or read-only filesystem, no root on
    the host needed); skipped where user namespaces are not allowed."""
    import shlex
    import shutil
    import subprocess
    import sys

    if not shutil.which("unshare") or subprocess.call(["unshare", "-rm", "true"], stderr=subprocess.DEVNULL):
        pytest.skip("unshare -rm (user and mount namespaces) is not available here")
    fs = tmp_path / "fs"
    fs.mkdir()
    command = "mount -t tmpfs -o size=64k tmpfs {fs} && cd {fs} && {prepare} && exec {cli}".format(
        fs=fs, prepare=prepare, cli=" ".join(shlex.quote(str(a)) for a in [sys.executable, "-m", "edgebench"] + list(
            args)))
    return edgebench_in(["unshare", "-rm", "sh", "-c", command]), fs


def edgebench_in(argv):
    import os
    import subprocess

    from cli_helpers import ROOT

    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                          timeout=300)


def test_out_on_a_full_disk_says_disk_full(cache_dir, tmp_path, tiny_onnx):
    proc, fs = _in_small_filesystem(tmp_path, "head -c 40000 /dev/zero > pad", "sweep", "--model", tiny_onnx,
                                    "--batches", "1,2,4", "--duration", "0.05", "--out", tmp_path / "fs" / "r")
    _fails_cleanly(proc, "disk full writing results store", "free space")


def test_out_on_a_read_only_filesystem_is_one_line(cache_dir, tmp_path, tiny_onnx):
    proc, fs = _in_small_filesystem(tmp_path, "mount -o remount,ro .", "sweep", "--model", tiny_onnx,
                                    "--batches", "1", "--duration", "0.05", "--out", tmp_path / "fs" / "r")
    _fails_cleanly(proc, "Read-only file system", "choose a writable --out")


def test_out_under_proc_is_one_line(cache_dir, tmp_path, tiny_onnx):
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--batches", "1", "--out", "/proc/edgebench-test"),
                   "/proc/edgebench-test/results.db")


def test_out_on_a_store_with_malformed_pages_is_one_line(cache_dir, tmp_path, tiny_onnx):
    out = tmp_path / "r"
    edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1", "--json", "--out", out, "--duration", "0.05")
    db = out / "results.db"
    data = bytearray(db.read_bytes())
    for i in range(4096, len(data)):  # every page but the header page
        data[i] = (data[i] * 7 + 13) & 0xFF
    db.write_bytes(bytes(data))
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--batches", "1", "--out", out, "--duration", "0.05"),
                   "is damaged")


@pytest.mark.parametrize("content", [b"{bad", b"[1]", b"\xf8\x00\x91garbage"])
def test_a_corrupt_model_cache_sidecar_is_a_cache_miss(cache_dir, tmp_path, tiny_onnx, content):
    import glob

    edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1", "--json", "--out", tmp_path / "r",
                   "--duration", "0.05")
    [sidecar] = glob.glob(cache_dir + "/onnx/user-*.json")
    with open(sidecar, "wb") as fh:
        fh.write(content)
    again = edgebench("sweep", "--model", tiny_onnx, "--batches", "1", "--out", tmp_path / "r2", "--duration", "0.05")
    assert again.returncode == 0, again.stderr


def test_power_analyze_of_a_binary_file_is_one_line(tmp_path):
    binary = tmp_path / "trace.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    _fails_cleanly(edgebench("power", "analyze", binary), "is not a text trace CSV")


def test_int8_with_only_undecodable_calibration_images_is_refused_before_the_run(cache_dir, tmp_path, tiny_onnx):
    pytest.importorskip("PIL")
    images = tmp_path / "calib"
    images.mkdir()
    for i in range(3):
        (images / "img{}.jpg".format(i)).write_bytes(b"\xff\xd8 not really a jpeg " * 20)
    _fails_cleanly(edgebench("sweep", "--model", tiny_onnx, "--engine", "int8", "--calib-data", images,
                             "--batches", "1", "--out", tmp_path / "r"), "none of the 3 images", "can be decoded")
    assert not (tmp_path / "r").exists()
