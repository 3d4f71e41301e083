"""SCPI meters and supplies: Yokogawa WT310, Keysight E36xx, Rigol DP800, and a generic one.

Each dialect answers only the headers its real instrument defines (the tables below, with their
sources). Headers match as a real SCPI parser matches them: case-insensitive, each mnemonic in
its short form (the capitals) or its long form, a numeric suffix where the instrument takes one,
an optional leading colon. Anything else is an *undefined header*: the instrument sends no reply
and queues an error (Yokogawa 113 "Undefined header"; SCPI -113 on the others), which the error
query (``:STATus:ERRor?`` / ``SYSTem:ERRor?``) returns. So a client that sends a command the real
meter does not know gets silence and times out, here as on the bench.

WT310 (WT300 command set): the meter starts with headers ON, as after ``*RST``, so a reply carries
its header (``:RATE 100.0E-03``) until ``:COMMunicate:HEADer OFF``. Its WT200-compatible command set
(``:SYSTem:COMMunicate:COMMand WT200``) is not emulated: after it, every header but ``*IDN?`` and
``:SYST:COMM:COMM`` is undefined.
"""
import logging
import re

from edgebench.power.emulators.base import PtyEmulator

logger = logging.getLogger(__name__)

IDN = {
    "wt310": "YOKOGAWA,WT310,EMU00001,F1.00",
    "keysight": "Agilent Technologies,E3631A,0,EMU-1.0",
    "rigol": "RIGOL TECHNOLOGIES,DP832A,EMU00001,00.01.16",
    "generic": "EDGEBENCH,POWER-METER-EMULATOR,0,1.0",
}

# WT310 update intervals (s): intel/yoko-tool yokolibs/_yokobase.py _CHOICES for "set-interval"
# (0.1 ... 5) plus 10 and 20 s of the WT310E manual (IM WT310E-17EN).
WT310_INTERVALS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
# The data items of :NUMeric:NORMal at power-on (U, I, P of element 1 first, as MLPerf's sampler
# reads them by index: mlcommons/power-dev power_meter_sampling/samplers/yokogawa.py get_power()).
WT310_DEFAULT_ITEMS = ("U,1", "I,1", "P,1", "S,1", "Q,1", "LAMB,1", "PHI,1", "FU,1", "FI,1", "NONE")

_MNEMONIC = re.compile(r"^([A-Z*]+)([a-z]*)(<n>)?(\?)?$")


