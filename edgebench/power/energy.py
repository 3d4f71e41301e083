"""Energy integration, window statistics, the idle baseline and the per-point power summary.

* **Energy** of a window ``[start, end]``: the trapezoid rule over ``instantaneous`` samples
  (linear interpolation clipped to the window edges; a failed reading is skipped) and rectangles
  over ``integrating`` samples (sample ``k`` is the mean over ``(t[k-1], t[k]]``, weighted by its
  overlap with the window; a failed reading leaves its interval uncovered).
  An interval longer than ``gap_factor`` x the median spacing is a gap: it is not bridged, the
  mean power is taken over the covered time only, and the coverage is reported and flagged.
* **Uncertainty**: the 95% interval of the mean uses batch means (the window is cut into up to 16
  equal batches; batches are merged while neighbouring batch means are correlated, lag-1 > 0.3), so
  autocorrelated samples do not fake precision. Net power combines gross and idle intervals in
  quadrature.
"""
import logging
import math
from collections import OrderedDict

import numpy as np

from edgebench.power.source import INSTANTANEOUS, INTEGRATING, SIMULATED_LABEL

logger = logging.getLogger(__name__)

GAP_FACTOR = 5.0
MIN_SAMPLES = 8
MAX_BATCHES = 16
MIN_COVERAGE = 0.9
BAD_FRACTION_LIMIT = 0.2
MAX_BATCH_CORRELATION = 0.3
# two-sided 95% Student t quantiles for 1..15 degrees of freedom
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131)

SUMMARY_KEYS = (
    "power_source", "simulated", "power_rate_hz", "power_samples", "gross_power_w", "idle_power_w",
    "net_power_w", "net_power_ci_w", "energy_per_image_j", "net_energy_per_image_j", "bandwidth_hz",
    "nyquist_ok", "power_flags",
)


def t_quantile_975(dof):
    if dof < 1:
        return float("nan")
    return _T975[dof - 1] if dof <= len(_T975) else 1.96 + 2.4 / dof


def gap_threshold_s(t_s, factor=GAP_FACTOR):
    """Spacing above which two samples are not joined (``factor`` x median spacing)."""
    if len(t_s) < 2:
        return float("inf")
    return factor * float(np.median(np.diff(t_s)))


def integrate(t_s, power_w, start_s, end_s, sampling=INSTANTANEOUS, gap_s=None):
    """``(energy_j, covered_s)`` over ``[start_s, end_s]``; gaps and NaN readings are not bridged."""
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(power_w, dtype=float)
    if t.size < 2 or end_s <= start_s:
        return 0.0, 0.0
    if gap_s is None:
        gap_s = gap_threshold_s(t)
    if sampling != INTEGRATING:
        # a failed point reading is skipped; its neighbours are joined unless that spans a gap
        finite = np.isfinite(p)
        if not finite.all():
            t, p = t[finite], p[finite]
            if t.size < 2:
                return 0.0, 0.0
    t0, t1 = t[:-1], t[1:]
    dt = t1 - t0
    lo = np.maximum(t0, start_s)
    hi = np.minimum(t1, end_s)
    if sampling == INTEGRATING:
        ok = (dt <= gap_s) & np.isfinite(p[1:]) & (hi > lo)
        width = (hi - lo)[ok]
        return float(np.sum(p[1:][ok] * width)), float(np.sum(width))
    ok = (dt <= gap_s) & np.isfinite(p[:-1]) & np.isfinite(p[1:]) & (hi > lo) & (dt > 0)
    if not ok.any():
        return 0.0, 0.0
    a, b, d = t0[ok], lo[ok], dt[ok]
    pa, pb = p[:-1][ok], p[1:][ok]
    slope = (pb - pa) / d
    v_lo = pa + slope * (b - a)
    v_hi = pa + slope * (hi[ok] - a)
    width = hi[ok] - b
    return float(np.sum(0.5 * (v_lo + v_hi) * width)), float(np.sum(width))


