"""SCPI power meters and supplies on a serial port (one query line, one reply line).

Dialects (``dialect=``):

* ``wt310`` - Yokogawa WT310/WT330: ``:NUM:FORM ASCII``, ``:COMM:HEAD OFF``, ``:NUM:NORM:NUM 3``,
  ``:NUM:NORM:ITEM1 U,1`` / ``ITEM2 I,1`` / ``ITEM3 P,1``, then ``:NUM:NORM:VAL?`` each update
  interval (``:SAMP:RATE?``). Readings are averages over the update interval: ``integrating``.
* ``keysight`` - Keysight/Agilent E36xx supplies: ``MEAS:VOLT?`` and ``MEAS:CURR?``
  (``channel=`` selects an output with ``INST:NSEL``). Point measurements: ``instantaneous``.
* ``rigol`` - Rigol DP800: ``:MEAS:ALL? CH<n>`` -> ``V,I,P``. ``instantaneous``.
* ``generic`` - ``query=`` is sent as is; the reply's fields are named by ``columns=`` (default
  ``power_w``, same names as the CSV probe); ``sampling=`` says what a reading is.

NaN, INF and the SCPI overrange sentinel 9.91E+37 are counted as bad readings, never used.
URL: ``serial://PORT?protocol=scpi&dialect=wt310[&baud=9600&timeout=2&rate_hz=..]``.
"""
import logging
import math
import time

from edgebench.errors import PowerSourceError
from edgebench.power.serial_csv import ColumnLayout
from edgebench.power.serialport import SerialSource
from edgebench.power.source import INSTANTANEOUS, INTEGRATING, Sample, check_sampling

logger = logging.getLogger(__name__)

DIALECTS = ("wt310", "keysight", "rigol", "generic")
OVERRANGE = 9.9e37
WT310_INIT = (
    ":NUM:FORM ASCII",
    ":COMM:HEAD OFF",
    ":NUM:NORM:NUM 3",
    ":NUM:NORM:ITEM1 U,1",
    ":NUM:NORM:ITEM2 I,1",
    ":NUM:NORM:ITEM3 P,1",
)


def parse_reply_numbers(text):
    """Floats of a comma-separated SCPI reply; NaN for NAN/INF/overrange/non-numeric fields."""
    values = []
    for field in (text or "").replace(";", ",").split(","):
        field = field.strip()
        try:
            value = float(field)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value) or abs(value) >= OVERRANGE:
            value = float("nan")
        values.append(value)
    return values


class ScpiSource(SerialSource):
    """Polled SCPI instrument: one query round trip per sample."""

    default_baud = 9600
    streaming = False

    def __init__(self, url, root=None):
        SerialSource.__init__(self, url, root)
        params = self.params
        self.dialect = params.text("dialect", "generic", choices=DIALECTS)
        self.channel = params.number("channel", 1, positive=True, integer=True)
        self.rate_hz = params.number("rate_hz", None, positive=True)
        self.query = params.text("query")
        self.columns = params.text("columns", "power_w")
        sampling = params.text("sampling")
        params.finish()
        if self.dialect == "generic":
            if not self.query:
                raise PowerSourceError(
                    "scpi dialect=generic needs query= (the command that returns a reading), e.g. "
                    "serial://PORT?protocol=scpi&dialect=generic&query=MEAS:POW%3F"
                )
            self.layout = ColumnLayout(self.columns.split(","), source="columns=")
            self.sampling = check_sampling(sampling or INSTANTANEOUS, url)
        else:
            if sampling:
                self.sampling = check_sampling(sampling, url)
            else:
                self.sampling = INTEGRATING if self.dialect == "wt310" else INSTANTANEOUS
        self.identity = ""
        self.update_interval_s = None

    def open(self):
        return self.open_with(self._setup)

    def _ask(self, command):
        from edgebench.power.source import ProbeLost

        try:
            return self.query_line(command)
        except ProbeLost as err:
            raise PowerSourceError(
                "{} did not answer {!r} ({}): check baud= and the cable".format(self.port, command, err)
            )

    def _send(self, command):
        self.write(command.encode("ascii") + b"\n")

    def _setup(self):
        self.ser.reset_input_buffer()
        if self.dialect == "wt310":
            self.identity = self._ask("*IDN?")
            model = (self.identity.split(",") + ["", ""])[1].strip().upper()
            if not model.startswith("WT3"):
                raise PowerSourceError(
                    "{} answered *IDN? with {!r}, not a Yokogawa WT3xx: use dialect=generic".format(
                        self.port, self.identity)
                )
            for command in WT310_INIT:
                self._send(command)
            interval = parse_reply_numbers(self._ask(":SAMP:RATE?"))
            self.update_interval_s = interval[0] if interval and interval[0] > 0 else 0.25
            self.max_rate_hz = 1.0 / self.update_interval_s
            self.board_rule = "WT310 element 1 active power (mean over each {:g} s update)".format(
                self.update_interval_s)
        else:
            try:
                self.identity = self.query_line("*IDN?", timeout_s=min(self.timeout_s, 1.0))
            except Exception:
                self.identity = ""
            self.ser.reset_input_buffer()
            if self.dialect == "keysight" and self.channel != 1:
                self._send("INST:NSEL {}".format(self.channel))
            start = time.perf_counter()
            probe = self._read_once()
            cost = max(time.perf_counter() - start, 1e-4)
            if probe is None:
                raise PowerSourceError("{} gave no usable reading for dialect={}".format(self.port, self.dialect))
            self.max_rate_hz = min(50.0, 0.8 / cost)
            self.board_rule = {
                "keysight": "MEAS:VOLT? x MEAS:CURR?",
                "rigol": ":MEAS:ALL? CH{} power".format(self.channel),
                "generic": "{} -> {}".format(self.query, self.columns),
            }[self.dialect]
        if self.rate_hz:
            self.max_rate_hz = min(self.max_rate_hz, self.rate_hz) if self.dialect == "wt310" else self.rate_hz
        self.detail = "{} {}{}".format(self.dialect, self.port, "; " + self.identity if self.identity else "")

    def _read_once(self):
        """Watts from one query (NaN when the meter returned an invalid reading)."""
        if self.dialect == "wt310":
            values = parse_reply_numbers(self.query_line(":NUM:NORM:VAL?"))
            return values[2] if len(values) >= 3 else float("nan")
        if self.dialect == "keysight":
            volts = parse_reply_numbers(self.query_line("MEAS:VOLT?"))[0]
            amps = parse_reply_numbers(self.query_line("MEAS:CURR?"))[0]
            return volts * amps
        if self.dialect == "rigol":
            values = parse_reply_numbers(self.query_line(":MEAS:ALL? CH{}".format(self.channel)))
            if len(values) >= 3 and math.isfinite(values[2]):
                return values[2]
            return values[0] * values[1] if len(values) >= 2 else float("nan")
        values = parse_reply_numbers(self.query_line(self.query))
        if len(values) != self.layout.width:
            return float("nan")
        return self.layout.power_w(values)

    def read(self):
        t0 = time.perf_counter()
        power = self._read_once()
        t1 = time.perf_counter()
        # an integrating reading covers the update that just ended: stamp it at arrival
        t_s = t1 if self.sampling == INTEGRATING else 0.5 * (t0 + t1)
        return Sample(t_s, power)
