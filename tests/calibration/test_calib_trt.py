"""The TensorRT calibrator against FAKE tensorrt/pycuda modules (fake_tensorrt.py): no GPU here."""
import logging
import os

import fake_tensorrt
import numpy as np
import pytest
from calib_helpers import requires_pil, requires_torch
from testutil import RaisingCalibrationSource

from edgebench.calibration import cache
from edgebench.calibration.sources import open_calibration_source
from edgebench.calibration.trt_calibrator import (
    Torch2trtCalibDataset,
    make_int8_calibrator,
    read_trt_cache,
    trt_cache_path,
    trt_version_tuple,
    write_trt_cache,
)
from edgebench.errors import UnsupportedPrecision, UsageError

SHAPE = (3, 4, 4)


@pytest.fixture
def trt(monkeypatch):
    return fake_tensorrt.install(monkeypatch)


@pytest.fixture
def data(tmp_path):
    path = str(tmp_path / "calib.npy")
    np.save(path, np.arange(10 * 48, dtype=np.float32).reshape((10,) + SHAPE))
    return path


def _calibrator(data, tmp_path, batch=4, algorithm="entropy2"):
    source = open_calibration_source(data, shape=SHAPE)
    path = trt_cache_path(str(tmp_path / "c"), "ab" * 32, source.fingerprint, algorithm)
    return make_int8_calibrator(source, batch, path, algorithm)


def test_calibrator_subclasses_tensorrts_entropy_calibrator_2(trt, data, tmp_path):
    calibrator = _calibrator(data, tmp_path)
    assert isinstance(calibrator, trt.IInt8EntropyCalibrator2) and calibrator.base_initialised
    assert calibrator.get_batch_size() == 4


def test_minmax_algorithm_picks_the_minmax_base_class(trt, data, tmp_path):
    assert isinstance(_calibrator(data, tmp_path, algorithm="minmax"), trt.IInt8MinMaxCalibrator)


def test_full_batches_are_copied_to_device_memory_then_none(trt, data, tmp_path):
    seen = trt.calibrate(_calibrator(data, tmp_path, batch=4))
    expected = np.load(data)
    assert len(seen) == 2  # 10 images, batches of 4: the partial third is dropped
    assert seen[1] == expected[4:8].tobytes()


def test_calibration_cache_is_written_and_reused(trt, data, tmp_path):
    first = _calibrator(data, tmp_path)
    assert len(trt.calibrate(first)) == 2
    assert read_trt_cache(first.cache_path).startswith(b"TRT-8201-EntropyCalibration2")
    second = _calibrator(data, tmp_path)
    assert trt.calibrate(second) == [] and second.cache_hit


def test_cache_file_is_keyed_by_algorithm_tensorrt_version_model_and_data(tmp_path):
    a = trt_cache_path(str(tmp_path), "11" * 32, "22" * 32, "entropy2", "8.5.2.2")
    assert os.path.basename(a) == "trt-entropy2-8.5.2-{}-{}.cache".format("1" * 16, "2" * 16)


def test_cache_file_differs_per_tensorrt_version(tmp_path):
    assert trt_cache_path(str(tmp_path), "11" * 32, "22" * 32, "entropy2", "8.5.2.2") != trt_cache_path(
        str(tmp_path), "11" * 32, "22" * 32, "entropy2", "8.6.1.6")


def test_cache_file_differs_per_data_and_algorithm(tmp_path):
    a = trt_cache_path(str(tmp_path), "11" * 32, "22" * 32, "entropy2")
    assert a != trt_cache_path(str(tmp_path), "11" * 32, "33" * 32, "entropy2")
    assert a != trt_cache_path(str(tmp_path), "11" * 32, "22" * 32, "minmax")


def _bad_pixel_calibrator(tmp_path):
    return make_int8_calibrator(RaisingCalibrationSource(SHAPE, ValueError("bad pixel")), 2, str(tmp_path / "x.cache"))


def test_a_data_source_that_raises_ends_the_batches_instead_of_escaping(trt, tmp_path):
    calibrator = _bad_pixel_calibrator(tmp_path)
    assert len(trt.calibrate(calibrator)) == 1


def test_the_data_sources_error_is_raised_after_the_build(trt, tmp_path):
    calibrator = _bad_pixel_calibrator(tmp_path)
    trt.calibrate(calibrator)
    with pytest.raises(UsageError, match="stopped after 1 batch.*ValueError: bad pixel"):
        calibrator.raise_if_failed()


