import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import onnx_models  # noqa: E402


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    path.mkdir()
    monkeypatch.setenv("EDGEBENCH_CACHE_DIR", str(path))
    return str(path)


@pytest.fixture
def tiny_onnx(tmp_path):
    """A small conv net with a dynamic batch axis (3x16x16 input, 10 classes)."""
    return onnx_models.conv_net(tmp_path / "tiny.onnx")


@pytest.fixture
def fake_root(tmp_path):
    """A filesystem root with a /proc/meminfo (8 GB total, 5 GB available)."""
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "meminfo").write_text(
        "MemTotal:        8000000 kB\nMemFree:         4000000 kB\nMemAvailable:    5000000 kB\n"
    )
    return str(root)

