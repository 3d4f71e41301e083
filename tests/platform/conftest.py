"""Fixtures for the platform tests: checked-in board trees, trees built in ``tmp_path``, fake binaries.

Builders live in ``platform_trees.py``; the checked-in trees under ``tests/fixtures/<board>/`` are
shared with the power tests and only read here.
"""
import os
import stat
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from platform_trees import FIXTURES, write_tree  # noqa: E402


@pytest.fixture(autouse=True)
def _no_root_from_environment(monkeypatch):
    monkeypatch.delenv("EDGEBENCH_ROOT", raising=False)


@pytest.fixture
def fixture_root():
    """``fixture_root("nano_jp46")`` -> the path of a checked-in board tree."""
    def find(name):
        path = os.path.join(FIXTURES, name)
        assert os.path.isdir(path), "no fixture tree " + path
        return path
    return find


@pytest.fixture
def make_board(tmp_path):
    """``make_board(files)`` -> a fresh root under ``tmp_path`` holding ``files``."""
    counter = [0]

    def make(files):
        counter[0] += 1
        return write_tree(tmp_path / "board{}".format(counter[0]), files)
    return make


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    """``fake_bin(name, script)`` puts an executable shell script first on PATH (in ``tmp_path``).

    Each script can append its arguments to ``$EDGEBENCH_TEST_LOG`` (set here) to show it ran.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("EDGEBENCH_TEST_LOG", str(log))

    def install(name, body):
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return str(path)

    install.log = log
    return install
