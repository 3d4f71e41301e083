"""A live power feed: one power source sampled in the background, with a short per-rail history.

:class:`PowerFeed` samples one source (:class:`edgebench.power.sampler.Sampler`) and keeps a short
per-rail history for sparklines. While a sweep measures power, :meth:`PowerFeed.attached` shows
the sweep's own power session instead, so a probe is never opened twice.

Snapshot keys (all JSON types; units in names): ``source``, ``url``, ``simulated``, ``board_rule``,
``rate_hz``, ``board_w``, ``board_history_w``, ``rails`` [{``name``, ``power_w``, ``history_w``}],
``idle_w``, ``idle_ci_w``, ``idle_from``, ``net_w``, ``error``.
"""
import collections
import logging
import time

from edgebench.platform.sensors import round_or_none

logger = logging.getLogger(__name__)


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
        """A view of a running sweep power session (which it never closes)."""
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
            "rate_hz": round_or_none(self.sampler.achieved_rate_hz(), 1) if self.sampler is not None else None,
            "board_w": round_or_none(board),
            "board_history_w": [round_or_none(v) for v in self._board],
            "rails": [{"name": name, "power_w": round_or_none(self._now_rails.get(name)),
                       "history_w": [round_or_none(v) for v in hist]} for name, hist in self._rails.items()],
            "idle_w": round_or_none(idle_w),
            "idle_ci_w": round_or_none(self.idle.ci_w) if self.idle is not None else None,
            "idle_from": self.idle_from if idle_w is not None else None,
            "net_w": round_or_none(board - idle_w) if board is not None and idle_w is not None else None,
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
