import os

import numpy as np
import pytest
from calib_helpers import requires_sklearn, requires_torch

from edgebench.calibration import digits

pytestmark = requires_sklearn


def test_train_and_test_splits_are_disjoint_and_complete():
    x_test, _ = digits.digits_split("test")
    x_train, _ = digits.digits_split("train")
    assert len(x_test) == 360 and len(x_train) == 1437
    test_rows = set(r.tobytes() for r in x_test)
    assert not any(r.tobytes() in test_rows for r in x_train)


def test_upsampling_keeps_a_constant_image_constant():
    out = digits.upsample(np.full((1, 8, 8), 0.25))
    assert out.shape == (1, 32, 32) and np.allclose(out, 0.25)


def test_upsampling_interpolates_between_pixel_centres():
    row = np.zeros((1, 8, 8))
    row[0, :, 4:] = 1.0
    out = digits.upsample(row)
    assert out[0, 0, 15] == pytest.approx(0.375) and out[0, 0, 16] == pytest.approx(0.625)


def test_split_images_are_normalised_like_the_zoo_entry():
    x, _ = digits.digits_split("train")
    assert abs(float(x.mean())) < 0.1 and abs(float(x.std()) - 1.0) < 0.1


def test_zoo_entry_describes_a_1x32x32_ten_class_model():
    from edgebench.models.registry import get_spec

    spec = get_spec("lenet5_digits")
    assert spec.input_shape == (1, 32, 32) and spec.num_classes == 10
    assert spec.builder == "python:edgebench.calibration.digits:build_lenet5_digits"


@pytest.fixture
def trained(digits_cache):
    return digits_cache, digits.build_lenet5_digits(digits_cache)


@requires_torch
def test_trained_lenet5_reaches_95_percent_on_the_test_split(trained):
    import torch

    cache_dir, model = trained
    x, y = digits.digits_split("test")
    with torch.no_grad():
        predicted = model(torch.from_numpy(x)).argmax(1).numpy()
    assert (predicted == y).mean() >= 0.95
    assert digits.training_metadata(cache_dir)["test_top1"] >= 95.0


@requires_torch
def test_trained_weights_are_cached_as_plain_arrays(trained):
    cache_dir, _ = trained
    path = digits.weights_path(cache_dir)
    with np.load(path, allow_pickle=False) as archive:
        assert "features.0.weight" in archive.files
    assert os.path.exists(os.path.splitext(path)[0] + ".json")


@requires_torch
def test_second_build_loads_the_cache_instead_of_training(trained, monkeypatch):
    cache_dir, model = trained

    def no_training():
        raise AssertionError("trained again")

    monkeypatch.setattr(digits, "train_lenet5_digits", no_training)
    again = digits.build_lenet5_digits(cache_dir)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert bool((a == b).all())


def test_stale_recipe_key_is_refused(tmp_path):
    from edgebench.errors import UsageError

    with pytest.raises(UsageError, match="recipe"):
        digits.build_lenet5_digits(str(tmp_path), recipe="0000000000000000")
