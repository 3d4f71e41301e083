"""systemd's notify protocol without a dependency: READY, STATUS, RELOADING, STOPPING, WATCHDOG.

systemd passes ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace) to a
``Type=notify`` service; the service sends newline-separated ``KEY=VALUE`` datagrams to it. Outside
systemd the variable is unset and every method is a silent no-op. The variables are removed from
the environment when read, so worker processes never talk to systemd in the agent's name.

The watchdog (``WatchdogSec=`` sets ``$WATCHDOG_USEC``) is fed by :class:`Watchdog`, a thread that
pings only while :class:`Heartbeat` shows the main loop is alive: the main loop beats every tick,
long work (engine builds, timed loops) happens in worker processes, so a loop that stops ticking is
wedged and systemd should restart the agent.
"""
import logging
import os
import socket
import threading
import time

logger = logging.getLogger(__name__)


class Notifier(object):
    """Sends notifications to ``address`` (default: ``$NOTIFY_SOCKET``, removed from the environment)."""

    def __init__(self, address=None, environ=None):
        environ = os.environ if environ is None else environ
        if address is None:
            address = environ.pop("NOTIFY_SOCKET", None)
        self._watchdog_usec = environ.pop("WATCHDOG_USEC", None)
        self._watchdog_pid = environ.pop("WATCHDOG_PID", None)
        self._lock = threading.Lock()
        self._socket = None
        self.address = None
        if not address or len(address) < 2 or address[0] not in ("@", "/"):
            if address:
                logger.warning("ignoring NOTIFY_SOCKET=%r: not a path or @abstract name", address)
            return
        self.address = "\0" + address[1:] if address[0] == "@" else address
        try:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        except OSError as exc:
            logger.warning("cannot create the systemd notify socket: %s", exc)
            self._socket = None

    @property
    def enabled(self):
        return self._socket is not None

    def notify(self, *lines):
        """Send ``KEY=VALUE`` lines in one datagram; return True if it was sent."""
        if self._socket is None:
            return False
        message = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8", "replace")
        with self._lock:
            try:
                self._socket.sendto(message, self.address)
                return True
            except OSError as exc:  # systemd gone, or socket full: never fatal
                logger.debug("sd_notify %r failed: %s", lines, exc)
                return False

    def ready(self, status=None):
        return self.notify(*(["READY=1"] + (["STATUS=" + status] if status else [])))

    def status(self, text):
        return self.notify("STATUS=" + text)

    def reloading(self):
        # MONOTONIC_USEC lets systemd >= 253 (Type=notify-reload) match the reload; older ones ignore it.
        return self.notify("RELOADING=1", "MONOTONIC_USEC={:d}".format(int(time.monotonic() * 1e6)))

    def stopping(self, status=None):
        return self.notify(*(["STOPPING=1"] + (["STATUS=" + status] if status else [])))

    def watchdog_ping(self):
        return self.notify("WATCHDOG=1")

    def extend_timeout(self, seconds):
        return self.notify("EXTEND_TIMEOUT_USEC={:d}".format(int(seconds * 1e6)))

    def watchdog_period_s(self):
        """``WatchdogSec=`` in seconds when it applies to this process, else None."""
        if not self._watchdog_usec:
            return None
        if self._watchdog_pid:
            try:
                if int(self._watchdog_pid) != os.getpid():
                    return None
            except ValueError:
                return None
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            return None
        return usec / 1e6 if usec > 0 else None

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class Heartbeat(object):
    """The main loop's pulse: ``beat()`` every tick, ``age_s()`` since the last one."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._last = clock()

    def beat(self):
        self._last = self._clock()

    def age_s(self):
        return self._clock() - self._last


class Watchdog(object):
    """A thread that sends WATCHDOG=1 every ``period_s / 3`` while the heartbeat is younger than ``stale_s``.

    ``stale_s`` defaults to half the watchdog period, so a main loop stuck for that long stops the
    pings and systemd's watchdog fires at most one period later.
    """

    def __init__(self, notifier, heartbeat, period_s, stale_s=None):
        self.notifier = notifier
        self.heartbeat = heartbeat
        self.period_s = float(period_s)
        self.stale_s = float(stale_s) if stale_s else self.period_s / 2.0
        self.pings = 0
        self.skipped = 0
        self.pings_at_skip = None
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="edgebench-watchdog", daemon=True)
            self._thread.start()
        return self

    def _run(self):
        interval = max(self.period_s / 3.0, 0.01)
        while not self._stop.is_set():
            if self.heartbeat.age_s() < self.stale_s:
                self.notifier.watchdog_ping()
                self.pings += 1
            else:
                if not self.skipped or self.pings_at_skip != self.pings:  # say it once per silence
                    logger.warning("main loop silent for %.1f s: not feeding the systemd watchdog",
                                   self.heartbeat.age_s())
                self.skipped += 1
                self.pings_at_skip = self.pings
            self._stop.wait(interval)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
