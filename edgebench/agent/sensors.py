"""Live readings for status snapshots: board sensors (memory, temperatures, clocks) and board power.

:func:`read_board` reads the board once (sysfs and procfs files under ``root``; a few milliseconds)
and never raises: a sensor that fails is left out. :class:`PowerFeed` samples one power source in
the background (:class:`edgebench.power.sampler.Sampler`) and keeps a short per-rail history for
sparklines. While a job measures power, :meth:`PowerFeed.attached` shows the job's own
:class:`edgebench.agent.power_session.PowerSession` instead, so a probe is never opened twice.

Snapshot keys (all JSON types; units in names):

* board: ``memory`` {``used_mb``, ``total_mb``, ``available_mb``, ``nvmap_used_mb``, ``swap_used_mb``},
  ``temperatures_c`` {zone: degC or null}, ``max_temp_c``, ``cpu`` {``cores``, ``cur_mhz_mean``,
  ``cur_mhz_max``, ``max_mhz``, ``governor``} or null, ``gpu`` {``cur_mhz``, ``max_mhz``,
  ``load_pct``} or null, ``read_at`` (UTC).
* power: ``source``, ``url``, ``simulated``, ``board_rule``, ``rate_hz``, ``board_w``,
  ``board_history_w``, ``rails`` [{``name``, ``power_w``, ``history_w``}], ``idle_w``, ``idle_ci_w``,
  ``idle_from``, ``net_w``, ``error``.
"""
import collections
import logging
import math
import time

logger = logging.getLogger(__name__)


def _utc_now():
    from edgebench.agent.spool import utc_now

    return utc_now()


def _round(value, digits=3):
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

    def read(self):
        from edgebench.platform import clocks, gpu, memory, thermal

        out = {"read_at": _utc_now(), "memory": None, "temperatures_c": {}, "max_temp_c": None, "cpu": None,
               "gpu": None}
        try:
            mem = memory.read_meminfo(self.root)
            out["memory"] = dict((k, mem.get(k)) for k in ("used_mb", "total_mb", "available_mb",
                                                            "nvmap_used_mb", "swap_used_mb"))
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
                    "cur_mhz_mean": _round(sum(cur) / len(cur) / 1e6, 1) if cur else None,
                    "cur_mhz_max": _round(max(cur) / 1e6, 1) if cur else None,
                    "max_mhz": _round(max(c["max_hz"] for c in cpus) / 1e6, 1),
                    "governor": cpus[0].get("governor"),
                }
        except Exception as exc:
            logger.debug("cpufreq: %s", exc)
        try:
            freq = gpu.read_gpu_frequencies(self.root)
            load = gpu.read_gpu_load(self.root)
            if freq or load is not None:
                out["gpu"] = {
                    "cur_mhz": _round(freq["cur_hz"] / 1e6, 1) if freq and freq.get("cur_hz") else None,
                    "max_mhz": _round(freq["max_hz"] / 1e6, 1) if freq else None,
                    "load_pct": _round(load, 1) if load is not None else None,
                }
        except Exception as exc:
            logger.debug("gpu: %s", exc)
        return out


def read_board(root=None):
    return BoardReader(root).read()


