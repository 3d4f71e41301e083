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
