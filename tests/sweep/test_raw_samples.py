"""Raw per-iteration latencies: a real sweep stores them, and they reproduce the stored statistics exactly."""
import sqlite3

import pytest
from cli_helpers import edgebench, edgebench_json

from edgebench.results import samples
from edgebench.results.schema import SCHEMA_VERSION
from edgebench.results.store import ResultStore

FAST = ("--duration", "0.05", "--iterations", "5", "--warmup-ms", "10")


def _sweep(tiny_onnx, out):
    edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1,2", "--json", "--out", out, *FAST)
    return ResultStore(str(out / "results.db"), create=False)


def test_stored_samples_reproduce_the_stored_median_and_p99_exactly(tiny_onnx, cache_dir, tmp_path):
    with _sweep(tiny_onnx, tmp_path / "r") as store:
        for row in store.measurements():
            timed, _ = store.latencies(row["id"])
            again = samples.stats_from_samples(timed, row["batch_size"], row["duration_s"])
            assert (again["latency_median_ms"], again["latency_p99_ms"]) == (
                row["latency_median_ms"], row["latency_p99_ms"])


def test_every_timed_iteration_is_stored_in_order_of_timing(tiny_onnx, cache_dir, tmp_path):
    with _sweep(tiny_onnx, tmp_path / "r") as store:
        row = store.measurements()[0]
        timed, _ = store.latencies(row["id"])
        assert len(timed) == row["iterations"]
        assert sum(timed) / 1e3 == pytest.approx(row["duration_s"], rel=1e-3)


def test_warm_up_iterations_are_stored_apart(tiny_onnx, cache_dir, tmp_path):
    with _sweep(tiny_onnx, tmp_path / "r") as store:
        row = store.measurements()[0]
        _, warm = store.latencies(row["id"])
        assert len(warm) == row["warmup_iterations"]


def test_a_schema_1_store_gains_the_latencies_table_and_keeps_its_rows(tmp_path):
    path = str(tmp_path / "old.db")
    with ResultStore(path) as store:
        store.add_point(store.create_run({}, {}), {"point_key": "m/onnxruntime/fp32/1", "model": "m",
                                                   "model_source": "onnx", "backend": "onnxruntime",
                                                   "precision": "fp32", "batch_size": 1, "status": "ok"})
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE latencies")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with ResultStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION and len(store.measurements()) == 1
        assert store.latencies(store.measurements()[0]["id"]) is None


def test_encoding_round_trips_float32_values_bit_for_bit():
    values = samples.to_float32_ms([0.0123456789, 0.1, 1.5e-6])
    assert samples.decode(samples.encode(values)) == values


def test_show_prints_the_distribution_and_says_the_statistics_are_reproduced(tiny_onnx, cache_dir, tmp_path):
    _sweep(tiny_onnx, tmp_path / "r").close()
    proc = edgebench("show", tmp_path / "r", "fp32/2")
    assert proc.returncode == 0, proc.stderr
    assert "median and p99 reproduced exactly" in proc.stdout and "distribution" in proc.stdout


def test_show_json_carries_every_sample(tiny_onnx, cache_dir, tmp_path):
    _sweep(tiny_onnx, tmp_path / "r").close()
    doc = edgebench_json("show", tmp_path / "r" / "results.db", "fp32/1", "--json")
    assert len(doc["latencies_ms"]) == doc["iterations"] and doc["reproduced"] is True


def test_show_an_unknown_point_is_one_line_and_exit_2(tiny_onnx, cache_dir, tmp_path):
    _sweep(tiny_onnx, tmp_path / "r").close()
    proc = edgebench("show", tmp_path / "r", "nosuchnet")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_show_on_a_csv_export_says_samples_live_in_the_db(tiny_onnx, cache_dir, tmp_path):
    _sweep(tiny_onnx, tmp_path / "r").close()
    proc = edgebench("show", tmp_path / "r" / "results.csv", "fp32/1")
    assert proc.returncode == 2 and "results.db" in proc.stderr


def test_show_survives_a_terminal_that_only_speaks_ascii(tiny_onnx, cache_dir, tmp_path):
    _sweep(tiny_onnx, tmp_path / "r").close()
    proc = edgebench("show", tmp_path / "r", "fp32/1", env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"})
    assert proc.returncode == 0, proc.stderr
