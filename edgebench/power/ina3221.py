"""On-board INA3221 power monitors read from sysfs under a filesystem root.

Two driver generations:

* JetPack 4 (L4T 32) ``ina3221x`` IIO driver:
  ``<root>/sys/bus/i2c/drivers/ina3221x/<bus>-00<addr>/iio:device<N>/`` with ``rail_name_<ch>``
  (ch 0..2), ``in_power<ch>_input`` (mW), ``in_voltage<ch>_input`` (mV), ``in_current<ch>_input``
  (mA); limit files read like ``"32760 ma"``. (L4T 28 spells the directory ``iio_device``.)
* JetPack 5/6 ``ina3221`` hwmon driver:
  ``<root>/sys/bus/i2c/drivers/ina3221/<bus>-00<addr>/hwmon/hwmon<N>/`` with ``in<ch>_label``
  (ch 1..3), ``in<ch>_input`` (mV), ``curr<ch>_input`` (mA); power = mV x mA / 1000. Channel 7
  ("sum of shunt voltages") and rails labelled ``NC`` are skipped; ``hwmon<N>`` is globbed because
  its number is not stable.

Jetson AGX Thor adds a carrier-board INA238 (mainline ``ina238`` hwmon driver, Documentation/hwmon/
ina238.rst: ``in1_input`` bus mV, ``curr1_input`` mA, ``power1_input`` µW; no label file). It is
found like jetson-stats finds it (an i2c device whose ``name`` contains ``ina238``, then its
``hwmon/hwmon<N>``) and read as one rail named ``VIN`` -- jetson-stats' name for it -- by the same
mV x mA path as the INA3221 hwmon rails (``power1_input`` is the chip's own product of the same
two registers). :mod:`edgebench.power.rails` makes ``VIN`` the board input on its own.

Several devices per board are read together (TX1/TX2 carrier monitors, AGX Xavier, AGX Orin).
Files are opened once and re-read with ``os.pread`` (no reopen per sample). Board input follows
:mod:`edgebench.power.rails`. URL: ``ina3221`` (all rails), ``ina3221:RAIL`` (one rail),
``?rails=input`` (read only the rails board input needs: fewer I2C transactions, higher rate).
"""
import errno
import logging
import os
import time

from edgebench.errors import PowerSourceError
from edgebench.platform.root import resolve_root, under
from edgebench.platform.sysfs import glob_board, natural_key, read_text
from edgebench.power.rails import UNCONNECTED, board_input_rule
from edgebench.power.source import INSTANTANEOUS, FilePoll, PowerSource, Sample

logger = logging.getLogger(__name__)

IIO_DRIVER_DIR = "/sys/bus/i2c/drivers/ina3221x"
HWMON_DRIVER_DIR = "/sys/bus/i2c/drivers/ina3221"
INA238_DRIVER_DIR = "/sys/bus/i2c/drivers/ina238"
I2C_DEVICES_DIR = "/sys/bus/i2c/devices"
INA238_RAIL = "VIN"
SUM_CHANNEL = 7
MAX_RATE_HZ = 1000.0
READ_SIZE = 32


class SensorReadError(Exception):
    """One sysfs read failed or returned something that is not a number."""


def parse_sysfs_number(data):
    """The leading integer of a sysfs value: ``b"1750\\n"`` -> 1750, ``"32760 ma"`` -> 32760."""
    if isinstance(data, bytes):
        data = data.decode("ascii", "replace")
    text = data.strip().strip("\x00")
    if not text:
        raise SensorReadError("empty value")
    token = text.split()[0]
    try:
        return int(token)
    except ValueError:
        try:
            value = float(token)
        except ValueError:
            raise SensorReadError("not a number: {!r}".format(text[:40]))
        if value != value or value in (float("inf"), float("-inf")):
            raise SensorReadError("not a finite number: {!r}".format(text[:40]))
        return value


def _describe_os_error(err):
    name = errno.errorcode.get(err.errno, "") if err.errno else ""
    return "-{} ({})".format(name, err.strerror) if name else str(err)


