"""``sim://``: synthetic board power from this machine's CPU load, always labelled SIMULATED.

power = idle_w + (active_w - idle_w) x CPU utilisation, where utilisation comes from the first
``cpu`` line of ``<root>/proc/stat`` (busy jiffies / all jiffies over the last ``window_s``,
default 0.1 s). Generating ``/proc/stat`` costs the kernel ~0.1 ms, so it is re-read every 25 ms
and the 1 kHz samples in between ramp linearly from the previous utilisation to the new one.
Every label, JSON object and CSV row that carries these numbers says SIMULATED.

``cpu=tree`` takes the utilisation of this process and its descendants instead (their CPU seconds
over wall seconds x CPUs, from psutil): a sweep's own workers then drive the synthetic power and
other load on the machine does not, which is what tests want on a shared machine.

URL: ``sim://?idle_w=1.3&active_w=13.1[&rate_hz=1000&window_s=0.1&cpu=system|tree]``.
"""
import collections
import logging
import time

import numpy as np

from edgebench.errors import PowerSourceError
from edgebench.platform.root import under
from edgebench.power.source import INSTANTANEOUS, SIMULATED_LABEL, Block, PowerSource

logger = logging.getLogger(__name__)

DEFAULT_IDLE_W = 1.3
DEFAULT_ACTIVE_W = 13.1
DEFAULT_RATE_HZ = 1000.0
STAT_PERIOD_S = 0.025


def read_cpu_jiffies(path):
    """(busy, total) jiffies from the aggregate ``cpu`` line of a /proc/stat file, or None."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
    except (OSError, IOError):
        return None
    fields = first.split()
    if not fields or fields[0] != b"cpu" or len(fields) < 5:
        return None
    try:
        values = [int(v) for v in fields[1:]]
    except ValueError:
        return None
    # user nice system idle iowait irq softirq steal (guest is already inside user)
    total = sum(values[:8])
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return total - idle, total


def read_tree_cpu_s():
    """(busy CPU seconds of this process and its descendants, wall seconds x CPUs) for ``cpu=tree``."""
    import os

    import psutil

    me = psutil.Process()
    busy = 0.0
    for proc in [me] + me.children(recursive=True):
        try:
            times = proc.cpu_times()
        except psutil.Error:  # ended meanwhile
            continue
        busy += times.user + times.system
    return busy, time.monotonic() * (os.cpu_count() or 1)


class SimSource(PowerSource):
    scheme = "sim"
    sampling = INSTANTANEOUS
    streaming = True
    simulated = True

    def __init__(self, url, root=None):
        PowerSource.__init__(self, url, root)
        params = url.reader()
        self.idle_w = params.number("idle_w", DEFAULT_IDLE_W, minimum=0.0)
        self.active_w = params.number("active_w", DEFAULT_ACTIVE_W, minimum=0.0)
        self.rate_hz = params.number("rate_hz", DEFAULT_RATE_HZ, positive=True)
        self.window_s = params.number("window_s", 0.1, positive=True)
        self.cpu = params.text("cpu", "system", choices=("system", "tree"))
        params.finish()
        if self.rate_hz > 100000:
            raise PowerSourceError("sim rate_hz={:g} is above 100 kHz".format(self.rate_hz))
        self.max_rate_hz = self.rate_hz
        self.stat_path = under(root, "/proc/stat")
        self._history = collections.deque()

    @property
    def label(self):
        return "{} {}".format(SIMULATED_LABEL, self.url)

    def _cpu_counters(self):
        return read_tree_cpu_s() if self.cpu == "tree" else read_cpu_jiffies(self.stat_path)

    def open(self):
        if self.cpu == "system" and read_cpu_jiffies(self.stat_path) is None:
            raise PowerSourceError(
                "sim:// reads CPU load from {}, which is missing or not a /proc/stat file".format(self.stat_path)
            )
        self.rails = ()
        self.board_rule = "SIMULATED: idle_w + (active_w - idle_w) x CPU utilisation"
        self.detail = self.board_rule
        self._history.clear()
        self._step = 1.0 / self.rate_hz
        self._next_t = time.perf_counter()
        self._util = self._utilisation(self._next_t)
        self.is_open = True
        return self

    def _utilisation(self, now):
        jiffies = self._cpu_counters()
        history = self._history
        if jiffies is not None:
            history.append((now, jiffies[0], jiffies[1]))
        while len(history) > 2 and history[1][0] <= now - self.window_s:
            history.popleft()
        if len(history) < 2:
            return 0.0
        _, busy0, total0 = history[0]
        _, busy1, total1 = history[-1]
        if total1 <= total0:
            return self._util if hasattr(self, "_util") else 0.0
        return min(max((busy1 - busy0) / float(total1 - total0), 0.0), 1.0)

    def utilisation(self):
        return self._util

    def read_block(self, timeout_s=0.1):
        time.sleep(min(STAT_PERIOD_S, max(timeout_s, 0.0)))
        now = time.perf_counter()
        if now - self._next_t > 1.0:
            self._next_t = now - 1.0  # not read for a while: at most 1 s of backlog, the rest is a gap
        count = int((now - self._next_t) / self._step) + 1
        if count <= 0:
            return Block.empty()
        t_s = self._next_t + self._step * np.arange(count)
        self._next_t = t_s[-1] + self._step
        before = self._util
        self._util = self._utilisation(now)
        # ramp from the previous utilisation to the new one (no artificial steps between reads)
        util = before + (self._util - before) * np.arange(1, count + 1) / float(count)
        power = self.idle_w + (self.active_w - self.idle_w) * util
        return Block(t_s, power)
