"""Nordic Power Profiler Kit II (PPK2) over its USB CDC serial port.

Protocol (host -> device raw bytes, no framing): ``0x19`` metadata (ASCII ``key: value`` lines
ending in ``END``), ``0x06`` start streaming, ``0x07`` stop, ``0x11 1|2`` ampere/source mode,
``0x0d hi lo`` source voltage in mV, ``0x0c 1`` power the device under test.

Stream: 4-byte little-endian words at a fixed 100 kSa/s: bits 0-13 ADC, 14-16 range (clamped to
4), 18-23 a 6-bit counter (+1 per sample), 24-31 logic inputs. Current in amps, per range ``r``::

    adc = raw14 * 4
    rwg = (adc - O[r]) * (1.8 / 163840) / R[r]
    I   = UG[r] * (rwg * (GS[r] * rwg + GI[r]) + (S[r] * VDD_mV / 1000 + I[r]))

Counter gaps are lost samples: the timeline keeps them as gaps (time = index x 10 us, mapped onto
the host clock).

Spike filter (on by default, ``spike_filter=0`` gives the raw samples): the few samples right
after a measurement-range switch carry the switch's transient, so Nordic's Power Profiler app and
ppk2-api replace them by a running average, and edgebench does the same so its per-sample peaks
match what users see there. Source: IRNAS/ppk2-api-python src/ppk2_api/ppk2_api.py
``PPK2_API.get_adc_result`` (0.9.2; the same as Nordic's pc-nrfconnect-ppk
src/device/serialDevice.ts ``getAdcResult``): two exponential averages of the current run over
every sample (alpha 0.18, and 0.06 for range 4); on a range switch the switch sample and the next
two are replaced by the average (the 0.06 one in range 4, where the first two samples after the
switch also leave both averages untouched). Nordic resets the filter when streaming starts; so do
we. Mean and energy are unchanged to within the few replaced samples when the switches stay in
ranges 0-3 (a sleeping device's bursts: 3e-8 relative here); around range 4 (above ~0.7 A) the
slow 0.06 average and the frozen first two samples make Nordic's filter shift the mean, so use
``spike_filter=0`` for energy of such loads.

Power = current x supply voltage: in source mode the VDD the PPK2 supplies
(``vdd_mv=`` or the metadata's VDD), in ampere mode ``voltage_v=`` (required). Decoding is
vectorised with numpy.

URL: ``serial://PORT?protocol=ppk2[&mode=source|ampere&vdd_mv=3300&voltage_v=..&power_on=1&spike_filter=1&timeout=2]``.
"""
import logging
import re
import time

import numpy as np

from edgebench.errors import PowerSourceError
from edgebench.power.clock import ClockMapper
from edgebench.power.serialport import SerialSource
from edgebench.power.source import INSTANTANEOUS, Block, ProbeLost

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 100000.0
SAMPLE_PERIOD_S = 1e-5
WORD_BYTES = 4
COUNTER_MODULO = 64

CMD_AVERAGE_START = 0x06
CMD_AVERAGE_STOP = 0x07
CMD_DEVICE_RUNNING_SET = 0x0C
CMD_REGULATOR_SET = 0x0D
CMD_SET_POWER_MODE = 0x11
CMD_GET_METADATA = 0x19
MODE_AMPERE = 1
MODE_SOURCE = 2

DEFAULT_R = (1031.64, 101.65, 10.15, 0.94, 0.043)
ADC_SCALE = 1.8 / 163840.0
_META_ITEM = re.compile(r"([a-z]+)(\d?)\s*:\s*(-?nan|null|[-+]?[0-9]*\.?[0-9]+(?:e[-+]?\d+)?)")


class Modifiers(object):
    """PPK2 calibration values (five ranges each) and the metadata's VDD/mode/HW."""

    def __init__(self):
        self.r = np.array(DEFAULT_R)
        self.gs = np.ones(5)
        self.gi = np.ones(5)
        self.o = np.zeros(5)
        self.s = np.zeros(5)
        self.i = np.zeros(5)
        self.ug = np.ones(5)
        self.vdd_mv = None
        self.mode = None
        self.hw = None
        self.calibrated = None


