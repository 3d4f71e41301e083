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
TOLERANCE = 0.10


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


def added_mb(row):
    """What the point added to the system's used memory, or None."""
    peak, before = row.get("system_used_peak_mb"), row.get("system_used_before_mb")
    return None if peak is None or before is None else peak - before


def value(row, column):
    return added_mb(row) if column == "system_added_mb" else row.get(column)


def agreement(reused, fresh, column):
    """(points within TOLERANCE, lines naming the others, worst relative difference) for one column."""
    fresh_by_key = dict((r["point_key"], r) for r in fresh)
    bad, worst, good = [], 0.0, 0
    for row in reused:
        other = fresh_by_key.get(row["point_key"])
        a, b = value(row, column), value(other, column) if other else None
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


def median(values):
    s = sorted(values)
    n = len(s)
    return (s[n // 2] + s[(n - 1) // 2]) / 2.0


def latency_ratios(rows, fresh):
    by_key = dict((r["point_key"], r) for r in fresh)
    return [r["latency_median_ms"] / by_key[r["point_key"]]["latency_median_ms"] for r in rows
            if r.get("latency_median_ms") and by_key.get(r["point_key"], {}).get("latency_median_ms")]


def knees(rows):
    from edgebench.analysis.fits import fit_knee

    out = {}
    for model in sorted(set(r["model"] for r in rows)):
        pts = sorted((r["batch_size"], r["peak_rss_mb"]) for r in rows
                     if r["model"] == model and r["status"] == "ok" and r["peak_rss_mb"] is not None)
        fit = fit_knee([b for b, _ in pts], [m for _, m in pts])
        out[model] = round(fit["knee"], 1) if fit["status"] == "ok" else fit["status"]
    return out


def same_knees(a, b):
    """The same knee per model: both without one (flat, too few points), or knee batches within TOLERANCE."""
    if set(a) != set(b):
        return False
    for model in a:
        x, y = a[model], b[model]
        if isinstance(x, str) or isinstance(y, str):
            if x != y:
                return False
        elif abs(x - y) > TOLERANCE * max(x, y):
            return False
    return True


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
    failed = False
    reused, fresh = last["reused"], last["fresh"]
    first = [r for r in reused if r["batch_size"] == min(x["batch_size"] for x in reused)]
    for column in ("peak_rss_mb", "system_added_mb"):
        good, bad, worst = agreement(reused, fresh, column)
        _, control_bad, control_worst = agreement(first, fresh, column)
        # a column is judged only where the control agrees: else the machine, not the mode, decides it
        judged = not control_bad
        verdict = "" if not bad else (": FAIL" if judged else ": not judgeable here (the control differs too)")
        print("reused vs fresh, {} within {:.0%}: {}/{} points, worst {:.1%} (control: first batches, a fresh "
              "worker in both modes, worst {:.1%}){}".format(column, TOLERANCE, good, len(reused), worst,
                                                           control_worst, verdict))
        for line in bad:
            print("  " + line)
        failed = failed or (judged and bool(bad))
    ratios = latency_ratios(reused, fresh)
    control = latency_ratios(first, fresh)
    print("reused / fresh latency_median_ms per point: median {:.3f}, range {:.3f}-{:.3f} (control: first batches "
          "{:.3f}-{:.3f}; reported, not judged: one point's latency moves with the machine)".format(
              median(ratios), min(ratios), max(ratios), min(control), max(control)))
    knee, knee_fresh = knees(reused), knees(fresh)
    same = same_knees(knee, knee_fresh)
    print("reused peak_rss_mb knee per model: {}; fresh: {} ({})".format(
        knee, knee_fresh, "same within {:.0%}".format(TOLERANCE) if same else "DIFFERENT"))
    failed = failed or not same
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
