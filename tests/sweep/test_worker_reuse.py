"""One worker measures an engine's rising batches; a new one after a smaller batch, another engine or a
point that was not ok (--reuse-worker; by default one worker per point). Real workers, real onnxruntime sessions."""
import os
import signal
import subprocess
import sys
import time

import onnx_models
import pytest

from edgebench.engines.base import EngineSpec
from edgebench.models.prepare import resolve_model, sha256_file
from edgebench.results.store import ResultStore
from edgebench.sweep import runner
from edgebench.sweep.plan import SweepPlan
from edgebench.sweep.protocol import WorkerJob
from edgebench.sweep.runner import Sweep, WorkerProcess, reuses_worker


def _job(path, cache_dir, batch=1, **kw):
    spec = EngineSpec(path, sha256_file(path), "m", "fp32", batch, cache_dir, threads=1)
    fields = dict(engine=spec.to_dict(), backend="onnxruntime", warmup_s=0.0, iterations=3, duration_s=0.05,
                  max_duration_s=10.0)
    fields.update(kw)
    return WorkerJob(**fields)


def _plan(model, cache_dir, batches, fresh_worker=False, **kw):
    return SweepPlan(models=[model], backend="onnxruntime", batch_sizes=list(batches), iterations=3,
                     duration_s=0.05, warmup_s=0.0, threads=1, cache_dir=cache_dir, reuse_worker=not fresh_worker,
                     **kw).validate()


class Recorder(object):
    """Records worker process starts (pid, perf_counter), store commits and each point's timed window."""

    def __init__(self, monkeypatch):
        self.starts, self.other_starts, self.commits, self.windows = [], [], [], []
        real_popen, real_run = subprocess.Popen, WorkerProcess.run
        recorder = self

        def popen(args, *rest, **kwargs):
            proc = real_popen(args, *rest, **kwargs)
            if runner.WORKER_MODULE in args:
                recorder.starts.append((proc.pid, time.perf_counter()))
            else:
                recorder.other_starts.append((proc.pid, time.perf_counter()))
            return proc

        def run(worker, job, timeout_s=None):
            result = real_run(worker, job, timeout_s)
            if result.window_start_s is not None:
                recorder.windows.append((result.window_start_s, result.window_end_s))
            return result

        monkeypatch.setattr(runner.subprocess, "Popen", popen)
        monkeypatch.setattr(WorkerProcess, "run", run)

    def store(self, store):
        recorder = self

        class Recording(object):
            def __getattr__(self, name):
                attr = getattr(store, name)
                if name not in ("add_point", "add_latencies"):
                    return attr

                def committed(*args, **kwargs):
                    try:
                        return attr(*args, **kwargs)
                    finally:
                        recorder.commits.append(time.perf_counter())
                return committed
        return Recording()


def _sweep(tmp_path, plan, recorder=None, points=None):
    """Run the plan through a real Sweep; (rows, worker pids in starting order)."""
    models = dict((m, resolve_model(m, plan.cache_dir)) for m in plan.models)
    with ResultStore(str(tmp_path / "results-{}.db".format(time.time()))) as store:
        run_id = store.create_run(plan.to_dict(), {})
        sweep = Sweep(plan, models, recorder.store(store) if recorder else store, run_id, {}, "onnxruntime")
        if points is not None:
            sweep.plan.points = lambda: points
        return sweep.run(), sweep


def _in_one_worker(*jobs):
    """Each job's result, all measured by one WorkerProcess."""
    worker = WorkerProcess()
    try:
        return [worker.run(job) for job in jobs]
    finally:
        worker.close()


# -- the rule ------------------------------------------------------------------------------------------
def test_a_growing_batch_of_the_same_engine_reuses_the_worker():
    assert reuses_worker(("m", "fp32", 2, "ok"), ("m", "fp32", 4))


def test_a_smaller_batch_starts_a_new_worker():
    assert not reuses_worker(("m", "fp32", 8, "ok"), ("m", "fp32", 2))


