"""Serial-port plumbing shared by the probe sources (pyserial imported lazily, errors translated).

Ports are opened with ``serial.serial_for_url`` so a device path (``/dev/ttyACM0``, a pty) and
pyserial's own URLs (``socket://host:port``, ``spy://...``) both work, with an exclusive lock so
two programs never share a probe.
"""
import errno
import logging
import time

from edgebench.errors import PowerSourceError
from edgebench.power.source import PowerSource, ProbeLost

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 2.0
POLL_S = 0.05


def import_serial():
    try:
        import serial
    except ImportError:
        raise PowerSourceError("serial power sources need pyserial: pip install pyserial")
    return serial


def open_port(port, baud=115200, timeout_s=POLL_S):
    """Open ``port`` (path or pyserial URL) raw and exclusively; raise PowerSourceError with advice."""
    serial = import_serial()
    kwargs = {"baudrate": int(baud), "timeout": timeout_s, "write_timeout": 2.0}
    if "://" not in port:
        kwargs["exclusive"] = True
    try:
        return serial.serial_for_url(port, **kwargs)
    except (serial.SerialException, OSError, ValueError) as err:
        code = getattr(err, "errno", None)
        if code == errno.ENOENT:
            raise PowerSourceError(
                "serial port {} does not exist: check the cable and the name "
                "(ls /dev/ttyACM* /dev/ttyUSB*)".format(port)
            )
        if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in str(err).lower():
            raise PowerSourceError(
                "serial port {} is busy (another program has it open): close that program and retry".format(port)
            )
        if code == errno.EACCES:
            raise PowerSourceError(
                "no permission to open serial port {}: add yourself to the dialout group (sudo usermod -aG dialout "
                "$USER) and log in again".format(port)
            )
        raise PowerSourceError("cannot open serial port {}: {}".format(port, err))


class SerialSource(PowerSource):
    """Base for probes on a serial port: ``baud=`` and ``timeout=`` (seconds of silence = probe lost)."""

    scheme = "serial"
    streaming = True
    reconnectable = True
    default_baud = 115200

    def __init__(self, url, root=None):
        PowerSource.__init__(self, url, root)
        self.params = url.reader()
        self.params.text("protocol")
        self.port = url.target
        self.baud = self.params.number("baud", self.default_baud, positive=True, integer=True)
        self.timeout_s = self.params.number("timeout", DEFAULT_TIMEOUT_S, positive=True)
        self.ser = None
        self._last_data_s = None

    def open_port(self):
        self.ser = open_port(self.port, self.baud)
        self._last_data_s = time.perf_counter()
        return self.ser

    def open_with(self, setup, no_answer=None):
        """Open the port and run ``setup()``; on any failure close the port again.

        ``no_answer`` (text) turns a probe that stays silent (ProbeLost) into a PowerSourceError
        saying what was expected on the port, e.g. "is it a PPK2 data port?".
        """
        self.open_port()
        try:
            setup()
        except ProbeLost as err:
            self.close_port()
            if no_answer is None:
                raise
            raise PowerSourceError("{} on {} did not answer ({}): {}".format(self.name_for_errors, self.port, err,
                                                                             no_answer))
        except Exception:
            self.close_port()
            raise
        self.is_open = True
        return self

    name_for_errors = "the probe"

    def close_port(self):
        ser = self.ser
        self.ser = None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # closing a vanished device must not raise
                pass

    def close(self):
        self.close_port()
        self.is_open = False

    def read_bytes(self, wait_s):
        """Whatever arrives within about ``wait_s``; raises :class:`ProbeLost` on error or long silence."""
        serial = import_serial()
        ser = self.ser
        if ser is None:
            raise ProbeLost("port {} is closed".format(self.port))
        deadline = time.perf_counter() + wait_s
        data = b""
        try:
            while True:
                waiting = ser.in_waiting
                chunk = ser.read(waiting if waiting else 1)
                if chunk:
                    data += chunk
                    if ser.in_waiting:
                        data += ser.read(ser.in_waiting)
                    break
                if time.perf_counter() >= deadline:
                    break
        except (serial.SerialException, OSError) as err:
            raise ProbeLost("{}: {}".format(self.port, err))
        now = time.perf_counter()
        if data:
            self._last_data_s = now
        elif self._last_data_s is not None and now - self._last_data_s > self.timeout_s:
            raise ProbeLost("{} silent for {:.1f} s (timeout={} s)".format(
                self.port, now - self._last_data_s, self.timeout_s))
        return data, now

    def write(self, data):
        serial = import_serial()
        try:
            self.ser.write(data)
            self.ser.flush()
        except (serial.SerialException, OSError, AttributeError) as err:
            raise ProbeLost("{}: write failed: {}".format(self.port, err))

    def query_line(self, command, timeout_s=None):
        """Send one text command line and return the reply line (stripped); ProbeLost on timeout."""
        self.write(command.encode("ascii") + b"\n")
        return self.read_line(timeout_s)

    def read_line(self, timeout_s=None):
        serial = import_serial()
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.perf_counter() + timeout_s
        buf = b""
        try:
            while time.perf_counter() < deadline:
                chunk = self.ser.read(self.ser.in_waiting or 1)
                if chunk:
                    buf += chunk
                    if b"\n" in buf:
                        line, _, rest = buf.partition(b"\n")
                        if rest:
                            logger.debug("discarding %d bytes after a reply line", len(rest))
                        self._last_data_s = time.perf_counter()
                        return line.decode("ascii", "replace").strip()
        except (serial.SerialException, OSError, AttributeError) as err:
            raise ProbeLost("{}: {}".format(self.port, err))
        raise ProbeLost("{}: no reply within {:.1f} s".format(self.port, timeout_s))
