"""The job spool: atomic submission, FIFO order, adoption of dropped files, cancel, crash leftovers."""
import json
import os
import time

import pytest

from edgebench.agent import spool as spoolmod
from edgebench.agent.spool import Spool, new_job_id, write_json_atomic
from edgebench.errors import UsageError

PLAN = {"models": ["resnet18"], "batch_sizes": [1, 2, 4], "precisions": ["fp32"]}


@pytest.fixture
def spool(tmp_path):
    return Spool(str(tmp_path / "state")).ensure()


def test_submit_is_atomic_and_fifo(spool):
    ids = [spool.submit(dict(PLAN), user="alice") for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert spool.ids("incoming") == ids
    assert not [n for n in os.listdir(spool.path("incoming")) if n.startswith(".")]  # no leftovers
    job = spool.read_job("incoming", ids[0])
    assert job["plan"] == PLAN and job["user"] == "alice" and job["id"] == ids[0]
    record = spool.record("incoming", ids[0])
    assert record["status"] == "queued" and record["points_total"] == 3 and record["models"] == ["resnet18"]


def test_job_ids_sort_by_time():
    import datetime

    a = new_job_id(datetime.datetime(2025, 1, 1, 0, 0, 0, 999999))
    b = new_job_id(datetime.datetime(2025, 1, 1, 0, 0, 1, 0))
    assert a == "20250101-000000-999999" and a < b


def test_claim_and_move_through_states(spool):
    job_id = spool.submit(dict(PLAN))
    assert spool.claim(job_id)
    assert spool.ids("active") == [job_id] and spool.ids("incoming") == []
    assert not spool.claim(job_id)  # already gone from incoming/
    spool.move(job_id, "active", "done")
    assert spool.ids("done") == [job_id]
    assert spool.find(job_id) == ("done", job_id)


def test_find_by_unique_suffix_or_prefix(spool):
    a = spool.submit(dict(PLAN))
    time.sleep(0.002)
    b = spool.submit(dict(PLAN))
    assert spool.find(b[-6:]) == ("incoming", b)
    with pytest.raises(UsageError, match="matches 2 jobs"):
        spool.find(a[:8])
    with pytest.raises(UsageError, match="no job"):
        spool.find("nope")
    with pytest.raises(UsageError, match="not a job id"):
        spool.find("../../etc")


def test_dropped_plan_file_is_adopted(spool, tmp_path):
    (tmp_path / "state/spool/incoming/mine.json").write_text(json.dumps(PLAN))
    [(job_id, reason)] = spool.adopt_dropped()
    assert reason is None and spool.ids("incoming") == [job_id]
    job = spool.read_job("incoming", job_id)
    assert job["via"] == "file" and job["source_file"] == "mine.json"
    assert job["plan"]["models"] == ["resnet18"] and job["plan"]["batch_sizes"] == [1, 2, 4]
    assert not os.path.exists(str(tmp_path / "state/spool/incoming/mine.json"))


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({"models": ["resnet18"], "batch_sizes": [0]}), "invalid sweep plan: batch size 0"),
    (json.dumps({"models": [], "batch_sizes": [1]}), "invalid sweep plan: no models"),
    (json.dumps({"models": ["m"], "bogus": 1}), "unknown plan fields: bogus"),
])
def test_malformed_dropped_file_lands_in_failed_with_reason(spool, tmp_path, content, words):
    (tmp_path / "state/spool/incoming/bad.json").write_text(content)
    [(job_id, reason)] = spool.adopt_dropped()
    assert words in reason
    assert spool.ids("failed") == [job_id] and spool.ids("incoming") == []
    state = spool.read_state("failed", job_id)
    assert state["status"] == "failed" and words in state["reason"]
    assert os.path.isfile(os.path.join(spool.path("failed", job_id), "submitted.json"))  # the original is kept


def test_cancel_queued_job(spool):
    job_id = spool.submit(dict(PLAN))
    spool.cancel_queued("incoming", job_id, by="bob")
    assert spool.ids("failed") == [job_id]
    record = spool.record("failed", job_id)
    assert record["status"] == "cancelled" and record["reason"] == "cancelled by bob"


def test_recover_finishes_an_interrupted_adoption_and_drops_stale_temporaries(spool):
    incoming = spool.path("incoming")
    half = os.path.join(incoming, ".adopt-20250101-000000-000001")
    os.mkdir(half)
    with open(os.path.join(half, "submitted.json"), "w") as fh:
        json.dump(PLAN, fh)
    stale = os.path.join(incoming, ".tmp-20250101-000000-000002-1")
    os.mkdir(stale)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = os.path.join(incoming, ".tmp-20250101-000000-000003-1")
    os.mkdir(fresh)
    spool.recover()
    assert spool.ids("incoming") == ["20250101-000000-000001"]
    assert not os.path.exists(stale) and os.path.exists(fresh)  # a submit may still be writing the fresh one


