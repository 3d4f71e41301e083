"""FAKE pynvml (nvidia-ml-py) - NOT NVIDIA's library: one invented discrete GPU for doctor's tests.

The calls and constants are nvidia-ml-py's (pynvml.py of the nvidia-ml-py package; NVML API
reference): nvmlInit/nvmlShutdown, nvmlDeviceGetHandleByIndex, nvmlDeviceGetName,
nvmlDeviceGetClockInfo / nvmlDeviceGetMaxClockInfo (NVML_CLOCK_SM, NVML_CLOCK_MEM, in MHz),
nvmlDeviceGetCurrentClocksThrottleReasons (a bit mask), nvmlDeviceGetTemperature
(NVML_TEMPERATURE_GPU, in C), nvmlDeviceGetEnforcedPowerLimit (mW), nvmlDeviceGetMemoryInfo
(bytes). EDGEBENCH_FAKE_NVML_THROTTLE sets the throttle mask (default 0: none);
EDGEBENCH_FAKE_NVML=nodriver makes nvmlInit fail as it does without the driver.
"""
import os

NVML_CLOCK_SM = 1
NVML_CLOCK_MEM = 2
NVML_TEMPERATURE_GPU = 0


class NVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(NVMLError):
    pass


class _Memory(object):
    total = 24 << 30
    used = 1 << 30
    free = total - used


def nvmlInit():
    if os.environ.get("EDGEBENCH_FAKE_NVML") == "nodriver":
        raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")


def nvmlShutdown():
    return None


def nvmlDeviceGetHandleByIndex(index):
    return ("fake-gpu", int(index))


def nvmlDeviceGetName(handle):
    return "FAKE NVIDIA A10"


def nvmlDeviceGetClockInfo(handle, clock):
    return {NVML_CLOCK_SM: 1410, NVML_CLOCK_MEM: 6251}[clock]


def nvmlDeviceGetMaxClockInfo(handle, clock):
    return {NVML_CLOCK_SM: 1695, NVML_CLOCK_MEM: 6251}[clock]


def nvmlDeviceGetCurrentClocksThrottleReasons(handle):
    return int(os.environ.get("EDGEBENCH_FAKE_NVML_THROTTLE", "0"), 0)


def nvmlDeviceGetTemperature(handle, sensor):
    return 45


def nvmlDeviceGetEnforcedPowerLimit(handle):
    return 150000


def nvmlDeviceGetMemoryInfo(handle):
    return _Memory()
