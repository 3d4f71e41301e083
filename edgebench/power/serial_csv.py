"""CSV probes on a serial port (an Arduino with an INA219/INA226/INA260, a DIY logger...).

One sample per line, fields separated by ``,``, ``;``, tabs or spaces. A header line naming the
columns may appear at any time (it replaces the current columns); without one, ``columns=`` in the
URL gives them (default ``t_ms,voltage_v,current_ma``). Known columns: ``t_ms``, ``t_s``, ``t_us``,
``voltage_v``, ``voltage_mv``, ``current_a``, ``current_ma``, ``power_w``, ``power_mw``; ``-``
ignores a column. Power is ``power_*`` when present, else voltage x current.

A header printed once at boot, before edgebench opened the port, is usually gone: pyserial's
``Serial.open`` flushes the kernel's input queue itself (serialposix.py, ``_reset_input_buffer``),
and a native-USB board drops what it prints while no host reads. What is still waiting right after
open (a USB-serial bridge's FIFO) is read and dropped (old samples would carry old times), but its
last header line still sets the columns. When the data lines consistently have another field count
than the columns, the parser says so with the remedy (``columns=`` naming that many fields): see
:meth:`CsvLineParser.width_diagnosis`.

Device timestamps are used when a time column exists (mapped onto the host clock); otherwise the
lines of one read are spread evenly between the previous and this arrival. Banner lines, torn
lines, non-numeric or non-finite values and non-increasing device timestamps are counted as bad
and skipped (never fatal); ``#`` comments are skipped. The sampler flags a window in which more
than 20% of the lines were bad.

URL: ``serial://PORT?protocol=csv[&columns=...&baud=115200&timeout=2&sampling=instantaneous]``.
"""
import logging
import math
import re

import numpy as np

from edgebench.errors import PowerSourceError
from edgebench.power.clock import ClockMapper
from edgebench.power.serialport import SerialSource
from edgebench.power.source import INSTANTANEOUS, Block, check_sampling

logger = logging.getLogger(__name__)

# name -> (quantity, factor to SI)
KNOWN_COLUMNS = {
    "t_s": ("time", 1.0),
    "t_ms": ("time", 1e-3),
    "t_us": ("time", 1e-6),
    "voltage_v": ("voltage", 1.0),
    "voltage_mv": ("voltage", 1e-3),
    "current_a": ("current", 1.0),
    "current_ma": ("current", 1e-3),
    "power_w": ("power", 1.0),
    "power_mw": ("power", 1e-3),
}
IGNORED = ("-",)
DEFAULT_COLUMNS = "t_ms,voltage_v,current_ma"
_SPLIT = re.compile(r"[,;\t ]+")
RESTART_BACKSTEP_S = 1.0
STALE_LIMIT_BYTES = 1 << 20  # at most this much stale input is scanned for a header on open
MISMATCH_MIN_LINES = 10  # numeric lines of one other width before the parser says so
MISMATCH_SHARE = 0.9


def _tokens(text):
    return [t for t in _SPLIT.split(text.strip()) if t]


class ColumnLayout(object):
    """Where time, voltage, current and power sit in a line, with their unit factors."""

    def __init__(self, names, source="columns="):
        names = [n.strip().lower() for n in names]
        unknown = [n for n in names if n not in KNOWN_COLUMNS and n not in IGNORED]
        if unknown:
            raise PowerSourceError(
                "unknown CSV column{} {} in {}: known columns are {} ('-' skips one)".format(
                    "s" if len(unknown) > 1 else "", ", ".join(unknown), source, ", ".join(sorted(KNOWN_COLUMNS))
                )
            )
        self.names = names
        self.width = len(names)
        self.slots = {}
        for index, name in enumerate(names):
            if name in IGNORED:
                continue
            quantity, factor = KNOWN_COLUMNS[name]
            if quantity in self.slots:
                raise PowerSourceError("two {} columns in {}: {}".format(quantity, source, ",".join(names)))
            self.slots[quantity] = (index, factor)
        if "power" not in self.slots and not ("voltage" in self.slots and "current" in self.slots):
            raise PowerSourceError(
                "CSV columns {} give no power: name power_w/power_mw, or voltage_* and current_*".format(
                    ",".join(names))
            )
        self.has_time = "time" in self.slots

    def power_w(self, values):
        if "power" in self.slots:
            index, factor = self.slots["power"]
            return values[index] * factor
        vi, vf = self.slots["voltage"]
        ci, cf = self.slots["current"]
        return values[vi] * vf * values[ci] * cf

    def time_s(self, values):
        index, factor = self.slots["time"]
        return values[index] * factor