class Header(object):
    """One SCPI header pattern, e.g. ``:NUMeric:NORMal:ITEM<n>?`` (capitals = short form)."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.query = pattern.endswith("?")
        parts = pattern.lstrip(":").rstrip("?").split(":")
        self.parts = []
        for part in parts:
            match = _MNEMONIC.match(part)
            if not match:
                raise ValueError("bad header pattern {!r}".format(pattern))
            short, rest, numbered, _ = match.groups()
            self.parts.append((short.upper(), (short + rest).upper(), bool(numbered)))

    def match(self, header):
        """``None`` when ``header`` is not this one, else the list of numeric suffixes it carried."""
        header = header.upper()
        if header.endswith("?") != self.query:
            return None
        tokens = header.lstrip(":").rstrip("?").split(":")
        if len(tokens) != len(self.parts):
            return None
        suffixes = []
        for token, (short, long_, numbered) in zip(tokens, self.parts):
            stem, digits = token, ""
            if numbered:
                match = re.match(r"^([A-Z*]+?)(\d*)$", token)
                if not match:
                    return None
                stem, digits = match.groups()
            if stem not in (short, long_):
                return None
            if numbered:
                suffixes.append(int(digits) if digits else 1)
        return suffixes


def split_command(line):
    """``(header, argument text)`` of one program message unit."""
    line = line.strip()
    if " " in line:
        header, _, args = line.partition(" ")
        return header, args.strip()
    return line, ""


class ScpiMeterEmulator(PtyEmulator):
    """Answers one query line with one reply line (CR+LF), in the chosen ``dialect``.

    WT310 readings are the exact mean of the waveform over the last completed update interval
    (``update_s``, like the meter's averaging); the others report the instantaneous value.
    ``nan_every=N`` makes every Nth reading ``NAN`` (WT310) or 9.91E+37 (the others).
    ``commands`` records every line received; ``errors`` every error queued.
    """

    protocol = "scpi"

    def __init__(self, dialect="wt310", voltage_v=12.0, update_s=0.1, nan_every=0, gain=1.0, offset_w=0.0,
                 **kw):
        PtyEmulator.__init__(self, **kw)
        if dialect not in IDN:
            raise ValueError("dialect must be one of {}".format(", ".join(sorted(IDN))))
        self.dialect = dialect
        self.voltage_v = float(voltage_v)
        self.update_s = float(update_s)
        self.nan_every = int(nan_every)
        self.gain = float(gain)
        self.offset_w = float(offset_w)
        self.table = [(Header(pattern), handler) for pattern, handler in self.command_table()]

    @property
    def url(self):
        extra = "&query=MEAS:POW%3F" if self.dialect == "generic" else ""
        return "serial://{}?protocol=scpi&dialect={}{}".format(self.path, self.dialect, extra)

    def reset(self):
        self._buffer = b""
        self.readings = 0
        self.commands = []
        self.errors = []
        self._error_queue = []
        self.headers_on = True
        self.command_set = "WT300"
        self.items = list(WT310_DEFAULT_ITEMS)
        self.item_count = len(self.items)
        self.number_format = "ASCII"
        self.verbose_errors = False
        self.channel = 1

    def measured_w(self, watts):
        """What the instrument reports for true ``watts`` (``gain``/``offset_w`` model a miscalibrated one)."""
        return watts * self.gain + self.offset_w

    # -- the parser --------------------------------------------------------------------------------
    def on_input(self, data):
        self._buffer += data
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            text = line.decode("ascii", "replace").strip()
            if not text:
                continue
            self.commands.append(text)
            replies = []
            for unit in text.split(";"):  # several program message units on one line
                reply = self.execute(unit)
                if reply is not None:
                    replies.append(reply)
            if replies:
                self.send(";".join(replies).encode("ascii") + b"\r\n")

    def execute(self, unit):
        header, args = split_command(unit)
        if not header:
            return None
        if self.dialect == "wt310" and self.command_set != "WT300":
            allowed = ("*IDN?", ":SYSTem:COMMunicate:COMMand", ":SYSTem:COMMunicate:COMMand?")
            table = [(h, f) for h, f in self.table if h.pattern in allowed]
        else:
            table = self.table
        for pattern, handler in table:
            suffixes = pattern.match(header)
            if suffixes is not None:
                reply = handler(args, *suffixes)
                if reply is not None and self.dialect == "wt310" and self.headers_on and not header.startswith("*"):
                    reply = "{} {}".format(pattern.pattern.rstrip("?").upper().replace("<N>", ""), reply)
                return reply
        self.error(113, "Undefined header")
        logger.debug("%s emulator: undefined header %r", self.dialect, header)
        return None  # a real SCPI instrument sends nothing back for a header it does not know

    def error(self, code, text):
        if self.dialect != "wt310":
            code = -abs(code)
        self.errors.append((code, text))
        self._error_queue.append((code, text))

    def _pop_error(self):
        if self._error_queue:
            return self._error_queue.pop(0)
        return (0, "No error")

    def _invalid(self):
        self.readings += 1
        return self.nan_every and self.readings % self.nan_every == 0

    def _now_w(self):
        return self.measured_w(float(self.waveform.power_w([self.now_s()])[0]))

    # -- command tables ------------------------------------------------------------------------------
    def command_table(self):
        return getattr(self, "_table_" + self.dialect)()

    def _common(self):
        return [
            ("*IDN?", lambda args: IDN[self.dialect]),
            ("*CLS", lambda args: self._error_queue.clear()),
            ("*RST", lambda args: self.reset_settings()),
        ]

    def reset_settings(self):
        self.headers_on = True
        self.items = list(WT310_DEFAULT_ITEMS)
        self.item_count = len(self.items)

    def _table_wt310(self):
        """The WT300 command set headers a WT310 answers, as intel/yoko-tool drives them.

        Sources: intel/yoko-tool yokotools/WT310.py ``_WT310_COMMANDS`` (v1.0, b723878: the WT310's
        own table, with ``:RATE``/``:RATE?`` and ``:HOLD``) and yokolibs/_wt310.py ``_RAW_COMMANDS``
        / yokolibs/_yokobase.py ``_RAW_COMMANDS`` (v2, 650a35b: ``:NUM:NORM:*``, ``:SYST:COMM:COMM``,
        ``:COMM:HEAD``, ``:COMM:VERB``, ``:STAT:QMES``, ``:STAT:ERR?``, ``:STAT:EESR?``). There is no
        ``:SAMPle`` subsystem in the WT300 set (that group belongs to the WT200 set of the WT210/230).
        """
        return self._common() + [
            (":SYSTem:COMMunicate:COMMand", self._set_command_set),
            (":SYSTem:COMMunicate:COMMand?", lambda args: self.command_set),
            (":COMMunicate:HEADer", lambda args: self._set_flag("headers_on", args)),
            (":COMMunicate:HEADer?", lambda args: "1" if self.headers_on else "0"),
            (":COMMunicate:VERBose", lambda args: self._set_flag(None, args)),
            (":COMMunicate:REMote", lambda args: self._set_flag(None, args)),
            (":COMMunicate:WAIT", lambda args: None),
            (":STATus:QMESsage", lambda args: self._set_flag("verbose_errors", args)),
            (":STATus:ERRor?", self._wt310_error),
            (":STATus:EESR?", lambda args: "0"),
            (":STATus:FILTer<n>", lambda args, n: None),
            (":RATE", self._set_rate),
            (":RATE?", lambda args: "{:.1f}E-03".format(self.update_s * 1000.0)),
            (":HOLD", lambda args: self._set_flag(None, args)),
            (":HOLD?", lambda args: "0"),
            (":NUMeric:FORMat", self._set_format),
            (":NUMeric:FORMat?", lambda args: self.number_format),
            (":NUMeric:NORMal:NUMber", self._set_item_count),
            (":NUMeric:NORMal:NUMber?", lambda args: str(self.item_count)),
            (":NUMeric:NORMal:ITEM<n>", self._set_item),
            (":NUMeric:NORMal:ITEM<n>?", lambda args, n: self.items[n - 1] if 1 <= n <= 10 else None),
            (":NUMeric:NORMal:VALue?", self._wt310_values),
        ]

    def _illegal(self):
        """Queue "illegal parameter value" (a setting command never replies)."""
        self.error(224, "Illegal parameter value")

    def _choice(self, args, choices):
        """The upper-cased argument when it is one of ``choices``, else None (and an error queued)."""
        value = args.strip().upper()
        if value in choices:
            return value
        self._illegal()
        return None

    def _set_flag(self, name, args):
        value = self._choice(args, ("ON", "OFF", "1", "0"))
        if value and name:
            setattr(self, name, value in ("ON", "1"))

    def _set_command_set(self, args):
        self.command_set = self._choice(args, ("WT200", "WT300")) or self.command_set

    def _set_rate(self, args):
        text = args.strip().upper()
        scale = 1.0
        for suffix, factor in (("MS", 1e-3), ("S", 1.0)):
            if text.endswith(suffix):
                text, scale = text[:-len(suffix)], factor
                break
        try:
            seconds = float(text) * scale
        except ValueError:
            seconds = None
        if seconds is None or not any(abs(seconds - s) < 1e-9 for s in WT310_INTERVALS_S):
            self._illegal()
        else:
            self.update_s = seconds

    def _set_format(self, args):
        value = self._choice(args, ("ASCII", "ASC", "FLOAT", "FLO"))
        if value:
            self.number_format = "ASCII" if value.startswith("ASC") else "FLOAT"

    def _set_item_count(self, args):
        try:
            count = int(args)
        except ValueError:
            count = 0
        if 1 <= count <= 10:
            self.item_count = count
        else:
            self._illegal()

    def _set_item(self, args, n):
        function = args.replace(" ", "").upper()
        name = function.split(",")[0]
        if not 1 <= n <= 10 or name not in ("U", "I", "P", "S", "Q", "LAMB", "PHI", "FU", "FI", "NONE",
                                            "UPPE", "IPPE", "WH", "AH", "TIME"):
            self._illegal()
        else:
            self.items[n - 1] = function

    def _wt310_error(self, args):
        code, text = self._pop_error()
        return '{},"{}"'.format(code, text) if self.verbose_errors else str(code)

    def _wt310_values(self, args):
        if self.number_format != "ASCII":
            self.error(850, "FLOAT output is not emulated")
            return None
        k = int(self.now_s() / self.update_s)
        watts = self.measured_w(self.waveform.mean_w((k - 1) * self.update_s, k * self.update_s))
        invalid = self._invalid()
        amps = watts / self.voltage_v
        quantities = {"U": self.voltage_v, "I": amps, "P": watts, "S": watts, "Q": 0.0, "LAMB": 1.0}
        fields = []
        for item in self.items[:self.item_count]:
            name = item.split(",")[0]
            value = quantities.get(name)
            if invalid or value is None:
                fields.append("NAN")
            else:
                fields.append("{:.4E}".format(value))
        return ",".join(fields)

    def _table_keysight(self):
        """Keysight/Agilent E3631A: python-ivi ivi/agilent/agilentE3600A.py (``:instrument:nselect``,
        ``:measure:voltage?``, ``:measure:current?``, ``:system:error?``)."""
        return self._common() + [
            ("INSTrument:NSELect", self._select_channel),
            ("INSTrument:NSELect?", lambda args: str(self.channel)),
            ("SYSTem:REMote", lambda args: None),
            ("SYSTem:ERRor?", self._scpi_error),
            ("MEASure:VOLTage?", lambda args: "{:.5E}".format(self.voltage_v)),
            ("MEASure:CURRent?", lambda args: "9.91E+37" if self._invalid() else "{:.5E}".format(
                self._now_w() / self.voltage_v)),
        ]

    def _table_rigol(self):
        """Rigol DP800: ``:MEASure:ALL? CH<n>`` -> V,I,P (DP800 programming guide; libsigrok
        src/hardware/scpi-pps/profiles.c ``rigol_dp800_cmd`` for the rest)."""
        return self._common() + [
            ("SYSTem:REMote", lambda args: None),
            ("SYSTem:ERRor?", self._scpi_error),
            ("INSTrument:NSELect", self._select_channel),
            (":MEASure:ALL?", self._rigol_all),
            (":MEASure:VOLTage?", lambda args: "{:.4f}".format(self.voltage_v)),
            (":MEASure:CURRent?", lambda args: "{:.4f}".format(self._now_w() / self.voltage_v)),
            (":MEASure:POWEr?", lambda args: "{:.3f}".format(self._now_w())),
        ]

    def _rigol_all(self, args):
        if self._invalid():
            return "9.91E+37,9.91E+37,9.91E+37"
        watts = self._now_w()
        return "{:.4f},{:.4f},{:.3f}".format(self.voltage_v, watts / self.voltage_v, watts)

    def _table_generic(self):
        return self._common() + [
            ("SYSTem:ERRor?", self._scpi_error),
            ("MEASure:POWer?", lambda args: "9.91E+37" if self._invalid() else "{:.5E}".format(self._now_w())),
        ]

    def _select_channel(self, args):
        try:
            self.channel = int(args)
        except ValueError:
            self._illegal()

    def _scpi_error(self, args):
        code, text = self._pop_error()
        return '{:+d},"{}"'.format(code, text)