def test_another_precision_starts_a_new_worker():
    assert not reuses_worker(("m", "fp32", 1, "ok"), ("m", "fp16", 2))


def test_another_model_starts_a_new_worker():
    assert not reuses_worker(("a", "fp32", 1, "ok"), ("b", "fp32", 2))


def test_a_point_that_was_not_ok_starts_a_new_worker():
    assert not reuses_worker(("m", "fp32", 1, "error"), ("m", "fp32", 2))


def test_fresh_worker_never_reuses():
    assert not reuses_worker(("m", "fp32", 1, "ok"), ("m", "fp32", 2), fresh_worker=True)


# -- the worker process -------------------------------------------------------------------------------
def test_one_worker_process_measures_several_jobs(tiny_onnx, cache_dir):
    worker = WorkerProcess()
    try:
        first, second = worker.run(_job(tiny_onnx, cache_dir, 1)), worker.run(_job(tiny_onnx, cache_dir, 2))
        assert worker.alive
    finally:
        worker.close()
    assert (first.status, second.status) == ("ok", "ok"), (first.get("error"), second.get("error"))
    assert second["images"] == 2 * second["iterations"]


def test_a_closed_worker_process_has_left(tiny_onnx, cache_dir):
    worker = WorkerProcess()
    worker.run(_job(tiny_onnx, cache_dir))
    worker.close()
    assert worker.proc.returncode == 0 and not worker.alive


def test_a_worker_killed_between_points_is_classified_for_the_next_job_and_gone(tiny_onnx, cache_dir):
    worker = WorkerProcess()
    worker.run(_job(tiny_onnx, cache_dir))
    os.kill(worker.proc.pid, signal.SIGKILL)
    result = worker.run(_job(tiny_onnx, cache_dir, 2))
    assert result.status == "killed" and not worker.alive


def test_a_worker_that_cannot_reset_its_peak_rss_says_so_and_leaves(tiny_onnx, cache_dir, tmp_path):
    # The worker imports edgebench.platform.memory from PYTHONPATH's first entry: a copy whose reset fails
    # stands in for a kernel older than 4.0 (clear_refs answers EINVAL to "5").
    shadow = tmp_path / "shadow"
    code = ("import edgebench.platform.memory as m\n"
            "m.reset_peak_rss = lambda pid='self': False\n")
    (shadow).mkdir()
    (shadow / "sitecustomize.py").write_text(code)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(shadow) + (os.pathsep + old if old else "")
    try:
        worker = WorkerProcess()
        result = worker.run(_job(tiny_onnx, cache_dir))
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    assert result.status == "ok" and result.worker_reusable is False
    assert not worker.alive


def test_the_peak_rss_of_a_reused_worker_is_the_points_own(tmp_path, cache_dir):
    """Batch 2 after batch 16 in one worker peaks like batch 2 in a fresh worker, not like batch 16.

    (The sweep never runs a smaller batch in a used worker; here it shows the reset. Batch 1 would not do:
    a worker's first job also carries a one-off ~12 MB of first-session set-up.)"""
    path = onnx_models.conv_net(tmp_path / "wide.onnx", channels=64, size=224)
    fresh = runner.run_worker(_job(path, cache_dir, 2))
    large, small = _in_one_worker(_job(path, cache_dir, 16), _job(path, cache_dir, 2))
    assert large["peak_rss_mb"] > 1.5 * fresh["peak_rss_mb"]  # the test can tell the two apart
    assert small["peak_rss_mb"] == pytest.approx(fresh["peak_rss_mb"], rel=0.10)


# -- the sweep ------------------------------------------------------------------------------------------
def test_a_sweep_measures_an_engines_rising_batches_in_one_worker(tmp_path, tiny_onnx, cache_dir):
    rows, sweep = _sweep(tmp_path, _plan(tiny_onnx, cache_dir, [1, 2, 4]))
    assert [r["status"] for r in rows] == ["ok"] * 3 and sweep.worker_points == 1


