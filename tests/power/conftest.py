import pytest
from power_helpers import write


@pytest.fixture
def emulator():
    """Start probe emulators (threads on real ptys); all are stopped after the test."""
    from edgebench.power import emulators

    started = []

    def start(protocol, **options):
        emu = emulators.start(protocol, **options)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.stop()


@pytest.fixture
def opened():
    """Open power sources by URL; all are closed after the test."""
    from edgebench.power.url import open_source

    sources = []

    def open_(url, root=None):
        src = open_source(url, root=root)
        sources.append(src)
        return src

    yield open_
    for src in sources:
        src.close()


@pytest.fixture
def stat_root(tmp_path):
    """A root with a /proc/stat (two CPUs, all idle)."""
    write(tmp_path, "/proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\n")
    return str(tmp_path)


PPK2_API_VERSION = "0.9.2"


@pytest.fixture(scope="session")
def ppk2_api():
    """The real ``ppk2-api`` package (IRNAS, PyPI), installed by pip on first use into a cache.

    Test-only (edgebench never imports it): ``pip install --no-deps --target`` into
    ``~/.cache/edgebench-venvs/ppk2-api-<version>-py<XY>`` so no shared venv is rebuilt.
    """
    import os
    import subprocess
    import sys

    try:
        from ppk2_api import ppk2_api as module

        return module
    except ImportError:
        pass
    target = os.path.join(os.path.expanduser("~"), ".cache", "edgebench-venvs", "ppk2-api-{}-py{}{}".format(
        PPK2_API_VERSION, sys.version_info[0], sys.version_info[1]))
    if not os.path.isdir(os.path.join(target, "ppk2_api")):
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", target,
                   "ppk2-api=={}".format(PPK2_API_VERSION)]
        result = subprocess.call(command)
        if result != 0:
            pytest.skip("could not install ppk2-api=={} with pip (offline?)".format(PPK2_API_VERSION))
    sys.path.insert(0, target)
    from ppk2_api import ppk2_api as module

    return module
