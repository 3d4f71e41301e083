"""The agent's live readings: one power feed with a single owner at a time, and the sensor thread.

:class:`LivePower` is the only holder of the agent's power source. Between jobs it samples the
configured source slowly for the status snapshot ("live"); when a job measures power it closes
that source first (a probe is never opened twice), hands the job its own power session, shows
the session's samples instead ("job"), and reopens the live source when the job releases it -
keeping the idle baseline the job measured. Every change happens under one lock, because the
sensor thread, the job thread and the main thread all reach it.

:class:`SensorThread` reads the board every ``sensor_interval_s`` and updates the power feed
once a second; it never lets a sensor error end it.
"""
import logging
import threading

logger = logging.getLogger("edgebench.agent")

LIVE, JOB = "live", "job"


class LivePower(object):
    """The agent's power feed: live between jobs, the job's own session during one."""

    def __init__(self, url, root=None, rate_hz=None, history_points=60):
        self.url = url
        self.root = root
        self.rate_hz = rate_hz
        self.history_points = history_points
        self._lock = threading.RLock()
        self._feed = None
        self._owner = None
        self._error = None
        self._last_idle = None  # (url, mean_w, ci_w) of the last job's idle baseline
        self.closed = False

    @property
    def wanted(self):
        return bool(self.url) and self.url != "none"

    def configure(self, url, root=None, rate_hz=None, history_points=60):
        """A reloaded config: a changed live source is closed and reopened (a job keeps its own)."""
        with self._lock:
            changed = (url, root, rate_hz, history_points) != (self.url, self.root, self.rate_hz, self.history_points)
            self.url, self.root, self.rate_hz, self.history_points = url, root, rate_hz, history_points
            if changed:
                if self._owner == LIVE:
                    self._feed.close()
                    self._feed, self._owner = None, None
                self._error = None
        if changed:
            self.open_live()

    def open_live(self):
        """Open the configured source for the live view (a failure is kept for the snapshot)."""
        from edgebench.power.feed import PowerFeed

        with self._lock:
            if self.closed or self._feed is not None or self._owner == JOB or not self.wanted:
                return
            feed = PowerFeed(self.url, root=self.root, rate_hz=self.rate_hz, history_points=self.history_points)
            try:
                feed.open()
            except Exception as exc:
                if self._error != str(exc):
                    logger.warning("live power %s: %s", self.url, exc)
                self._error = str(exc)
                return
            self._error = None
            if self._last_idle and self._last_idle[0] == self.url:
                feed.set_idle(self._last_idle[1], self._last_idle[2], "measured before the last job")
            self._feed, self._owner = feed, LIVE

    def for_job(self, plan):
        """The sweep's power session for ``plan.power`` (None for none); the live source is closed first."""
        from edgebench.sweep.preflight import open_power

        if not plan.power or plan.power == "none":
            return None
        with self._lock:
            if self._feed is not None:
                self._feed.close()
            self._feed, self._owner = None, JOB
        return open_power(plan)

    def show_job(self, session):
        """Show a job's running power session in the snapshot."""
        from edgebench.power.feed import PowerFeed

        with self._lock:
            if self._owner == JOB and session.sampler is not None:
                self._feed = PowerFeed.attached(session, history_points=self.history_points)

    def release_job(self, reopen=True):
        """The job is over: keep its idle baseline, stop showing it, reopen the live source."""
        with self._lock:
            if self._owner == JOB:
                feed = self._feed
                idle = feed.idle if feed is not None else None
                if idle is not None and idle.ok:
                    self._last_idle = (feed.url, idle.mean_w, idle.ci_w)
                if feed is not None:
                    feed.close()
                self._feed, self._owner = None, None
        if reopen:
            self.open_live()

    def update(self):
        """Pull new samples into the feed's history; retry a live source that was missing."""
        with self._lock:
            feed = self._feed
            if feed is not None:
                try:
                    feed.update()
                except Exception as exc:
                    logger.debug("power feed: %s", exc)
                return
            retry = self._owner != JOB and self.wanted
        if retry:
            self.open_live()  # a probe plugged in later

    def snapshot(self):
        from edgebench.power.feed import error_snapshot

        with self._lock:
            if self._feed is not None:
                return self._feed.snapshot()
            if self._error:
                return error_snapshot(self.url, self._error)
        return None

    def close(self):
        with self._lock:
            self.closed = True
            if self._feed is not None:
                self._feed.close()
            self._feed, self._owner = None, None


class RailReader(object):
    """Voltage, current and power of every INA3221/INA238 rail under ``root`` (found once), for /metrics:
    ``[{"name", "voltage_v", "current_a", "power_w"}]``, a value None when its file is unreadable."""

    def __init__(self, root=None):
        self.root = root
        self._channels = None

    def read(self):
        from edgebench.power.ina3221 import discover

        if self._channels is None:
            self._channels = discover(self.root).channels
        out = []
        for chan in self._channels:
            info = chan.snapshot(self.root)
            out.append({"name": info["rail"], "voltage_v": _milli(info["voltage_mv"]),
                        "current_a": _milli(info["current_ma"]), "power_w": _milli(info["power_mw"])})
        return out


def _milli(value):
    return None if value is None else value / 1000.0


class SensorThread(object):
    """Reads the board every ``interval_s`` and updates the live power once a second."""

    def __init__(self, power, root=None, interval_s=2.0):
        self.power = power
        self.root = root
        self.interval_s = interval_s
        self.board = None  # the newest board reading (a dict), read by the snapshot
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="edgebench-sensors", daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        import time

        from edgebench.platform.sensors import BoardReader

        reader = BoardReader(self.root)
        rails = RailReader(self.root)
        next_board = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if self.interval_s and now >= next_board:
                next_board = now + self.interval_s
                try:
                    board = reader.read()
                    board["rails"] = rails.read()
                    self.board = board
                except Exception as exc:  # never let the sensor thread die
                    logger.debug("board sensors: %s", exc)
            self.power.update()
            self._stop.wait(1.0)

    def stop(self, timeout_s=3.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
