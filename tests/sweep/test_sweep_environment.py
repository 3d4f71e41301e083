"""Runs from different environments are not mixed in one results.db without --force."""
import os
import sqlite3

from cli_helpers import edgebench, edgebench_json

FAST = ("--duration", "0.05", "--iterations", "3", "--warmup-ms", "0", "--batches", "1")
NANO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "nano_jp46")


def test_a_run_from_another_board_is_refused_and_the_store_left_alone(tiny_onnx, cache_dir, tmp_path):
    out = tmp_path / "r"
    edgebench_json("sweep", "--model", tiny_onnx, "--json", "--out", out, *FAST)
    before = (out / "results.db").read_bytes()
    proc = edgebench("sweep", "--model", tiny_onnx, "--root", NANO, "--out", out, *FAST)
    assert proc.returncode == 2 and "different environment" in proc.stderr and "--force" in proc.stderr
    assert (out / "results.db").read_bytes() == before


def test_force_adds_the_run_anyway(tiny_onnx, cache_dir, tmp_path):
    out = tmp_path / "r"
    edgebench_json("sweep", "--model", tiny_onnx, "--json", "--out", out, *FAST)
    edgebench_json("sweep", "--model", tiny_onnx, "--root", NANO, "--force", "--json", "--out", out, *FAST)
    keys = sqlite3.connect(str(out / "results.db")).execute("SELECT DISTINCT env_key FROM measurements").fetchall()
    assert len(keys) == 2


def test_lock_clocks_without_jetson_clocks_is_bad_input(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--lock-clocks", "--out", tmp_path / "r", *FAST,
                     env={"PATH": "/usr/bin:/bin"})
    if proc.returncode == 0:
        import pytest

        pytest.skip("jetson_clocks exists on this machine")
    assert proc.returncode == 2 and "jetson_clocks" in proc.stderr
