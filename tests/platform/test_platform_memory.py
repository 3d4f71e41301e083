"""Memory in MB from /proc/meminfo, including the Jetson's nvmap line."""
import os

from platform_trees import meminfo

from edgebench.platform.memory import MEMINFO_KEYS, read_meminfo, read_process_memory


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