def batch_means_ci(t_s, power_w, start_s, end_s, sampling, gap_s, samples):
    """Half-width of the 95% interval of the window mean by batch means, or None if too few data."""
    k = min(MAX_BATCHES, samples // 4)
    while k >= 2:
        edges = np.linspace(start_s, end_s, k + 1)
        means = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            energy, covered = integrate(t_s, power_w, lo, hi, sampling, gap_s)
            if covered > 0:
                means.append(energy / covered)
        means = np.array(means)
        if means.size < 2:
            return None
        if means.size >= 4 and k >= 4:
            centred = means - means.mean()
            denom = float(np.sum(centred ** 2))
            rho = float(np.sum(centred[1:] * centred[:-1]) / denom) if denom > 0 else 0.0
            if rho > MAX_BATCH_CORRELATION:
                k //= 2
                continue
        sd = float(np.std(means, ddof=1))
        return t_quantile_975(means.size - 1) * sd / math.sqrt(means.size)
    return None


def window_stats(t_s, power_w, start_s, end_s, sampling=INSTANTANEOUS, gap_factor=GAP_FACTOR):
    """Energy, mean, CI, sample count and coverage of one window (a plain dict)."""
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(power_w, dtype=float)
    duration = float(end_s - start_s)
    inside = (t >= start_s) & (t <= end_s)
    samples = int(np.sum(inside & np.isfinite(p)))
    failed = int(np.sum(inside & ~np.isfinite(p)))
    gap_s = gap_threshold_s(t, gap_factor)
    energy, covered = integrate(t, p, start_s, end_s, sampling, gap_s)
    mean = energy / covered if covered > 0 else float("nan")
    values = p[inside & np.isfinite(p)]
    ci = batch_means_ci(t, p, start_s, end_s, sampling, gap_s, samples) if samples >= MIN_SAMPLES else None
    return {
        "duration_s": duration,
        "samples": samples,
        "failed": failed,
        "covered_s": covered,
        "coverage": covered / duration if duration > 0 else 0.0,
        "mean_w": mean,
        "ci_w": ci,
        "energy_j": mean * duration if covered > 0 else float("nan"),
        "min_w": float(values.min()) if values.size else float("nan"),
        "max_w": float(values.max()) if values.size else float("nan"),
        "std_w": float(values.std()) if values.size else float("nan"),
        "rate_hz": samples / duration if duration > 0 else float("nan"),
        "gap_s": gap_s,
    }


class IdleBaseline(object):
    """Idle power measured with nothing running: ``mean_w`` +- ``ci_w`` (95%)."""

    def __init__(self, mean_w, ci_w, samples, duration_s, source="", simulated=False, flags=()):
        self.mean_w = mean_w
        self.ci_w = ci_w
        self.samples = samples
        self.duration_s = duration_s
        self.source = source
        self.simulated = simulated
        self.flags = list(flags)

    @property
    def ok(self):
        return self.mean_w is not None and math.isfinite(self.mean_w)

    def as_dict(self):
        return OrderedDict([
            ("idle_power_w", self.mean_w), ("idle_power_ci_w", self.ci_w), ("samples", self.samples),
            ("duration_s", self.duration_s), ("power_source", self.source), ("simulated", int(self.simulated)),
            ("flags", "; ".join(self.flags) or None),
        ])

    def __repr__(self):
        return "IdleBaseline(mean_w={!r}, ci_w={!r}, samples={})".format(self.mean_w, self.ci_w, self.samples)


def idle_from_window(data):
    """An :class:`IdleBaseline` from a sampler window in which nothing ran."""
    if not data.has_data:
        return IdleBaseline(None, None, 0, data.end_s - data.start_s, data.label, False, ["no power data"])
    stats = window_stats(data.t_s, data.power_w, data.start_s, data.end_s, data.sampling)
    flags = window_flags(data, stats)
    mean = stats["mean_w"] if math.isfinite(stats["mean_w"]) else None
    return IdleBaseline(mean, stats["ci_w"], stats["samples"], stats["duration_s"], data.label, data.simulated, flags)


def window_flags(data, stats):
    """Problems of one window, as short texts."""
    flags = []
    if data.simulated:
        flags.append(SIMULATED_LABEL)
    if stats["samples"] < MIN_SAMPLES:
        flags.append("only {} sample{} in the window (at least {} needed for an interval)".format(
            stats["samples"], "" if stats["samples"] == 1 else "s", MIN_SAMPLES))
    if stats["samples"] and stats["coverage"] < MIN_COVERAGE:
        flags.append("samples cover {:.0%} of the window (gaps not bridged)".format(stats["coverage"]))
    if stats["failed"]:
        flags.append("{} failed reading{}".format(stats["failed"], "" if stats["failed"] == 1 else "s"))
    total_lines = data.bad + stats["samples"]
    if data.bad and total_lines and data.bad / float(total_lines) > BAD_FRACTION_LIMIT:
        flags.append("{:.0%} of the probe's input in the window was unparseable ({} bad)".format(
            data.bad / float(total_lines), data.bad))
    elif data.bad:
        flags.append("{} unparseable input{} skipped".format(data.bad, "" if data.bad == 1 else "s"))
    if data.lost:
        flags.append("{} sample{} lost by the device (counter gaps)".format(data.lost, "" if data.lost == 1 else "s"))
    for event in data.events:
        flags.append(event)
    return flags


def summarize_window(data, images, idle=None, threshold=0.99):
    """The power columns of one measurement row, exactly :data:`SUMMARY_KEYS`.

    ``data`` is a :class:`edgebench.power.sampler.WindowData` (from ``Sampler.window``), ``images``
    the images processed in the window, ``idle`` an :class:`IdleBaseline` (or watts, or None).
    """
    from edgebench.power import nyquist

    row = OrderedDict((key, None) for key in SUMMARY_KEYS)
    row["power_source"] = data.label
    row["simulated"] = 1 if data.simulated else 0
    if not data.has_data:
        row["power_flags"] = "no power data ({})".format(data.label)
        return row
    stats = window_stats(data.t_s, data.power_w, data.start_s, data.end_s, data.sampling)
    flags = window_flags(data, stats)
    row["power_rate_hz"] = stats["rate_hz"]
    row["power_samples"] = stats["samples"]
    gross = stats["mean_w"] if math.isfinite(stats["mean_w"]) else None
    row["gross_power_w"] = gross
    duration = stats["duration_s"]
    if images is None or images <= 0:
        flags.append("no image count: energy per image not computed")
        images = None
    if gross is not None and images:
        row["energy_per_image_j"] = gross * duration / images
    if isinstance(idle, (int, float)):
        idle = IdleBaseline(float(idle), None, 0, 0.0)
    if idle is None or not idle.ok:
        flags.append("no idle baseline: net power not computed")
    else:
        row["idle_power_w"] = idle.mean_w
        if gross is not None:
            net = gross - idle.mean_w
            row["net_power_w"] = net
            if stats["ci_w"] is not None and idle.ci_w is not None:
                ci = math.sqrt(stats["ci_w"] ** 2 + idle.ci_w ** 2)
                row["net_power_ci_w"] = ci
                if abs(net) <= ci:
                    flags.append("net power {:.3g} W is inside its own uncertainty (+-{:.2g} W)".format(net, ci))
            else:
                flags.append("no interval for net power (too few samples in the window or the idle baseline)")
            if images:
                row["net_energy_per_image_j"] = net * duration / images
    inside = (data.t_s >= data.start_s) & (data.t_s <= data.end_s)
    spectrum = nyquist.analyze(data.t_s[inside], data.power_w[inside], data.sampling, threshold=threshold)
    row["bandwidth_hz"] = spectrum["bandwidth_hz"]
    row["nyquist_ok"] = spectrum["nyquist_ok"]
    if spectrum["verdict"] != nyquist.ADEQUATE:
        flags.append(spectrum["detail"])
    row["power_flags"] = "; ".join(flags) or None
    return row
