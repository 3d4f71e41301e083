"""FAKE tensorrt and pycuda.driver modules - NOT NVIDIA's libraries.

This machine has no GPU, no TensorRT and no CUDA. These stand-ins implement only what the
calibrator factory touches, so its logic (batches, device copies, cache read/write) can be tested:

* ``tensorrt``: the calibrator base classes (plain Python classes) and ``__version__``;
  ``calibrate(calibrator, names)`` plays TensorRT's part in a build: ask for the cache, and if there
  is none pull batches until ``get_batch`` returns None, then hand back a cache in TensorRT's text
  format ("TRT-<version>-<algorithm>" header, one "tensor: hex" line per tensor).
* ``pycuda.driver``: ``mem_alloc`` returns a host bytearray posing as device memory with an integer
  address; ``memcpy_htod`` copies into it.
"""
import sys
import types

import numpy as np


def make_modules(version="8.2.1.8"):
    """Return (tensorrt, pycuda, pycuda.driver) fake modules."""
    trt = types.ModuleType("tensorrt")
    trt.__doc__ = "FAKE tensorrt for tests (see tests/calibration/fake_tensorrt.py)"
    trt.__version__ = version

    class IInt8Calibrator(object):
        algorithm_name = "Legacy"

        def __init__(self):
            self.base_initialised = True

    class IInt8EntropyCalibrator2(IInt8Calibrator):
        algorithm_name = "EntropyCalibration2"

    class IInt8MinMaxCalibrator(IInt8Calibrator):
        algorithm_name = "MinMaxCalibration"

    class IInt8EntropyCalibrator(IInt8Calibrator):
        algorithm_name = "EntropyCalibration"

    trt.IInt8Calibrator = IInt8Calibrator
    trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    trt.IInt8MinMaxCalibrator = IInt8MinMaxCalibrator
    trt.IInt8EntropyCalibrator = IInt8EntropyCalibrator

    driver = types.ModuleType("pycuda.driver")
    driver.__doc__ = "FAKE pycuda.driver for tests"
    driver.allocations = {}

    class DeviceAllocation(object):
        def __init__(self, nbytes):
            self.buffer = bytearray(nbytes)
            self.freed = False
            self.address = 0x10000 + 0x1000 * len(driver.allocations)
            driver.allocations[self.address] = self

        def __int__(self):
            return self.address

        def free(self):
            self.freed = True

    def mem_alloc(nbytes):
        return DeviceAllocation(nbytes)

    def memcpy_htod(dest, src):
        data = np.ascontiguousarray(src).tobytes()
        if len(data) > len(dest.buffer):
            raise ValueError("copy larger than the allocation")
        dest.buffer[: len(data)] = data

    driver.DeviceAllocation = DeviceAllocation
    driver.mem_alloc = mem_alloc
    driver.memcpy_htod = memcpy_htod

    pycuda = types.ModuleType("pycuda")
    pycuda.__doc__ = "FAKE pycuda for tests"
    pycuda.driver = driver

    def calibrate(calibrator, names=("input",)):
        """What TensorRT's builder does with a calibrator; returns the device batches it saw."""
        seen = []
        if calibrator.read_calibration_cache() is not None:
            return seen
        while True:
            pointers = calibrator.get_batch(list(names))
            if pointers is None:
                break
            alloc = driver.allocations[pointers[0]]
            seen.append(bytes(alloc.buffer))
        if seen:
            major, minor = version.split(".")[:2]
            text = "TRT-{}{}01-{}\ninput: 3c010a14\noutput: 3d8f5c29\n".format(
                major, minor, calibrator.algorithm_name)
            calibrator.write_calibration_cache(text.encode("ascii"))
        return seen

    trt.calibrate = calibrate
    return trt, pycuda, driver


def install(monkeypatch, version="8.2.1.8"):
    """Put the fakes in sys.modules for the duration of a test; return the fake tensorrt."""
    trt, pycuda, driver = make_modules(version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", driver)
    return trt
