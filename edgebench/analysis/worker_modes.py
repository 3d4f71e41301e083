"""Do reused workers measure what fresh ones do? One sweep's points in each worker mode, compared.

``--reuse-worker`` lets one worker measure an engine's rising batches; it may be the default only where
its points agree with a fresh worker per point. :func:`compare` takes the rows of two sweeps of the same
plan (``reused``, ``fresh``) and says, per memory column, how many points agree within ``tolerance`` and
the worst difference; each column has a *control*: the first (smallest) batch, which starts a worker
in both modes, so its difference is what the machine alone does. A column whose control already
differs is reported as not judgeable rather than as a failure. It also fits each model's memory knee on
``peak_rss_mb`` in both sweeps and reports the reused/fresh ratio of every point's median latency.

Used by ``bench/sweep_efficiency.py`` (ONNX Runtime here) and ``tools/device-check`` (a board's GPU).
"""
from collections import OrderedDict

TOLERANCE = 0.10

# memory columns and how each is read from a row; "added" ones are the point's own share of the system
MEMORY_COLUMNS = ("peak_rss_mb", "system_added_mb", "nvmap_used_peak_mb")


def column_value(row, column):
    """The row's figure for ``column`` (``system_added_mb``: peak minus before), or None."""
    if column == "system_added_mb":
        peak, before = row.get("system_used_peak_mb"), row.get("system_used_before_mb")
        return None if peak is None or before is None else peak - before
    return row.get(column)


def agreement(rows, fresh, column, tolerance=TOLERANCE):
    """(points within ``tolerance``, lines naming the others, worst relative difference, points with a figure)."""
    by_key = dict((r["point_key"], r) for r in fresh)
    bad, worst, good, counted = [], 0.0, 0, 0
    for row in rows:
        other = by_key.get(row["point_key"])
        a, b = column_value(row, column), column_value(other, column) if other else None
        if a is None or b is None:
            continue
        counted += 1
        diff = abs(a - b) / abs(b) if b else (0.0 if a == b else float("inf"))
        worst = max(worst, diff)
        if diff > tolerance:
            bad.append("{} {}: reused {:.1f} vs fresh {:.1f}".format(row["point_key"], column, a, b))
        else:
            good += 1
    return good, bad, worst, counted


def knees(rows):
    """{model: knee batch (rounded to 0.1), or the fit's status when it found none} on ``peak_rss_mb``."""
    from edgebench.analysis.fits import fit_knee

    out = OrderedDict()
    for model in sorted(set(r["model"] for r in rows)):
        pts = sorted((r["batch_size"], r["peak_rss_mb"]) for r in rows
                     if r["model"] == model and r["status"] == "ok" and r.get("peak_rss_mb") is not None)
        fit = fit_knee([b for b, _ in pts], [m for _, m in pts])
        out[model] = round(fit["knee"], 1) if fit["status"] == "ok" else fit["status"]
    return out


KNEE_FLOOR_BATCHES = 0.5  # knees closer than half a batch are one knee (1.0 and 1.2: both rise from batch 1)


def same_knees(a, b, tolerance=TOLERANCE):
    """The same knee per model: both without one (flat, too few points), or knee batches within ``tolerance``
    of each other (or within half a batch)."""
    if set(a) != set(b):
        return False
    for model in a:
        x, y = a[model], b[model]
        if isinstance(x, str) or isinstance(y, str):
            if x != y:
                return False
        elif abs(x - y) > max(tolerance * max(x, y), KNEE_FLOOR_BATCHES):
            return False
    return True


def _median(values):
    s = sorted(values)
    n = len(s)
    return (s[n // 2] + s[(n - 1) // 2]) / 2.0 if n else None


def latency_ratios(rows, fresh):
    by_key = dict((r["point_key"], r) for r in fresh)
    return [r["latency_median_ms"] / by_key[r["point_key"]]["latency_median_ms"] for r in rows
            if r.get("latency_median_ms") and (by_key.get(r["point_key"]) or {}).get("latency_median_ms")]


def compare(reused, fresh, columns=MEMORY_COLUMNS, tolerance=TOLERANCE):
    """The comparison as a JSON-ready dict; ``agrees`` is False when a judged column or the knees differ."""
    ok_reused = [r for r in reused if r.get("status") == "ok"]
    ok_fresh = [r for r in fresh if r.get("status") == "ok"]
    smallest = min([r["batch_size"] for r in ok_reused] or [0])
    control_rows = [r for r in ok_reused if r["batch_size"] == smallest]
    doc = OrderedDict([("tolerance", tolerance), ("columns", OrderedDict())])
    agrees = True
    for column in columns:
        good, bad, worst, counted = agreement(ok_reused, ok_fresh, column, tolerance)
        if not counted:
            continue  # no figure in either sweep (nvmap off a Jetson)
        _, control_bad, control_worst, _ = agreement(control_rows, ok_fresh, column, tolerance)
        judged = not control_bad
        doc["columns"][column] = OrderedDict([
            ("within", good), ("points", counted), ("worst", worst), ("control_worst", control_worst),
            ("judged", judged), ("differing", bad)])
        agrees = agrees and (not judged or not bad)
    ratios, control = latency_ratios(ok_reused, ok_fresh), latency_ratios(control_rows, ok_fresh)
    doc["latency_ratio"] = OrderedDict([
        ("median", _median(ratios)), ("min", min(ratios) if ratios else None), ("max", max(ratios) if ratios else None),
        ("control_min", min(control) if control else None), ("control_max", max(control) if control else None)])
    knee_reused, knee_fresh = knees(ok_reused), knees(ok_fresh)
    doc["knees"] = OrderedDict([("reused", knee_reused), ("fresh", knee_fresh),
                                ("same", same_knees(knee_reused, knee_fresh, tolerance))])
    doc["agrees"] = agrees and doc["knees"]["same"]
    return doc
