"""Memory as the kernel reports it, in MB (MiB: kB / 1024).

On a Jetson the CPU and the GPU share the same DRAM, so ``/proc/meminfo`` is the whole story:
``used_mb`` = MemTotal - MemAvailable counts GPU buffers too. L4T kernels add ``NvMapMemUsed``
(memory held through nvmap, i.e. by the GPU and other engines); it is reported as
``nvmap_used_mb`` and is None on kernels without it (any non-Jetson host).
"""
from edgebench.platform import sysfs

MEMINFO_PATH = "/proc/meminfo"
KB_PER_MB = 1024.0

MEMINFO_KEYS = ("total_mb", "available_mb", "free_mb", "used_mb", "buffers_mb", "cached_mb",
                "swap_total_mb", "swap_used_mb", "nvmap_used_mb")


def parse_meminfo(text):
    """``/proc/meminfo`` text -> ``{field: kB}`` (fields without a unit, like HugePages_Total, too)."""
    fields = {}
    for line in (text or "").splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts:
            continue
        try:
            fields[key.strip()] = int(parts[0])
        except ValueError:
            continue
    return fields


def _mb(kb):
    return round(kb / KB_PER_MB, 1) if kb is not None else None


def read_meminfo(root=None):
    """System memory in MB; every value is None when ``/proc/meminfo`` cannot be read.

    Keys: ``total_mb``, ``available_mb`` (MemAvailable; estimated as MemFree + Buffers + Cached on
    kernels older than 3.14), ``free_mb``, ``used_mb`` (total - available), ``buffers_mb``,
    ``cached_mb``, ``swap_total_mb``, ``swap_used_mb``, ``nvmap_used_mb`` (None unless present).
    """
    fields = parse_meminfo(sysfs.read_text(root, MEMINFO_PATH))
    total = fields.get("MemTotal")
    if total is None:
        return dict.fromkeys(MEMINFO_KEYS)
    free = fields.get("MemFree")
    available = fields.get("MemAvailable")
    if available is None and free is not None:
        available = free + fields.get("Buffers", 0) + fields.get("Cached", 0)
    swap_total = fields.get("SwapTotal")
    swap_free = fields.get("SwapFree")
    swap_used = swap_total - swap_free if swap_total is not None and swap_free is not None else None
    return {
        "total_mb": _mb(total),
        "available_mb": _mb(available),
        "free_mb": _mb(free),
        "used_mb": _mb(total - available) if available is not None else None,
        "buffers_mb": _mb(fields.get("Buffers")),
        "cached_mb": _mb(fields.get("Cached")),
        "swap_total_mb": _mb(swap_total),
        "swap_used_mb": _mb(swap_used),
        "nvmap_used_mb": _mb(fields.get("NvMapMemUsed")),
    }


def read_process_memory(pid="self", root=None):
    """``{"rss_mb", "peak_rss_mb"}`` of a process from ``/proc/<pid>/status`` (VmRSS, VmHWM).

    On a Jetson this misses GPU memory the process holds through nvmap; pair it with
    :func:`read_meminfo`'s ``used_mb`` / ``nvmap_used_mb`` deltas.
    """
    fields = parse_meminfo(sysfs.read_text(root, "/proc/{}/status".format(pid)))
    return {"rss_mb": _mb(fields.get("VmRSS")), "peak_rss_mb": _mb(fields.get("VmHWM"))}


def reset_peak_rss(pid="self"):
    """Reset the process's peak RSS (VmHWM) to its current RSS; True when the kernel did.

    Writing ``5`` to ``/proc/<pid>/clear_refs`` does it on Linux >= 4.0 (so also JetPack 4.6's 4.9
    kernel): Documentation/admin-guide/mm/soft-dirty.rst and proc.rst, "clear_refs ... 5 reset the
    peak resident set size ("High Water Mark") to the process's current value". Older kernels answer
    EINVAL; a missing or read-only /proc answers another OSError: False, and the caller must not
    reuse the process for another point's peak.
    """
    try:
        with open("/proc/{}/clear_refs".format(pid), "w") as f:
            f.write("5")
        return True
    except (IOError, OSError):
        return False


def system_used_mb(root=None):
    """(MemTotal - MemAvailable, NvMapMemUsed) in MB, unrounded, from ``<root>/proc/meminfo``; Nones if absent.

    The cheap reading :class:`PeakTracker` takes between a worker's timed iterations.
    """
    fields = parse_meminfo(sysfs.read_text(root, MEMINFO_PATH))
    used = None
    if "MemTotal" in fields and "MemAvailable" in fields:
        used = (fields["MemTotal"] - fields["MemAvailable"]) / KB_PER_MB
    nvmap = fields["NvMapMemUsed"] / KB_PER_MB if "NvMapMemUsed" in fields else None
    return used, nvmap


class PeakTracker(object):
    """Keeps the peak of system used memory (and NvMapMemUsed on a Jetson) over explicit samples.

    The worker samples between timed iterations, on its own thread (see sweep.worker.timed_loop): on
    the small boards this runs on, a sampling thread would steal a core from the engine mid-inference.
    Engines allocate their working memory in the first runs and keep it (ONNX Runtime's arena,
    TensorRT's execution context), so readings between iterations see the loop's peak; the worker's
    own peak (VmHWM) is exact anyway.
    """

    def __init__(self, root=None):
        self.root = root
        self.peak_mb = None
        self.nvmap_peak_mb = None

    def sample(self):
        used, nvmap = system_used_mb(self.root)
        if used is not None and (self.peak_mb is None or used > self.peak_mb):
            self.peak_mb = used
        if nvmap is not None and (self.nvmap_peak_mb is None or nvmap > self.nvmap_peak_mb):
            self.nvmap_peak_mb = nvmap
        return self.peak_mb