def is_header(tokens):
    lowered = [t.lower() for t in tokens]
    return bool(lowered) and all(t in KNOWN_COLUMNS or t in IGNORED for t in lowered) and any(
        t in KNOWN_COLUMNS for t in lowered
    )


class CsvLineParser(object):
    """Turns lines into (device time or None, watts); counts what it had to skip.

    Counters: ``good`` samples, ``bad`` (banner, torn, non-numeric, non-finite, timestamp going
    backwards), ``comments`` and ``headers``. Never raises on input.
    """

    def __init__(self, columns=DEFAULT_COLUMNS):
        self.layout = ColumnLayout(columns.split(",") if isinstance(columns, str) else columns)
        self.good = 0
        self.bad = 0
        self.comments = 0
        self.headers = 0
        self.last_time_s = None
        self.restarts = 0
        self.widths = {}  # field count -> numeric lines that did not fit the layout

    def use_header(self, tokens, source="the header line"):
        """Take the columns of a header line (tokens); False (and a warning) when it names unknown ones."""
        try:
            layout = ColumnLayout(tokens, source=source)
        except PowerSourceError as err:
            logger.warning("ignoring CSV header %r: %s", " ".join(tokens), err)
            return False
        self.layout = layout
        self.headers += 1
        self.last_time_s = None
        self.widths = {}
        return True

    def width_diagnosis(self):
        """One line saying the data lines have N fields but the columns name M, with the remedy; or None.

        Said only when it is consistent: at least 10 numeric lines of one other width, making up
        90% of the numeric lines seen under the current columns.
        """
        if not self.widths:
            return None
        width, count = max(self.widths.items(), key=lambda item: item[1])
        mismatched = sum(self.widths.values())
        if count < MISMATCH_MIN_LINES or count < MISMATCH_SHARE * (mismatched + self.good):
            return None
        names = self.layout.names
        if width > len(names):
            example = ",".join(names + ["-"] * (width - len(names)))
        else:
            example = ",".join(names[:width])
        return ("CSV lines have {} fields but the columns are {} ({} fields): name {} fields with columns=, "
                "e.g. columns={} ('-' skips a field; known: {})".format(
                    width, ",".join(names), len(names), width, example, ",".join(sorted(KNOWN_COLUMNS))))

    def parse(self, line):
        """``(t_dev_s or None, power_w)`` for a data line, else None (and the line is counted)."""
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        text = line.strip().strip("\x00")
        if not text:
            return None
        if text.startswith("#"):
            self.comments += 1
            return None
        tokens = _tokens(text)
        if is_header(tokens):
            if not self.use_header(tokens):
                self.bad += 1
            return None
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            self.bad += 1
            return None
        if len(values) != self.layout.width:
            self.bad += 1
            self.widths[len(values)] = self.widths.get(len(values), 0) + 1
            return None
        if not all(math.isfinite(v) for v in values):
            self.bad += 1
            return None
        power = self.layout.power_w(values)
        if not math.isfinite(power):
            self.bad += 1
            return None
        t_dev = None
        if self.layout.has_time:
            t_dev = self.layout.time_s(values)
            if self.last_time_s is not None and t_dev <= self.last_time_s:
                if self.last_time_s - t_dev > RESTART_BACKSTEP_S:
                    self.restarts += 1  # device reset or millis() wrap: a new time origin
                else:
                    self.bad += 1
                    return None
            self.last_time_s = t_dev
        self.good += 1
        return (t_dev, power)


