import os
import sys
import time
import types

import pytest
from power_helpers import write

from edgebench.errors import PowerSourceError
from edgebench.power.rapl import wrap_delta_uj
from edgebench.power.source import INSTANTANEOUS, INTEGRATING
from edgebench.power.url import open_source

RAPL = "/sys/class/powercap/"


def _zone(root, zone, name, energy_uj, max_uj=262143328850):
    write(root, RAPL + zone + "/name", name + "\n")
    write(root, RAPL + zone + "/energy_uj", "{}\n".format(energy_uj))
    write(root, RAPL + zone + "/max_energy_range_uj", "{}\n".format(max_uj))


def test_rapl_counter_wraps_once():
    assert wrap_delta_uj(100, 1000, 2000) == 1100


def test_rapl_reads_mean_power_since_previous_reading(tmp_path, opened):
    _zone(tmp_path, "intel-rapl:0", "package-0", 1000000)
    src = opened("rapl", root=str(tmp_path))
    t0 = time.perf_counter()
    write(tmp_path, RAPL + "intel-rapl:0/energy_uj", "3000000\n")  # +2 J
    sample = src.read()
    elapsed = time.perf_counter() - t0
    assert src.sampling == INTEGRATING
    assert 2.0 / (elapsed + 0.5) < sample.power_w


def test_rapl_prefers_psys_and_ignores_sub_zones(tmp_path, opened):
    _zone(tmp_path, "intel-rapl:0", "package-0", 5)
    _zone(tmp_path, "intel-rapl:0:0", "core", 5)
    _zone(tmp_path, "intel-rapl:1", "psys", 5)
    src = opened("rapl", root=str(tmp_path))
    assert src.rails == ("package-0", "psys") and src.board_rule.startswith("psys")


def test_rapl_unreadable_counter_says_root_is_needed(tmp_path):
    _zone(tmp_path, "intel-rapl:0", "package-0", 5)
    path = os.path.join(str(tmp_path), RAPL.lstrip("/"), "intel-rapl:0", "energy_uj")
    os.remove(path)
    os.mkdir(path)
    with pytest.raises(PowerSourceError, match="root"):
        open_source("rapl", root=str(tmp_path))


def test_nvml_missing_module_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(PowerSourceError, match="nvidia-ml-py"):
        open_source("nvml")


class FakeNVMLError(Exception):  # stands in for pynvml.NVMLError (no NVIDIA GPU on this machine)
    def __init__(self, value):
        Exception.__init__(self, "NVML error {}".format(value))
        self.value = value


def _fake_pynvml(power_mw=None, energy_mj=None):
    """A FakeNVML module: this machine has no NVIDIA driver, so the vendor library is faked."""
    mod = types.ModuleType("pynvml")
    mod.NVML_ERROR_NOT_SUPPORTED = 3
    mod.nvmlInit = lambda: None
    mod.nvmlShutdown = lambda: None
    mod.nvmlDeviceGetHandleByIndex = lambda i: "gpu{}".format(i)
    mod.nvmlDeviceGetName = lambda h: b"Orin (nvgpu)"

    def power(handle):
        if power_mw is None:
            raise FakeNVMLError(3)
        return power_mw

    def energy(handle):
        if energy_mj is None:
            raise FakeNVMLError(3)
        return energy_mj

    mod.nvmlDeviceGetPowerUsage = power
    mod.nvmlDeviceGetTotalEnergyConsumption = energy
    return mod


def test_nvml_not_supported_on_jetson_points_at_ina3221(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml())
    with pytest.raises(PowerSourceError, match="NotSupported.*ina3221"):
        open_source("nvml")


def test_nvml_power_usage_is_instantaneous_watts(monkeypatch, opened):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(power_mw=71500))
    src = opened("nvml:0")
    assert src.sampling == INSTANTANEOUS and src.read().power_w == pytest.approx(71.5)
