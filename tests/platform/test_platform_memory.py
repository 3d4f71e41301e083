"""Memory in MB from /proc/meminfo, including the Jetson's nvmap line."""
import os

from platform_trees import meminfo

from edgebench.platform.memory import MEMINFO_KEYS, PeakTracker, read_meminfo, read_process_memory


def test_used_is_total_minus_available(make_board):
    memory = read_meminfo(make_board(meminfo(total_kb=8192000, available_kb=2048000)))
    assert (memory["total_mb"], memory["available_mb"], memory["used_mb"]) == (8000.0, 2000.0, 6000.0)


def test_nvmap_used_is_read_on_an_l4t_kernel(fixture_root):
    assert read_meminfo(fixture_root("nano_jp46"))["nvmap_used_mb"] == 786.2


def test_nvmap_used_is_none_without_the_line(make_board):
    assert read_meminfo(make_board(meminfo()))["nvmap_used_mb"] is None


def test_available_is_estimated_on_kernels_without_memavailable(make_board):
    memory = read_meminfo(make_board(meminfo(total_kb=4059756, free_kb=1867364, available_kb=None)))
    assert memory["available_mb"] == round((1867364 + 90112 + 1035220) / 1024.0, 1)


def test_every_value_is_none_when_meminfo_is_missing(make_board):
    assert read_meminfo(make_board({})) == dict.fromkeys(MEMINFO_KEYS)


def test_swap_used_is_total_minus_free(fixture_root):
    assert read_meminfo(fixture_root("nano_jp46"))["swap_used_mb"] == 0.0


def test_process_memory_of_this_process_is_positive():
    if not os.path.exists("/proc/self/status"):
        return
    memory = read_process_memory()
    assert memory["rss_mb"] > 0 and memory["peak_rss_mb"] >= memory["rss_mb"]


def test_peak_tracker_keeps_the_highest_used_and_nvmap_reading(make_board):
    root = make_board(meminfo(total_kb=8192000, available_kb=2048000, nvmap_used_kb=10240))
    tracker = PeakTracker(root)
    tracker.sample()
    with open(os.path.join(root, "proc", "meminfo"), "w") as fh:
        fh.write(meminfo(total_kb=8192000, available_kb=4096000, nvmap_used_kb=5120)["/proc/meminfo"])
    tracker.sample()
    assert (tracker.peak_mb, tracker.nvmap_peak_mb) == (6000.0, 10.0)


def test_peak_tracker_without_meminfo_has_no_peak(make_board):
    tracker = PeakTracker(make_board({}))
    assert tracker.sample() is None and tracker.nvmap_peak_mb is None
