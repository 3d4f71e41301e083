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



@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL cluster for the whole session (tests/pg_server.py), stopped at the end."""
    import pg_server as pgmod

    pytest.importorskip("psycopg2", reason="psycopg2 is in the [fleet] extra (requirements/ci-*.txt)")
    bin_dir = pgmod.find_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL binaries here (initdb, pg_ctl): apt-get install postgresql")
    server = pgmod.PgServer(bin_dir).init().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server):
    """The URL (with its password) of a fresh, empty database on the session's PostgreSQL."""
    if not pg_server.running:
        pg_server.start()
    return pg_server.new_database()
