"""Process hygiene (issue 13, part 5): children die with their parent and leave nothing behind; a SIGKILLed
worker is not blamed on the OOM killer without evidence; SIGTERM on a sweep is like Ctrl-C; a run whose
process is gone is marked interrupted."""
import glob
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from agent_process import wait_for
from cli_helpers import ROOT

_PARENT = r'''
import sys
from edgebench.models import prepare
# an ONNX "file" that is a FIFO: the child's onnx.load blocks on it for as long as nobody writes
prepare._run_child({"kind": "onnx", "path": sys.argv[1], "sha256": "0" * 64, "rewrite_path": sys.argv[1] + ".dyn",
                    "result_path": sys.argv[2] + "/onnx/result.json"}, sys.argv[2], "a model")
'''


def _env():
    return dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_model_export_child_dies_with_its_killed_parent_and_leaves_no_request_file(tmp_path):
    fifo = str(tmp_path / "model.onnx")
    os.mkfifo(fifo)
    cache = str(tmp_path / "cache")
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, fifo, cache], env=_env())
    try:
        child = wait_for(lambda: [c for c in psutil.Process(parent.pid).children()
                                  if "edgebench.models.prepare" in " ".join(c.cmdline())], 30, 0.05,
                         "the export child")[0]
        wait_for(lambda: not glob.glob(cache + "/onnx/.request-*"), 30, 0.05, "the child to read its request")
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 10, 0.05,
                 "the export child to die with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert glob.glob(cache + "/onnx/.request-*") == []


def test_request_files_of_dead_parents_are_removed_and_live_ones_kept(tmp_path):
    from edgebench.models.prepare import _remove_orphan_requests

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / ".request-{}-abc.json".format(dead.pid)
    live = tmp_path / ".request-{}-def.json".format(os.getpid())
    stale.write_text("{}")
    live.write_text("{}")
    _remove_orphan_requests(str(tmp_path))
    assert not stale.exists() and live.exists()
