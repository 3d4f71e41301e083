"""CPU time other processes use while a point is measured, from ``/proc/stat`` (Linux).

``/proc/stat``'s first line sums every CPU's time in USER_HZ ticks: user nice system idle iowait irq
softirq steal [guest guest_nice] (proc(5): https://man7.org/linux/man-pages/man5/proc.5.html; guest
time is already inside user). Busy = all but idle and iowait. The measuring process's own CPU time
(``os.times()``: every thread of the process) is taken off, so what is left is the load of *other*
processes, as a share of the machine's CPU capacity (1.0 = every CPU busy with other work).
"""
import os
import time

from edgebench.platform import sysfs

STAT_PATH = "/proc/stat"


def _ticks_per_s():
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0


def read_cpu(root=None):
    """(busy seconds summed over CPUs, number of CPUs) from ``<root>/proc/stat``, or None if unreadable."""
    lines = sysfs.read_lines(root, STAT_PATH)
    if not lines or not lines[0].startswith("cpu "):
        return None
    try:
        fields = [int(v) for v in lines[0].split()[1:9]]
    except ValueError:
        return None
    fields += [0] * (8 - len(fields))
    idle = fields[3] + fields[4]
    cpus = sum(1 for ln in lines[1:] if ln.startswith("cpu") and ln[3:4].isdigit()) or 1
    return (sum(fields) - idle) / _ticks_per_s(), cpus


def own_cpu_s():
    t = os.times()
    return t[0] + t[1]


class OtherLoad(object):
    """Measure other processes' CPU share between :meth:`start` and :meth:`stop` (None when unknown)."""

    def __init__(self, root=None, clock=time.monotonic):
        self.root = root
        self.clock = clock
        self._start = None

    def start(self):
        self._start = (read_cpu(self.root), own_cpu_s(), self.clock())

    def stop(self):
        if self._start is None:
            return None
        before, own_before, t0 = self._start
        after, own_after, t1 = read_cpu(self.root), own_cpu_s(), self.clock()
        return other_share(before, after, own_after - own_before, t1 - t0)


def other_share(before, after, own_s, wall_s):
    """Other processes' share of the CPU capacity from two :func:`read_cpu` readings; None when unknown."""
    if before is None or after is None or wall_s <= 0:
        return None
    busy_s = after[0] - before[0]
    share = (busy_s - own_s) / (wall_s * after[1])
    return min(1.0, max(0.0, share))


def sample_other_load(seconds=0.5, root=None, sleep=time.sleep):
    """Other processes' CPU share over ``seconds`` of this process sleeping (for a check before a sweep)."""
    load = OtherLoad(root)
    load.start()
    sleep(seconds)
    return load.stop()
