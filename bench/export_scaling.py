#!/usr/bin/env python3
"""Does a sweep cost more when its store is big? A one-point sweep into an empty store vs one of 50,000 rows.

Each round runs the real ``edgebench sweep`` (a subprocess: model check, worker, store, export) of one
tiny point twice: into a fresh results directory, and into a copy of a store already holding
``--rows`` measurement rows. Rounds are interleaved so machine load hits both sides alike; each
side's figure is the median wall time of its rounds. A sweep exports only its own run, so the
ratio stays near 1; before that change every sweep rewrote the CSV and JSON of every stored row
(8.4 s instead of 0.8 s at 50,000 rows).

Goal: ratio <= 1.2.

    python bench/export_scaling.py [--rows 50000] [--rounds 3]
"""
import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def filled_store(path, rows):
    """A results.db with one run of ``rows`` plausible measurement rows (every column the schema has)."""
    from edgebench.results import schema
    from edgebench.results.store import ResultStore

    with ResultStore(path) as store:
        run_id = store.create_run({"models": ["filler"]}, {"host": "bench"})
    conn = sqlite3.connect(path)
    names = ["run_id"] + list(schema.POINT_FIELDS)
    point = schema.empty_point(model="filler", model_source="onnx", backend="onnxruntime", precision="fp32",
                               status="ok", per_image_ms=1.25, images_per_s=800.0, latency_median_ms=1.25,
                               note="filler row for bench/export_scaling.py", input_shape="3x64x64")
    values = []
    for i in range(rows):
        point["point_key"] = "filler/onnxruntime/fp32/{}".format(i + 1)
        point["batch_size"] = i + 1
        values.append([run_id] + [point.get(n) for n in names[1:]])
    sql = "INSERT INTO measurements ({}) VALUES ({})".format(", ".join(names), ", ".join("?" * len(names)))
    with conn:
        conn.executemany(sql, values)
    conn.close()


def one_sweep_s(model, out, cache):
    env = dict(os.environ, PYTHONPATH=ROOT, EDGEBENCH_CACHE_DIR=cache)
    start = time.perf_counter()
    subprocess.check_call([sys.executable, "-m", "edgebench", "sweep", "--model", model, "--batches", "1",
                           "--duration", "0", "--iterations", "1", "--warmup-ms", "0", "--force", "--out", out,
                           "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    from harness_overhead import bench_model

    work = tempfile.mkdtemp(prefix="eb-export-")
    try:
        model = bench_model(os.path.join(work, "bench.onnx"))
        cache = os.path.join(work, "cache")
        template = os.path.join(work, "filled.db")
        filled_store(template, args.rows)
        one_sweep_s(model, os.path.join(work, "warm"), cache)  # ONNX checks and caches warmed once
        empty, big = [], []
        for i in range(args.rounds):
            os.sync()
            empty.append(one_sweep_s(model, os.path.join(work, "empty{}".format(i)), cache))
            out = os.path.join(work, "big{}".format(i))
            os.makedirs(out)
            shutil.copy(template, os.path.join(out, "results.db"))
            os.sync()  # a real store is on disk already: do not charge the copy's writeback to the sweep
            big.append(one_sweep_s(model, out, cache))
            size_mb = sum(os.path.getsize(os.path.join(out, n)) for n in ("results.csv", "results.json")) / 2.0 ** 20
        e, b = statistics.median(empty), statistics.median(big)
        print("one-point sweep, median of {} rounds: empty store {:.2f} s, store of {:,} rows {:.2f} s; "
              "exports written {:.2f} MB".format(args.rounds, e, args.rows, b, size_mb))
        print("ratio (big / empty): {:.2f}  (goal <= 1.2)".format(b / e))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
