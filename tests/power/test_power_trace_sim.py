import time

import numpy as np
import pytest
from power_helpers import write

from edgebench.errors import PowerSourceError
from edgebench.power.trace import load_trace, write_trace


def _trace(tmp_path, rows, header="t_s,power_w"):
    return write(tmp_path, "/trace.csv", header + "\n" + "".join(r + "\n" for r in rows))


def test_trace_round_trips_with_rail_columns(tmp_path):
    path = str(tmp_path / "t.csv")
    t = np.arange(10) * 0.01
    write_trace(path, t, t + 1, ["VDD_IN"], np.column_stack([t + 1]))
    trace = load_trace(path)
    assert trace.t_s.tolist() == pytest.approx(t.tolist()) and trace.rails["VDD_IN"][3] == pytest.approx(1.03)


def test_trace_without_header_is_rejected(tmp_path):
    with pytest.raises(PowerSourceError, match="no header"):
        load_trace(_trace(tmp_path, ["{},{}".format(k, k) for k in range(1, 10)], header="0,1"))


def test_unsorted_trace_names_the_line(tmp_path):
    rows = ["0.0,1", "0.2,1", "0.1,1"] + ["{},1".format(1 + k) for k in range(8)]
    with pytest.raises(PowerSourceError, match="line 4"):
        load_trace(_trace(tmp_path, rows))


def test_duplicate_timestamps_are_rejected(tmp_path):
    rows = ["0.0,1", "0.0,1"] + ["{},1".format(1 + k) for k in range(8)]
    with pytest.raises(PowerSourceError, match="sorted and unique"):
        load_trace(_trace(tmp_path, rows))


def test_fewer_than_eight_samples_is_rejected(tmp_path):
    with pytest.raises(PowerSourceError, match="at least 8"):
        load_trace(_trace(tmp_path, ["{},1".format(k) for k in range(7)]))


def test_non_numeric_value_is_rejected_with_its_line(tmp_path):
    rows = ["{},1".format(k) for k in range(8)] + ["9,lots"]
    with pytest.raises(PowerSourceError, match="line 10"):
        load_trace(_trace(tmp_path, rows))


def test_empty_power_is_a_gap_not_an_error(tmp_path):
    trace = load_trace(_trace(tmp_path, ["{},{}".format(k, "" if k == 3 else 1) for k in range(9)]))
    assert np.isnan(trace.power_w[3])


def test_simulated_label_column_marks_the_trace(tmp_path):
    path = str(tmp_path / "s.csv")
    write_trace(path, np.arange(8.0), np.ones(8), simulated=True)
    assert load_trace(path).simulated and open(path).read().splitlines()[1].endswith(",SIMULATED")


def test_trace_replays_in_real_time(tmp_path, opened):
    path = str(tmp_path / "r.csv")
    write_trace(path, np.arange(100) * 0.002, np.full(100, 3.0))
    src = opened("trace://" + path + "?loop=0")
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < 0.1:
        count += len(src.read_block(0.02))
    assert 20 <= count <= 70


def test_sim_is_labelled_simulated(stat_root, opened):
    src = opened("sim://?idle_w=1.3&active_w=13.1", root=stat_root)
    assert src.simulated and src.label.startswith("SIMULATED")


def test_sim_power_follows_proc_stat_utilisation(stat_root, opened):
    src = opened("sim://?idle_w=1&active_w=11&window_s=0.05", root=stat_root)
    src.read_block(0.01)
    # 300 busy jiffies out of 400 more: 75% busy
    write(stat_root, "/proc/stat", "cpu  350 0 150 900 0 0 0 0 0 0\n")
    time.sleep(0.02)
    last = None
    for _ in range(10):
        block = src.read_block(0.01)
        if len(block):
            last = block.power_w[-1]
    assert last == pytest.approx(1 + 10 * 0.75, rel=1e-6)


def test_sim_samples_at_1khz(stat_root, opened):
    src = opened("sim://", root=stat_root)
    block = src.read_block(0.05)
    assert np.median(np.diff(block.t_s)) == pytest.approx(0.001)


def test_sim_without_proc_stat_says_what_is_missing(tmp_path):
    from edgebench.power.url import open_source

    with pytest.raises(PowerSourceError, match="proc/stat"):
        open_source("sim://", root=str(tmp_path))


def test_sim_tree_power_rises_with_the_cpu_of_this_process_tree(opened):
    import subprocess
    import sys

    src = opened("sim://?idle_w=1&active_w=11&window_s=0.3&cpu=tree")
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        peak = 1.0
        for _ in range(40):
            block = src.read_block(0.02)
            if len(block):
                peak = max(peak, float(block.power_w.max()))
    finally:
        child.kill()
        child.wait()
    assert peak > 1.0  # the busy child, not the rest of the machine, raised the synthetic power


def test_sim_tree_does_not_need_proc_stat_under_the_root(tmp_path, opened):
    src = opened("sim://?cpu=tree", root=str(tmp_path))  # no <root>/proc/stat at all
    assert src.simulated
