"""Intel/AMD RAPL energy counters from ``<root>/sys/class/powercap/intel-rapl:*``.

Each top-level zone (``intel-rapl:0`` = ``package-0``, ``intel-rapl:1`` = ``psys`` where present)
has a cumulative ``energy_uj`` counter that wraps at ``max_energy_range_uj``. A reading is the mean
power since the previous reading (``integrating``): the counter difference over the host interval.
Board power is ``psys`` (whole platform) where present, else the sum of the packages. Sub-zones
(``intel-rapl:0:0`` core, ``dram``) are inside their package and are not added.

URL: ``rapl`` or ``rapl:ZONE`` (a zone name such as ``package-0``).
"""
import logging
import os
import time

from edgebench.errors import PowerSourceError
from edgebench.platform.root import under
from edgebench.platform.sysfs import glob_board, read_text
from edgebench.power.source import INTEGRATING, PowerSource, Sample

logger = logging.getLogger(__name__)

POWERCAP = "/sys/class/powercap"
MAX_RATE_HZ = 1000.0


def wrap_delta_uj(now_uj, before_uj, max_range_uj):
    """Counter difference with one wrap-around allowed."""
    delta = now_uj - before_uj
    if delta < 0 and max_range_uj:
        delta += max_range_uj
    return delta


class Zone(object):
    def __init__(self, name, directory, max_range_uj):
        self.name = name
        self.directory = directory
        self.max_range_uj = max_range_uj
        self.fd = None
        self.host_path = None


def discover(root=None):
    zones = []
    for directory in glob_board(root, POWERCAP + "/intel-rapl:*"):
        leaf = directory.rsplit("/", 1)[-1]
        if leaf.count(":") != 1:
            continue  # sub-zone, inside its package
        name = read_text(root, directory + "/name") or leaf
        max_range = read_text(root, directory + "/max_energy_range_uj")
        try:
            max_range = int(max_range) if max_range else 0
        except ValueError:
            max_range = 0
        zones.append(Zone(name, directory, max_range))
    return zones


class RaplSource(PowerSource):
    scheme = "rapl"
    sampling = INTEGRATING
    streaming = False
    max_rate_hz = MAX_RATE_HZ
    reconnectable = True

    def __init__(self, url, root=None):
        PowerSource.__init__(self, url, root)
        url.reader().finish()
        self.only_zone = url.target or None
        self.zones = []
        self.input_index = ()
        self._last = None

    def open(self):
        zones = discover(self.root)
        if not zones:
            raise PowerSourceError(
                "no RAPL zones under {} (not an Intel/AMD machine, or the intel_rapl module is not loaded)".format(
                    under(self.root, POWERCAP)
                )
            )
        if self.only_zone:
            zones = [z for z in zones if z.name == self.only_zone]
            if not zones:
                raise PowerSourceError("no RAPL zone named {!r}: zones here are {}".format(
                    self.only_zone, ", ".join(z.name for z in discover(self.root))))
        for zone in zones:
            zone.host_path = under(self.root, zone.directory + "/energy_uj")
            try:
                zone.fd = os.open(zone.host_path, os.O_RDONLY)
                int(os.pread(zone.fd, 32, 0))
            except (OSError, ValueError) as err:
                for z in zones:
                    if z.fd is not None:
                        os.close(z.fd)
                        z.fd = None
                raise PowerSourceError(
                    "cannot read {} ({}): since Linux 5.10 energy_uj is readable by root only; run as root "
                    "or pick another power source".format(zone.host_path, err)
                )
        names = [z.name for z in zones]
        if "psys" in names and not self.only_zone:
            self.input_index = (names.index("psys"),)
            self.board_rule = "psys (whole platform)"
        else:
            self.input_index = tuple(range(len(zones)))
            self.board_rule = " + ".join(names) if len(names) > 1 else names[0]
        self.zones = zones
        self.rails = tuple(names)
        self.detail = self.board_rule
        self._last = (time.perf_counter(), self._energies())
        self.is_open = True
        return self

    def _energies(self):
        values = []
        for zone in self.zones:
            try:
                values.append(int(os.pread(zone.fd, 32, 0)))
            except (OSError, ValueError):
                values.append(None)
        return values

    def read(self):
        now = time.perf_counter()
        energies = self._energies()
        before_t, before = self._last
        self._last = (now, energies)
        dt = now - before_t
        rails = []
        for zone, e_now, e_before in zip(self.zones, energies, before):
            if e_now is None or e_before is None or dt <= 0:
                rails.append(float("nan"))
            else:
                rails.append(wrap_delta_uj(e_now, e_before, zone.max_range_uj) / 1e6 / dt)
        power = sum(rails[i] for i in self.input_index)
        return Sample(now, power, rails)

    def close(self):
        for zone in self.zones:
            if zone.fd is not None:
                os.close(zone.fd)
                zone.fd = None
        self.is_open = False