class CsvProbeSource(SerialSource):
    """Streaming CSV probe on a serial port."""

    def __init__(self, url, root=None):
        SerialSource.__init__(self, url, root)
        self.columns = self.params.text("columns", DEFAULT_COLUMNS)
        self.sampling = check_sampling(self.params.text("sampling", INSTANTANEOUS), url)
        self.params.finish()
        self.parser = CsvLineParser(self.columns)  # validates columns= now
        self.max_rate_hz = max(1.0, self.baud / 10.0 / 24.0)
        self.mapper = ClockMapper()
        self._partial = b""
        self._prev_arrival = None
        self._est_dt = 1e-3
        self._skip_torn = False
        self._diagnosed = False

    def open(self):
        self.open_port()
        self.parser = CsvLineParser(self.columns)
        self._diagnosed = False
        stale_header = self._drop_stale_input()
        self.mapper.reset()
        self._partial = b""
        self._prev_arrival = None
        self.device_timestamps = self.parser.layout.has_time
        self.rails = ()
        self.board_rule = "probe reading"
        columns = ",".join(self.parser.layout.names)
        if stale_header:
            columns += ", from the header sent before the port was opened"
        self.detail = "CSV probe {} ({})".format(self.port, columns)
        self.is_open = True
        return self

    def _drop_stale_input(self):
        """Read and drop what arrived before we opened (old samples carry old times), keeping its
        last header line's column names. True when such a header set the columns."""
        ser = self.ser
        stale = b""
        try:
            while len(stale) < STALE_LIMIT_BYTES:
                waiting = ser.in_waiting
                if not waiting:
                    break
                stale += ser.read(waiting)
        except Exception:  # not every pyserial URL handler can tell what is waiting
            pass
        lines = stale.split(b"\n")[:-1]  # the last piece is torn: its rest arrives with the first read
        self._skip_torn = bool(stale) and not stale.endswith(b"\n")
        for line in reversed(lines):
            tokens = _tokens(line.decode("utf-8", "replace").strip().strip("\x00"))
            if is_header(tokens):
                return self.parser.use_header(tokens, source="the header sent before the port was opened")
        return False

    def no_data_reason(self):
        """Why no valid sample came, in one line (or None): the field-count diagnosis."""
        return self.parser.width_diagnosis()

    def read_block(self, timeout_s=0.1):
        data, arrival = self.read_bytes(timeout_s)
        if not data:
            return Block.empty()
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        if self._skip_torn and lines:
            lines = lines[1:]  # the rest of a line torn when the stale input was dropped
            self._skip_torn = False
        parser = self.parser
        bad_before = parser.bad
        restarts = parser.restarts
        segments = [[]]  # device-timed samples, split where the device clock restarted
        no_time = []
        for line in lines:
            parsed = parser.parse(line)
            if parsed is None:
                continue
            t_dev, power = parsed
            if t_dev is None:
                no_time.append(power)
                continue
            if parser.restarts != restarts:
                restarts = parser.restarts
                segments.append([])
            segments[-1].append((t_dev, power))
        t_parts, p_parts, notes = [], [], []
        for index, segment in enumerate(segments):
            if index:
                self.mapper.reset()
                notes.append("device clock restarted")
            if segment:
                t_parts.append(self.mapper.map([d[0] for d in segment], arrival))
                p_parts.append(np.array([d[1] for d in segment], dtype=float))
        if no_time:
            n = len(no_time)
            start = self._prev_arrival if self._prev_arrival is not None else arrival - n * self._est_dt
            start = max(start, arrival - n * 10 * self._est_dt)
            step = (arrival - start) / n
            if self._prev_arrival is not None:
                self._est_dt = 0.9 * self._est_dt + 0.1 * step
            t_parts.append(start + step * np.arange(1, n + 1))
            p_parts.append(np.asarray(no_time, dtype=float))
        self._prev_arrival = arrival
        bad = parser.bad - bad_before
        if bad and not self._diagnosed:
            diagnosis = parser.width_diagnosis()
            if diagnosis:
                notes.append(diagnosis)
                self._diagnosed = True
        if not t_parts:
            return Block.empty(bad=bad, notes=notes)
        return Block(np.concatenate(t_parts), np.concatenate(p_parts), None, bad=bad, notes=notes)