def test_a_calibration_cut_short_by_an_error_is_not_cached(trt, tmp_path):
    path = str(tmp_path / "c" / "x.cache")
    os.makedirs(os.path.dirname(path))
    trt.calibrate(make_int8_calibrator(RaisingCalibrationSource(SHAPE, ValueError("bad pixel")), 2, path))
    assert not os.path.exists(path)


def test_a_calibration_tensorrt_stopped_early_is_not_cached(trt, data, tmp_path):
    calibrator = _calibrator(data, tmp_path, batch=2)
    calibrator.get_batch(["input"])  # TensorRT stops asking after one of five batches
    calibrator.write_calibration_cache(b"TRT-8201-EntropyCalibration2\ninput: 3c010a14\n")
    assert not os.path.exists(calibrator.cache_path)


def test_a_failing_cache_read_is_kept_not_raised_into_tensorrt(trt, data, tmp_path, monkeypatch):
    from edgebench.calibration import trt_calibrator

    def broken(path):
        raise PermissionError("cache directory unreadable")

    calibrator = _calibrator(data, tmp_path)
    monkeypatch.setattr(trt_calibrator, "read_trt_cache", broken)
    assert calibrator.read_calibration_cache() is None and isinstance(calibrator.error, PermissionError)


@requires_pil
def test_failed_calibration_writes_no_cache(trt, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for i in range(4):
        (folder / "x{}.png".format(i)).write_bytes(b"not a png")
    from edgebench.calibration.preprocess import Preprocess

    source = open_calibration_source(str(folder), Preprocess(4, resize=None))
    path = trt_cache_path(str(tmp_path / "c"), "ab" * 32, source.fingerprint)
    calibrator = make_int8_calibrator(source, 2, path)
    assert trt.calibrate(calibrator) == []
    calibrator.write_calibration_cache(b"TRT-8201-EntropyCalibration2\n")  # as if TensorRT wrote anyway
    assert not os.path.exists(path)
    with pytest.raises(UsageError, match="could not be decoded"):
        calibrator.raise_if_failed()


def test_corrupt_trt_cache_is_discarded_with_a_warning(tmp_path, caplog):
    path = str(tmp_path / "trt.cache")
    write_trt_cache(path, b"garbage that is not a calibration table", {})
    with caplog.at_level(logging.WARNING):
        assert read_trt_cache(path) is None
    assert "corrupt" in caplog.text and not os.path.exists(path)


def test_fewer_images_than_one_batch_is_refused_up_front(trt, data, tmp_path):
    with pytest.raises(UsageError, match="fewer than one batch of 16"):
        _calibrator(data, tmp_path, batch=16)


def test_network_with_two_inputs_is_reported_not_calibrated(trt, data, tmp_path):
    calibrator = _calibrator(data, tmp_path)
    assert trt.calibrate(calibrator, names=("a", "b")) == []
    with pytest.raises(UsageError, match="one input"):
        calibrator.raise_if_failed()


def test_device_buffer_is_freed(trt, data, tmp_path):
    calibrator = _calibrator(data, tmp_path)
    calibrator.get_batch(["input"])
    device = calibrator._device
    calibrator.free()
    assert device.freed


def test_missing_tensorrt_is_unsupported_precision(data, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)
    source = open_calibration_source(data, shape=SHAPE)
    with pytest.raises(UnsupportedPrecision, match="tensorrt"):
        make_int8_calibrator(source, 2, str(tmp_path / "x.cache"))


def test_versions_compare_as_numbers_not_text():
    assert trt_version_tuple("10.3.0") > trt_version_tuple("8.6.1") > trt_version_tuple("8.2.1.8")


def test_trt_cache_shares_the_calibration_directory(tmp_path):
    path = trt_cache_path(str(tmp_path), "ab" * 32, "cd" * 32)
    assert os.path.dirname(path) == cache.calibration_dir(str(tmp_path))


@requires_torch
def test_torch2trt_dataset_gives_one_image_with_a_batch_axis(data):
    dataset = Torch2trtCalibDataset(open_calibration_source(data, shape=SHAPE), device="cpu")
    item = dataset[3]
    assert len(dataset) == 10 and len(item) == 1 and tuple(item[0].shape) == (1,) + SHAPE
    np.testing.assert_array_equal(item[0].numpy()[0], np.load(data)[3])
