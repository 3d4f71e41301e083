import logging
import os

import numpy as np
import pytest
from calib_helpers import requires_pil, requires_sklearn, write_png

from edgebench.calibration.preprocess import Preprocess
from edgebench.calibration.sources import (
    SYNTHETIC_WARNING,
    check_calibration_ref,
    evenly_spaced,
    open_calibration_source,
)
from edgebench.errors import UsageError

GREY = Preprocess(8, mean=(0,), std=(1,), resize=None)


def _values(source):
    return [round(float(img[0, 0, 0]) * 255) for img in source.iter_images()]


@requires_pil
def test_folder_images_are_read_in_sorted_order(tmp_path):
    for name, level in (("b.png", 100), ("a.png", 50), ("sub/c.png", 150)):
        (tmp_path / "d" / os.path.dirname(name)).mkdir(parents=True, exist_ok=True)
        write_png(tmp_path / "d" / name, np.full((8, 8, 3), level))
    assert _values(open_calibration_source(str(tmp_path / "d"), GREY)) == [50, 100, 150]


def test_limit_spreads_the_selection_over_the_whole_list():
    assert evenly_spaced(10, 3) == [0, 3, 6]
    assert evenly_spaced(4, 10) == [0, 1, 2, 3]


@requires_pil
def test_calib_images_limit_selects_evenly_spaced_files(colour_folder):
    source = open_calibration_source(colour_folder, GREY, limit=3)
    assert source.names == ["c0.png", "c2.png", "c4.png"]


@requires_pil
def test_fingerprint_is_stable_for_the_same_data(colour_folder):
    a = open_calibration_source(colour_folder, GREY).fingerprint
    b = open_calibration_source(colour_folder, GREY).fingerprint
    assert a == b and len(a) == 64


@requires_pil
def test_fingerprint_changes_when_an_image_changes(colour_folder):
    before = open_calibration_source(colour_folder, GREY).fingerprint
    write_png(os.path.join(colour_folder, "c3.png"), np.full((40, 40, 3), 7))
    assert open_calibration_source(colour_folder, GREY).fingerprint != before


@requires_pil
def test_fingerprint_changes_with_the_preprocessing(colour_folder):
    other = Preprocess(8, mean=(0.5,), std=(1,), resize=None)
    assert open_calibration_source(colour_folder, GREY).fingerprint != \
        open_calibration_source(colour_folder, other).fingerprint


@requires_pil
def test_fingerprint_changes_with_the_image_count(colour_folder):
    assert open_calibration_source(colour_folder, GREY, limit=6).fingerprint != \
        open_calibration_source(colour_folder, GREY, limit=5).fingerprint


def test_folder_without_images_is_a_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(UsageError, match="no images"):
        open_calibration_source(str(tmp_path), GREY)


@requires_pil
def test_undecodable_images_are_skipped_and_counted(colour_folder, caplog):
    with open(os.path.join(colour_folder, "c1.png"), "wb") as fh:
        fh.write(b"not a png at all")
    source = open_calibration_source(colour_folder, GREY)
    with caplog.at_level(logging.WARNING):
        batches = list(source.batches(2))
    assert sum(len(b) for b in batches) == 5
    assert source.describe()["skipped"] == 1 and source.skipped[0][0] == "c1.png"
    assert "could not be decoded" in " ".join(source.warnings())


@requires_pil
def test_batches_have_the_batch_size_and_a_smaller_last_one(colour_folder):
    sizes = [len(b) for b in open_calibration_source(colour_folder, GREY).batches(4)]
    assert sizes == [4, 2]


@requires_pil
def test_drop_last_keeps_only_full_batches(colour_folder):
    sizes = [len(b) for b in open_calibration_source(colour_folder, GREY).batches(4, drop_last=True)]
    assert sizes == [4]


@requires_pil
def test_fewer_images_than_one_batch_is_a_usage_error(colour_folder):
    source = open_calibration_source(colour_folder, GREY)
    with pytest.raises(UsageError, match="fewer than one batch of 8"):
        list(source.batches(8))


