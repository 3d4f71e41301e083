"""tools/device-check on a machine without a GPU (this one): it says it skipped, and why, and exits 0."""
import json
import os
import subprocess
import sys

import trt_fakes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _device_check(tmp_path, env=None):
    out = str(tmp_path / "summary.json")
    child_env = dict(os.environ, **(env or {}))
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "device-check"), "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=child_env)
    proc.communicate(timeout=300)
    with open(out) as fh:
        return proc.returncode, json.load(fh)


def test_without_a_gpu_device_check_exits_0_saying_it_skipped(tmp_path):
    status, summary = _device_check(tmp_path, trt_fakes.child_env(version="8.5.2.2", gpu="none"))
    assert (status, summary["skipped"], "CUDA" in summary["reason"], summary["sweep"]) == (0, True, True, None)


def test_without_a_driver_the_summary_names_cuda_pythons_reason(tmp_path):
    status, summary = _device_check(tmp_path, trt_fakes.child_env(version="8.5.2.2", gpu="none"))
    assert "Failed to dlopen libcuda.so.1" in summary["reason"]


def _half_second_on_a_fake_gpu(tmp_path):
    """The summary of a device check whose FAKE GPU answers the probe, with half a second for all steps."""
    out = str(tmp_path / "summary.json")
    env = dict(os.environ, **trt_fakes.child_env(version="8.5.2.2", gpu="orin"))
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "device-check"), "--out", out,
                             "--budget-s", "0.5", "--keep", str(tmp_path / "kept")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)
    proc.communicate(timeout=300)
    with open(out) as fh:
        return proc.returncode, json.load(fh)


def test_a_step_past_the_time_budget_is_stopped_and_reported(tmp_path):
    status, summary = _half_second_on_a_fake_gpu(tmp_path)
    assert (status, summary["pytest"]["timed_out"], summary["sweep"]["passed"]) == (1, True, False)


def test_a_worker_mode_comparison_that_cannot_run_is_reported_not_faked(tmp_path):
    """Half a second of budget (or no torch for the zoo, on Python 3.6): its build pass fails, and says so."""
    modes = _half_second_on_a_fake_gpu(tmp_path)[1]["worker_modes"]
    assert (modes["passed"], modes["comparison"], modes["error"].startswith("build pass: ")) == (False, None, True)
