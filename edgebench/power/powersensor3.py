"""PowerSensor3 (an open USB-CDC power probe) over its serial port.

Protocol: ``R`` reads the configuration (per sensor a packed 41-byte record
``char type[16]; char pairName[16]; float32 vref; float32 sensitivity; bool inUse``, the host sends
any byte after each record, the device ends with ``D``); ``S`` starts streaming; ``T`` stops.

Stream: 2-byte words. Sync rule: the first byte has its MSB set, the second has it clear; a word
that breaks the rule means a byte was dropped, so one byte is skipped and framing retried.
Sensor word ``1 iii aaaa | 0 m bbbbbb``: sensor ``iii`` (0-7), level ``aaaa<<6 | bbbbbb``
(10 bits), marker ``m``. A set starts with a timestamp word (sensor 7 with the marker set, a 10-bit
microsecond counter that wraps every 1024 us) followed by the 8 sensor words. ``FF 3F`` is the
stop word. Value = ``(3.3 * level / 1023 - vref) / sensitivity``; sensors ``2k`` (current, A) and
``2k+1`` (voltage, V) form pair ``k``; power = sum over pairs in use of volts x amps.

URL: ``serial://PORT?protocol=powersensor3[&timeout=2]``.
"""
import logging
import struct
import time

import numpy as np

from edgebench.errors import PowerSourceError
from edgebench.power.clock import ClockMapper
from edgebench.power.serialport import SerialSource
from edgebench.power.source import INSTANTANEOUS, Block, ProbeLost

logger = logging.getLogger(__name__)

MAX_SENSORS = 8
MAX_PAIRS = MAX_SENSORS // 2
ADC_VOLTAGE = 3.3
MAX_LEVEL = 1023.0
CONFIG_RECORD = struct.Struct("<16s16sff?")  # 41 bytes, packed
TIMESTAMP_SENSOR = 7
TIMESTAMP_WRAP_US = 1024
MAX_RATE_HZ = 20000.0


class SensorConfig(object):
    def __init__(self, kind, pair_name, vref, sensitivity, in_use):
        self.kind = kind
        self.pair_name = pair_name
        self.vref = vref
        self.sensitivity = sensitivity
        self.in_use = in_use

    @classmethod
    def unpack(cls, record):
        kind, pair, vref, sens, in_use = CONFIG_RECORD.unpack(record)
        return cls(
            kind.split(b"\0", 1)[0].decode("ascii", "replace"),
            pair.split(b"\0", 1)[0].decode("ascii", "replace"),
            vref, sens, bool(in_use),
        )

    def pack(self):
        return CONFIG_RECORD.pack(
            self.kind.encode("ascii")[:16], self.pair_name.encode("ascii")[:16], self.vref, self.sensitivity,
            self.in_use,
        )


def decode_words(buf):
    """Split a byte stream into 2-byte words by the sync rule.

    Returns ``(starts, sensor, level, marker, consumed, skipped, stopped)`` where the arrays hold one
    entry per valid word (``starts`` = its byte offset), ``consumed`` is how many bytes were used,
    ``skipped`` counts bytes dropped to regain framing and ``stopped`` is True at a stop word.
    """
    data = np.frombuffer(buf, dtype=np.uint8)
    n = data.size
    if n < 2:
        return (np.empty(0, np.intp),) + (np.empty(0, np.int64),) * 3 + (0, 0, False)
    high = (data & 0x80) != 0
    # fast path: the whole buffer is framed from byte 0
    pairs = n // 2
    first = data[0:2 * pairs:2]
    second = data[1:2 * pairs:2]
    good = ((first & 0x80) != 0) & ((second & 0x80) == 0)
    stop = (first == 0xFF) & (second == 0x3F)
    if good.all() and not stop.any():
        starts = np.arange(0, 2 * pairs, 2)
        consumed, skipped, stopped = 2 * pairs, 0, False
    else:
        starts, consumed, skipped, stopped = _walk(high, data)
    b0 = data[starts].astype(np.int64)
    b1 = data[starts + 1].astype(np.int64)
    sensor = (b0 >> 4) & 0x7
    level = ((b0 & 0xF) << 6) | (b1 & 0x3F)
    marker = (b1 >> 6) & 0x1
    return starts, sensor, level, marker, consumed, skipped, stopped


def _walk(high, data):
    """Slow path over a buffer with framing errors: positions of valid words."""
    starts = []
    i, n, skipped = 0, data.size, 0
    while i + 1 < n:
        if data[i] == 0xFF and data[i + 1] == 0x3F:
            return np.array(starts, dtype=np.intp), i + 2, skipped, True
        if high[i] and not high[i + 1]:
            starts.append(i)
            i += 2
        else:
            i += 1
            skipped += 1
    return np.array(starts, dtype=np.intp), i, skipped, False