def parse_metadata(text):
    """:class:`Modifiers` from the reply to 0x19; tolerant of case, ``-nan`` and missing keys."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    mods = Modifiers()
    arrays = {"r": mods.r, "gs": mods.gs, "gi": mods.gi, "o": mods.o, "s": mods.s, "i": mods.i, "ug": mods.ug}
    for key, index, raw in _META_ITEM.findall(text.lower()):
        value = float("nan") if raw in ("-nan", "nan", "null") else float(raw)
        if key in arrays and index:
            k = int(index)
            if k > 4 or not np.isfinite(value):
                continue
            if key == "r" and value == 0:
                continue  # some units report R=0: keep the default
            arrays[key][k] = value
        elif key == "vdd" and np.isfinite(value):
            mods.vdd_mv = value
        elif key == "mode" and np.isfinite(value):
            mods.mode = int(value)
        elif key == "hw" and np.isfinite(value):
            mods.hw = int(value)
        elif key == "calibrated" and np.isfinite(value):
            mods.calibrated = int(value)
    return mods


def unpack_words(buf):
    """``(raw_adc, range, counter, logic)`` arrays from a bytes buffer of whole 4-byte words."""
    words = np.frombuffer(buf, dtype="<u4", count=len(buf) // WORD_BYTES)
    raw = (words & 0x3FFF).astype(np.int64)
    rng = np.minimum((words >> 14) & 0x7, 4).astype(np.intp)
    counter = ((words >> 18) & 0x3F).astype(np.int64)
    logic = (words >> 24).astype(np.uint8)
    return raw, rng, counter, logic


def current_a(raw, rng, mods, vdd_mv):
    """Calibrated current in amps (vectorised) for 14-bit ``raw`` ADC values and ranges."""
    adc = raw.astype(float) * 4.0
    rwg = (adc - mods.o[rng]) * ADC_SCALE / mods.r[rng]
    offset = mods.s[rng] * (vdd_mv / 1000.0) + mods.i[rng]
    return mods.ug[rng] * (rwg * (mods.gs[rng] * rwg + mods.gi[rng]) + offset)


SPIKE_ALPHA = 0.18
SPIKE_ALPHA_RANGE4 = 0.06
SPIKE_SAMPLES = 3
SPIKE_RANGE4 = 4


def _ema(x, alpha, y_prev, skip):
    """Exponential average ``y[n] = alpha x[n] + (1 - alpha) y[n-1]`` that stands still at ``skip``."""
    from scipy.signal import lfilter

    b, a = [alpha], [1.0, -(1.0 - alpha)]
    out = np.empty_like(x)
    start = 0
    for stop in list(np.flatnonzero(skip)) + [x.size]:
        if stop > start:
            out[start:stop] = lfilter(b, a, x[start:stop], zi=[(1.0 - alpha) * y_prev])[0]
            y_prev = out[stop - 1]
        if stop < x.size:
            out[stop] = y_prev
        start = stop + 1
    return out


class SpikeFilter(object):
    """Nordic's smoothing of the samples around a PPK2 range switch, vectorised, state kept across blocks.

    Follows ppk2-api's ``PPK2_API.get_adc_result`` sample for sample (IRNAS/ppk2-api-python
    src/ppk2_api/ppk2_api.py): ``rolling_avg``/``rolling_avg4`` are the two averages,
    ``after_spike`` the samples still to replace, ``consecutive_range_samples`` the position after
    the switch. Tested against the ppk2-api package on the same byte stream.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self.avg = None
        self.avg4 = None
        self.prev_range = None
        self.after = 0
        self.consecutive = 0

    def apply(self, amps, rng):
        """Filtered copy of ``amps`` (float array) for the samples' ranges ``rng`` (ints 0-4)."""
        n = amps.size
        if n == 0:
            return amps
        rng = np.asarray(rng)
        prev = np.empty_like(rng)
        prev[0] = rng[0] if self.prev_range is None else self.prev_range
        prev[1:] = rng[:-1]
        index = np.arange(n)
        last_switch = np.maximum.accumulate(np.where(rng != prev, index, -1))
        since = index - last_switch
        switched = last_switch >= 0
        window = np.where(switched, since < SPIKE_SAMPLES, index < self.after)
        position = np.where(switched, since, self.consecutive + 1 + index)
        in_range4 = rng == SPIKE_RANGE4
        skip = window & in_range4 & (position < 2)
        first = amps[0]
        avg = _ema(amps, SPIKE_ALPHA, first if self.avg is None else self.avg, skip)
        avg4 = _ema(amps, SPIKE_ALPHA_RANGE4, first if self.avg4 is None else self.avg4, skip)
        out = amps.copy()
        out[window & ~in_range4] = avg[window & ~in_range4]
        out[window & in_range4] = avg4[window & in_range4]
        self.avg, self.avg4 = float(avg[-1]), float(avg4[-1])
        self.prev_range = int(rng[-1])
        if switched[-1]:
            self.after = max(0, SPIKE_SAMPLES - 1 - int(since[-1]))
            self.consecutive = min(int(since[-1]), SPIKE_SAMPLES - 1)
        else:
            self.consecutive += min(n, self.after)
            self.after = max(0, self.after - n)
        return out