class SysfsValue(object):
    """One sysfs attribute kept open; :meth:`read` re-reads it with ``os.pread``."""

    __slots__ = ("host_path", "fd")

    def __init__(self, host_path):
        self.host_path = host_path
        self.fd = None

    def open(self):
        try:
            self.fd = os.open(self.host_path, os.O_RDONLY)
        except OSError as err:
            raise SensorReadError("{}: {}".format(self.host_path, _describe_os_error(err)))

    def read(self):
        try:
            data = os.pread(self.fd, READ_SIZE, 0)
        except OSError as err:
            raise SensorReadError("{}: {}".format(self.host_path, _describe_os_error(err)))
        try:
            return int(data)
        except ValueError:
            return parse_sysfs_number(data)

    def close(self):
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


class Channel(object):
    """One INA3221 rail: where it lives and how its power is read (direct mW, or mV x mA)."""

    def __init__(self, rail, driver, device, channel, directory, power_file=None, voltage_file=None,
                 current_file=None, warn_file=None, crit_file=None):
        self.rail = rail
        self.driver = driver  # "ina3221x" (iio, JetPack 4) or "ina3221" (hwmon, JetPack 5+)
        self.device = device  # "6-0040"
        self.channel = channel
        self.directory = directory  # board path
        self.power_file = power_file
        self.voltage_file = voltage_file
        self.current_file = current_file
        self.warn_file = warn_file
        self.crit_file = crit_file
        self._values = None

    @property
    def strategy(self):
        return "direct mW" if self.power_file else "mV x mA"

    def open(self, root):
        if self.power_file:
            files = [self.power_file]
        else:
            files = [self.voltage_file, self.current_file]
        values = [SysfsValue(under(root, self.directory + "/" + name)) for name in files]
        try:
            for value in values:
                value.open()
        except SensorReadError:
            for value in values:
                value.close()
            raise
        self._values = values

    def close(self):
        for value in self._values or ():
            value.close()
        self._values = None

    def read_mw(self):
        """Rail power in mW from the open files; raises :class:`SensorReadError`."""
        values = self._values
        if len(values) == 1:
            return float(values[0].read())
        return values[0].read() * values[1].read() / 1000.0

    def snapshot(self, root):
        """One-off reading of voltage, current, power and limits for ``power list`` (no exceptions)."""
        info = {
            "rail": self.rail,
            "driver": self.driver,
            "device": self.device,
            "channel": self.channel,
            "path": self.directory,
            "strategy": self.strategy,
        }
        for key, name in (("voltage_mv", self.voltage_file), ("current_ma", self.current_file),
                          ("power_mw_file", self.power_file), ("warn_ma", self.warn_file),
                          ("crit_ma", self.crit_file)):
            value = None
            if name:
                text = read_text(root, self.directory + "/" + name)
                if text is not None:
                    try:
                        value = parse_sysfs_number(text)
                    except SensorReadError:
                        value = None
            info[key] = value
        power = info.pop("power_mw_file")
        if power is None and info["voltage_mv"] is not None and info["current_ma"] is not None:
            power = info["voltage_mv"] * info["current_ma"] / 1000.0
        info["power_mw"] = power
        return info


def _device_name(board_dir):
    return board_dir.rstrip("/").split("/")[-1]


def _probe_readable(root, directory, names):
    """None when every file reads as a number, else a reason."""
    for name in names:
        path = under(root, directory + "/" + name)
        try:
            with open(path, "rb") as handle:
                parse_sysfs_number(handle.read(READ_SIZE))
        except (OSError, IOError) as err:
            return "{} unreadable: {}".format(name, _describe_os_error(err))
        except SensorReadError as err:
            return "{}: {}".format(name, err)
    return None


