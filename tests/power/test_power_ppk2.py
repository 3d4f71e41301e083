import struct
import time

import numpy as np
import pytest

from edgebench.errors import PowerSourceError
from edgebench.power.ppk2 import DEFAULT_R, best_alignment, counter_steps, current_a, parse_metadata, unpack_words
from edgebench.power.sampler import Sampler

# A real PPK2 metadata dump (hdoordt/ppk2-rs), VDD as in its test vector; S/I 1-3 elided there.
REAL_METADATA = """Calibrated: 0
R0: 1003.3506
R1: 101.5865
R2: 10.3027
R3: 0.9636
R4: 0.0564
GS0: 0.0000
GS1: 112.7890
GS2: 18.0115
GS3: 2.4217
GS4: 0.0729
GI0: 1.0000
GI1: 0.9695
GI2: 0.9609
GI3: 0.9519
GI4: 0.9582
O0: 112.9420
O1: 75.4627
O2: 64.6020
O3: 50.4983
O4: 87.2177
VDD: 3741
HW: 9173
mode: 2
S0: 0.000000048
S4: 0.002940743
I0: -0.000000104
I4: -0.009388455
UG0: 1.00
UG1: 1.00
UG2: 1.00
UG3: 1.00
UG4: 1.00
IA: 56
END
"""


def test_metadata_values_are_read():
    mods = parse_metadata(REAL_METADATA)
    assert (mods.r[4], mods.o[0], mods.vdd_mv, mods.mode) == (0.0564, 112.942, 3741.0, 2)


def test_calibrated_conversion_matches_the_reference_vector():
    mods = parse_metadata(REAL_METADATA)
    amps = current_a(np.array([27]), np.array([0]), mods, mods.vdd_mv)  # adc 108 = 27 x 4
    assert amps[0] * 1e6 == pytest.approx(0.021454880761611544, rel=1e-5)


def test_metadata_nan_and_zero_resistance_keep_defaults():
    mods = parse_metadata("Calibrated: 0\nR0: 0.0000\nGS1: -nan\nMode: 1\nEND\n")
    assert mods.r[0] == DEFAULT_R[0] and mods.gs[1] == 1.0 and mods.mode == 1


def test_sample_word_fields_unpack():
    raw, rng, counter, logic = unpack_words(bytes([0x1B, 0x00, 0x14, 0x81]))
    assert (raw[0], rng[0], counter[0], logic[0]) == (27, 0, 5, 0x81)


def test_range_above_four_is_clamped():
    word = struct.pack("<I", (7 << 14) | 100)
    assert unpack_words(word)[1][0] == 4


def test_counter_gap_counts_lost_samples_across_the_wrap():
    steps = counter_steps(np.array([62, 63, 2, 3]), previous=61)
    assert steps.tolist() == [1, 1, 3, 1]


def test_alignment_is_found_after_a_torn_first_word():
    words = b"".join(struct.pack("<I", (k % 64) << 18 | 500) for k in range(40))
    assert best_alignment(b"\x01\x02" + words) == 2


def _window(src, seconds):
    with Sampler(src) as sampler:
        start = time.perf_counter()
        time.sleep(seconds)
        end = time.perf_counter()
        return sampler.summary(start, end, images=1)


def test_ppk2_streams_100k_samples_per_second_with_the_emulators_mean(emulator, opened):
    emu = emulator("ppk2", watts=0.1, ripple=0.0, vdd_mv=3300)
    row = _window(opened(emu.url), 0.5)
    assert row["power_rate_hz"] == pytest.approx(100000, rel=0.05)
    assert row["gross_power_w"] == pytest.approx(0.1, rel=0.01)


def test_ppk2_lost_samples_are_counted_and_flagged(emulator, opened):
    emu = emulator("ppk2", drop_every=1000)
    row = _window(opened(emu.url), 0.5)
    assert "lost by the device" in row["power_flags"]


def test_ppk2_source_voltage_from_url_is_sent_to_the_device(emulator, opened):
    emu = emulator("ppk2")
    src = opened(emu.url + "&vdd_mv=1800")
    deadline = time.perf_counter() + 2.0
    while 0x06 not in emu.commands and time.perf_counter() < deadline:  # the emulator thread reads it
        time.sleep(0.01)
    assert src.supply_v == pytest.approx(1.8) and emu.vdd_mv == 1800 and emu.commands[-2:] == [0x0D, 0x06]


