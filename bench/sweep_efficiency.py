#!/usr/bin/env python3
"""How much of a sweep's wall time is measuring? Timed loops ÷ wall time: a fresh worker per point vs
--reuse-worker.

Runs the README's sweep (``--models squeezenet1_1,mobilenet_v2,resnet18,vgg16 --batches 1-8 --duration 1``,
16 points) as the real ``edgebench sweep`` subprocess, once to fill the export cache (not counted), then
in both worker modes, alternating their order each of ``--rounds`` rounds so machine load hits both alike.
A mode's efficiency is the sum of its points' ``duration_s`` (the timed loops) over the sweep's wall time
(process start to exit: model checks, workers, engine loads, warm-ups, store, exports).

Then memory truth, the reused mode against the fresh workers of the last round: every point's ``peak_rss_mb``
and the memory it added to the system (``system_used_peak_mb - system_used_before_mb``; the absolute
system figure moves with whatever else runs) within 10%, and the memory knee fitted on each model's
peak_rss_mb at the same batch. Batch 1 starts a worker in every mode: its difference is the control,
what the machine alone does.

Goal (issue 16): reused efficiency >= 0.80 on an idle machine and the memory check passes.

    python bench/sweep_efficiency.py [--rounds 1] [--models ...] [--batches 1-8] [--duration 1]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

README_MODELS = "squeezenet1_1,mobilenet_v2,resnet18,vgg16"
MODES = (("fresh", []), ("reused", ["--reuse-worker"]))


def one_sweep(args, out, flags):
    """(wall seconds, measurement rows) of one real `edgebench sweep`."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "edgebench", "sweep", "--models", args.models, "--batches", args.batches,
           "--duration", str(args.duration), "--out", out, "--force", "--json"]
    cmd.extend(flags)
    start = time.perf_counter()
    text = subprocess.check_output(cmd, env=env, stderr=subprocess.DEVNULL)
    wall_s = time.perf_counter() - start
    return wall_s, json.loads(text.decode("utf-8"))["measurements"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--models", default=README_MODELS)
    parser.add_argument("--batches", default="1-8")
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="eb-efficiency-")
    one_sweep(argparse.Namespace(models=args.models, batches="1", duration=0), os.path.join(work, "warm"), [])
    figures = dict((name, []) for name, _ in MODES)
    last = {}
    for i in range(args.rounds):
        order = MODES[i % len(MODES):] + MODES[:i % len(MODES)]
        for name, flags in order:
            wall_s, rows = one_sweep(args, os.path.join(work, "{}{}".format(name, i)), flags)
            timed_s = sum(r["duration_s"] or 0.0 for r in rows)
            figures[name].append((timed_s / wall_s, timed_s, wall_s))
            last[name] = rows
            print("{:7s} round {}: timed {:.1f} s / wall {:.1f} s = {:.3f} ({} points, {} ok)".format(
                name, i + 1, timed_s, wall_s, timed_s / wall_s, len(rows),
                sum(1 for r in rows if r["status"] == "ok")), flush=True)
    for name, _ in MODES:
        ratios = sorted(f[0] for f in figures[name])
        print("{}: efficiency {:.3f} (median of {})".format(name, ratios[len(ratios) // 2], len(ratios)))
    from edgebench.analysis.worker_modes import compare

    doc = compare(last["reused"], last["fresh"], columns=("peak_rss_mb", "system_added_mb"))
    for column, c in doc["columns"].items():
        verdict = "" if not c["differing"] else (": FAIL" if c["judged"] else
                                                 ": not judgeable here (the control differs too)")
        print("reused vs fresh, {} within {:.0%}: {}/{} points, worst {:.1%} (control: first batches, a fresh "
              "worker in both modes, worst {:.1%}){}".format(column, doc["tolerance"], c["within"], c["points"],
                                                           c["worst"], c["control_worst"], verdict))
        for line in c["differing"]:
            print("  " + line)
    lat = doc["latency_ratio"]
    print("reused / fresh latency_median_ms per point: median {:.3f}, range {:.3f}-{:.3f} (control: first batches "
          "{:.3f}-{:.3f}; reported, not judged: one point's latency moves with the machine)".format(
              lat["median"], lat["min"], lat["max"], lat["control_min"], lat["control_max"]))
    k = doc["knees"]
    print("reused peak_rss_mb knee per model: {}; fresh: {} ({})".format(
        dict(k["reused"]), dict(k["fresh"]), "same within {:.0%}".format(doc["tolerance"]) if k["same"] else
        "DIFFERENT"))
    failed = not doc["agrees"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
