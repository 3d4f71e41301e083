"""``edgebench show RESULTS POINT``: one point's raw latencies - distribution, timeline, warm-up drift.

Reads the ``latencies`` side table of a results.db (schema 3) read-only, recomputes the statistics
from the stored float32 samples and says whether they reproduce the stored ones exactly.
"""
import os
import sqlite3
from collections import OrderedDict

from edgebench.errors import UsageError
from edgebench.results import samples as samples_format

SPARK = "▁▂▃▄▅▆▇█"
COMPARED = ("latency_min_ms", "latency_median_ms", "latency_mean_ms", "latency_max_ms", "latency_p90_ms",
            "latency_p95_ms", "latency_p99_ms", "latency_std_ms", "latency_cv")


def _open(path):
    if os.path.isdir(path):
        path = os.path.join(path, "results.db")
    if not os.path.isfile(path):
        raise UsageError("no results.db at {}: raw samples live in the SQLite store a sweep writes "
                         "(pass it, or the sweep's --out directory)".format(path))
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise UsageError("{} is not a results.db: raw samples are kept only in the SQLite store a sweep "
                             "writes (CSV and JSON exports carry the statistics only)".format(path))
    from urllib.request import pathname2url

    conn = sqlite3.connect("file:{}?mode=ro".format(pathname2url(os.path.abspath(path))), uri=True)
    conn.row_factory = sqlite3.Row
    return path, conn


def _find(conn, path, point):
    """The measurement row POINT names: its id, its point key, or a unique part of the key (latest run)."""
    rows = [dict(r) for r in conn.execute("SELECT * FROM measurements ORDER BY id")]
    if point.isdigit():
        hits = [r for r in rows if r["id"] == int(point)]
    else:
        hits = [r for r in rows if r["point_key"] == point]
        if not hits:
            hits = [r for r in rows if point in r["point_key"]]
            keys = sorted(set(r["point_key"] for r in hits))
            if len(keys) > 1:
                raise UsageError("{!r} matches {} points in {} ({}{}): give the whole point key".format(
                    point, len(keys), path, ", ".join(keys[:6]), ", ..." if len(keys) > 6 else ""))
    if not hits:
        some = sorted(set(r["point_key"] for r in rows))[:6]
        raise UsageError("no point {!r} in {}; points look like {}".format(
            point, path, ", ".join(some) if some else "(the store holds no points)"))
    return hits[-1], len(hits)


def histogram(values, bins=12, upper=None):
    """(low_ms, high_ms, count, above_upper) per bin, equal widths from min to ``upper`` (default max).

    Values above ``upper`` (the p99, so that a few stalls do not squash the body into one bin) are
    counted in a last bin from ``upper`` to the max.
    """
    lo, top = min(values), max(values)
    hi = top if upper is None or upper >= top or upper <= lo else upper
    if hi <= lo:
        return [(lo, hi, len(values), False)]
    step = (hi - lo) / bins
    counts = [0] * bins
    above = 0
    for v in values:
        if v > hi:
            above += 1
        else:
            counts[min(bins - 1, int((v - lo) / step))] += 1
    out = [(lo + i * step, lo + (i + 1) * step, c, False) for i, c in enumerate(counts)]
    if above:
        out.append((hi, top, above, True))
    return out


