"""Statistics of one timed loop (pure functions, numpy only)."""
import numpy as np

UNSTABLE_CV = 0.05  # coefficient of variation above which a point is shown as unstable


def latency_stats(durations_s, batch_size, wall_s):
    """Figures of a timed loop from per-iteration durations (seconds) and its wall time.

    Percentiles use linear interpolation between closest ranks (numpy's default); the coefficient
    of variation is the population standard deviation over the mean (trtexec's convention).
    """
    ms = np.asarray(durations_s, dtype=np.float64) * 1e3
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
        "stable": 1 if cv <= UNSTABLE_CV else 0,
        "per_image_ms": median / batch_size,
        "images_per_s": batch_size * n / wall_s if wall_s > 0 else None,
    }
