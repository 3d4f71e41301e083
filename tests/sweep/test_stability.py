"""Stability you can act on: why a point is unstable (other load from /proc/stat, too few iterations) and what to do."""
import pytest
from cli_helpers import edgebench, edgebench_json

from edgebench.platform import cpuload
from edgebench.sweep.stats import latency_stats, stability_note

# /proc/stat's first line: user nice system idle iowait irq softirq steal (proc(5)), in USER_HZ ticks.
STAT = "cpu  {u} 0 {s} {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\n"


def _stat_root(tmp_path, u, s, idle):
    (tmp_path / "proc").mkdir(exist_ok=True)
    (tmp_path / "proc" / "stat").write_text(STAT.format(u=u, s=s, idle=idle))
    return str(tmp_path)


def test_busy_time_is_everything_but_idle_and_iowait(tmp_path):
    busy_s, cpus = cpuload.read_cpu(_stat_root(tmp_path, 300, 100, 600))
    assert (busy_s * cpuload._ticks_per_s(), cpus) == (pytest.approx(400), 2)


def test_other_share_leaves_out_the_measuring_process(tmp_path):
    # 2 CPUs for 1 s = 2 CPU-s of capacity; 1.5 CPU-s busy of which 0.5 were our own: others used half
    assert cpuload.other_share((10.0, 2), (11.5, 2), own_s=0.5, wall_s=1.0) == pytest.approx(0.5)


def test_an_unreadable_proc_stat_gives_no_figure(tmp_path):
    assert cpuload.read_cpu(str(tmp_path)) is None


def test_a_stable_point_has_no_note():
    assert stability_note(0.01, 0.05, 0.9, 5) is None


def test_other_load_is_named_first_with_what_to_do():
    note = stability_note(0.20, 0.05, 0.45, 1000)
    assert "other processes used 45% of the CPU" in note and "stop other work" in note


def test_too_few_iterations_say_raise_duration():
    assert "raise --duration" in stability_note(0.20, 0.05, 0.0, 5)


def test_without_load_or_too_few_calls_clocks_are_suspected():
    assert "--lock-clocks" in stability_note(0.20, 0.05, 0.01, 1000)


def test_the_threshold_is_configurable():
    stats = latency_stats([0.010, 0.012], 1, 0.022, unstable_cv=0.2)
    assert stats["stable"] == 1


def test_a_sweep_stores_other_load_and_the_threshold_it_was_judged_by(tiny_onnx, cache_dir, tmp_path):
    doc = edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1", "--json", "--out", tmp_path / "r",
                         "--duration", "0.05", "--iterations", "3", "--warmup-ms", "0", "--unstable-cv", "1e-6")
    (row,) = doc["measurements"]
    assert 0.0 <= row["other_cpu_load"] <= 1.0
    assert row["stable"] == 0 and row["stability_note"].startswith("unstable: CV")


def test_a_bad_unstable_cv_is_refused_with_exit_2(tiny_onnx, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--unstable-cv", "0", "--out", tmp_path / "r")
    assert proc.returncode == 2 and "--unstable-cv" in proc.stderr.strip().splitlines()[-1]


def test_the_table_explains_the_verdict_under_it(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--batches", "1", "--out", tmp_path / "r", "--duration",
                     "0.05", "--iterations", "3", "--warmup-ms", "0", "--unstable-cv", "1e-6",
                     env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "unstable = the per-call latency varies" in proc.stdout + proc.stderr
