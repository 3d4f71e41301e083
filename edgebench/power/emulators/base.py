"""A probe emulator on a pseudo-terminal, served from one background thread.

The emulator keeps both ends of the pty open (so the client can open, close and reopen the port),
makes the slave raw at once (no echo, no CR/LF translation of binary streams) and drives the
master: bytes the client writes arrive in :meth:`PtyEmulator.on_input`, and :meth:`tick` runs
every few milliseconds to stream data. Writes never block: when the client does not read, output
is dropped, as a real probe's USB buffer would overflow.
"""
import errno
import logging
import os
import select
import threading
import time
import tty

from edgebench.power.emulators.waveform import Waveform

logger = logging.getLogger(__name__)

TICK_S = 0.005


class PtyEmulator(object):
    protocol = ""

    def __init__(self, watts=5.0, ripple=0.3, freq_hz=10.0, silence_after_s=None, silence_s=0.0,
                 vanish_after_s=None, seed=0, waveform=None):
        self.waveform = waveform if waveform is not None else Waveform(watts, ripple, freq_hz)
        self.silence_after_s = silence_after_s
        self.silence_s = silence_s
        self.vanish_after_s = vanish_after_s
        self.seed = seed
        self.master = None
        self.slave = None
        self.path = None
        self.dropped_bytes = 0
        self.written_bytes = 0
        self._thread = None
        self._stop = threading.Event()
        self.t0 = None
        self.vanished = False

    @property
    def url(self):
        return "serial://{}?protocol={}".format(self.path, self.protocol)

    def now_s(self):
        """Device time: seconds since the emulator started."""
        return time.perf_counter() - self.t0

    def silent(self):
        if self.silence_after_s is None:
            return False
        elapsed = self.now_s()
        return self.silence_after_s <= elapsed < self.silence_after_s + self.silence_s

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.t0 = time.perf_counter()
        if hasattr(self.waveform, "origin_s"):
            self.waveform.origin_s = self.t0  # device time 0 is this moment on the host clock
        self.reset()
        return self

    def start(self):
        if self.master is None:
            self.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self.serve, name="edgebench-{}-emulator".format(self.protocol),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None
        self._close_fds()

    def _close_fds(self):
        for fd in (self.master, self.slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def serve(self, seconds=None):
        """Serve until stopped (or for ``seconds``)."""
        if self.master is None:
            self.open()
        end = None if seconds is None else time.perf_counter() + seconds
        while not self._stop.is_set():
            if end is not None and time.perf_counter() >= end:
                break
            if self.vanish_after_s is not None and self.now_s() >= self.vanish_after_s:
                self.vanished = True
                self._close_fds()
                break
            try:
                ready, _, _ = select.select([self.master], [], [], TICK_S)
            except (OSError, ValueError):
                break
            data = b""
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError as err:
                    if err.errno not in (errno.EAGAIN, errno.EIO):
                        raise
            if self.silent():
                continue
            if data:
                self.on_input(data)
            self.tick()

    # -- output ----------------------------------------------------------------------------------
    def send(self, data):
        """Write without blocking; whatever does not fit is dropped (counted)."""
        if not data or self.master is None:
            return 0
        try:
            written = os.write(self.master, data)
        except OSError as err:
            if err.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EIO):
                written = 0
            else:
                raise
        self.written_bytes += written
        self.dropped_bytes += len(data) - written
        return written

    # -- protocol hooks --------------------------------------------------------------------------
    def reset(self):
        """Protocol state at power-up."""

    def on_input(self, data):
        """Bytes the client wrote."""

    def tick(self):
        """Called every few ms: stream data if streaming."""
