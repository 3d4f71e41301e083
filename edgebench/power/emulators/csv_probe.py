"""A CSV power probe (an Arduino with an INA sensor printing ``t_ms,voltage_v,current_ma``)."""
import numpy as np

from edgebench.power.emulators.base import PtyEmulator

BANNER = b"edgebench CSV probe emulator v1\r\nINA226 ready\r\n"


class CsvProbeEmulator(PtyEmulator):
    """Prints a banner, a header, then one line per sample at ``rate_hz`` (device ``millis`` time).

    ``voltage_v`` is the bus voltage; current follows the waveform. ``bad_every=N`` replaces every
    Nth line with garbage (alternately a torn line, a comment and a ``nan`` value) to exercise the
    parser; ``header=False`` omits the header line. ``power_column=True`` adds a fourth field,
    ``power_mw`` (``t_ms,voltage_v,current_ma,power_mw``, as INA226 sketches print it).
    """

    protocol = "csv"

    def __init__(self, rate_hz=1000.0, voltage_v=5.0, bad_every=0, header=True, power_column=False, **kw):
        PtyEmulator.__init__(self, **kw)
        self.rate_hz = float(rate_hz)
        self.voltage_v = float(voltage_v)
        self.bad_every = int(bad_every)
        self.header = header
        self.power_column = bool(power_column)

    @property
    def columns(self):
        return "t_ms,voltage_v,current_ma" + (",power_mw" if self.power_column else "")

    def reset(self):
        self.index = 0
        self.bad_lines = 0
        self.sent_lines = 0
        self._started = False

    def tick(self):
        if not self._started:
            self._started = True
            self.send(BANNER + (self.columns.encode("ascii") + b"\r\n" if self.header else b""))
        due = int(self.now_s() * self.rate_hz)
        if due <= self.index:
            return
        idx = np.arange(self.index, due)
        self.index = due
        t_s = idx / self.rate_hz
        current_ma = self.waveform.power_w(t_s) / self.voltage_v * 1000.0
        lines = []
        for k, t, ma in zip(idx.tolist(), t_s.tolist(), current_ma.tolist()):
            if self.bad_every and k % self.bad_every == self.bad_every - 1:
                kind = (k // self.bad_every) % 3
                lines.append((b"12,5.0", b"# range switch", b"%d,nan,%.3f" % (int(t * 1000), ma))[kind])
                self.bad_lines += 1 if kind != 1 else 0
                continue
            line = b"%d,%.4f,%.3f" % (int(round(t * 1000.0)), self.voltage_v, ma)
            if self.power_column:
                line += b",%.3f" % (ma * self.voltage_v)
            lines.append(line)
        self.sent_lines += len(lines)
        self.send(b"\r\n".join(lines) + b"\r\n")
