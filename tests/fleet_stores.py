"""Stores of two fake boards (real sweeps with --root on a fixture tree and its INA3221 files)."""
import os
import shutil

import onnx_models
from cli_helpers import ROOT, edgebench_json

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
BOARDS = ("agx_orin_jp6", "nano_jp46")  # hosts agx-orin and jetson-nano
FAST = ("--duration", "0.05", "--iterations", "3", "--warmup-ms", "0", "--idle-seconds", "0.3")


def sweep_board(base, board, batches="1,2"):
    """A real sweep on the fake tree ``board``; returns its --out directory (results.db inside)."""
    base = str(base)
    model = os.path.join(base, "tiny.onnx")
    if not os.path.exists(model):
        onnx_models.conv_net(model)
    out = os.path.join(base, board)
    edgebench_json("sweep", "--model", model, "--batches", batches, "--root", os.path.join(FIXTURES, board),
                   "--power", "ina3221", "--json", "--out", out, *FAST,
                   env={"EDGEBENCH_CACHE_DIR": os.path.join(base, "cache")})
    return out


def two_boards(tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet")
    return dict((board, os.path.join(sweep_board(base, board), "results.db")) for board in BOARDS)


def copy_store(path, directory):
    """A private copy of a shared store (tests that write to it)."""
    target = os.path.join(str(directory), os.path.basename(os.path.dirname(path)))
    os.makedirs(target, exist_ok=True)
    shutil.copy(path, os.path.join(target, "results.db"))
    return os.path.join(target, "results.db")


def pushed_fleet(tmp_path_factory, pg_server):
    """Both boards' stores pushed into one fresh database of the session's PostgreSQL: (stores, URL)."""
    stores = two_boards(tmp_path_factory)
    url = pg_server.new_database()
    for board in BOARDS:
        edgebench_json("push", stores[board], url, "--json")
    return stores, url
