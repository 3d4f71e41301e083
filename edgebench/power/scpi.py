"""SCPI power meters and supplies on a serial port (one query line, one reply line).

Each dialect sends only headers its instrument defines. A real SCPI instrument does not answer a
header it does not know (it queues "undefined header" in its error queue), so a wrong command
shows up as a reply timeout that names the command.

``wt310`` - Yokogawa WT310/WT310HC/WT330 in its WT300 command set, as intel/yoko-tool drives it
(source: intel/yoko-tool, yokolibs/_wt310.py ``WT310.__init__`` and ``_RAW_COMMANDS``,
yokolibs/_yokobase.py ``_init_pmeter`` / ``_RAW_COMMANDS`` / ``_check_error_status``; the interval
query from yokotools/WT310.py ``_WT310_COMMANDS`` of yoko-tool 1.0, the module written for the
WT310 alone). Setup, in order::

    *CLS                          clear the error and output queues ("clear", sent first)
    *IDN?                         model = 2nd field, must start with WT3 (yoko-tool: wt310/wt33x)
    :SYST:COMM:COMM WT300         select the WT300 command set ("set-compat-mode")
    :STAT:QMES ON                 error query replies carry the message ("set-verbose-errors")
    :COMM:HEAD OFF                replies without headers ("set-headers")
    :COMM:VERB ON                 ("set-verbose-mode")
    :NUM:FORM ASCII               ("set-data-format")
    :NUM:NORM:NUM 3               ("set-data-items-count")
    :NUM:NORM:ITEM1 U,1 / ITEM2 I,1 / ITEM3 P,1
    :RATE?                        update interval in s ("get-interval" of the WT310 table)
    :STAT:ERR?                    0 = every setup command was accepted, else code,"message"

  then ``:NUM:NORM:VAL?`` per reading -> ``U,I,P``. No ``:SAMP:*``: that group is the WT200 set's
  (WT210/WT230). yoko-tool 2.x asks ``:SAMP:RATE?`` from the base class it shares with the WT210;
  the WT310's own table (1.0) and the WT300 set say ``:RATE?``. Readings are averages over the
  update interval: ``integrating``.
``keysight`` - Keysight/Agilent E36xx supplies (python-ivi ivi/agilent/agilentE3600A.py):
  ``*IDN?``, ``INST:NSEL <n>`` (only when ``channel=`` is not 1), then ``MEAS:VOLT?`` and
  ``MEAS:CURR?`` per reading. Point measurements: ``instantaneous``.
``rigol`` - Rigol DP800: ``*IDN?``, then ``:MEAS:ALL? CH<n>`` -> ``V,I,P`` per reading (DP800
  programming guide; libsigrok src/hardware/scpi-pps/profiles.c for the DP800 command set).
  ``instantaneous``.
``generic`` - ``*IDN?`` (optional), then ``query=`` sent as is; the reply's fields are named by
  ``columns=`` (default ``power_w``, same names as the CSV probe); ``sampling=`` says what a
  reading is.

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
    ":SYST:COMM:COMM WT300",
    ":STAT:QMES ON",
    ":COMM:HEAD OFF",
    ":COMM:VERB ON",
    ":NUM:FORM ASCII",
    ":NUM:NORM:NUM 3",
    ":NUM:NORM:ITEM1 U,1",
    ":NUM:NORM:ITEM2 I,1",
    ":NUM:NORM:ITEM3 P,1",
)


WT310_INTERVAL_QUERY = ":RATE?"
WT310_ERROR_QUERY = ":STAT:ERR?"


def parse_error_reply(text):
    """``(code, message)`` of a ``:STAT:ERR?`` / ``SYST:ERR?`` reply (``0,"No error"`` or ``0``)."""
    code, _, message = (text or "").partition(",")
    try:
        return int(code.strip()), message.strip().strip('"')
    except ValueError:
        return None, text


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
                "{} did not answer {!r} ({}): check baud= and the cable, and that the instrument defines "
                "that command (a meter stays silent on one it does not know)".format(self.port, command, err)
            )

    def _send(self, command):
        self.write(command.encode("ascii") + b"\n")

    def _check_errors(self, commands):
        """Ask the error queue once after the setup; an error names the setup commands sent."""
        code, message = parse_error_reply(self._ask(WT310_ERROR_QUERY))
        if code:
            raise PowerSourceError(
                "{} refused a setup command ({} {}; sent: {}): check the meter's command set "
                "(:SYST:COMM:COMM WT300)".format(self.port, code, message, "; ".join(commands)))

    def _setup(self):
        self.ser.reset_input_buffer()
        if self.dialect == "wt310":
            self._send("*CLS")  # yoko-tool's "clear": errors left by an earlier session would fail our check
            self.identity = self._ask("*IDN?")
            model = (self.identity.split(",") + ["", ""])[1].strip().upper()
            if not model.startswith("WT3"):
                raise PowerSourceError(
                    "{} answered *IDN? with {!r}, not a Yokogawa WT3xx: use dialect=generic".format(
                        self.port, self.identity)
                )
            for command in WT310_INIT:
                self._send(command)
            interval = parse_reply_numbers(self._ask(WT310_INTERVAL_QUERY))
            if not interval or not interval[0] > 0:
                raise PowerSourceError("{} answered {} with no interval: is it a WT310 in its WT300 command "
                                       "set?".format(self.port, WT310_INTERVAL_QUERY))
            self.update_interval_s = interval[0]
            self._check_errors(WT310_INIT)
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
