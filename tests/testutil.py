"""Shared test markers and helpers (a uniquely named module: every test dir may have a conftest)."""
import importlib.util

import pytest


def has_module(name):
    return importlib.util.find_spec(name) is not None


requires_torch = pytest.mark.skipif(not has_module("torch") or not has_module("torchvision"),
                                    reason="needs torch and torchvision (the zoo extra)")
