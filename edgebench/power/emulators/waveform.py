"""The known power waveform every emulator serves."""
import numpy as np


class Waveform(object):
    """Square wave: ``watts x (1 +- ripple)`` at ``freq_hz`` (50% duty), mean exactly ``watts``.

    ``ripple=0`` or ``freq_hz=0`` gives a constant ``watts``.
    """

    def __init__(self, watts=5.0, ripple=0.3, freq_hz=10.0):
        if watts < 0 or not 0 <= ripple < 1 or freq_hz < 0:
            raise ValueError("need watts >= 0, 0 <= ripple < 1 and freq_hz >= 0")
        self.watts = float(watts)
        self.ripple = float(ripple)
        self.freq_hz = float(freq_hz)

    def power_w(self, t_s):
        t = np.asarray(t_s, dtype=float)
        if not self.ripple or not self.freq_hz:
            return np.full(t.shape, self.watts)
        high = np.floor(2.0 * self.freq_hz * t) % 2 == 0
        return self.watts * np.where(high, 1.0 + self.ripple, 1.0 - self.ripple)

    def mean_w(self, t0_s, t1_s, points=2000):
        """Mean power over ``[t0_s, t1_s]`` (what an integrating meter reports)."""
        if t1_s <= t0_s:
            return float(self.power_w(np.array([t0_s]))[0])
        grid = np.linspace(t0_s, t1_s, points, endpoint=False) + (t1_s - t0_s) / (2.0 * points)
        return float(np.mean(self.power_w(grid)))


class FunctionWaveform(Waveform):
    """Power given by ``fn(t)`` of host ``time.perf_counter()`` seconds (vectorised over arrays).

    The emulator sets ``origin_s`` (its start on the host clock) when it opens, so device times
    (seconds since the emulator started) map onto ``fn``'s clock. Lets a test drive a probe with the
    same power another source sees, e.g. through a known gain and offset.
    """

    def __init__(self, fn, watts=0.0):
        Waveform.__init__(self, watts, 0.0, 0.0)
        self.fn = fn
        self.origin_s = 0.0

    def power_w(self, t_s):
        t = np.asarray(t_s, dtype=float) + self.origin_s
        return np.asarray(self.fn(t), dtype=float) * np.ones(t.shape)