def _iio_channels(root, notes):
    found = []
    device_dirs = glob_board(root, IIO_DRIVER_DIR + "/*")
    for device_dir in device_dirs:
        iio_dirs = glob_board(root, device_dir + "/iio:device*") + glob_board(root, device_dir + "/iio_device")
        for iio_dir in iio_dirs:
            for label_path in glob_board(root, iio_dir + "/rail_name_*"):
                suffix = label_path.rsplit("_", 1)[-1]
                if not suffix.isdigit():
                    continue
                ch = int(suffix)
                rail = (read_text(root, label_path) or "").strip()
                if not rail or rail.upper() in UNCONNECTED:
                    notes.append("skipped {}: label {!r}".format(label_path, rail))
                    continue
                power_name = "in_power{}_input".format(ch)
                voltage_name = "in_voltage{}_input".format(ch)
                current_name = "in_current{}_input".format(ch)
                has_power = os.path.exists(under(root, iio_dir + "/" + power_name))
                needed = [power_name] if has_power else [voltage_name, current_name]
                reason = _probe_readable(root, iio_dir, needed)
                if reason:
                    notes.append("skipped {} ({}:{}): {}".format(rail, _device_name(device_dir), ch, reason))
                    continue
                found.append(Channel(
                    rail, "ina3221x", _device_name(device_dir), ch, iio_dir,
                    power_file=power_name if has_power else None,
                    voltage_file=voltage_name, current_file=current_name,
                    warn_file="warn_current_limit_{}".format(ch), crit_file="crit_current_limit_{}".format(ch),
                ))
    return found


def _hwmon_channels(root, notes):
    found = []
    for device_dir in glob_board(root, HWMON_DRIVER_DIR + "/*"):
        for hwmon_dir in glob_board(root, device_dir + "/hwmon/hwmon*"):
            for label_path in glob_board(root, hwmon_dir + "/in*_label"):
                stem = label_path.rsplit("/", 1)[-1][2:-len("_label")]
                if not stem.isdigit():
                    continue
                ch = int(stem)
                rail = (read_text(root, label_path) or "").strip()
                if ch == SUM_CHANNEL or rail.lower() == "sum of shunt voltages":
                    continue
                if not rail or rail.upper() in UNCONNECTED:
                    notes.append("skipped {}: label {!r}".format(label_path, rail))
                    continue
                voltage_name = "in{}_input".format(ch)
                current_name = "curr{}_input".format(ch)
                reason = _probe_readable(root, hwmon_dir, [voltage_name, current_name])
                if reason:
                    notes.append("skipped {} ({}:{}): {}".format(rail, _device_name(device_dir), ch, reason))
                    continue
                found.append(Channel(
                    rail, "ina3221", _device_name(device_dir), ch, hwmon_dir,
                    voltage_file=voltage_name, current_file=current_name,
                    warn_file="curr{}_max".format(ch), crit_file="curr{}_crit".format(ch),
                ))
    return found


def _ina238_device_dirs(root):
    """Board paths of INA238 i2c devices: under the driver, or any i2c device named ``ina238``."""
    found = {}
    for device_dir in glob_board(root, INA238_DRIVER_DIR + "/*-*"):
        found.setdefault(_device_name(device_dir), device_dir)
    for device_dir in glob_board(root, I2C_DEVICES_DIR + "/*"):
        if "ina238" in (read_text(root, device_dir + "/name") or "").lower():
            found.setdefault(_device_name(device_dir), device_dir)
    return [found[name] for name in sorted(found, key=natural_key)]


def ina238_channels(root, notes):
    """The Thor carrier INA238 as :class:`Channel` ``VIN`` (mV x mA), one per device found."""
    found = []
    for device_dir in _ina238_device_dirs(root):
        for hwmon_dir in glob_board(root, device_dir + "/hwmon/hwmon*"):
            reason = _probe_readable(root, hwmon_dir, ["in1_input", "curr1_input"])
            if reason:
                notes.append("skipped {} ({}): {}".format(INA238_RAIL, _device_name(device_dir), reason))
                continue
            found.append(Channel(
                INA238_RAIL, "ina238", _device_name(device_dir), 1, hwmon_dir,
                voltage_file="in1_input", current_file="curr1_input",
                warn_file="curr1_max", crit_file=None,
            ))
    return found