def test_recover_removes_active_copy_of_a_finished_job(spool):
    job_id = spool.submit(dict(PLAN))
    spool.claim(job_id)
    os.mkdir(spool.path("done", job_id))  # the crash hit between the two halves of a move
    spool.recover()
    assert spool.ids("active") == []


def test_state_writes_are_atomic(spool, tmp_path):
    path = str(tmp_path / "state.json")
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.load(open(path)) == {"a": 2}
    assert sorted(os.listdir(str(tmp_path))) == ["state", "state.json"]  # no temporary left


def test_submit_into_a_missing_spool_says_what_to_do(tmp_path):
    with pytest.raises(UsageError, match="start the agent once"):
        Spool(str(tmp_path / "nothing")).submit(dict(PLAN))


def test_records_limit_keeps_newest_finished(spool):
    ids = [spool.submit(dict(PLAN)) for _ in range(4)]
    for job_id in ids:
        spool.cancel_queued("incoming", job_id)
    assert [r["id"] for r in spool.records(limit=2)] == ids[-2:]
    assert spoolmod.plan_points({"models": ["a", "b"], "batch_sizes": [1, 2]}) == 4


# ---------------------------------------------------------------------- hostile spool files (issue 13)

NESTED = "[" * 3000  # 3 KB: under every size limit, deeper than the parser recurses


def test_deeply_nested_dropped_file_is_rejected_not_raised(spool, tmp_path):
    (tmp_path / "state/spool/incoming/deep.json").write_text(NESTED)
    [(job_id, reason)] = spool.adopt_dropped()
    assert reason.startswith("deep.json: not valid JSON") and "nested" in reason
    assert spool.ids("failed") == [job_id]


def test_deeply_nested_job_json_reads_as_no_job(spool):
    job_id = spool.submit(dict(PLAN))
    with open(os.path.join(spool.path("incoming", job_id), "job.json"), "w") as fh:
        fh.write(NESTED)
    assert spool.read_job("incoming", job_id) is None


def test_symlinked_job_directory_is_not_a_job_and_its_target_is_untouched(spool, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "job.json").write_text(json.dumps({"id": "x", "plan": PLAN}))
    (outside / "state.json").write_text("{}")
    os.symlink(str(outside), os.path.join(spool.path("incoming"), "20990101-000000-000000"))
    [(job_id, reason)] = spool.adopt_dropped()
    assert "is a symbolic link" in reason and spool.ids("failed") == [job_id]
    assert spool.ids("incoming") == [] and os.listdir(spool.path("incoming")) == []
    assert (outside / "state.json").read_text() == "{}" and sorted(os.listdir(str(outside))) == [
        "job.json", "state.json"]


def test_symlinked_plan_file_is_refused_unread(spool, tmp_path):
    target = tmp_path / "plan.json"
    target.write_text(json.dumps(PLAN))
    os.symlink(str(target), os.path.join(spool.path("incoming"), "linked.json"))
    [(job_id, reason)] = spool.adopt_dropped()
    assert reason.startswith("linked.json: it is a symbolic link")
    assert target.read_text() == json.dumps(PLAN)


def test_fifo_in_incoming_is_refused_without_blocking(spool):
    os.mkfifo(os.path.join(spool.path("incoming"), "pipe.json"))
    [(job_id, reason)] = spool.adopt_dropped()
    assert reason.startswith("pipe.json: it is a FIFO")


def test_symlinked_job_json_is_not_followed(spool, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps({"id": "x", "plan": PLAN}))
    job_id = spool.submit(dict(PLAN))
    job_json = os.path.join(spool.path("incoming", job_id), "job.json")
    os.unlink(job_json)
    os.symlink(str(target), job_json)
    assert spool.read_job("incoming", job_id) is None


def test_oversized_dropped_file_is_refused_with_a_plain_reason_and_not_kept(spool, tmp_path, monkeypatch):
    monkeypatch.setattr(spoolmod, "MAX_JOB_FILE_BYTES", 1000)
    (tmp_path / "state/spool/incoming/big.json").write_text(json.dumps({"models": ["m"], "pad": "x" * 2000}))
    [(job_id, reason)] = spool.adopt_dropped()
    assert reason.startswith("big.json: it is ") and "bytes, more than the 1000 a job file may have" in reason
    assert "is the file" not in reason
    assert not os.path.exists(os.path.join(spool.path("failed", job_id), "submitted.json"))
