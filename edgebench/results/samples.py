"""Raw per-iteration latencies of a point: how they are stored and what they reproduce.

Every ok point keeps its timed iterations in the ``latencies`` side table (``schema.LATENCY_COLUMNS``)
as one blob: little-endian IEEE 754 float32 milliseconds, in timing order (4 bytes an iteration;
float32 resolves 100 ms to 8 ns, far below the clock's jitter). The worker computes the stored
statistics from exactly these float32 values (:func:`stats_from_samples`), so reading them back
reproduces the stored median and percentiles to the last bit, and a reader can recompute any other
percentile, look at the timeline for a warm-up drift, or redo the stability verdict - as pyperf keeps
every value. Encoding uses the standard library only (``array``); the statistics import numpy.
"""
import sys
from array import array

ENCODING = "float32le"
UNSTABLE_CV = 0.05  # coefficient of variation above which a point is shown as unstable


def encode(latencies_ms):
    """Blob of float32 little-endian values."""
    values = array("f", [float(v) for v in latencies_ms])
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


def decode(blob, encoding=ENCODING):
    """The float values of a blob written by :func:`encode`."""
    if encoding != ENCODING:
        raise ValueError("unknown latency encoding {!r} (this edgebench reads {})".format(encoding, ENCODING))
    values = array("f")
    values.frombytes(bytes(blob))
    if sys.byteorder != "little":
        values.byteswap()
    return list(values)


def to_float32_ms(durations_s):
    """Per-iteration durations (seconds) as the float32 milliseconds that are stored, as floats."""
    import numpy as np

    ms = (np.asarray(durations_s, dtype=np.float64) * 1e3).astype(np.float32)
    return [float(v) for v in ms]


def stats_from_samples(latencies_ms, batch_size, wall_s, unstable_cv=UNSTABLE_CV):
    """Figures of a timed loop from its samples (ms, float32 values) and its wall time.

    Percentiles use linear interpolation between closest ranks (numpy's default); the coefficient
    of variation is the population standard deviation over the mean (trtexec's convention).
    """
    import numpy as np

    ms = np.asarray(latencies_ms, dtype=np.float32).astype(np.float64)
    n = int(ms.size)
    if n == 0:
        raise ValueError("no timed iterations")
    mean = float(ms.mean())
    std = float(ms.std())
    median = float(np.median(ms))
    p90, p95, p99 = (float(v) for v in np.percentile(ms, [90, 95, 99]))
    cv = std / mean if mean > 0 else 0.0
    return {
        "iterations": n,
        "duration_s": float(wall_s),
        "latency_min_ms": float(ms.min()),
        "latency_median_ms": median,
        "latency_mean_ms": mean,
        "latency_max_ms": float(ms.max()),
        "latency_p90_ms": p90,
        "latency_p95_ms": p95,
        "latency_p99_ms": p99,
        "latency_std_ms": std,
        "latency_cv": cv,
        "stable": 1 if cv <= unstable_cv else 0,
        "per_image_ms": median / batch_size,
        "images_per_s": batch_size * n / wall_s if wall_s > 0 else None,
    }