class PowerFeed(object):
    """One power source sampled in the background, with a short per-rail history.

    ``rate_hz`` None samples polled sources at their fastest rate (what a sweep wants); the live
    view asks for a slow rate so it does not disturb what is being measured.
    """

    def __init__(self, url, root=None, rate_hz=None, history_points=60):
        self.url = str(url)
        self.root = root
        self.rate_hz = rate_hz
        self.history_points = int(history_points)
        self.source = None
        self.sampler = None
        self.idle = None
        self.idle_from = None
        self.error = None
        self._last_t = None
        self._board = collections.deque(maxlen=self.history_points)
        self._rails = collections.OrderedDict()
        self._now_board = None
        self._now_rails = {}
        self._owned = True

    @classmethod
    def attached(cls, session, history_points=60):
        """A view of a running :class:`edgebench.agent.power_session.PowerSession` (which it never closes)."""
        feed = cls(session.url, history_points=history_points)
        feed.source, feed.sampler, feed.idle = session.source, session.sampler, session.idle
        feed.idle_from = "measured before the points"
        feed._owned = False
        feed._last_t = feed.sampler.now()
        for name in feed.source.rails:
            feed._rails[name] = collections.deque(maxlen=feed.history_points)
        return feed

    def open(self):
        """Open and start sampling; PowerSourceError (a UsageError) if the source cannot be opened."""
        from edgebench.power.sampler import Sampler
        from edgebench.power.url import open_source

        self.source = open_source(self.url, root=self.root)
        self.sampler = Sampler(self.source, rate_hz=self.rate_hz).start()
        self._last_t = self.sampler.now()
        for name in self.source.rails:
            self._rails[name] = collections.deque(maxlen=self.history_points)
        return self

    @property
    def has_data(self):
        return self.source is not None and bool(self.source.has_data)

    def close(self):
        if self.sampler is not None and self._owned:
            try:
                self.sampler.close()
            except Exception as exc:
                logger.debug("closing power source %s: %s", self.url, exc)
        self.sampler = None

    # -- live readings ---------------------------------------------------------------------------
    def update(self, min_interval_s=0.5):
        """Average the samples since the last update into the history (call every second or so).

        Calls closer together than ``min_interval_s`` are ignored, so every history entry covers a
        stretch of samples (a monitor refreshing fast does not fill the history with gaps).
        """
        if self.sampler is None or not self.has_data:
            return
        import numpy as np

        now = self.sampler.now()
        if self._last_t is not None and now - self._last_t < min_interval_s:
            return
        start = self._last_t if self._last_t is not None else now - 1.0
        self._last_t = now
        try:
            data = self.sampler.window(start, now, wait_s=0.0)
        except Exception as exc:
            self.error = "{}: {}".format(type(exc).__name__, exc)
            return
        inside = data.inside
        board = None
        values = np.asarray(data.power_w)[inside] if len(data.t_s) else np.empty(0)
        values = values[np.isfinite(values)]
        if values.size:
            board = float(values.mean())
        self._now_board = board
        self._board.append(board)
        rails = data.rails_w
        for i, name in enumerate(self._rails):
            value = None
            if rails is not None and len(data.t_s):
                column = np.asarray(rails)[inside, i]
                column = column[np.isfinite(column)]
                if column.size:
                    value = float(column.mean())
            self._now_rails[name] = value
            self._rails[name].append(value)

    def set_idle(self, mean_w, ci_w=None, source="measured"):
        from edgebench.power.energy import IdleBaseline

        self.idle = IdleBaseline(mean_w, ci_w, 0, 0.0, self.url)
        self.idle_from = source

    def snapshot(self):
        source = self.source
        idle_w = self.idle.mean_w if self.idle is not None and self.idle.ok else None
        board = self._now_board
        return {
            "source": source.label if source is not None else self.url,
            "url": self.url,
            "simulated": bool(source is not None and source.simulated),
            "board_rule": source.board_rule if source is not None else None,
            "rate_hz": _round(self.sampler.achieved_rate_hz(), 1) if self.sampler is not None else None,
            "board_w": _round(board),
            "board_history_w": [_round(v) for v in self._board],
            "rails": [{"name": name, "power_w": _round(self._now_rails.get(name)),
                       "history_w": [_round(v) for v in hist]} for name, hist in self._rails.items()],
            "idle_w": _round(idle_w),
            "idle_ci_w": _round(self.idle.ci_w) if self.idle is not None else None,
            "idle_from": self.idle_from if idle_w is not None else None,
            "net_w": _round(board - idle_w) if board is not None and idle_w is not None else None,
            "error": self.error,
        }

    # -- idle baseline (standalone monitor) --------------------------------------------------------
    def measure_idle(self, seconds, stop_event=None):
        """Idle baseline over ``seconds`` with nothing running; returns early if ``stop_event`` is set."""
        from edgebench.power.energy import idle_from_window

        start = self.sampler.now()
        if stop_event is not None:
            stop_event.wait(seconds)
        else:
            time.sleep(seconds)
        end = self.sampler.now()
        self.idle = idle_from_window(self.sampler.window(start, end))
        self.idle_from = "measured before run"
        return self.idle


def error_snapshot(url, error):
    return {"source": str(url), "url": str(url), "simulated": False, "board_rule": None, "rate_hz": None,
            "board_w": None, "board_history_w": [], "rails": [], "idle_w": None, "idle_ci_w": None,
            "idle_from": None, "net_w": None, "error": str(error)}
