"""Shared test markers and helpers (a uniquely named module: every test dir may have a conftest)."""
import importlib.util

import pytest


def has_module(name):
    return importlib.util.find_spec(name) is not None


requires_torch = pytest.mark.skipif(not has_module("torch") or not has_module("torchvision"),
                                    reason="needs torch and torchvision (the zoo extra)")


class RaisingCalibrationSource(object):
    """A calibration source whose reader fails after its first batch (a disk error, a decoder bug)."""

    ref = "flaky-disk"
    fingerprint = "ef" * 32
    count = 12

    def __init__(self, shape, exc=None):
        self.shape = tuple(shape)
        self.exc = exc or OSError("Input/output error reading img_0004.png")

    def check_batch_size(self, batch_size):
        return None

    def batches(self, batch_size, drop_last=True):
        import numpy as np

        yield np.zeros((batch_size,) + self.shape, np.float32)
        raise self.exc

    def describe(self):
        return {"ref": self.ref}

    def warnings(self):
        return []