class PowerSensor3Source(SerialSource):
    """Streaming PowerSensor3: one sample per sensor set, device microsecond timestamps."""

    sampling = INSTANTANEOUS
    device_timestamps = True
    max_rate_hz = MAX_RATE_HZ

    def __init__(self, url, root=None):
        SerialSource.__init__(self, url, root)
        self.params.finish()
        self.sensors = []
        self.pairs = ()
        self.mapper = ClockMapper()
        self._reset_stream()

    def _reset_stream(self):
        self._pending = b""
        self._last_stamp = None
        self._device_us = 0

    name_for_errors = "PowerSensor3"

    def open(self):
        return self.open_with(self._handshake, "is it a PowerSensor3?")

    def _read_exact(self, count):
        data = b""
        deadline = time.perf_counter() + self.timeout_s
        while len(data) < count:
            if time.perf_counter() > deadline:
                raise ProbeLost("short reply ({} of {} bytes)".format(len(data), count))
            chunk = self.ser.read(count - len(data))
            data += chunk
        return data

    def _handshake(self):
        self.write(b"T")
        time.sleep(0.05)
        self.ser.reset_input_buffer()
        self.write(b"R")
        sensors = []
        for _ in range(MAX_SENSORS):
            sensors.append(SensorConfig.unpack(self._read_exact(CONFIG_RECORD.size)))
            self.write(b"s")
        done = self._read_exact(1)
        if done != b"D":
            raise PowerSourceError(
                "PowerSensor3 on {} sent {!r} instead of 'D' after its configuration".format(self.port, done)
            )
        self.sensors = sensors
        pairs = []
        for pair in range(MAX_PAIRS):
            cur, volt = sensors[2 * pair], sensors[2 * pair + 1]
            if cur.in_use and volt.in_use:
                if cur.sensitivity == 0 or volt.sensitivity == 0:
                    raise PowerSourceError(
                        "PowerSensor3 pair {} has sensitivity 0: reconfigure it with psconfig".format(pair)
                    )
                pairs.append(pair)
            elif cur.in_use != volt.in_use:
                logger.warning("PowerSensor3 pair %s has only one sensor in use; ignored", pair)
        if not pairs:
            raise PowerSourceError(
                "PowerSensor3 on {} has no sensor pair in use: configure one with psconfig".format(self.port)
            )
        self.pairs = tuple(pairs)
        self._vref = np.array([s.vref for s in sensors])
        self._sens = np.array([s.sensitivity if s.sensitivity else 1.0 for s in sensors])
        self.rails = tuple(sensors[2 * p].pair_name or "pair{}".format(p) for p in pairs)
        self.board_rule = "sum of {} sensor pair{} (volts x amps)".format(len(pairs), "s" if len(pairs) > 1 else "")
        self.detail = "PowerSensor3 {}; {}".format(self.port, self.board_rule)
        self.mapper.reset()
        self._reset_stream()
        self.write(b"S")

    def values(self, levels):
        """Sensor values (amps or volts) for a (sets x 8) level array."""
        return (ADC_VOLTAGE * levels / MAX_LEVEL - self._vref) / self._sens

    def read_block(self, timeout_s=0.1):
        data, arrival = self.read_bytes(timeout_s)
        if not data:
            return Block.empty()
        buf = self._pending + data
        starts, sensor, level, marker, consumed, skipped, stopped = decode_words(buf)
        if stopped:
            raise ProbeLost("PowerSensor3 sent its stop word")
        stamps, levels, keep_from, incomplete = self._assemble(sensor, level, marker)
        # an unfinished set goes back to the buffer and is decoded again with the next bytes
        self._pending = buf[starts[keep_from]:] if keep_from is not None else buf[consumed:]
        bad = skipped + incomplete
        notes = ["PowerSensor3 framing: {} byte(s) skipped".format(skipped)] if skipped else []
        if not len(stamps):
            return Block.empty(bad=bad, notes=notes)
        vals = self.values(levels.astype(float))
        rails = np.stack([vals[:, 2 * p] * vals[:, 2 * p + 1] for p in self.pairs], axis=1)
        power = rails.sum(axis=1)
        t_s = self.mapper.map(stamps * 1e-6, arrival)
        return Block(t_s, power, rails, bad=bad, notes=notes)

    def _assemble(self, sensor, level, marker):
        """Vectorised: complete sets -> (device time in us, (sets x 8) levels).

        A set is a timestamp word followed by sensor words 0..7. Returns ``(stamps, levels,
        keep_from, incomplete)``: ``keep_from`` is the word index of a trailing unfinished set (to be
        decoded again with more bytes) and ``incomplete`` counts sets that were broken.
        """
        nwords = sensor.size
        ts = np.flatnonzero((sensor == TIMESTAMP_SENSOR) & (marker == 1))
        if ts.size == 0:
            return np.empty(0), np.empty((0, MAX_SENSORS)), None, 0
        keep_from = None
        if ts[-1] + MAX_SENSORS >= nwords:
            keep_from = int(ts[-1])
            ts_done = ts[:-1]
        else:
            ts_done = ts
        # device time: unwrap every timestamp in order (wraps every 1024 us)
        stamp_levels = level[ts_done]
        prev = np.empty_like(stamp_levels)
        if stamp_levels.size:
            prev[0] = stamp_levels[0] if self._last_stamp is None else self._last_stamp
            prev[1:] = stamp_levels[:-1]
        delta = (stamp_levels - prev) % TIMESTAMP_WRAP_US
        if self._last_stamp is not None and delta.size:
            delta[0] = delta[0] or TIMESTAMP_WRAP_US
        if delta.size > 1:
            delta[1:][delta[1:] == 0] = TIMESTAMP_WRAP_US
        device_us = self._device_us + np.cumsum(delta)
        if stamp_levels.size:
            self._last_stamp = int(stamp_levels[-1])
            self._device_us = int(device_us[-1])
        if not ts_done.size:
            return np.empty(0), np.empty((0, MAX_SENSORS)), keep_from, 0
        index = ts_done[:, None] + 1 + np.arange(MAX_SENSORS)[None, :]
        in_range = index[:, -1] < nwords
        ok = np.zeros(ts_done.size, dtype=bool)
        ok[in_range] = np.all(sensor[index[in_range]] == np.arange(MAX_SENSORS)[None, :], axis=1)
        return device_us[ok].astype(float), level[index[ok]], keep_from, int(np.sum(~ok))

    def close(self):
        if self.ser is not None:
            try:
                self.write(b"T")
            except ProbeLost:
                pass
        SerialSource.close(self)
