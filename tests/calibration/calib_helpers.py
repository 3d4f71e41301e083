"""Helpers shared by the calibration tests (a uniquely named module; conftest is not importable by name)."""
import os

import numpy as np
import pytest


def has_module(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


requires_pil = pytest.mark.skipif(not has_module("PIL"), reason="needs Pillow (the test extra)")
requires_sklearn = pytest.mark.skipif(not has_module("sklearn"), reason="needs scikit-learn (the test extra)")
requires_torch = pytest.mark.skipif(not has_module("torch"), reason="needs torch (the zoo extra)")


def sklearn_photo(name):
    """Path of a photo scikit-learn ships in its wheel (china.jpg, flower.jpg)."""
    import sklearn.datasets

    return os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", name)


def write_png(path, array):
    """Write a uint8 H x W x 3 (or H x W) array as a PNG with Pillow."""
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(str(path))
    return str(path)
