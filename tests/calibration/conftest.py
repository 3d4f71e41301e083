"""Fixtures for the calibration tests: real photos from installed wheels, small image folders."""
import os
import shutil
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from calib_helpers import has_module, sklearn_photo, write_png  # noqa: E402


@pytest.fixture
def photo_folder(tmp_path):
    """A folder with the two real photos scikit-learn ships (427 x 640 RGB JPEGs)."""
    if not has_module("PIL") or not has_module("sklearn"):
        pytest.skip("needs Pillow and scikit-learn")
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("china.jpg", "flower.jpg"):
        shutil.copy(sklearn_photo(name), str(folder / name))
    return str(folder)


@pytest.fixture
def colour_folder(tmp_path):
    """Six 40 x 40 solid-colour PNGs named c0.png .. c5.png (grey levels 0, 40, ..., 200)."""
    if not has_module("PIL"):
        pytest.skip("needs Pillow")
    folder = tmp_path / "colours"
    folder.mkdir()
    for i in range(6):
        write_png(folder / "c{}.png".format(i), np.full((40, 40, 3), 40 * i))
    return str(folder)


@pytest.fixture(scope="session")
def digits_cache(tmp_path_factory):
    """A cache directory holding the trained lenet5_digits weights (trained once per session)."""
    if not has_module("torch") or not has_module("sklearn"):
        pytest.skip("needs torch and scikit-learn")
    from edgebench.calibration import digits

    cache_dir = str(tmp_path_factory.mktemp("digits-cache"))
    digits.build_lenet5_digits(cache_dir)
    return cache_dir
