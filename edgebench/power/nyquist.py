"""Is the power signal sampled fast enough? Spectrum, bandwidth and a verdict.

For a window (or a trace): the mean-removed signal's Welch spectrum (``scipy.signal.welch``, Hann
window, uneven host timestamps first interpolated onto a uniform grid at the median rate), the
**bandwidth** = the frequency below which ``threshold`` (default 99%) of the AC power lies, and the
**required rate** = 2 x bandwidth. Verdicts:

* ``adequate`` - the bandwidth is well below the sampling Nyquist frequency (or the signal is flat:
  AC RMS under 0.5% of the mean, so aliasing cannot move the energy noticeably);
* ``aliasing risk`` - the bandwidth reaches ``near_fraction`` (80%) of the Nyquist frequency: the
  spectrum is probably folded. For point (``instantaneous``) samples aliasing can bias energy;
  for ``integrating`` samples energy stays unbiased but the waveform is not resolved;
* ``not enough samples`` - fewer than 16 samples.

:func:`burst_check` records a short burst at a source's fastest rate and returns the bandwidth and,
when the source cannot keep up, a warning with the remedy.
"""
import logging
import math
import time

import numpy as np

from edgebench.power.source import INTEGRATING

logger = logging.getLogger(__name__)

ADEQUATE = "adequate"
ALIASING_RISK = "aliasing risk"
NOT_ENOUGH = "not enough samples"
MIN_SAMPLES = 16
NEAR_FRACTION = 0.8
FLAT_FRACTION = 0.005
JITTER_TOLERANCE = 0.01


def uniform_signal(t_s, power_w):
    """``(values, fs_hz)`` on a uniform grid at the median rate (NaN readings dropped first)."""
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(power_w, dtype=float)
    ok = np.isfinite(p) & np.isfinite(t)
    t, p = t[ok], p[ok]
    if t.size < 2:
        return p, float("nan")
    dt = np.diff(t)
    step = float(np.median(dt))
    if step <= 0:
        return p, float("nan")
    fs = 1.0 / step
    if np.max(np.abs(dt - step)) <= JITTER_TOLERANCE * step:
        return p, fs
    count = int(math.floor((t[-1] - t[0]) / step)) + 1
    grid = t[0] + step * np.arange(count)
    return np.interp(grid, t, p), fs


