import time

import numpy as np
import pytest

from edgebench.power.powersensor3 import CONFIG_RECORD, SensorConfig, decode_words
from edgebench.power.sampler import Sampler


def test_config_record_is_41_packed_bytes():
    assert CONFIG_RECORD.size == 41


def test_config_record_round_trips():
    cfg = SensorConfig.unpack(SensorConfig("ACS712", "gpu", 1.65, 0.185, True).pack())
    assert (cfg.kind, cfg.pair_name, cfg.in_use) == ("ACS712", "gpu", True)
    assert cfg.sensitivity == pytest.approx(0.185)


def test_word_sync_rule_drops_a_stray_byte():
    good = bytes([0x80 | (2 << 4) | 0x3, 0x15])  # sensor 2, level 3<<6 | 0x15
    _, sensor, level, _, consumed, skipped, _ = decode_words(b"\x15" + good)
    assert (sensor.tolist(), level.tolist(), skipped, consumed) == ([2], [(3 << 6) | 0x15], 1, 3)


def test_stop_word_is_recognised():
    assert decode_words(b"\xff\x3f")[-1] is True


def test_marker_bit_is_decoded():
    _, sensor, _, marker, _, _, _ = decode_words(bytes([0x80 | (7 << 4), 0x40]))
    assert (sensor[0], marker[0]) == (7, 1)


def _window(src, seconds):
    with Sampler(src) as sampler:
        start = time.perf_counter()
        time.sleep(seconds)
        end = time.perf_counter()
        return sampler.summary(start, end, images=1)


def test_powersensor3_reports_volts_times_amps(emulator, opened):
    emu = emulator("powersensor3", watts=10.0, ripple=0.0, voltage_v=12.0, rate_hz=5000)
    row = _window(opened(emu.url), 0.5)
    assert row["gross_power_w"] == pytest.approx(10.0, rel=0.01)
    assert row["power_rate_hz"] == pytest.approx(5000, rel=0.05)


def test_powersensor3_names_its_pairs(emulator, opened):
    src = opened(emulator("powersensor3").url)
    assert src.rails == ("board",) and src.device_timestamps


def test_powersensor3_resyncs_after_dropped_bytes(emulator, opened):
    emu = emulator("powersensor3", watts=10.0, ripple=0.0, rate_hz=5000, drop_byte_every=50)
    row = _window(opened(emu.url), 0.5)
    assert row["gross_power_w"] == pytest.approx(10.0, rel=0.02) and "unparseable" in row["power_flags"]


def test_timestamps_unwrap_past_1024_us(emulator, opened):
    src = opened(emulator("powersensor3", rate_hz=2000).url)
    blocks = []
    deadline = time.perf_counter() + 1.0
    while sum(len(b) for b in blocks) < 100 and time.perf_counter() < deadline:
        blocks.append(src.read_block(0.1))
    t = np.concatenate([b.t_s for b in blocks])
    assert np.all(np.diff(t) > 0) and np.median(np.diff(t)) == pytest.approx(0.0005, rel=0.05)
