#!/usr/bin/env python3
"""How much does edgebench's measurement cost? edgebench's images/s over a bare session.run loop's.

Same ONNX model, same batch, same thread count. Rounds are interleaved (edgebench, bare, edgebench,
bare, ...) so drift in machine load hits both sides alike; each side's figure is the median of its
rounds. edgebench's side is the real thing: a worker process started by the runner, warm-up, the
timed loop with its memory sampler thread, statistics. The bare side is ``sess.run`` in a loop in
this process, timed with ``time.perf_counter`` around the whole loop.

Goal: ratio >= 0.98.

    python bench/harness_overhead.py [--rounds 5] [--duration 2] [--batches 1,8] [--threads 2]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def bench_model(path):
    """Four 3x3 convolutions, 32 channels, 64x64 input: a few ms per image on a laptop core."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.RandomState(0)
    inits, nodes, last, cin = [], [], "input", 3
    for i in range(4):
        w = numpy_helper.from_array((rng.standard_normal((32, cin, 3, 3)) * 0.1).astype(np.float32), "w%d" % i)
        inits.append(w)
        nodes.append(helper.make_node("Conv", [last, w.name], ["c%d" % i], pads=[1, 1, 1, 1], name="conv%d" % i))
        nodes.append(helper.make_node("Relu", ["c%d" % i], ["r%d" % i], name="relu%d" % i))
        last, cin = "r%d" % i, 32
    nodes.append(helper.make_node("GlobalAveragePool", [last], ["output"], name="gap"))
    graph = helper.make_graph(
        nodes, "bench", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 32, 1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, path)
    return path


def bare_images_per_s(path, batch, threads, duration_s):
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {"input": np.random.RandomState(0).standard_normal((batch, 3, 64, 64)).astype(np.float32)}
    start = time.perf_counter()
    while time.perf_counter() - start < 0.2:  # the same warm-up edgebench does
        sess.run(None, feed)
    n = 0
    start = time.perf_counter()
    while True:
        sess.run(None, feed)
        n += 1
        elapsed = time.perf_counter() - start
        if n >= 10 and elapsed >= duration_s:
            return batch * n / elapsed


def edgebench_images_per_s(path, batch, threads, duration_s, cache_dir):
    from edgebench.engines.base import EngineSpec
    from edgebench.models.prepare import sha256_file
    from edgebench.sweep.runner import run_worker

    spec = EngineSpec(path, sha256_file(path), "bench", "fp32", batch, cache_dir, threads=threads)
    job = {"engine": spec.to_dict(), "backend": "onnxruntime", "warmup_s": 0.2, "iterations": 10,
           "duration_s": duration_s, "max_duration_s": duration_s * 10, "memory_limit_mb": None, "root": None}
    result = run_worker(job)
    if result["status"] != "ok":
        raise SystemExit("edgebench worker failed: {}".format(result.get("error")))
    return result["images_per_s"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per timed loop")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="eb-bench-")
    path = bench_model(os.path.join(tmp, "bench.onnx"))
    print("model: 4x conv3x3 32ch on 3x64x64, onnxruntime CPU, {} threads, {} interleaved rounds of {:g} s"
          .format(args.threads, args.rounds, args.duration))
    worst = None
    for batch in [int(b) for b in args.batches.split(",")]:
        ours, bare = [], []
        for _ in range(args.rounds):
            ours.append(edgebench_images_per_s(path, batch, args.threads, args.duration, tmp))
            bare.append(bare_images_per_s(path, batch, args.threads, args.duration))
        ratio = statistics.median(ours) / statistics.median(bare)
        worst = ratio if worst is None else min(worst, ratio)
        print("batch {:>3}: edgebench {:9.1f} images/s   bare session.run {:9.1f} images/s   ratio {:.3f}".format(
            batch, statistics.median(ours), statistics.median(bare), ratio))
    print("worst ratio {:.3f} (goal >= 0.98): {}".format(worst, "met" if worst >= 0.98 else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
