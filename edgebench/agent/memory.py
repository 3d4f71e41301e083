"""Memory readings for a worker: its own RSS and the system's used memory.

The worker's own figures come from the real ``/proc/self/status`` (the process we are); system
memory is a board probe and reads ``<root>/proc/meminfo`` like every other board file.
On a Jetson the GPU allocates from the same RAM, so system used memory is the figure that moves
with the engine; ``NvMapMemUsed`` is read when the kernel reports it.
"""
import threading

from edgebench.platform.root import under


def _kb_fields(path, wanted):
    out = {}
    try:
        with open(path) as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in wanted:
                    parts = rest.split()
                    if parts:
                        out[key] = int(parts[0])
    except (OSError, ValueError):
        pass
    return out


def self_rss_mb():
    """(current RSS, peak RSS = VmHWM) of this process in MB (1 MB = 2**20 bytes), or Nones."""
    fields = _kb_fields("/proc/self/status", ("VmRSS", "VmHWM"))
    rss = fields.get("VmRSS")
    hwm = fields.get("VmHWM")
    return (rss / 1024.0 if rss is not None else None, hwm / 1024.0 if hwm is not None else None)


def system_memory_mb(root=None):
    """(MemTotal - MemAvailable, NvMapMemUsed) in MB from ``<root>/proc/meminfo``; None if absent."""
    fields = _kb_fields(under(root, "/proc/meminfo"), ("MemTotal", "MemAvailable", "NvMapMemUsed"))
    used = None
    if "MemTotal" in fields and "MemAvailable" in fields:
        used = (fields["MemTotal"] - fields["MemAvailable"]) / 1024.0
    nvmap = fields["NvMapMemUsed"] / 1024.0 if "NvMapMemUsed" in fields else None
    return used, nvmap


def system_used_mb(root=None):
    """MemTotal - MemAvailable in MB from ``<root>/proc/meminfo``, or None if unreadable."""
    return system_memory_mb(root)[0]


class PeakSampler(object):
    """Samples system used memory (and NvMapMemUsed on a Jetson) in a thread and keeps the peaks.

    The thread sleeps between reads (``interval_s``), so its cost is a file read every 20 ms; the
    engine's own threads release the GIL while they compute.
    """

    def __init__(self, root=None, interval_s=0.02):
        self.root = root
        self.interval_s = interval_s
        self.peak_mb = None
        self.nvmap_peak_mb = None
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        used, nvmap = system_memory_mb(self.root)
        if used is not None and (self.peak_mb is None or used > self.peak_mb):
            self.peak_mb = used
        if nvmap is not None and (self.nvmap_peak_mb is None or nvmap > self.nvmap_peak_mb):
            self.nvmap_peak_mb = nvmap

    def _loop(self):
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self):
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="edgebench-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self.peak_mb

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