def test_fresh_worker_starts_one_worker_per_point(tmp_path, tiny_onnx, cache_dir):
    rows, sweep = _sweep(tmp_path, _plan(tiny_onnx, cache_dir, [1, 2, 4], fresh_worker=True))
    assert [r["status"] for r in rows] == ["ok"] * 3 and sweep.worker_points == 3


def test_each_model_gets_its_own_worker(tmp_path, tiny_onnx, cache_dir):
    other = onnx_models.conv_net(tmp_path / "other.onnx", channels=4)
    plan = SweepPlan(models=[tiny_onnx, other], backend="onnxruntime", batch_sizes=[1, 2], iterations=3,
                     duration_s=0.0, warmup_s=0.0, threads=1, cache_dir=cache_dir, reuse_worker=True).validate()
    rows, sweep = _sweep(tmp_path, plan)
    assert len(rows) == 4 and sweep.worker_points == 2


def test_the_sweep_leaves_no_worker_behind(tmp_path, tiny_onnx, cache_dir):
    _, sweep = _sweep(tmp_path, _plan(tiny_onnx, cache_dir, [1, 2]))
    assert sweep.worker is None and sweep.current_process is None


def test_an_oom_costs_only_its_point_and_the_next_point_gets_a_fresh_worker(tmp_path, cache_dir):
    """Points 1, 64, 2 under a memory limit: ok / oom / ok, and batch 2 peaks like in a fresh worker."""
    path = onnx_models.conv_net(tmp_path / "big.onnx", channels=64, size=224)
    from test_runner import _vm_peak_mb

    limit = _vm_peak_mb(path) + 250
    plan = _plan(path, cache_dir, [1, 2, 64], memory_limit_mb=limit)
    points = [(path, "fp32", 1), (path, "fp32", 64), (path, "fp32", 2)]
    rows, sweep = _sweep(tmp_path, plan, points=points)
    assert [r["status"] for r in rows] == ["ok", "oom", "ok"], [r["error"] for r in rows]
    assert sweep.worker_points == 2  # batch 64 ran in batch 1's worker, batch 2 in a new one
    fresh = runner.run_worker(_job(path, cache_dir, 2, memory_limit_mb=limit))
    assert rows[2]["peak_rss_mb"] == pytest.approx(fresh["peak_rss_mb"], rel=0.10)


def test_no_process_start_or_store_commit_falls_in_a_timed_window(tmp_path, tiny_onnx, cache_dir, monkeypatch):
    recorder = Recorder(monkeypatch)
    other = onnx_models.conv_net(tmp_path / "other.onnx", channels=4)
    plan = SweepPlan(models=[tiny_onnx, other], backend="onnxruntime", batch_sizes=[1, 2, 4], iterations=3,
                     duration_s=0.05, warmup_s=0.0, threads=1, cache_dir=cache_dir, reuse_worker=True).validate()
    rows, _ = _sweep(tmp_path, plan, recorder)
    assert len(recorder.windows) == len(rows) == 6 and len(recorder.starts) == 2
    assert len(recorder.commits) == 12  # a row and its latencies per point
    events = [t for _, t in recorder.starts + recorder.other_starts] + recorder.commits
    inside = [t for t in events for start, end in recorder.windows if start <= t <= end]
    assert inside == []


def test_the_recorder_sees_an_event_inside_a_window(tmp_path, tiny_onnx, cache_dir, monkeypatch):
    """The check above can fail: a process started during a timed loop is seen."""
    recorder = Recorder(monkeypatch)
    worker = WorkerProcess()
    try:
        job = _job(tiny_onnx, cache_dir, 1, duration_s=2.0, iterations=1)
        worker.proc.stdin.write(job.to_json().encode("utf-8") + b"\n")
        worker.proc.stdin.flush()
        time.sleep(1.5)
        started = subprocess.Popen([sys.executable, "-c", "pass"])
        started.wait()
        raw = worker._read_line(time.monotonic() + 60)
    finally:
        worker.close()
    import json

    window = json.loads(raw.decode("utf-8"))
    start_t = [t for pid, t in recorder.other_starts if pid == started.pid][0]
    assert window["window_start_s"] <= start_t <= window["window_end_s"]