def _nperseg(n):
    """Segment length: a power of two near n/4 (7 half-overlapping segments), 16..16384."""
    target = max(16, n // 4)
    size = 1 << int(math.floor(math.log(target, 2)))
    return int(min(max(size, 16), 16384, n))


def spectrum(values, fs_hz):
    """Welch power spectral density of the mean-removed signal: ``(f_hz, psd)``."""
    from scipy.signal import welch

    x = np.asarray(values, dtype=float)
    return welch(x - x.mean(), fs=fs_hz, window="hann", nperseg=_nperseg(x.size), detrend="constant")


def occupied_bandwidth_hz(f_hz, psd, threshold=0.99):
    """Frequency below which ``threshold`` of the AC power lies (DC bin excluded); 0 for a flat signal."""
    f_ac, p_ac = f_hz[1:], psd[1:]
    total = float(np.sum(p_ac))
    if not p_ac.size or total <= 0 or not math.isfinite(total):
        return 0.0
    cumulative = np.cumsum(p_ac) / total
    index = int(np.searchsorted(cumulative, threshold))
    return float(f_ac[min(index, f_ac.size - 1)])


def analyze(t_s, power_w, sampling="instantaneous", threshold=0.99, near_fraction=NEAR_FRACTION,
            flat_fraction=FLAT_FRACTION):
    """Sample rate, bandwidth, required rate and verdict for one signal (a plain dict)."""
    if not 0 < threshold < 1:
        raise ValueError("threshold must be between 0 and 1 (e.g. 0.99)")
    values, fs = uniform_signal(t_s, power_w)
    result = {
        "samples": int(np.sum(np.isfinite(np.asarray(power_w, dtype=float)))),
        "sample_rate_hz": fs if math.isfinite(fs) else None,
        "bandwidth_hz": None,
        "nyquist_rate_hz": None,
        "threshold": threshold,
        "sampling": sampling,
        "aliasing_risk": None,
        "nyquist_ok": None,
        "verdict": NOT_ENOUGH,
        "detail": "not enough samples for a spectrum (need {})".format(MIN_SAMPLES),
    }
    if values.size < MIN_SAMPLES or not math.isfinite(fs):
        return result
    f_hz, psd = spectrum(values, fs)
    bandwidth = occupied_bandwidth_hz(f_hz, psd, threshold)
    nyquist_hz = fs / 2.0
    result["bandwidth_hz"] = bandwidth
    result["nyquist_rate_hz"] = 2.0 * bandwidth
    mean = float(np.mean(values))
    ac_rms = float(np.std(values))
    flat = ac_rms <= flat_fraction * abs(mean) if mean else ac_rms == 0
    risk = bandwidth >= near_fraction * nyquist_hz and not flat
    result["aliasing_risk"] = bool(risk)
    result["nyquist_ok"] = 0 if risk else 1
    if not risk:
        result["verdict"] = ADEQUATE
        result["detail"] = (
            "adequate: signal flat (AC RMS {:.2g} W)".format(ac_rms) if flat and bandwidth >= near_fraction * nyquist_hz
            else "adequate: {:.0f}% bandwidth {:.3g} Hz, sampled at {:.3g} Hz".format(threshold * 100, bandwidth, fs)
        )
    elif sampling == INTEGRATING:
        result["verdict"] = ALIASING_RISK
        result["detail"] = (
            "aliasing risk: bandwidth {:.3g} Hz reaches the Nyquist frequency {:.3g} Hz; the source integrates, so "
            "energy is unbiased but the waveform is not resolved".format(bandwidth, nyquist_hz)
        )
    else:
        result["verdict"] = ALIASING_RISK
        result["detail"] = (
            "aliasing risk: bandwidth {:.3g} Hz reaches the Nyquist frequency {:.3g} Hz; point samples can bias "
            "energy".format(bandwidth, nyquist_hz)
        )
    return result


def remedy(source):
    """What to do when ``source`` cannot keep up with the load's bandwidth."""
    if source.scheme == "ina3221":
        return ("raise INA3221 averaging (write a larger value to samples in the hwmon directory) so each reading "
                "integrates its interval, or measure with an external probe (serial://PORT?protocol=ppk2 or "
                "powersensor3)")
    if source.sampling == INTEGRATING:
        return "energy is still unbiased; for the waveform use a faster probe (serial://PORT?protocol=powersensor3)"
    return ("use a faster source (serial://PORT?protocol=ppk2 at 100 kSa/s or powersensor3 at 20 kSa/s) or an "
            "averaging meter (protocol=scpi&dialect=wt310)")


def burst_check(source, seconds=1.0, threshold=0.99):
    """Sample ``source`` at its fastest rate for ``seconds``; bandwidth, verdict and a warning or None."""
    from edgebench.power.sampler import Sampler

    sampler = Sampler(source, buffer_s=max(seconds * 2, 5.0))
    with sampler:
        start = time.perf_counter()
        time.sleep(seconds)
        end = time.perf_counter()
        data = sampler.window(start, end, wait_s=1.0)
    inside = (data.t_s >= start) & (data.t_s <= end)
    result = analyze(data.t_s[inside], data.power_w[inside], source.sampling, threshold=threshold)
    result["source"] = source.label
    result["warning"] = None
    if result["verdict"] == ALIASING_RISK:
        result["warning"] = "{} at {:.3g} Hz cannot keep up ({}): {}".format(
            source.label, result["sample_rate_hz"] or 0.0, result["detail"], remedy(source))
    elif result["verdict"] == NOT_ENOUGH:
        result["warning"] = "{}: {} in {:g} s; {}".format(source.label, result["detail"], seconds, remedy(source))
    return result