def slice_medians(values, width=60):
    """Medians of ``width`` slices of consecutive iterations (fewer when there are fewer values)."""
    n = len(values)
    slices = [values[i * n // width:(i + 1) * n // width] for i in range(min(width, n))]
    return [sorted(s)[len(s) // 2] for s in slices if s]


def timeline(meds):
    """One block character per slice median, lowest to highest."""
    if not meds:
        return ""
    lo, hi = min(meds), max(meds)
    if hi <= lo:
        return SPARK[0] * len(meds)
    return "".join(SPARK[min(len(SPARK) - 1, int((m - lo) / (hi - lo) * len(SPARK)))] for m in meds)


def _median(values):
    s = sorted(values)
    n = len(s)
    return (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0) if n else None


def show_point(path, point):
    """The ``show`` document of one point (JSON-able)."""
    path, conn = _open(path)
    try:
        tables = set(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        if "measurements" not in tables:
            raise UsageError("{} has no measurements table: pass the results.db a sweep wrote".format(path))
        row, matches = _find(conn, path, point)
        stored = None
        if "latencies" in tables:
            stored = conn.execute("SELECT * FROM latencies WHERE measurement_id = ?", (row["id"],)).fetchone()
    finally:
        conn.close()
    doc = OrderedDict([("point_key", row["point_key"]), ("measurement_id", row["id"]), ("run_id", row["run_id"]),
                       ("status", row["status"]), ("batch_size", row["batch_size"])])
    if matches > 1:
        doc["note"] = "measured {} times; showing the latest (id {})".format(matches, row["id"])
    if stored is None:
        why = ("this store predates raw samples (results schema 3): re-run the sweep to keep them"
               if "latencies" not in tables else
               "the point has no raw samples (status {}; only ok points are timed)".format(row["status"]))
        raise UsageError("{}: {}".format(row["point_key"], why))
    timed = samples_format.decode(stored["samples"], stored["encoding"])
    warm = (samples_format.decode(stored["warmup_samples"], stored["encoding"])
            if stored["warmup_samples"] is not None else [])
    again = samples_format.stats_from_samples(timed, row["batch_size"], row["duration_s"] or 0.0)
    doc["iterations"] = len(timed)
    doc["stored"] = OrderedDict((k, row.get(k)) for k in COMPARED)
    doc["recomputed"] = OrderedDict((k, again[k]) for k in COMPARED)
    doc["reproduced"] = all(row.get(k) == again[k] for k in ("latency_median_ms", "latency_p99_ms"))
    half = len(timed) // 2
    doc["drift"] = OrderedDict([
        ("warmup_median_ms", _median(warm)),
        ("first_half_median_ms", _median(timed[:half]) if half else None),
        ("second_half_median_ms", _median(timed[half:]) if half else None),
    ])
    doc["histogram"] = [OrderedDict([("low_ms", lo), ("high_ms", hi), ("count", c), ("above_p99", above)])
                        for lo, hi, c, above in histogram(timed, upper=again["latency_p99_ms"])]
    doc["timeline_medians_ms"] = slice_medians(timed)
    doc["warmup_latencies_ms"] = warm
    doc["latencies_ms"] = timed
    return doc


def _ms(value):
    return "-" if value is None else "{:.4g}".format(value)


def render(doc):
    lines = ["{}  (measurement {}, run {}, {} timed iterations)".format(
        doc["point_key"], doc["measurement_id"], doc["run_id"], doc["iterations"])]
    if doc.get("note"):
        lines.append(doc["note"])
    s, r = doc["stored"], doc["recomputed"]
    lines.append("median {} ms, p99 {} ms, min {} ms, max {} ms, CV {:.1%}".format(
        _ms(s["latency_median_ms"]), _ms(s["latency_p99_ms"]), _ms(s["latency_min_ms"]),
        _ms(s["latency_max_ms"]), s["latency_cv"] or 0.0))
    lines.append("recomputed from the stored samples: {}".format(
        "median and p99 reproduced exactly" if doc["reproduced"] else
        "differ: median {} ms, p99 {} ms".format(_ms(r["latency_median_ms"]), _ms(r["latency_p99_ms"]))))
    lines.append("")
    lines.append("distribution (ms per call)")
    bins = doc["histogram"]
    top = max(b["count"] for b in bins) or 1
    for b in bins:
        if b["above_p99"]:
            lines.append("  above the p99:")
        bar = "#" * int(round(40.0 * b["count"] / top))
        lines.append("  {:>9} - {:<9} {:>6}  {}".format(_ms(b["low_ms"]), _ms(b["high_ms"]), b["count"], bar))
    lines.append("")
    meds = doc["timeline_medians_ms"]
    lines.append("timeline, first to last call: median of each of {} slices, {} to {} ms".format(
        len(meds), _ms(min(meds)), _ms(max(meds))))
    lines.append("  " + timeline(meds))
    d = doc["drift"]
    lines.append("warm-up median {} ms ({} calls); timed loop median first half {} ms, second half {} ms".format(
        _ms(d["warmup_median_ms"]), len(doc["warmup_latencies_ms"]), _ms(d["first_half_median_ms"]),
        _ms(d["second_half_median_ms"])))
    return "\n".join(lines) + "\n"