def counter_steps(counter, previous=None):
    """Index step before each sample (1 = consecutive; 1 + k = k samples lost), mod 64."""
    if counter.size == 0:
        return counter
    prev = np.empty_like(counter)
    prev[0] = counter[0] - 1 if previous is None else previous
    prev[1:] = counter[:-1]
    steps = (counter - prev - 1) % COUNTER_MODULO + 1
    return steps


def best_alignment(buf, min_words=16):
    """Byte offset (0-3) at which the stream's counters run consecutively, or None if unclear."""
    best, best_score = None, -1.0
    for offset in range(WORD_BYTES):
        usable = (len(buf) - offset) // WORD_BYTES * WORD_BYTES
        if usable < min_words * WORD_BYTES:
            return None
        _, _, counter, _ = unpack_words(buf[offset:offset + usable])
        score = float(np.mean(((counter[1:] - counter[:-1]) % COUNTER_MODULO) == 1))
        if score > best_score:
            best, best_score = offset, score
    return best if best_score >= 0.8 else None


class Ppk2Source(SerialSource):
    """Streaming PPK2 source, 100 kSa/s, device timestamps (index x 10 us)."""

    sampling = INSTANTANEOUS
    device_timestamps = True
    max_rate_hz = SAMPLE_RATE_HZ
    default_baud = 9600  # ignored by a CDC-ACM device

    def __init__(self, url, root=None):
        SerialSource.__init__(self, url, root)
        params = self.params
        self.mode_name = params.text("mode", None, choices=("source", "ampere"))
        self.vdd_mv = params.number("vdd_mv", None, positive=True)
        self.voltage_v = params.number("voltage_v", None, positive=True)
        self.power_on = params.flag("power_on", False)
        self.spike_filter = SpikeFilter() if params.flag("spike_filter", True) else None
        params.finish()
        if self.vdd_mv is not None and not 800 <= self.vdd_mv <= 5000:
            raise PowerSourceError("vdd_mv={:g} is outside the PPK2's 800-5000 mV".format(self.vdd_mv))
        if self.mode_name == "ampere" and self.voltage_v is None:
            raise PowerSourceError(ampere_message(url))
        self.mods = Modifiers()
        self.supply_v = None
        self.mapper = ClockMapper()
        self._reset_stream()

    def _reset_stream(self):
        self._pending = b""
        self._aligned = False
        self._index = 0
        self._last_counter = None

    name_for_errors = "PPK2"

    def open(self):
        return self.open_with(self._handshake, "is it a PPK2 data port?")

    def _handshake(self):
        self.write(bytes([CMD_AVERAGE_STOP]))
        time.sleep(0.05)
        self.ser.reset_input_buffer()
        self.write(bytes([CMD_GET_METADATA]))
        text = b""
        deadline = time.perf_counter() + self.timeout_s
        while b"END" not in text.upper():
            if time.perf_counter() > deadline:
                raise ProbeLost("no metadata (END) within {:.1f} s".format(self.timeout_s))
            chunk, _ = self.read_bytes(0.05)
            text += chunk
        self.mods = parse_metadata(text)
        mode = {"source": MODE_SOURCE, "ampere": MODE_AMPERE}.get(self.mode_name) or self.mods.mode or MODE_SOURCE
        if self.mode_name:
            self.write(bytes([CMD_SET_POWER_MODE, mode]))
        if mode == MODE_AMPERE:
            if self.voltage_v is None:
                raise PowerSourceError(ampere_message(self.url))
            self.supply_v = float(self.voltage_v)
            vdd_mv = self.mods.vdd_mv or 3000.0
            self.board_rule = "ampere mode: current x voltage_v={:g} V".format(self.supply_v)
        else:
            vdd_mv = self.vdd_mv or self.mods.vdd_mv
            if not vdd_mv:
                raise PowerSourceError("PPK2 metadata gives no VDD: pass vdd_mv= (800-5000) in the URL")
            if self.vdd_mv:
                self.write(bytes([CMD_REGULATOR_SET, int(vdd_mv) >> 8, int(vdd_mv) & 0xFF]))
            self.supply_v = vdd_mv / 1000.0
            self.board_rule = "source mode: current x VDD {:g} V".format(self.supply_v)
        self.conversion_vdd_mv = float(vdd_mv)
        if self.power_on:
            self.write(bytes([CMD_DEVICE_RUNNING_SET, 1]))
        self.detail = "PPK2 {}; {}; {}".format(
            self.port, self.board_rule, "spike filter on (as Nordic's app)" if self.spike_filter else "raw samples")
        if self.spike_filter is not None:
            self.spike_filter.reset()  # Nordic resets it when streaming starts
        self.mapper.reset()
        self._reset_stream()
        self.write(bytes([CMD_AVERAGE_START]))

    def read_block(self, timeout_s=0.1):
        data, arrival = self.read_bytes(timeout_s)
        if not data:
            return Block.empty()
        buf = self._pending + data
        notes = []
        lost = 0
        if not self._aligned:
            offset = best_alignment(buf)
            if offset is None:
                self._pending = buf[-(1 << 16):]
                return Block.empty()
            if offset:
                notes.append("resynchronised the PPK2 stream ({} bytes dropped)".format(offset))
            buf = buf[offset:]
            self._aligned = True
        usable = len(buf) // WORD_BYTES * WORD_BYTES
        self._pending = buf[usable:]
        raw, rng, counter, _ = unpack_words(buf[:usable])
        if counter.size == 0:
            return Block.empty()
        steps = counter_steps(counter, self._last_counter)
        if counter.size >= 16 and np.mean(steps == 1) < 0.5:
            # framing lost (a byte went missing): realign on the next read
            self._aligned = False
            self._pending = buf[usable - min(usable, 256):] + self._pending
            return Block.empty(bad=int(counter.size), notes=["PPK2 stream lost framing; resynchronising"])
        lost = int(np.sum(steps - 1))
        self._last_counter = int(counter[-1])
        index = self._index + np.cumsum(steps)
        self._index = int(index[-1])
        amps = current_a(raw, rng, self.mods, self.conversion_vdd_mv)
        if self.spike_filter is not None:
            amps = self.spike_filter.apply(amps, rng)
        power = amps * self.supply_v
        t_s = self.mapper.map(index * SAMPLE_PERIOD_S, arrival)
        return Block(t_s, power, None, lost=lost, notes=notes)

    def close(self):
        if self.ser is not None:
            try:
                self.write(bytes([CMD_AVERAGE_STOP]))
            except ProbeLost:
                pass
        SerialSource.close(self)


def ampere_message(url):
    return (
        "PPK2 in ampere mode measures current only: add voltage_v=<supply volts> to {!r} "
        "(e.g. &voltage_v=5.0)".format(str(url))
    )
