"""Real worker processes measuring real onnxruntime sessions."""
import os
import signal
import subprocess
import sys

import onnx_models
import pytest

from edgebench.engines.base import EngineSpec
from edgebench.models.prepare import sha256_file
from edgebench.sweep.runner import classify_death, run_worker


def _job(path, cache_dir, batch=1, precision="fp32", **kw):
    spec = EngineSpec(path, sha256_file(path), "m", precision, batch, cache_dir, threads=1)
    job = {"engine": spec.to_dict(), "backend": "onnxruntime", "warmup_s": 0.0, "iterations": 3,
           "duration_s": 0.05, "max_duration_s": 10.0, "memory_limit_mb": None, "root": None}
    job.update(kw)
    return job


def test_worker_measures_an_ok_point_with_timing_and_memory(tiny_onnx, cache_dir, fake_root):
    result = run_worker(_job(tiny_onnx, cache_dir, batch=2, root=fake_root))
    assert result["status"] == "ok", result.get("error")
    assert result["iterations"] >= 3 and result["duration_s"] >= 0.05
    assert result["images"] == 2 * result["iterations"]
    assert result["peak_rss_mb"] >= result["baseline_rss_mb"] > 0
    assert result["system_used_peak_mb"] == pytest.approx(3000000 / 1024.0)  # from the fake root


def test_worker_reports_its_timed_window_on_the_shared_monotonic_clock(tiny_onnx, cache_dir):
    import time

    before = time.perf_counter()
    result = run_worker(_job(tiny_onnx, cache_dir))
    after = time.perf_counter()
    assert before < result["window_start_s"] < result["window_end_s"] < after


def test_unsupported_precision_is_a_status_not_a_crash(tiny_onnx, cache_dir):
    result = run_worker(_job(tiny_onnx, cache_dir, precision="int4"))
    assert result["status"] == "unsupported" and "int4" in result["error"]


def test_engine_load_failure_is_recorded_as_error(tmp_path, cache_dir):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model at all")
    job = _job(str(bad), cache_dir)
    result = run_worker(job)
    assert result["status"] == "error" and "onnxruntime could not load" in result["error"]


def _vm_peak_mb(path):
    code = (
        "import numpy as np, onnxruntime as ort\n"
        "s = ort.InferenceSession({!r}, providers=['CPUExecutionProvider'])\n"
        "s.run(None, {{'input': np.zeros((1, 3, 224, 224), np.float32)}})\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmPeak')][0].split()[1])\n"
    ).format(path)
    env = dict(os.environ, MALLOC_ARENA_MAX="2")
    out = subprocess.check_output([sys.executable, "-c", code], env=env, universal_newlines=True)
    return int(out.strip()) // 1024


def test_address_space_limit_turns_a_large_batch_into_oom(tmp_path, cache_dir):
    path = onnx_models.conv_net(tmp_path / "big.onnx", channels=64, size=224)
    limit = _vm_peak_mb(path) + 250
    small = run_worker(_job(path, cache_dir, batch=1, memory_limit_mb=limit))
    large = run_worker(_job(path, cache_dir, batch=64, memory_limit_mb=limit))
    assert small["status"] == "ok", small.get("error")
    assert large["status"] == "oom", large


def test_worker_that_never_answers_times_out(tiny_onnx, cache_dir):
    result = run_worker(_job(tiny_onnx, cache_dir, iterations=10 ** 9, duration_s=600.0, max_duration_s=600.0),
                        timeout_s=3.0)
    assert result["status"] == "timeout"


def test_sigkill_without_evidence_of_the_oom_killer_is_killed_not_oom():
    status, error = classify_death(-signal.SIGKILL, "", None)
    assert status == "killed" and "no sign of the out-of-memory killer" in error


def test_sigkill_with_evidence_of_the_oom_killer_is_oom_and_says_why():
    status, error = classify_death(-signal.SIGKILL, "", None, "/proc/vmstat oom_kill rose from 3 to 4 while it ran")
    assert status == "oom" and "oom_kill rose from 3 to 4" in error


def test_segfault_is_classified_as_crashed_with_the_signal_name():
    status, error = classify_death(-signal.SIGSEGV, "Fatal Python error: Segmentation fault", None)
    assert status == "crashed" and "SIGSEGV" in error


def test_abort_after_bad_alloc_is_classified_as_oom():
    status, _ = classify_death(-signal.SIGABRT, "terminate called after throwing an instance of "
                                                "'std::bad_alloc'", 512)
    assert status == "oom"


def test_exit_without_result_keeps_the_last_output():
    status, error = classify_death(1, "Traceback ...\nValueError: boom", None)
    assert status == "crashed" and "ValueError: boom" in error


def test_a_result_key_the_schema_does_not_know_is_an_error_not_dropped():
    from edgebench.sweep.protocol import ProtocolError, WorkerResult

    with pytest.raises(ProtocolError, match="schema does not know: gpu_temperature_c"):
        WorkerResult.from_dict({"status": "ok", "per_image_ms": 1.0, "gpu_temperature_c": 40.0})


def test_a_result_splits_into_columns_and_the_power_window():
    from edgebench.sweep.protocol import WorkerResult

    result = WorkerResult.from_dict({"status": "ok", "per_image_ms": 1.0, "window_start_s": 2.0,
                                     "window_end_s": 3.0, "images": 8})
    assert result.columns == {"status": "ok", "per_image_ms": 1.0} and result.window == (2.0, 3.0, 8)


def test_a_job_with_an_unknown_key_is_refused():
    from edgebench.sweep.protocol import ProtocolError, WorkerJob

    with pytest.raises(ProtocolError, match="unknown worker job keys: colour"):
        WorkerJob.from_json('{"engine": {}, "backend": "onnxruntime", "iterations": 1, "duration_s": 0, '
                            '"colour": "red"}')
