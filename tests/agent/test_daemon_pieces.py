"""Small parts of the agent: trusted weights, worker detection, run reopening, the offline snapshot."""
import os
import subprocess
import sys

import pytest

from edgebench.agent.job import check_trusted_weights, child_pids, is_worker
from edgebench.agent.spool import Spool
from edgebench.agent.status import offline_snapshot
from edgebench.errors import UsageError
from edgebench.results.store import ResultStore


def test_weights_must_be_controlled_by_the_agent_or_root(tmp_path):
    safe_dir = tmp_path / "weights"
    safe_dir.mkdir(mode=0o755)
    os.chmod(str(safe_dir), 0o755)
    weights = safe_dir / "w.pt"
    weights.write_bytes(b"x")
    os.chmod(str(weights), 0o644)
    check_trusted_weights(str(weights))
    check_trusted_weights(None)
    os.chmod(str(weights), 0o666)
    with pytest.raises(UsageError, match="unpickles"):
        check_trusted_weights(str(weights))
    os.chmod(str(weights), 0o644)
    os.chmod(str(safe_dir), 0o777)  # anyone could swap the file
    with pytest.raises(UsageError, match="nobody else can write"):
        check_trusted_weights(str(weights))
    os.chmod(str(safe_dir), 0o1777)  # sticky, like /tmp: others cannot replace our file
    check_trusted_weights(str(weights))
    if os.geteuid() == 0:
        os.chmod(str(safe_dir), 0o755)
        os.chown(str(weights), 54321, -1)
        with pytest.raises(UsageError):
            check_trusted_weights(str(weights))
    with pytest.raises(UsageError, match="No such file"):
        check_trusted_weights(str(tmp_path / "missing.pt"))


def test_child_pids_and_worker_detection():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert proc.pid in child_pids()
        assert not is_worker(proc.pid) and not is_worker(None) and not is_worker(os.getpid())
    finally:
        proc.kill()
        proc.wait()


def test_reopen_run_marks_it_running_again(tmp_path):
    with ResultStore(str(tmp_path / "results.db")) as store:
        run_id = store.create_run({"models": ["m"]}, {"host": "h"})
        store.finish_run(run_id, "interrupted", "agent stopped")
        store.reopen_run(run_id, "resumed")
        run = store.run(run_id)
        assert run["status"] == "running" and run["finished_at"] is None and run["note"] == "resumed"


def test_offline_snapshot_reads_spool_and_store_without_creating_anything(tmp_path):
    state = tmp_path / "state"
    snap = offline_snapshot(str(state), str(state / "agent.sock"), "no agent")
    assert snap["agent"]["running"] is False and snap["agent"]["reason"] == "no agent"
    assert not state.exists()  # a status query never creates a state directory
    spool = Spool(str(state)).ensure()
    queued = spool.submit({"models": ["m"], "batch_sizes": [1]})
    active = spool.submit({"models": ["m"], "batch_sizes": [1, 2]})
    spool.claim(queued)  # the older one is being measured
    with ResultStore(str(state / "results.db")) as store:
        run_id = store.create_run({}, {})
        store.add_point(run_id, {"point_key": "m/onnxruntime/fp32/1", "model": "m", "model_source": "onnx",
                                 "backend": "onnxruntime", "precision": "fp32", "batch_size": 1, "status": "ok",
                                 "per_image_ms": 1.5})
    snap = offline_snapshot(str(state), str(state / "agent.sock"), "no agent")
    assert snap["job"]["id"] == queued and snap["job"]["status"] == "starting"
    assert [q["id"] for q in snap["queue"]] == [active]
    assert snap["last_results"][0]["point_key"] == "m/onnxruntime/fp32/1"
    assert snap["last_results"][0]["per_image_ms"] == 1.5
