"""The agent pushes each finished run to `push_to`; while the server is down the run stays queued."""
import json
import os

import agent_process as ap
import pytest
from cli_helpers import edgebench_json
from pg_server import PASSWORD

from edgebench._files import atomic_write_json
from edgebench.agent.push import Pusher
from edgebench.results import schema
from edgebench.results.store import ResultStore

psycopg2 = pytest.importorskip("psycopg2")


def _remote_points(url):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT point_key FROM measurements ORDER BY point_key")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


@pytest.mark.slow
def test_a_job_measured_while_the_server_is_down_is_pushed_once_it_is_back(pg_server, pg_url, fake_root, tiny_onnx):
    state_dir = ap.short_state_dir()
    config = os.path.join(state_dir, "agent.toml")
    with open(config, "w") as fh:
        fh.write('push_to = "{}"\npush_retry_s = 0.3\n'.format(pg_url))
    agent = ap.AgentProcess(state_dir, fake_root, "--config", config)
    pg_server.stop()
    try:
        agent.start()
        edgebench_json("submit", "--state-dir", state_dir, "--model", tiny_onnx, "--batches", "1,2", "--json",
                       *ap.FAST)
        ap.wait_for(lambda: ap.job_dirs(state_dir, "done"), 90, 0.1, "the job to finish")
        push = ap.wait_for(lambda: (agent.status()["agent"].get("push") or {}).get("last_error") and
                           agent.status()["agent"]["push"], 30, 0.1, "a failed push attempt")
        assert push["queued"] == 1 and "nothing was lost" in push["last_error"]
        shown = edgebench_json("status", "--state-dir", state_dir, "--json")
        assert PASSWORD not in json.dumps(shown) and PASSWORD not in agent.log()

        pg_server.start()
        ap.wait_for(lambda: agent.status()["agent"]["push"]["queued"] == 0, 30, 0.1, "the queued push")
        assert agent.status()["agent"]["push"]["last_error"] is None
        assert _remote_points(pg_url) == ["tiny/onnxruntime/fp32/1", "tiny/onnxruntime/fp32/2"]
    finally:
        agent.stop()
        if not pg_server.running:
            pg_server.start()
        ap.cleanup(state_dir)


def _finished_run(store):
    run_id = store.create_run({}, {"host": "h"})
    store.add_point(run_id, schema.empty_point(point_key="m/onnxruntime/fp32/1", model="m", model_source="onnx",
                                               backend="onnxruntime", precision="fp32", batch_size=1, status="ok"))
    store.finish_run(run_id, schema.RUN_COMPLETE)
    return run_id


def test_a_pushed_run_leaves_the_queue_and_a_resumed_one_rejoins_it(pg_url, tmp_path):
    path = str(tmp_path / "results.db")
    pusher = Pusher(pg_url, path, str(tmp_path))
    with ResultStore(path) as store:
        run_id = _finished_run(store)
        assert pusher.push_once() is True
        assert pusher.pending(store) == {}
        store.reopen_run(run_id)
        assert pusher.pending(store) == {}  # running again: it is pushed once it ends
        store.finish_run(run_id, schema.RUN_COMPLETE, note="resumed")
        assert list(pusher.pending(store)) == [store.run(run_id)["run_uuid"]]


def test_a_run_pushed_by_an_agent_without_samples_is_pushed_again_with_them(pg_url, tmp_path):
    path = str(tmp_path / "results.db")
    pusher = Pusher(pg_url, path, str(tmp_path))
    with ResultStore(path) as store:
        run_id = _finished_run(store)
        point = store.measurements(run_id)[0]
        store.add_latencies(point["id"], run_id, point["point_key"], [1.5, 1.25], None)
        run = store.run(run_id)
    # the ledger entry an agent that pushed no samples wrote: "status|finished_at|points|note"
    atomic_write_json(os.path.join(str(tmp_path), "push.json"), {"pushed": {
        run["run_uuid"]: "{}|{}|1|{}".format(run["status"], run["finished_at"], run["note"])}})
    assert pusher.push_once() is True
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT point_key, count FROM latencies")
        assert cur.fetchall() == [(point["point_key"], 2)]
    conn.close()


def test_an_unreachable_server_keeps_the_run_queued_with_the_reason(tmp_path):
    path = str(tmp_path / "results.db")
    url = "postgresql://eb:{}@/x?host={}&connect_timeout=2".format(PASSWORD, tmp_path / "nowhere")
    pusher = Pusher(url, path, str(tmp_path))
    with ResultStore(path) as store:
        _finished_run(store)
    assert pusher.push_once() is False
    status = pusher.status()
    assert status["queued"] == 1 and "cannot connect" in status["last_error"]
    assert PASSWORD not in json.dumps(status)
