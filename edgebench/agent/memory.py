"""Memory readings for a worker: its own RSS and the system's used memory.

The worker's own figures come from the real ``/proc/self/status`` (the process we are); system
memory is a board probe and reads ``<root>/proc/meminfo`` like every other board file.
On a Jetson the GPU allocates from the same RAM, so system used memory is the figure that moves
with the engine; ``NvMapMemUsed`` is read when the kernel reports it.
"""
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


class PeakTracker(object):
    """Keeps the peak of system used memory (and NvMapMemUsed on a Jetson) over explicit samples.

    The worker samples between timed iterations, on its own thread (see worker.timed_loop): on the
    small boards this runs on, a sampling thread would steal a core from the engine mid-inference.
    Engines allocate their working memory in the first runs and keep it (ONNX Runtime's arena,
    TensorRT's execution context), so readings between iterations see the loop's peak; the worker's
    own peak (VmHWM) is exact anyway.
    """

    def __init__(self, root=None):
        self.root = root
        self.peak_mb = None
        self.nvmap_peak_mb = None

    def sample(self):
        used, nvmap = system_memory_mb(self.root)
        if used is not None and (self.peak_mb is None or used > self.peak_mb):
            self.peak_mb = used
        if nvmap is not None and (self.nvmap_peak_mb is None or nvmap > self.nvmap_peak_mb):
            self.nvmap_peak_mb = nvmap
        return self.peak_mb