class Discovery(object):
    """What :func:`discover` found: ``channels`` (sorted), skip ``notes`` and per-device settings."""

    def __init__(self, channels, notes, settings):
        self.channels = channels
        self.notes = notes
        self.settings = settings

    @property
    def rail_names(self):
        return [c.rail for c in self.channels]


def discover(root=None):
    """Find every readable INA3221 rail under ``root`` (both driver generations)."""
    notes = []
    channels = _iio_channels(root, notes) + _hwmon_channels(root, notes) + ina238_channels(root, notes)
    channels.sort(key=lambda c: (natural_key(c.device), c.channel))
    seen = {}
    for chan in channels:
        seen[chan.rail] = seen.get(chan.rail, 0) + 1
    for chan in channels:
        if seen[chan.rail] > 1:
            chan.rail = "{}@{}".format(chan.rail, chan.device)
    settings = {}
    for chan in channels:
        if chan.driver == "ina3221" and chan.device not in settings:
            samples = read_text(root, chan.directory + "/samples")
            interval = read_text(root, chan.directory + "/update_interval")
            settings[chan.device] = {
                "samples": _maybe_number(samples),
                "update_interval_ms": _maybe_number(interval),
            }
    return Discovery(channels, notes, settings)


def _maybe_number(text):
    if text is None:
        return None
    try:
        return parse_sysfs_number(text)
    except SensorReadError:
        return None


def not_found_message(root):
    return (
        "no INA3221 found under {} (looked for the ina3221x iio and ina3221 hwmon drivers): pass "
        "--power serial://PORT?protocol=..., --power tegrastats or --power none".format(
            under(root, "/sys/bus/i2c/drivers")
        )
    )


