"""Background sampling of a power source into a numpy ring buffer, and per-window results.

A :class:`Sampler` owns one thread that reads its source (paced at ``rate_hz`` for polled sources,
as fast as data arrives for streaming ones) and appends ``(t_s, power_w[, rails_w])`` to a ring
buffer whose timestamps are host ``time.perf_counter()`` seconds, strictly increasing. Callers
mark a window by its start and end on the same clock (a worker process may take them: the clock
is system-wide, see :mod:`edgebench.power.clock`) and ask for :meth:`Sampler.window`,
:meth:`Sampler.summary` or :meth:`Sampler.measure_idle`.

Problems are recorded as timed events (unparseable input, samples lost by the device, the probe
disappearing) and attached to the windows they fall in. A probe that disappears ends that window
with a flagged, partial result; the sampler closes it and reopens it (with back-off) for the next
window.
"""
import array
import logging
import math
import os
import threading
import time

import numpy as np

from edgebench.power.energy import idle_from_window, summarize_window
from edgebench.power.source import ProbeLost

logger = logging.getLogger(__name__)

DEFAULT_BUFFER_S = 120.0
MAX_SAMPLES = 4000000
MIN_CAPACITY = 4096
RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
FLUSH_S = 0.02  # polled samples reach the ring buffer in batches this long
FILE_FLUSH_S = 0.1  # file-polled batches: numpy's per-call cost spread over 100 samples at 1 kHz


class WindowData(object):
    """Samples around one window (one sample of context on each side) and its events."""

    def __init__(self, start_s, end_s, t_s, power_w, rails_w, rails, sampling, label, simulated, has_data,
                 bad=0, lost=0, events=(), truncated=False):
        self.start_s = float(start_s)
        self.end_s = float(end_s)
        self.t_s = t_s
        self.power_w = power_w
        self.rails_w = rails_w
        self.rails = tuple(rails)
        self.sampling = sampling
        self.label = label
        self.simulated = simulated
        self.has_data = has_data
        self.bad = bad
        self.lost = lost
        self.events = list(events)
        if truncated:
            self.events.append("window longer than the sample buffer: its start was overwritten (raise buffer_s)")

    @property
    def inside(self):
        return (self.t_s >= self.start_s) & (self.t_s <= self.end_s)


class _Ring(object):
    """Fixed-capacity ring of (t, power[, rails]); logical index k lives at k % capacity."""

    def __init__(self, capacity, n_rails):
        self.capacity = int(capacity)
        self.t = np.empty(self.capacity)
        self.p = np.empty(self.capacity, dtype=np.float32)
        self.r = np.empty((self.capacity, n_rails), dtype=np.float32) if n_rails else None
        self.count = 0

    def append(self, t, p, r=None):
        n = len(t)
        if n > self.capacity:
            t, p = t[-self.capacity:], p[-self.capacity:]
            r = r[-self.capacity:] if r is not None else None
            self.count += n - self.capacity
            n = self.capacity
        start = self.count % self.capacity
        first = min(n, self.capacity - start)
        self.t[start:start + first] = t[:first]
        self.p[start:start + first] = p[:first]
        if self.r is not None and r is not None:
            self.r[start:start + first] = r[:first]
        if first < n:
            rest = n - first
            self.t[:rest] = t[first:]
            self.p[:rest] = p[first:]
            if self.r is not None and r is not None:
                self.r[:rest] = r[first:]
        self.count += n

    @property
    def oldest(self):
        return max(0, self.count - self.capacity)

    def time_at(self, k):
        return self.t[k % self.capacity]

    def search(self, value, side):
        """Logical index of ``value`` in the (sorted) stored times, like np.searchsorted."""
        lo, hi = self.oldest, self.count
        if lo == hi:
            return lo
        start = lo % self.capacity
        if start + (hi - lo) <= self.capacity:
            return lo + int(np.searchsorted(self.t[start:start + hi - lo], value, side=side))
        first = self.t[start:]
        if (value < first[-1]) or (side == "left" and value == first[-1]):
            return lo + int(np.searchsorted(first, value, side=side))
        return lo + first.size + int(np.searchsorted(self.t[:hi - lo - first.size], value, side=side))

    def slice(self, a, b):
        """Copies of logical range [a, b)."""
        idx = np.arange(a, b) % self.capacity
        r = self.r[idx].astype(float) if self.r is not None else None
        return self.t[idx].copy(), self.p[idx].astype(float), r