def test_ppk2_ampere_mode_needs_the_supply_voltage():
    from edgebench.power.url import open_source

    with pytest.raises(PowerSourceError, match="voltage_v"):
        open_source("serial:///dev/null?protocol=ppk2&mode=ampere")


def test_ppk2_decode_is_vectorised_over_a_large_buffer():
    words = np.arange(200000, dtype=np.uint32)
    buf = (((words % 64) << 18) | 300).astype("<u4").tobytes()
    raw, rng, counter, _ = unpack_words(buf)
    assert raw.shape == (200000,) and counter_steps(counter).max() == 1


def _switching_stream(with_range4=False, n=100000):
    """A sleeping device (5 uA) with ten 20 mA bursts: range switches both ways, as on a real DUT."""
    from edgebench.power.emulators.ppk2 import encode_current, metadata_text, pack_words

    amps = np.full(n, 5e-6)
    for k in range(10):
        amps[k * 10000 + 1000:k * 10000 + 1200] = 0.02
    if with_range4:
        amps[50000:50100] = 3.0  # above ~0.7 A the PPK2 is in range 4
        amps[60000:60060] = np.where(np.arange(60) % 3 == 0, 0.5, 3.0)  # chatter between ranges 3 and 4
    raw, ranges = encode_current(amps, 3300, np.random.RandomState(1))
    return pack_words(raw, ranges, np.arange(n) % 64), metadata_text(3300)


def _decode(buf, metadata, spike_filter, cuts=(20000, 60000)):
    """Decoded amps; with the filter, fed in blocks cut at ``cuts`` (sample indices)."""
    from edgebench.power.ppk2 import SpikeFilter

    raw, rng, _, _ = unpack_words(buf)
    amps = current_a(raw, rng, parse_metadata(metadata), 3300.0)
    if not spike_filter:
        return amps
    filt = SpikeFilter()
    return np.concatenate([filt.apply(amps[part], rng[part]) for part in np.split(np.arange(amps.size), cuts)])


def _ppk2_api_decode(module, buf, metadata):
    import os

    master, slave = os.openpty()  # PPK2_API opens a serial port in its constructor: give it a real pty
    try:
        api = module.PPK2_API(os.ttyname(slave))
        api._parse_metadata(metadata.decode("ascii"))
        api.current_vdd = 3300
        samples, _ = api.get_samples(buf)
        api.ser.close()
    finally:
        os.close(master)
        os.close(slave)
    return np.array(samples) / 1e6


@pytest.mark.parametrize("with_range4", [False, True])
def test_spike_filter_matches_ppk2_api_sample_for_sample(with_range4, ppk2_api):
    buf, metadata = _switching_stream(with_range4)
    ours = _decode(buf, metadata, spike_filter=True)
    theirs = _ppk2_api_decode(ppk2_api, buf, metadata)
    assert ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=1e-9, atol=1e-15)


def test_spike_filter_changes_the_samples_after_a_range_switch(ppk2_api):
    buf, metadata = _switching_stream()
    raw = _decode(buf, metadata, spike_filter=False)
    assert not np.allclose(raw, _ppk2_api_decode(ppk2_api, buf, metadata), rtol=1e-6)


def test_spike_filter_leaves_the_mean_unchanged():
    buf, metadata = _switching_stream()
    raw = _decode(buf, metadata, spike_filter=False)
    filtered = _decode(buf, metadata, spike_filter=True)
    assert abs(filtered.mean() - raw.mean()) / raw.mean() < 1e-5 and not np.array_equal(raw, filtered)


def test_spike_filter_state_carries_across_blocks_cut_inside_a_switch():
    buf, metadata = _switching_stream(with_range4=True)
    _, rng, _, _ = unpack_words(buf)
    switches = np.flatnonzero(rng[1:] != rng[:-1]) + 1
    cuts = sorted(set((switches + 1).tolist() + (switches + 2).tolist()))  # one and two samples after each
    assert np.array_equal(_decode(buf, metadata, True, cuts=()), _decode(buf, metadata, True, cuts=cuts))


@pytest.mark.parametrize("flag, detail", [("", "spike filter on"), ("&spike_filter=0", "raw samples")])
def test_ppk2_url_spike_filter_flag(flag, detail, emulator, opened):
    emu = emulator("ppk2")
    assert detail in opened(emu.url + flag).detail
