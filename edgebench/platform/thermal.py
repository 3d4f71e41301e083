"""Temperatures and signs of throttling, sampled per measured point.

* Temperatures: ``/sys/class/thermal/thermal_zone*/{type,temp}`` in millidegrees Celsius. A zone
  that reads -256000 (-256 degC) or fails to read (``EAGAIN`` from a powered-down CV cluster on
  Orin) is *offline* and reported as None. ``PMIC-Die`` on TX1/Nano always says 100 degC and
  ``thermal-fan-est`` is a fan-control estimate, so neither counts towards ``max_temp_c``.
* Over-current throttling on Orin: the ``soctherm_oc`` hwmon device counts events in
  ``oc{1,2,3}_event_cnt``; counters that *rise* during a point mean the SoC throttled.
* INA3221 current alarms (JetPack 5+ ``ina3221`` hwmon driver): ``curr<N>_crit_alarm`` /
  ``curr<N>_max_alarm`` are 1 while the rail is over its limit (on Orin NX VDD_IN this limit is wired
  to the SoC's throttle).
"""
import os
import re

from edgebench.platform import sysfs

OFFLINE_MILLI_C = -256000
NOT_A_SENSOR_PREFIXES = ("pmic", "thermal-fan-est")
INA3221_HWMON_GLOB = "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*"

_ALARM_RE = re.compile(r"^curr(\d+)_(crit|max)_alarm$")


def thermal_zones(root=None):
    """``[(name, board_path_of_temp_file), ...]`` for every thermal zone, names made unique."""
    zones = []
    seen = {}
    for zone in sysfs.glob_board(root, "/sys/class/thermal/thermal_zone*"):
        name = sysfs.read_text(root, zone + "/type") or os.path.basename(zone)
        if name in seen:
            seen[name] += 1
            name = "{}#{}".format(name, seen[name])
        else:
            seen[name] = 0
        zones.append((name, zone + "/temp"))
    return zones


def read_temperatures(root=None, zones=None):
    """``{zone name: degC or None (offline)}``."""
    temperatures = {}
    for name, path in zones if zones is not None else thermal_zones(root):
        milli_c = sysfs.read_int(root, path)
        if milli_c is None or milli_c <= OFFLINE_MILLI_C:
            temperatures[name] = None
        else:
            temperatures[name] = milli_c / 1000.0
    return temperatures


def max_temperature_c(temperatures):
    """Hottest real sensor (skipping offline zones, ``PMIC*`` and ``thermal-fan-est``), or None."""
    values = [value for name, value in temperatures.items()
              if value is not None and not name.lower().startswith(NOT_A_SENSOR_PREFIXES)]
    return max(values) if values else None


def read_oc_event_counts(root=None):
    """``{"oc1": n, "oc2": n, "oc3": n}`` from the ``soctherm_oc`` hwmon device (empty if absent)."""
    counts = {}
    for hwmon in sysfs.glob_board(root, "/sys/class/hwmon/hwmon*"):
        if sysfs.read_text(root, hwmon + "/name") != "soctherm_oc":
            continue
        for path in sysfs.glob_board(root, hwmon + "/oc*_event_cnt"):
            value = sysfs.read_int(root, path)
            if value is not None:
                counts[os.path.basename(path)[:-len("_event_cnt")]] = value
    return counts


def read_current_alarms(root=None):
    """``{"<rail> crit": 0/1, "<rail> max": 0/1}`` from INA3221 hwmon alarm files (empty if absent)."""
    alarms = {}
    for hwmon in sysfs.glob_board(root, INA3221_HWMON_GLOB):
        for path in sysfs.glob_board(root, hwmon + "/curr*_alarm"):
            match = _ALARM_RE.match(os.path.basename(path))
            if not match:
                continue
            channel, kind = match.groups()
            label = sysfs.read_text(root, "{}/in{}_label".format(hwmon, channel)) or "{}:curr{}".format(
                os.path.basename(hwmon), channel)
            if label.upper() == "NC":
                continue
            value = sysfs.read_int(root, path)
            if value is not None:
                alarms["{} {}".format(label, kind)] = value
    return alarms


def sample_thermal(root=None, zones=None):
    """One thermal sample for a measured point (JSON-safe).

    Returns ``{"max_temp_c", "temperatures_c", "oc_event_counts", "current_alarms", "alarm_active"}``.
    Compare two samples with :func:`throttle_delta` to tell whether the SoC throttled in between.
    Pass ``zones`` from :func:`thermal_zones` to skip the directory scan when sampling often.
    """
    temperatures = read_temperatures(root, zones)
    alarms = read_current_alarms(root)
    return {
        "max_temp_c": max_temperature_c(temperatures),
        "temperatures_c": temperatures,
        "oc_event_counts": read_oc_event_counts(root),
        "current_alarms": alarms,
        "alarm_active": any(value for value in alarms.values()),
    }


def throttle_delta(before, after):
    """What changed between two :func:`sample_thermal` results.

    Returns ``{"oc_events": {"oc2": 3, ...} (increases only), "alarms": [names active in either],
    "throttled": bool}``.
    """
    before_counts = before.get("oc_event_counts") or {}
    increases = {}
    for name, value in (after.get("oc_event_counts") or {}).items():
        previous = before_counts.get(name)
        if previous is not None and value > previous:
            increases[name] = value - previous
    alarms = sorted(
        name for sample in (before, after) for name, value in (sample.get("current_alarms") or {}).items()
        if value)
    alarms = sorted(set(alarms))
    return {"oc_events": increases, "alarms": alarms, "throttled": bool(increases or alarms)}