class Sampler(object):
    """Samples ``source`` in a background thread. Use as a context manager or start()/stop().

    ``rate_hz`` (polled sources): pace; default and ceiling ``source.max_rate_hz``.
    ``buffer_s``: seconds of history kept (capped at 4 million samples).
    ``file_poll``: sample sources that offer it (:meth:`PowerSource.file_poll`, the INA3221)
    through preallocated buffers, one ``pread`` per file per sample and no Python object per
    sample; False reads them through ``read()`` like any polled source (kept for comparison).
    """

    def __init__(self, source, rate_hz=None, buffer_s=DEFAULT_BUFFER_S, reconnect=True, file_poll=True):
        self.source = source
        self.use_file_poll = file_poll
        self.requested_rate_hz = rate_hz
        self.rate_hz = None
        self.buffer_s = buffer_s
        self._ring = None
        self._lock = threading.Lock()
        self._new_data = threading.Condition(self._lock)
        self._events = []  # (t0, t1, kind, count, text)
        self._thread = None
        self._stop = threading.Event()
        self.reconnect = reconnect
        self.errors = 0
        self.last_error = None

    def _configure(self):
        """Rate and buffer, once the source is open (its rails and fastest rate are known then)."""
        source = self.source
        max_rate = float(source.max_rate_hz or 0.0)
        rate_hz = self.requested_rate_hz
        if rate_hz is not None and max_rate and rate_hz > max_rate:
            logger.warning("power rate %s Hz is above %s's fastest %s Hz; using %s Hz",
                           rate_hz, source.label, max_rate, max_rate)
            rate_hz = max_rate
        self.rate_hz = float(rate_hz or max_rate or 1.0)
        capacity = int(min(MAX_SAMPLES, max(MIN_CAPACITY, self.buffer_s * max(self.rate_hz, max_rate) * 1.2)))
        self._ring = _Ring(capacity, len(source.rails))

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self):
        if self._thread is not None:
            return self
        # slow first import (~0.3 s): pay it now, not in the first window summary, and before the
        # source opens, so a streaming probe's input does not pile up unread meanwhile
        import scipy.signal  # noqa: F401

        if self.source.has_data and not self.source.is_open:
            self.source.open()
        if self._ring is None:
            self._configure()

        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="edgebench-power-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def close(self):
        self.stop()
        self.source.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @staticmethod
    def now():
        """The clock windows are marked with (``time.perf_counter()``)."""
        return time.perf_counter()

    # -- the thread ------------------------------------------------------------------------------
    def _run(self):
        source = self.source
        if not source.has_data:
            return
        failures = 0
        while not self._stop.is_set():
            if not source.is_open:
                if not self._reopen(failures):
                    failures += 1
                    continue
                failures = 0
            try:
                if source.streaming:
                    self._store(source.read_block(0.1))
                else:
                    plan = source.file_poll() if self.use_file_poll else None
                    if plan is not None:
                        self._poll_files(plan)
                    else:
                        self._poll(source)
            except ProbeLost as err:
                self._lost(str(err))
            except Exception as err:  # a sampler thread must never die silently
                self.errors += 1
                self.last_error = "{}: {}".format(type(err).__name__, err)
                logger.warning("power sampler: %s", self.last_error)
                self._lost(self.last_error)

    def _poll(self, source):
        """Read a polled source at ``rate_hz``; samples go to the ring in batches of ~20 ms."""
        period = 1.0 / self.rate_hz
        batch = max(1, int(FLUSH_S * self.rate_hz))
        clock = time.perf_counter
        sleep = time.sleep
        stop = self._stop.is_set
        read = source.read
        times, powers, rails = [], [], []
        next_t = clock()
        try:
            while not stop():
                delay = next_t - clock()
                if delay > 0:
                    sleep(delay)
                sample = read()
                t_s = sample.t_s
                times.append(t_s)
                powers.append(sample.power_w)
                rails.append(sample.rails_w)
                next_t += period
                if t_s - next_t > period:
                    next_t = t_s  # fell behind: do not burst to catch up
                if len(times) >= batch:
                    self._flush(times, powers, rails)
                    times, powers, rails = [], [], []
        finally:
            if times:
                self._flush(times, powers, rails)

    def _poll_files(self, plan):
        """Sample integer files at ``rate_hz``: per wake-up one ``pread`` per file into a
        preallocated buffer, a timestamp into another; a batch (~0.1 s) is converted at once."""
        period = 1.0 / self.rate_hz
        batch = max(1, int(FILE_FLUSH_S * self.rate_hz))
        fds = plan.fds
        n_files = len(fds)
        values = array.array("d", bytes(8 * batch * n_files))
        stamps = array.array("d", bytes(8 * batch))
        clock = time.perf_counter
        sleep = time.sleep
        pread = os.pread
        stop = self._stop.is_set
        slow = plan.slow
        size = 64
        next_t = t1 = clock()
        while not stop():
            k = 0
            for i in range(batch):
                delay = next_t - t1  # t1: when the previous reads ended, close enough to now
                if delay > 0:
                    sleep(delay)
                t0 = clock()
                try:
                    for fd in fds:
                        values[k] = int(pread(fd, size, 0))
                        k += 1
                except (OSError, ValueError):
                    k = i * n_files
                    for index, fd in enumerate(fds):
                        values[k] = slow(index, fd)
                        k += 1
                t1 = clock()
                stamps[i] = 0.5 * (t0 + t1)
                next_t += period
                if t1 - next_t > period:
                    next_t = t1  # fell behind: do not burst to catch up
            raw = np.frombuffer(values, dtype=float).reshape(batch, n_files)
            power, rails = plan.convert(raw)
            self._append(np.array(stamps), power, rails if self._ring.r is not None else None, 0, 0, ())

    def _flush(self, times, powers, rails):
        r = np.array(rails, dtype=float) if self._ring.r is not None and rails and rails[0] else None
        self._append(np.array(times), np.array(powers, dtype=float), r, 0, 0, ())

    def _reopen(self, failures):
        delay = RECONNECT_BACKOFF_S[min(failures, len(RECONNECT_BACKOFF_S) - 1)]
        if not self.reconnect or not self.source.reconnectable:
            self._stop.wait(0.5)
            return False
        if self._stop.wait(delay):
            return False
        try:
            self.source.open()
        except Exception as err:
            logger.info("power source %s not back yet: %s", self.source.label, err)
            return False
        self._event(time.perf_counter(), time.perf_counter(), "reconnected", 0, "probe reconnected")
        logger.info("power source %s reconnected", self.source.label)
        return True

    def _lost(self, reason):
        now = time.perf_counter()
        logger.warning("power source %s lost: %s", self.source.label, reason)
        self._event(now, now, "probe_lost", 1, "probe lost ({}); window partial".format(reason))
        try:
            self.source.close()
        except Exception:
            pass
        self.source.is_open = False

    def _event(self, t0, t1, kind, count, text):
        with self._lock:
            self._events.append((t0, t1, kind, count, text))
            if len(self._events) > 10000:
                del self._events[:5000]

    def _store(self, block):
        self._append(block.t_s, block.power_w, block.rails_w, block.bad, block.lost, block.notes)

    def _append(self, t, p, r, bad, lost, notes):
        now = time.perf_counter()
        with self._new_data:
            ring = self._ring
            if len(t):
                last = ring.time_at(ring.count - 1) if ring.count else -math.inf
                if t[0] <= last:
                    keep = t > last
                    bad += int(np.sum(~keep))
                    t, p = t[keep], p[keep]
                    r = r[keep] if r is not None else None
                if len(t):
                    ring.append(t, p, r if ring.r is not None else None)
            span0 = float(t[0]) if len(t) else now
            span1 = float(t[-1]) if len(t) else now
            if bad:
                self._events.append((span0, span1, "bad", bad, ""))
            if lost:
                self._events.append((span0, span1, "lost", lost, ""))
            for note in notes:
                self._events.append((span0, span1, "note", 0, note))
            self._new_data.notify_all()

    # -- reading results -------------------------------------------------------------------------
    @property
    def latest_s(self):
        with self._lock:
            ring = self._ring
            return float(ring.time_at(ring.count - 1)) if ring is not None and ring.count else None

    def wait_for(self, t_s, timeout_s):
        """Block until a sample at or after ``t_s`` is stored (True) or ``timeout_s`` passes (False)."""
        deadline = time.perf_counter() + timeout_s
        with self._new_data:
            while True:
                ring = self._ring
                if ring.count and ring.time_at(ring.count - 1) >= t_s:
                    return True
                left = deadline - time.perf_counter()
                if left <= 0 or self._thread is None:
                    return False
                self._new_data.wait(min(left, 0.1))

    def window(self, start_s, end_s, wait_s=None):
        """:class:`WindowData` for ``[start_s, end_s]`` (waits up to ``wait_s`` for the end to arrive)."""
        source = self.source
        if end_s < start_s:
            raise ValueError("window ends before it starts ({} < {})".format(end_s, start_s))
        if not source.has_data:
            return WindowData(start_s, end_s, np.empty(0), np.empty(0), None, (), source.sampling, source.label,
                              source.simulated, False)
        if self._ring is None:
            raise RuntimeError("Sampler.window() before start()")
        if wait_s is None:
            wait_s = min(5.0, max(0.5, 3.0 / self.rate_hz + 0.3))
        self.wait_for(end_s, wait_s)
        connected = source.is_open
        with self._lock:
            ring = self._ring
            a = ring.search(start_s, "left")
            b = ring.search(end_s, "right")
            truncated = a == ring.oldest and ring.oldest > 0 and ring.count and ring.time_at(ring.oldest) > start_s
            a = max(ring.oldest, a - 1)
            b = min(ring.count, b + 1)
            t, p, r = ring.slice(a, b)
            bad = lost = 0
            events = []
            for t0, t1, kind, count, text in self._events:
                if t1 < start_s or t0 > end_s:
                    continue
                if kind == "bad":
                    bad += count
                elif kind == "lost":
                    lost += count
                elif kind in ("probe_lost", "note"):
                    events.append(text)
        if not connected:
            events.append("power source not connected at the end of the window (reconnecting)")
        return WindowData(start_s, end_s, t, p, r, source.rails, source.sampling, source.label, source.simulated,
                          True, bad=bad, lost=lost, events=sorted(set(events), key=events.index),
                          truncated=bool(truncated))

    def summary(self, start_s, end_s, images, idle=None, threshold=0.99):
        """The power columns of one measurement row (see :func:`edgebench.power.energy.summarize_window`)."""
        return summarize_window(self.window(start_s, end_s), images, idle, threshold=threshold)

    def measure_idle(self, seconds=10.0):
        """Idle baseline: sleep ``seconds`` with nothing running; mean W and 95% interval."""
        start = time.perf_counter()
        self._stop.wait(seconds)
        end = time.perf_counter()
        return idle_from_window(self.window(start, end))

    def achieved_rate_hz(self, seconds=2.0):
        """Samples per second over the last ``seconds`` of data."""
        with self._lock:
            ring = self._ring
            if ring is None or ring.count < 2:
                return 0.0
            end = ring.time_at(ring.count - 1)
            a = ring.search(end - seconds, "left")
            n = ring.count - a
            span = end - ring.time_at(a)
        return (n - 1) / span if span > 0 else 0.0
