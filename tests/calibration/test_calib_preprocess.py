import numpy as np
import pytest
from calib_helpers import has_module, requires_pil, sklearn_photo, write_png

from edgebench.calibration.preprocess import Preprocess, UndecodableImage, decode_image
from edgebench.errors import UsageError

pytestmark = requires_pil


@pytest.mark.skipif(not has_module("sklearn"), reason="needs scikit-learn")
def test_real_photo_becomes_float32_chw_of_the_model_input_size():
    image = decode_image(sklearn_photo("china.jpg"), Preprocess(224))
    assert image.shape == (3, 224, 224) and image.dtype == np.float32


@pytest.mark.skipif(not has_module("matplotlib"), reason="needs matplotlib (grace_hopper.jpg)")
def test_grace_hopper_photo_from_matplotlib_decodes_at_299():
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = decode_image(str(path), Preprocess(299, resize=342))
    assert image.shape == (3, 299, 299)
    assert np.isfinite(image).all()


def test_pixels_are_scaled_then_normalised_per_channel(tmp_path):
    path = write_png(tmp_path / "grey.png", np.full((50, 60, 3), 128))
    pre = Preprocess(32, mean=(0.5, 0.4, 0.3), std=(0.1, 0.2, 0.4))
    image = decode_image(path, pre)
    expected = [(128 / 255.0 - m) / s for m, s in zip(pre.mean, pre.std)]
    np.testing.assert_allclose(image[:, 10, 10], expected, atol=1e-6)


def test_shorter_side_is_resized_before_the_centre_crop(tmp_path):
    # 300 wide x 100 high: black, white, black thirds. Shorter side 100 -> unchanged; the centre
    # 100 x 100 crop is the white third only.
    array = np.zeros((100, 300, 3))
    array[:, 100:200] = 255
    path = write_png(tmp_path / "stripes.png", array)
    image = decode_image(path, Preprocess(100, mean=(0,), std=(1,), resize=100))
    assert image.min() == pytest.approx(1.0)


def test_without_resize_the_whole_image_is_squeezed_to_size(tmp_path):
    array = np.zeros((100, 300, 3))
    array[:, 100:200] = 255
    path = write_png(tmp_path / "stripes.png", array)
    image = decode_image(path, Preprocess(30, mean=(0,), std=(1,), resize=None))
    assert image[0, 15, 2] == pytest.approx(0.0) and image[0, 15, 15] == pytest.approx(1.0)


def test_grey_model_gets_one_luminance_channel(tmp_path):
    path = write_png(tmp_path / "rgb.png", np.full((40, 40, 3), 255))
    image = decode_image(path, Preprocess(32, channels=1, mean=(0,), std=(1,), resize=32))
    assert image.shape == (1, 32, 32)
    assert image.max() == pytest.approx(1.0)


def test_file_that_is_not_an_image_is_undecodable(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(UndecodableImage):
        decode_image(str(path), Preprocess(32))


def test_truncated_jpeg_is_undecodable(tmp_path):
    data = open(sklearn_photo("china.jpg"), "rb").read() if has_module("sklearn") else None
    if data is None:
        pytest.skip("needs scikit-learn")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(UndecodableImage):
        decode_image(str(path), Preprocess(224))


def test_resize_smaller_than_the_crop_is_refused():
    with pytest.raises(UsageError, match="smaller than"):
        Preprocess(224, resize=200)


def test_mean_with_wrong_number_of_channels_is_refused():
    with pytest.raises(UsageError, match="channel"):
        Preprocess(32, channels=3, mean=(0.1, 0.2))


def test_default_resize_follows_the_256_over_224_ratio():
    assert Preprocess(224).resize == 256 and Preprocess(299).resize == 342


def test_preprocess_round_trips_through_a_dict():
    pre = Preprocess((32, 48), channels=1, mean=(0.3,), std=(0.2,), resize=None)
    assert Preprocess.from_dict(pre.to_dict()) == pre
