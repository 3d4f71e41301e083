"""NVIDIA NVML (``nvidia-ml-py``, imported only when this source is opened).

For discrete GPUs: ``nvmlDeviceGetTotalEnergyConsumption`` (mJ counter, ``integrating``) where
the GPU supports it, else ``nvmlDeviceGetPowerUsage`` (mW, ``instantaneous``). On a Jetson NVML
reports power as NotSupported (the integrated GPU has no NVML power); this source says so and
points at ``ina3221``. URL: ``nvml`` or ``nvml:INDEX``.
"""
import logging
import time

from edgebench.errors import PowerSourceError
from edgebench.power.source import INSTANTANEOUS, INTEGRATING, PowerSource, Sample

logger = logging.getLogger(__name__)

NVML_RATE_HZ = 20.0


def _import_pynvml():
    try:
        import pynvml
    except ImportError:
        raise PowerSourceError("NVML needs nvidia-ml-py: pip install nvidia-ml-py (or pick another power source)")
    return pynvml


def _not_supported(pynvml, err):
    code = getattr(err, "value", None)
    return code is not None and code == getattr(pynvml, "NVML_ERROR_NOT_SUPPORTED", object())


class NvmlSource(PowerSource):
    scheme = "nvml"
    streaming = False
    max_rate_hz = NVML_RATE_HZ
    reconnectable = True

    def __init__(self, url, root=None):
        PowerSource.__init__(self, url, root)
        url.reader().finish()
        target = url.target or "0"
        if not target.isdigit():
            raise PowerSourceError("nvml:{} is not a GPU index: write nvml or nvml:0".format(target))
        self.index = int(target)
        self._nvml = None
        self._handle = None
        self._use_energy = False
        self._last = None

    def open(self):
        pynvml = _import_pynvml()
        try:
            pynvml.nvmlInit()
        except Exception as err:  # pynvml.NVMLError and friends: translate, never leak
            raise PowerSourceError("NVML did not start ({}): is the NVIDIA driver loaded?".format(err))
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            name = pynvml.nvmlDeviceGetName(handle)
            if isinstance(name, bytes):
                name = name.decode("utf-8", "replace")
        except Exception as err:
            self._shutdown(pynvml)
            raise PowerSourceError("NVML has no GPU {} ({})".format(self.index, err))
        use_energy = False
        try:
            energy_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            use_energy = True
        except Exception as err:
            if not _not_supported(pynvml, err):
                logger.debug("NVML energy counter unavailable: %s", err)
            energy_mj = None
        if not use_energy:
            try:
                pynvml.nvmlDeviceGetPowerUsage(handle)
            except Exception as err:
                self._shutdown(pynvml)
                if _not_supported(pynvml, err):
                    raise PowerSourceError(
                        "NVML reports power as NotSupported for GPU {} ({}); on a Jetson the integrated GPU has "
                        "no NVML power: use --power ina3221".format(self.index, name)
                    )
                raise PowerSourceError("NVML cannot read power of GPU {} ({}): {}".format(self.index, name, err))
        self._nvml = pynvml
        self._handle = handle
        self._use_energy = use_energy
        self.sampling = INTEGRATING if use_energy else INSTANTANEOUS
        self.rails = ("gpu{}".format(self.index),)
        self.board_rule = "GPU {} board power ({})".format(
            self.index, "energy counter" if use_energy else "power reading"
        )
        self.detail = "{}: {}".format(name, self.board_rule)
        self._last = (time.perf_counter(), energy_mj)
        self.is_open = True
        return self

    @staticmethod
    def _shutdown(pynvml):
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass

    def read(self):
        pynvml = self._nvml
        now = time.perf_counter()
        try:
            if self._use_energy:
                energy_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
                before_t, before = self._last
                self._last = (now, energy_mj)
                power = (energy_mj - before) / 1000.0 / (now - before_t) if now > before_t else float("nan")
            else:
                power = pynvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0
        except Exception as err:
            logger.debug("NVML read failed: %s", err)
            power = float("nan")
        return Sample(now, power, (power,))

    def close(self):
        if self._nvml is not None:
            self._shutdown(self._nvml)
        self._nvml = None
        self.is_open = False