@requires_pil
def test_only_undecodable_images_is_a_usage_error(tmp_path):
    for i in range(3):
        (tmp_path / "bad{}.jpg".format(i)).write_bytes(b"garbage")
    source = open_calibration_source(str(tmp_path), GREY)
    with pytest.raises(UsageError, match="could not be decoded"):
        list(source.batches(1))


def test_npy_of_the_wrong_shape_is_a_usage_error(tmp_path):
    path = str(tmp_path / "x.npy")
    np.save(path, np.zeros((4, 3, 16, 16), dtype=np.float32))
    with pytest.raises(UsageError, match="4x3x16x16"):
        open_calibration_source(path, shape=(3, 32, 32))


def test_npz_tensors_are_read_from_x(tmp_path):
    path = str(tmp_path / "calib.npz")
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    np.savez(path, x=x, y=np.array([0, 1]))
    batch = next(open_calibration_source(path, shape=(3, 4, 4)).batches(2))
    np.testing.assert_array_equal(batch, x)


def test_npz_with_several_arrays_but_no_x_is_a_usage_error(tmp_path):
    path = str(tmp_path / "calib.npz")
    np.savez(path, a=np.zeros((2, 3, 4, 4), np.float32), b=np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(UsageError, match="'x'"):
        open_calibration_source(path, shape=(3, 4, 4))


def test_integer_arrays_are_refused_as_unpreprocessed(tmp_path):
    path = str(tmp_path / "raw.npy")
    np.save(path, np.zeros((2, 3, 4, 4), dtype=np.uint8))
    with pytest.raises(UsageError, match="float"):
        open_calibration_source(path, shape=(3, 4, 4))


def test_grey_arrays_without_channel_axis_are_accepted(tmp_path):
    path = str(tmp_path / "grey.npy")
    np.save(path, np.ones((3, 4, 4), dtype=np.float32))
    assert next(open_calibration_source(path, shape=(1, 4, 4)).batches(3)).shape == (3, 1, 4, 4)


def test_non_finite_tensors_are_a_usage_error(tmp_path):
    path = str(tmp_path / "nan.npy")
    x = np.zeros((2, 3, 4, 4), dtype=np.float32)
    x[1, 0, 0, 0] = np.nan
    np.save(path, x)
    with pytest.raises(UsageError, match="NaN"):
        list(open_calibration_source(path, shape=(3, 4, 4)).batches(2))


def test_synthetic_data_is_announced_loudly(caplog):
    with caplog.at_level(logging.WARNING):
        source = open_calibration_source("synthetic", shape=(3, 4, 4), limit=4)
    assert "SYNTHETIC" in caplog.text
    assert SYNTHETIC_WARNING in source.warnings() and source.describe()["synthetic"] is True


def test_synthetic_data_is_deterministic():
    a = next(open_calibration_source("synthetic", shape=(3, 4, 4), limit=4).batches(4))
    b = next(open_calibration_source("synthetic", shape=(3, 4, 4), limit=4).batches(4))
    np.testing.assert_array_equal(a, b)


def test_missing_calibration_path_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        open_calibration_source(str(tmp_path / "nowhere"), GREY)


def test_up_front_check_rejects_a_text_file(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("a.jpg\n")
    with pytest.raises(UsageError, match="neither"):
        check_calibration_ref(str(path))


@requires_sklearn
def test_digits_calibration_uses_the_train_split():
    source = open_calibration_source("digits", shape=(1, 32, 32), limit=2000)
    assert source.count == 1437 and source.shape == (1, 32, 32)


@requires_sklearn
def test_digits_calibration_refuses_a_model_of_another_input_size():
    with pytest.raises(UsageError, match="1x32x32"):
        open_calibration_source("digits", shape=(3, 224, 224))


@requires_pil
def test_symlink_loop_in_the_folder_is_listed_once(colour_folder):
    os.symlink(colour_folder, os.path.join(colour_folder, "loop"))
    assert open_calibration_source(colour_folder, GREY).count == 6