def test_the_reuse_worker_flag_reaches_the_plan():
    import argparse

    from edgebench.sweep.cli import add_plan_arguments, plan_from_args

    parser = argparse.ArgumentParser()
    add_plan_arguments(parser)
    flags = ["--models", "resnet18"]
    assert plan_from_args(parser.parse_args(flags + ["--reuse-worker"])).reuse_worker is True
    assert plan_from_args(parser.parse_args(flags)).reuse_worker is False  # a fresh worker per point by default


def test_a_plan_file_with_a_non_boolean_reuse_worker_is_refused():
    from edgebench.errors import UsageError

    with pytest.raises(UsageError, match="reuse_worker must be true or false"):
        SweepPlan(models=["m"], reuse_worker="yes").validate()


def test_a_reused_worker_reports_the_baselines_a_fresh_worker_reads(tiny_onnx, cache_dir):
    """baseline_rss_mb is the first point's (the worker before any engine), and system_used_before_mb
    leaves out what the worker holds above it, so peak - before means the same in both modes."""
    fresh = runner.run_worker(_job(tiny_onnx, cache_dir, 2))
    first, second = _in_one_worker(_job(tiny_onnx, cache_dir, 1), _job(tiny_onnx, cache_dir, 2))
    assert second["baseline_rss_mb"] == first["baseline_rss_mb"]
    assert second["baseline_rss_mb"] == pytest.approx(fresh["baseline_rss_mb"], rel=0.10)
    assert second["peak_rss_mb"] > second["baseline_rss_mb"] + 10  # the backend's imports are above it


def test_a_reused_workers_system_baseline_leaves_out_what_the_worker_already_holds(tiny_onnx, cache_dir,
                                                                                    fake_root):
    first, second = _in_one_worker(_job(tiny_onnx, cache_dir, 1, root=fake_root),
                                   _job(tiny_onnx, cache_dir, 2, root=fake_root))
    reading_mb = 3000000 / 1024.0  # the fake /proc/meminfo's MemTotal - MemAvailable
    assert first["system_used_before_mb"] == pytest.approx(reading_mb)
    assert second["system_used_before_mb"] < reading_mb - 10  # less the imported backend the worker holds


def test_without_the_flag_every_point_gets_a_fresh_worker(tmp_path, tiny_onnx, cache_dir):
    plan = SweepPlan(models=[tiny_onnx], backend="onnxruntime", batch_sizes=[1, 2, 4], iterations=3, duration_s=0.0,
                     warmup_s=0.0, threads=1, cache_dir=cache_dir).validate()
    rows, sweep = _sweep(tmp_path, plan)
    assert len(rows) == 3 and sweep.worker_points == 3


def test_each_point_records_its_place_in_its_worker(tmp_path, tiny_onnx, cache_dir):
    rows, _ = _sweep(tmp_path, _plan(tiny_onnx, cache_dir, [1, 2, 4]))
    assert [r["worker_point"] for r in rows] == [1, 2, 3]


def test_fresh_workers_put_every_point_first(tmp_path, tiny_onnx, cache_dir):
    rows, _ = _sweep(tmp_path, _plan(tiny_onnx, cache_dir, [1, 2, 4], fresh_worker=True))
    assert [r["worker_point"] for r in rows] == [1, 1, 1]


def test_a_worker_pins_glibcs_mmap_threshold(monkeypatch):
    """So a large freed block leaves the RSS alike in a fresh and a reused worker (mallopt(3))."""
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    worker = WorkerProcess()
    try:
        with open("/proc/{}/environ".format(worker.proc.pid), "rb") as f:
            environ = f.read().split(b"\0")
    finally:
        worker.close()
    assert b"MALLOC_MMAP_THRESHOLD_=131072" in environ


def test_a_users_own_mmap_threshold_is_kept(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert runner._worker_env(None)["MALLOC_MMAP_THRESHOLD_"] == "65536"
