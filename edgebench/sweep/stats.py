"""Statistics of one timed loop, computed from the float32 samples that are stored with the point.

The statistics live with the samples' format in :mod:`edgebench.results.samples`, so the sweep and
anyone reading a store compute them the same way.
"""
from edgebench.results.samples import UNSTABLE_CV, stats_from_samples, to_float32_ms

__all__ = ("UNSTABLE_CV", "latency_stats", "samples_ms", "stats_from_samples")

samples_ms = to_float32_ms


def latency_stats(durations_s, batch_size, wall_s, unstable_cv=UNSTABLE_CV):
    """Figures of a timed loop from per-iteration durations (seconds) and its wall time."""
    return stats_from_samples(to_float32_ms(durations_s), batch_size, wall_s, unstable_cv)
