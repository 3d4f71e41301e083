import logging
import os

import pytest

from edgebench.calibration import cache


def _entry(tmp_path, data=b"TRT-8201-EntropyCalibration2\nx: 1\n"):
    tmp = tmp_path / ".tmp-artifact"
    tmp.write_bytes(data)
    path = str(tmp_path / "entry.cache")
    cache.commit(str(tmp), path, {"fingerprint": "abc"})
    return path


def test_committed_entry_is_returned_with_its_manifest(tmp_path):
    path = _entry(tmp_path)
    info = cache.load_verified(path)
    assert info["fingerprint"] == "abc" and info["artifact"] == "entry.cache"


def test_tampered_artifact_is_deleted_with_a_warning(tmp_path, caplog):
    path = _entry(tmp_path)
    with open(path, "ab") as fh:
        fh.write(b"junk")
    with caplog.at_level(logging.WARNING):
        assert cache.load_verified(path) is None
    assert "corrupt" in caplog.text and "rebuilding" in caplog.text
    assert not os.path.exists(path) and not os.path.exists(cache.manifest_path(path))


def test_artifact_without_manifest_is_deleted(tmp_path):
    path = _entry(tmp_path)
    os.unlink(cache.manifest_path(path))
    assert cache.load_verified(path) is None and not os.path.exists(path)


def test_missing_artifact_is_a_plain_miss(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert cache.load_verified(str(tmp_path / "absent.onnx")) is None
    assert caplog.text == ""


def test_failed_atomic_write_leaves_no_file(tmp_path):
    target = str(tmp_path / "out.json")
    with pytest.raises(TypeError):
        cache.atomic_write_bytes(target, u"not bytes")
    assert os.listdir(str(tmp_path)) == []


def test_key_does_not_depend_on_dict_order():
    assert cache.key_of({"a": 1, "b": [2, 3]}) == cache.key_of({"b": [2, 3], "a": 1})


def test_unwritable_cache_dir_is_a_usage_error(tmp_path):
    from edgebench.errors import UsageError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="--cache-dir"):
        cache.calibration_dir(str(blocker))


def test_leftovers_of_a_killed_build_are_removed_but_fresh_ones_kept(tmp_path):
    directory = tmp_path / "calibration"
    (directory / ".build-old").mkdir(parents=True)
    (directory / ".build-running").mkdir()
    old = os.path.getmtime(str(directory / ".build-old")) - 2 * cache.STALE_BUILD_S
    os.utime(str(directory / ".build-old"), (old, old))
    cache.calibration_dir(str(tmp_path))
    assert sorted(os.listdir(str(directory))) == [".build-running"]


def test_cache_files_are_readable_by_other_users(tmp_path):
    path = _entry(tmp_path)
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert os.stat(cache.manifest_path(path)).st_mode & 0o777 == 0o644
