import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from power_helpers import board_root, write

from edgebench.power.clock import ClockMapper, host_clock, host_clock_is_system_wide
from edgebench.power.sampler import Sampler, _Ring
from edgebench.power.source import NullSource


def test_ring_search_finds_times_across_the_wrap():
    ring = _Ring(8, 0)
    ring.append(np.arange(13.0), np.arange(13.0))
    assert (ring.oldest, ring.search(6.0, "left"), ring.search(9.5, "right"), ring.search(12.0, "right")) == (
        5, 6, 10, 13)


def test_ring_slice_returns_samples_in_time_order_after_wrapping():
    ring = _Ring(8, 0)
    ring.append(np.arange(13.0), np.arange(13.0) * 2)
    t, p, _ = ring.slice(7, 12)
    assert t.tolist() == [7, 8, 9, 10, 11] and p.tolist() == [14, 16, 18, 20, 22]


def test_window_sees_a_change_in_the_sysfs_value(tmp_path):
    root = str(tmp_path / "nano")
    shutil.copytree(board_root("nano_jp46") + "/sys", root + "/sys")
    with Sampler(__import__("edgebench.power.url", fromlist=["x"]).open_source("ina3221", root=root),
                 rate_hz=200) as sampler:
        time.sleep(0.2)
        write(root, "/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power0_input", "5000\n")
        time.sleep(0.05)
        start = time.perf_counter()
        time.sleep(0.3)
        end = time.perf_counter()
        row = sampler.summary(start, end, images=10)
    sampler.source.close()
    assert row["gross_power_w"] == pytest.approx(5.0) and row["power_rate_hz"] == pytest.approx(200, rel=0.25)


def test_idle_baseline_has_a_mean_and_an_interval(stat_root, opened):
    with Sampler(opened("sim://?idle_w=2&active_w=4", root=stat_root)) as sampler:
        idle = sampler.measure_idle(0.3)
    assert idle.mean_w == pytest.approx(2.0) and idle.ci_w is not None and idle.samples > 200


def test_null_source_window_reports_no_power_data():
    with Sampler(NullSource()) as sampler:
        row = sampler.summary(time.perf_counter() - 0.1, time.perf_counter(), images=5)
    assert row["power_source"] == "none" and row["power_flags"].startswith("no power data")


def test_silent_probe_flags_the_window_and_reconnects_for_the_next(emulator, opened):
    emu = emulator("ppk2", watts=0.1, ripple=0.0, silence_after_s=0.6, silence_s=0.6)
    src = opened(emu.url + "&timeout=0.25")
    with Sampler(src) as sampler:
        start = time.perf_counter()
        time.sleep(1.0)
        hit = sampler.summary(start, time.perf_counter(), images=1)
        deadline = time.perf_counter() + 4.0
        while not src.is_open and time.perf_counter() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        start = time.perf_counter()
        time.sleep(0.3)
        after = sampler.summary(start, time.perf_counter(), images=1)
    assert "probe lost" in hit["power_flags"]
    assert after["gross_power_w"] == pytest.approx(0.1, rel=0.02) and "probe lost" not in (after["power_flags"] or "")


def test_vanished_probe_gives_a_flagged_partial_window(emulator, opened):
    emu = emulator("csv", watts=5.0, ripple=0.0, vanish_after_s=0.4)
    src = opened(emu.url)
    with Sampler(src) as sampler:
        start = time.perf_counter()
        time.sleep(0.8)
        row = sampler.summary(start, time.perf_counter(), images=1)
    assert "probe lost" in row["power_flags"] and "cover" in row["power_flags"]
    assert row["gross_power_w"] == pytest.approx(5.0, rel=0.05)


def test_perf_counter_is_the_system_wide_monotonic_clock():
    assert host_clock_is_system_wide() and host_clock() is time.perf_counter


def test_a_child_process_timestamp_falls_inside_the_parents_bracket():
    before = time.perf_counter()
    out = subprocess.check_output([sys.executable, "-c", "import time; print(repr(time.perf_counter()))"])
    after = time.perf_counter()
    assert before < float(out) < after


def test_clock_mapper_keeps_device_spacing_and_takes_the_least_delayed_block():
    mapper = ClockMapper()
    first = mapper.map([0.0, 0.001, 0.002], arrival_s=100.050)  # 48 ms of USB delay
    second = mapper.map([0.052, 0.053], arrival_s=100.0535)  # 0.5 ms of delay
    assert np.diff(first) == pytest.approx([0.001, 0.001])
    assert second[-1] == pytest.approx(100.0535) and second[0] > first[-1]


def test_clock_mapper_slews_slowly_after_settling():
    mapper = ClockMapper(settle_s=0.0, max_slew=1e-3)
    mapper.map([0.0], arrival_s=10.0)
    mapped = mapper.map([1.0], arrival_s=10.5)  # device says 1 s passed, host only 0.5 s
    assert mapped[0] == pytest.approx(11.0 - 1e-3)


def _board_window(root, url, file_poll, seconds=0.3, rate_hz=500):
    from edgebench.power.url import open_source

    source = open_source(url, root=root)
    try:
        with Sampler(source, rate_hz=rate_hz, file_poll=file_poll) as sampler:
            time.sleep(0.15)
            start = time.perf_counter()
            time.sleep(seconds)
            end = time.perf_counter()
            return sampler.summary(start, end, images=10), sampler.window(start, end)
    finally:
        source.close()


@pytest.mark.parametrize("file_poll", [True, False])
def test_sampler_reads_the_agx_orin_board_input_either_way(file_poll):
    from edgebench.power.url import open_source

    row, data = _board_window(board_root("agx_orin_jp6"), "ina3221", file_poll, rate_hz=100)
    with open_source("ina3221", root=board_root("agx_orin_jp6")) as source:
        rails_w = source.read().rails_w
    assert row["gross_power_w"] == pytest.approx(0.843 * 6.170 + 0.780 * 3.437 + 4.968 * 0.953)
    assert np.allclose(data.rails_w, rails_w, rtol=1e-6)  # float32 ring


def test_file_polled_sampler_sees_a_value_with_a_unit_suffix(tmp_path):
    root = str(tmp_path / "nano")
    shutil.copytree(board_root("nano_jp46") + "/sys", root + "/sys")
    write(root, "/sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power0_input", "4200 mW\n")
    row, _ = _board_window(root, "ina3221", True)
    assert row["gross_power_w"] == pytest.approx(4.2)


def test_file_polled_sampler_flags_failed_readings(tmp_path, monkeypatch):
    import errno
    import os

    root = str(tmp_path / "nano")
    shutil.copytree(board_root("nano_jp46") + "/sys", root + "/sys")
    from edgebench.power.url import open_source

    source = open_source("ina3221", root=root)

    def kernel_says_enodata(fd, size, offset):  # fake of a disabled INA3221 channel (-ENODATA)
        raise OSError(errno.ENODATA, os.strerror(errno.ENODATA))

    monkeypatch.setattr(os, "pread", kernel_says_enodata)
    with Sampler(source, rate_hz=200) as sampler:
        start = time.perf_counter()
        time.sleep(0.3)
        end = time.perf_counter()
        row = sampler.summary(start, end, images=1)
    monkeypatch.undo()
    source.close()
    assert "failed reading" in (row["power_flags"] or "")
