"""SCPI meters and supplies: Yokogawa WT310, Keysight E36xx, Rigol DP800, and a generic one."""
import logging

from edgebench.power.emulators.base import PtyEmulator

logger = logging.getLogger(__name__)

IDN = {
    "wt310": "YOKOGAWA,WT310,EMU00001,F1.00",
    "keysight": "Agilent Technologies,E3631A,0,EMU-1.0",
    "rigol": "RIGOL TECHNOLOGIES,DP832A,EMU00001,00.01.16",
    "generic": "EDGEBENCH,POWER-METER-EMULATOR,0,1.0",
}


class ScpiMeterEmulator(PtyEmulator):
    """Answers one query line with one reply line (CR+LF), in the chosen ``dialect``.

    WT310 readings are the exact mean of the waveform over the last completed update interval
    (``update_s``, like the meter's averaging); the others report the instantaneous value.
    ``nan_every=N`` makes every Nth reading ``NAN`` (WT310) or 9.91E+37 (the others).
    """

    protocol = "scpi"

    def __init__(self, dialect="wt310", voltage_v=12.0, update_s=0.1, nan_every=0, **kw):
        PtyEmulator.__init__(self, **kw)
        if dialect not in IDN:
            raise ValueError("dialect must be one of {}".format(", ".join(sorted(IDN))))
        self.dialect = dialect
        self.voltage_v = float(voltage_v)
        self.update_s = float(update_s)
        self.nan_every = int(nan_every)

    @property
    def url(self):
        extra = "&query=MEAS:POW%3F" if self.dialect == "generic" else ""
        return "serial://{}?protocol=scpi&dialect={}{}".format(self.path, self.dialect, extra)

    def reset(self):
        self._buffer = b""
        self.readings = 0
        self.commands = []

    def on_input(self, data):
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            command = line.decode("ascii", "replace").strip()
            if command:
                self.commands.append(command)
                reply = self.answer(command)
                if reply is not None:
                    self.send(reply.encode("ascii") + b"\r\n")

    def _invalid(self):
        self.readings += 1
        return self.nan_every and self.readings % self.nan_every == 0

    def answer(self, command):
        upper = command.upper()
        now = self.now_s()
        if upper == "*IDN?":
            return IDN[self.dialect]
        if self.dialect == "wt310":
            if upper.startswith(":SAMP:RATE?"):
                return "{:.2f}".format(self.update_s)
            if upper.startswith(":NUM:NORM:VAL?"):
                k = int(now / self.update_s)
                watts = self.waveform.mean_w((k - 1) * self.update_s, k * self.update_s)
                if self._invalid():
                    return "NAN,NAN,NAN"
                return "{:.4E},{:.4E},{:.4E}".format(self.voltage_v, watts / self.voltage_v, watts)
            return None  # settings commands have no reply
        watts = float(self.waveform.power_w([now])[0])
        if self.dialect == "keysight":
            if upper.startswith("MEAS:VOLT?") or upper.startswith(":MEAS:VOLT?"):
                return "{:.5E}".format(self.voltage_v)
            if upper.startswith("MEAS:CURR?") or upper.startswith(":MEAS:CURR?"):
                return "9.91E+37" if self._invalid() else "{:.5E}".format(watts / self.voltage_v)
            return None
        if self.dialect == "rigol":
            if upper.startswith(":MEAS:ALL?"):
                if self._invalid():
                    return "9.91E+37,9.91E+37,9.91E+37"
                return "{:.4f},{:.4f},{:.3f}".format(self.voltage_v, watts / self.voltage_v, watts)
            return None
        if upper.startswith("MEAS:POW?") or upper.startswith(":MEAS:POW?"):
            return "9.91E+37" if self._invalid() else "{:.5E}".format(watts)
        return None
