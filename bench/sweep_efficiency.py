#!/usr/bin/env python3
"""How much of a sweep's wall time is measuring? Timed loops ÷ wall time, --reuse-worker vs a fresh worker per point.

Runs the README's sweep (``--models squeezenet1_1,mobilenet_v2,resnet18,vgg16 --batches 1-8 --duration 1``,
16 points) as the real ``edgebench sweep`` subprocess, once to fill the export cache (not counted), then
in both worker modes, alternating for ``--rounds`` rounds so machine load hits both alike. A mode's
efficiency is the sum of its points' ``duration_s`` (the timed loops) over the sweep's wall time
(process start to exit: model checks, workers, engine loads, warm-ups, store, exports).

Then memory truth: every point's ``peak_rss_mb`` and ``system_used_peak_mb`` in the reused mode within
10% of the fresh-worker mode's, and the memory knee fitted on each model's peak_rss_mb at the same batch.

Goal: reused efficiency >= 0.80 on an idle machine; the memory check passes.

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
TOLERANCE = 0.10


def one_sweep(args, out, fresh):
    """(wall seconds, measurement rows) of one real `edgebench sweep`."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "edgebench", "sweep", "--models", args.models, "--batches", args.batches,
           "--duration", str(args.duration), "--out", out, "--force", "--json"]
    if not fresh:
        cmd.append("--reuse-worker")
    start = time.perf_counter()
    text = subprocess.check_output(cmd, env=env, stderr=subprocess.DEVNULL)
    wall_s = time.perf_counter() - start
    return wall_s, json.loads(text.decode("utf-8"))["measurements"]


def agreement(reused, fresh, column):
    """(points within TOLERANCE, lines naming the others, worst relative difference) for one column."""
    fresh_by_key = dict((r["point_key"], r) for r in fresh)
    bad, worst, good = [], 0.0, 0
    for row in reused:
        other = fresh_by_key.get(row["point_key"])
        a, b = row.get(column), other.get(column) if other else None
        if a is None or b is None:
            bad.append("{} {}: reused {} vs fresh {}".format(row["point_key"], column, a, b))
            continue
        diff = abs(a - b) / b
        worst = max(worst, diff)
        if diff > TOLERANCE:
            bad.append("{} {}: reused {:.1f} vs fresh {:.1f} ({:+.1%})".format(row["point_key"], column, a, b,
                                                                              (a - b) / b))
        else:
            good += 1
    return good, bad, worst


def knees(rows):
    from edgebench.analysis.fits import fit_knee

    out = {}
    for model in sorted(set(r["model"] for r in rows)):
        pts = sorted((r["batch_size"], r["peak_rss_mb"]) for r in rows
                     if r["model"] == model and r["status"] == "ok" and r["peak_rss_mb"] is not None)
        fit = fit_knee([b for b, _ in pts], [m for _, m in pts])
        out[model] = round(fit["knee"], 1) if fit["status"] == "ok" else fit["status"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--models", default=README_MODELS)
    parser.add_argument("--batches", default="1-8")
    parser.add_argument("--duration", type=float, default=1.0)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="eb-efficiency-")
    one_sweep(argparse.Namespace(models=args.models, batches="1", duration=0), os.path.join(work, "warm"), True)
    figures = {"reused": [], "fresh": []}
    last = {}
    for i in range(args.rounds):
        for mode in (("fresh", "reused") if i % 2 else ("reused", "fresh")):
            wall_s, rows = one_sweep(args, os.path.join(work, "{}{}".format(mode, i)), mode == "fresh")
            timed_s = sum(r["duration_s"] or 0.0 for r in rows)
            figures[mode].append((timed_s / wall_s, timed_s, wall_s))
            last[mode] = rows
            print("{:7s} round {}: timed {:.1f} s / wall {:.1f} s = {:.3f} ({} points, {} ok)".format(
                mode, i + 1, timed_s, wall_s, timed_s / wall_s, len(rows),
                sum(1 for r in rows if r["status"] == "ok")))
    for mode in ("reused", "fresh"):
        ratios = sorted(f[0] for f in figures[mode])
        print("{}: efficiency {:.3f} (median of {})".format(mode, ratios[len(ratios) // 2], len(ratios)))
    failed = False
    for column in ("peak_rss_mb", "system_used_peak_mb"):
        good, bad, worst = agreement(last["reused"], last["fresh"], column)
        # batch 1 starts a worker in both modes: its difference is what other load on the machine alone does
        first = [r for r in last["reused"] if r["batch_size"] == min(x["batch_size"] for x in last["reused"])]
        _, control, control_worst = agreement(first, last["fresh"], column)
        print("{} within {:.0%}: {}/{} points, worst {:.1%} (control: first batches, fresh in both modes, "
              "worst {:.1%}){}".format(column, TOLERANCE, good, len(last["reused"]), worst, control_worst,
                                       "" if not bad else ": FAIL"))
        for line in bad:
            print("  " + line)
        failed = failed or bool(bad)
    knee_reused, knee_fresh = knees(last["reused"]), knees(last["fresh"])
    print("peak_rss_mb knee per model, reused: {}; fresh: {} ({})".format(
        knee_reused, knee_fresh, "same" if knee_reused == knee_fresh else "DIFFERENT"))
    return 0 if not failed and knee_reused == knee_fresh else 1


if __name__ == "__main__":
    sys.exit(main())
