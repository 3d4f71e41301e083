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


BUSY_SHARE = 0.10  # other processes' CPU share from which they are named as the likely cause
MIN_STEADY_ITERATIONS = 30  # fewer timed calls than this make a CV above the threshold likely by chance


def stability_note(cv, threshold, other_load, iterations):
    """Why a point is unstable and what to do, in one line; None for a stable point.

    Causes, most likely first: other processes' CPU load measured during the timed loop (the worker
    reads /proc/stat around it), too few timed iterations, else clock scaling or throttling.
    """
    if cv is None or cv <= threshold:
        return None
    head = "unstable: CV {:.1%} > {:.0%}".format(cv, threshold)
    if other_load is not None and other_load >= BUSY_SHARE:
        return ("{}: other processes used {:.0%} of the CPU during the point; stop other work and re-run "
                "(absolute CPU times move with load)".format(head, other_load))
    if iterations is not None and iterations < MIN_STEADY_ITERATIONS:
        return ("{}: only {} timed iterations; raise --duration (or --iterations) so the median rests on "
                "more calls".format(head, iterations))
    load = "other load {:.0%}".format(other_load) if other_load is not None else "other load not measured"
    return ("{} with {}: likely clock scaling or throttling; --lock-clocks (on a Jetson) or a longer "
            "--duration".format(head, load))