class INA3221Source(PowerSource):
    """Polled source over every INA3221 rail (or one), instantaneous samples, host timestamps."""

    scheme = "ina3221"
    sampling = INSTANTANEOUS
    streaming = False
    reconnectable = True

    def __init__(self, url, root=None):
        PowerSource.__init__(self, url, root)
        params = url.reader()
        self.rail_mode = params.text("rails", "all", choices=("all", "input"))
        params.finish()
        self.only_rail = url.target or None
        self.channels = []
        self.input_index = ()
        self.notes = []
        self.settings = {}
        self.read_cost_s = None
        self._fds = []

    def open(self):
        found = discover(self.root)
        self.notes = found.notes
        self.settings = found.settings
        if not found.channels:
            raise PowerSourceError(not_found_message(self.root))
        names = found.rail_names
        if self.only_rail:
            matches = [c for c in found.channels if c.rail == self.only_rail]
            if not matches:
                matches = [c for c in found.channels if c.rail.upper() == self.only_rail.upper()]
            if not matches:
                raise PowerSourceError(
                    "no INA3221 rail named {!r} under {}: rails here are {}".format(
                        self.only_rail, resolve_root(self.root), ", ".join(names)
                    )
                )
            channels = matches[:1]
            rule_rails = [channels[0].rail]
            self.board_rule = "{} (one rail, as asked)".format(channels[0].rail)
        else:
            rule = board_input_rule(names)
            rule_rails = list(rule.rails)
            self.board_rule = rule.text
            if not rule.known:
                logger.warning("INA3221 board-input rule unknown for rails %s: %s", names, rule.text)
            if self.rail_mode == "input":
                channels = [c for c in found.channels if c.rail in rule_rails]
            else:
                channels = list(found.channels)
        opened = []
        try:
            for chan in channels:
                chan.open(self.root)
                opened.append(chan)
        except SensorReadError as err:
            for chan in opened:
                chan.close()
            raise PowerSourceError(
                "cannot open INA3221 rail files: {}; check permissions or pass --power none".format(err)
            )
        self.channels = channels
        self._fds = [tuple(v.fd for v in c._values) for c in channels]
        self.rails = tuple(c.rail for c in channels)
        self.input_index = tuple(i for i, c in enumerate(channels) if c.rail in rule_rails)
        self.detail = self.board_rule
        self.max_rate_hz = self._measure_max_rate()
        self.is_open = True
        return self

    def _measure_max_rate(self):
        """Fastest sustainable rate: half the time spent reading, capped by chip freshness and 1 kHz."""
        reads = 5
        start = time.perf_counter()
        for _ in range(reads):
            self.read()
        cost = (time.perf_counter() - start) / reads
        self.read_cost_s = cost
        rate = MAX_RATE_HZ if cost <= 0 else min(MAX_RATE_HZ, 0.5 / cost)
        for setting in self.settings.values():
            interval = setting.get("update_interval_ms")
            if interval:
                rate = min(rate, max(1000.0 / float(interval), 1.0))
        return float(rate)

    def close(self):
        for chan in self.channels:
            chan.close()
        self.is_open = False

    def read(self):
        clock = time.perf_counter
        pread = os.pread
        t0 = clock()
        rails = []
        append = rails.append
        for chan, fds in zip(self.channels, self._fds):
            try:  # fast path: plain integers (mW, or mV and mA)
                if len(fds) == 1:
                    append(int(pread(fds[0], READ_SIZE, 0)) / 1000.0)
                else:
                    append(int(pread(fds[0], READ_SIZE, 0)) * int(pread(fds[1], READ_SIZE, 0)) / 1e6)
            except (OSError, ValueError):
                try:  # slow path: unit suffixes, and a clear reason when it fails
                    append(chan.read_mw() / 1000.0)
                except SensorReadError as err:
                    logger.debug("INA3221 read failed: %s", err)
                    append(float("nan"))
        t1 = clock()
        power = 0.0
        for i in self.input_index:
            power += rails[i]
        return Sample(0.5 * (t0 + t1), power, rails)

    def file_poll(self):
        """The sampler's cheap path: every rail file read with one ``pread`` per sample, converted
        per batch (mW files / 1000; mV x mA / 1e6; board power = the rule's rails summed), the same
        figures as :meth:`read`."""
        import numpy as np

        columns = []  # per rail: the columns of its files in the values array
        fds = []
        for chan_fds in self._fds:
            columns.append(list(range(len(fds), len(fds) + len(chan_fds))))
            fds.extend(chan_fds)
        direct = [i for i, cols in enumerate(columns) if len(cols) == 1]
        direct_cols = [columns[i][0] for i in direct]
        product = [i for i, cols in enumerate(columns) if len(cols) == 2]
        volt_cols = [columns[i][0] for i in product]
        curr_cols = [columns[i][1] for i in product]
        inputs = list(self.input_index)
        n_rails = len(columns)

        def convert(values):
            rails = np.empty((values.shape[0], n_rails))
            if direct:
                rails[:, direct] = values[:, direct_cols] / 1000.0
            if product:
                rails[:, product] = values[:, volt_cols] * values[:, curr_cols] / 1e6
            return rails[:, inputs].sum(axis=1), rails

        def slow(index, fd):
            try:
                return float(parse_sysfs_number(os.pread(fd, READ_SIZE, 0)))
            except (OSError, SensorReadError) as err:
                logger.debug("INA3221 read failed: %s", err)
                return float("nan")

        return FilePoll(fds, convert, slow)

    def describe(self):
        info = PowerSource.describe(self)
        info["devices"] = self.settings
        info["read_cost_s"] = self.read_cost_s
        info["skipped"] = list(self.notes)
        return info

    @classmethod
    def list_rails(cls, root=None):
        """Everything ``edgebench power list`` shows about the INA3221s under ``root``."""
        found = discover(root)
        rails = [chan.snapshot(root) for chan in found.channels]
        rule = board_input_rule(found.rail_names)
        total_mw = None
        if rule.rails:
            values = [r["power_mw"] for r in rails if r["rail"] in rule.rails]
            if values and all(v is not None for v in values):
                total_mw = float(sum(values))
        return {
            "found": bool(found.channels),
            "rails": rails,
            "board_rule": rule.text,
            "board_rails": list(rule.rails),
            "board_input_w": None if total_mw is None else total_mw / 1000.0,
            "devices": found.settings,
            "skipped": found.notes,
        }
