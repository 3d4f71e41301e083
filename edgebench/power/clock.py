"""The host clock power samples are stamped with, and mapping a device clock onto it.

**Host clock.** Every sample and every timed window uses ``time.perf_counter()`` seconds. On Linux
CPython implements it with ``clock_gettime(CLOCK_MONOTONIC)`` (``time.get_clock_info`` says so),
which is one system-wide clock: a worker child process's ``perf_counter()`` readings are directly
comparable with the parent's sampler thread. :func:`host_clock_is_system_wide` checks that; where it
is not true (another OS), use ``time.monotonic()`` on both sides (:func:`host_clock`).

**Device clocks.** A probe that stamps its own samples (PPK2 sample index x 10 us, a CSV probe's
``millis()``) keeps exact spacing but has its own origin and a crystal that drifts by tens of ppm.
:class:`ClockMapper` maps device seconds onto the host clock with an offset equal to the smallest
``arrival time - device time`` seen over a sliding window (the least-delayed block, so USB
batching latency does not shift the samples late), slewed at most ``max_slew`` (1000 ppm) so spacing
never jumps and timestamps stay strictly increasing.
"""
import collections
import time


def host_clock():
    """The clock function the sampler and the worker must share."""
    return time.perf_counter if host_clock_is_system_wide() else time.monotonic


def host_clock_is_system_wide():
    """True when ``perf_counter`` is CLOCK_MONOTONIC (system-wide, comparable across processes)."""
    info = time.get_clock_info("perf_counter")
    return "CLOCK_MONOTONIC" in info.implementation and "RAW" not in info.implementation


class ClockMapper(object):
    """Map device timestamps (seconds, any origin) onto ``time.perf_counter()`` seconds."""

    def __init__(self, window_s=10.0, max_slew=1e-3, settle_s=2.0):
        self.window_s = float(window_s)
        self.max_slew = float(max_slew)
        self.settle_s = float(settle_s)
        self.reset()

    def reset(self):
        """Forget the device origin (the device restarted or reconnected); keep time monotonic."""
        self.offset_s = None
        self._history = collections.deque()
        self._first_arrival = None
        self._last_dev = None
        if not hasattr(self, "last_host_s"):
            self.last_host_s = float("-inf")

    def map(self, dev_t, arrival_s):
        """Host times for the device times ``dev_t`` (increasing 1-D array) that arrived at ``arrival_s``."""
        import numpy as np

        dev_t = np.asarray(dev_t, dtype=float)
        if dev_t.size == 0:
            return dev_t
        candidate = arrival_s - dev_t[-1]
        history = self._history
        history.append((arrival_s, candidate))
        while history and history[0][0] < arrival_s - self.window_s:
            history.popleft()
        target = min(c for _, c in history)
        if self.offset_s is None:
            self.offset_s = candidate
            self._first_arrival = arrival_s
        elif arrival_s - self._first_arrival < self.settle_s:
            self.offset_s = target
        else:
            step = self.max_slew * max(dev_t[-1] - self._last_dev, 0.0)
            self.offset_s += min(max(target - self.offset_s, -step), step)
        host = dev_t + self.offset_s
        if host[0] <= self.last_host_s:
            # never go back in time: shift this block (and the offset) just past the last sample
            shift = self.last_host_s - host[0] + 1e-9
            self.offset_s += shift
            host = host + shift
        self._last_dev = dev_t[-1]
        self.last_host_s = host[-1]
        return host
