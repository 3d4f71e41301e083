"""The board's sensors in one reading, for live views: memory, temperatures and clocks.

:func:`read_board` reads the board once (sysfs and procfs files under ``root``; a few milliseconds)
and never raises: a sensor that fails is left out.

Keys (all JSON types; units in names): ``memory`` {``used_mb``, ``total_mb``, ``available_mb``,
``nvmap_used_mb``, ``swap_used_mb``, ``swap_total_mb``}, ``temperatures_c`` {zone: degC or null},
``max_temp_c``, ``cpu`` {``cores``, ``cur_mhz_mean``, ``cur_mhz_max``, ``max_mhz``, ``governor``,
``load_pct``} or null, ``gpu`` {``cur_mhz``, ``max_mhz``, ``load_pct``} or null, ``emc`` {``cur_mhz``,
``max_mhz``} or null (needs debugfs), ``read_at`` (UTC). ``cpu.load_pct`` is the busy share of all
CPUs since the previous reading (the aggregate ``cpu`` line of ``/proc/stat``; null on the first).
"""
import logging
import math

from edgebench._helpers import utc_now

logger = logging.getLogger(__name__)


def round_or_none(value, digits=3):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return round(value, digits) + 0.0 if math.isfinite(value) else None  # + 0.0: no "-0.0"


class BoardReader(object):
    """Reads memory, temperatures and clocks under ``root``; thermal zones are found once."""

    def __init__(self, root=None):
        self.root = root
        self._zones = None
        self._jiffies = None

    def _cpu_load_pct(self):
        """Busy share of all CPUs since the previous call, from /proc/stat's ``cpu`` line (proc(5))."""
        from edgebench.platform import sysfs

        text = sysfs.read_text(self.root, "/proc/stat") or ""
        fields = text.split("\n", 1)[0].split()
        if len(fields) < 5 or fields[0] != "cpu":
            return None
        values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
        now = (sum(values) - values[3] - values[4], sum(values))
        before, self._jiffies = self._jiffies, now
        if before is None or now[1] <= before[1]:
            return None
        return 100.0 * (now[0] - before[0]) / (now[1] - before[1])

    def read(self):
        from edgebench.platform import clocks, gpu, memory, thermal

        out = {"read_at": utc_now(), "memory": None, "temperatures_c": {}, "max_temp_c": None, "cpu": None,
               "gpu": None, "emc": None}
        try:
            mem = memory.read_meminfo(self.root)
            out["memory"] = dict((k, mem.get(k)) for k in ("used_mb", "total_mb", "available_mb",
                                                            "nvmap_used_mb", "swap_used_mb", "swap_total_mb"))
        except Exception as exc:  # a sensor that fails is left out, never fatal
            logger.debug("meminfo: %s", exc)
        try:
            if self._zones is None:
                self._zones = thermal.thermal_zones(self.root)
            temps = thermal.read_temperatures(self.root, self._zones)
            out["temperatures_c"] = temps
            out["max_temp_c"] = thermal.max_temperature_c(temps)
        except Exception as exc:
            logger.debug("thermal: %s", exc)
        try:
            cpus = clocks.read_cpu_frequencies(self.root)
            if cpus:
                cur = [c["cur_hz"] for c in cpus if c.get("cur_hz")]
                out["cpu"] = {
                    "cores": len(cpus),
                    "cur_mhz_mean": round_or_none(sum(cur) / len(cur) / 1e6, 1) if cur else None,
                    "cur_mhz_max": round_or_none(max(cur) / 1e6, 1) if cur else None,
                    "max_mhz": round_or_none(max(c["max_hz"] for c in cpus) / 1e6, 1),
                    "governor": cpus[0].get("governor"),
                    "load_pct": round_or_none(self._cpu_load_pct(), 1),
                }
        except Exception as exc:
            logger.debug("cpufreq: %s", exc)
        try:
            freq = gpu.read_gpu_frequencies(self.root)
            load = gpu.read_gpu_load(self.root)
            if freq or load is not None:
                out["gpu"] = {
                    "cur_mhz": round_or_none(freq["cur_hz"] / 1e6, 1) if freq and freq.get("cur_hz") else None,
                    "max_mhz": round_or_none(freq["max_hz"] / 1e6, 1) if freq else None,
                    "load_pct": round_or_none(load, 1) if load is not None else None,
                }
        except Exception as exc:
            logger.debug("gpu: %s", exc)
        try:
            emc = clocks.read_emc_state(self.root)
            if emc:
                out["emc"] = {"cur_mhz": round_or_none(emc["cur_hz"] / 1e6, 1),
                              "max_mhz": round_or_none(emc["max_hz"] / 1e6, 1)}
        except Exception as exc:
            logger.debug("emc: %s", exc)
        return out


def read_board(root=None):
    return BoardReader(root).read()
