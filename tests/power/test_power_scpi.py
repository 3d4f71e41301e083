import time

import pytest

from edgebench.errors import PowerSourceError
from edgebench.power.sampler import Sampler
from edgebench.power.scpi import parse_reply_numbers
from edgebench.power.source import INSTANTANEOUS, INTEGRATING


def test_overrange_sentinel_and_nan_become_nan():
    values = parse_reply_numbers("9.91E+37,NAN,1.5E+00")
    assert values[0] != values[0] and values[1] != values[1] and values[2] == 1.5


def test_wt310_is_integrating_at_its_update_rate(emulator, opened):
    emu = emulator("scpi", dialect="wt310", update_s=0.1)
    src = opened(emu.url)
    assert src.sampling == INTEGRATING and src.max_rate_hz == pytest.approx(10.0)


def test_wt310_setup_sends_ascii_format_and_three_items(emulator, opened):
    emu = emulator("scpi", dialect="wt310")
    opened(emu.url)
    assert ":NUM:FORM ASCII" in emu.commands and ":NUM:NORM:ITEM3 P,1" in emu.commands


def test_wt310_reading_is_the_update_interval_mean(emulator, opened):
    emu = emulator("scpi", dialect="wt310", watts=20.0, ripple=0.5, freq_hz=10.0, update_s=0.1)
    src = opened(emu.url)
    # a 0.1 s average of a 10 Hz square wave is its mean, whatever the phase
    assert src.read().power_w == pytest.approx(20.0, rel=0.01)


@pytest.mark.parametrize("dialect", ["keysight", "rigol", "generic"])
def test_point_measuring_dialects_read_the_waveform(dialect, emulator, opened):
    emu = emulator("scpi", dialect=dialect, watts=12.0, ripple=0.0)
    src = opened(emu.url)
    assert src.sampling == INSTANTANEOUS and src.read().power_w == pytest.approx(12.0, rel=1e-3)


def test_invalid_meter_readings_are_failed_samples_not_numbers(emulator, opened):
    emu = emulator("scpi", dialect="rigol", watts=12.0, ripple=0.0, nan_every=2)
    src = opened(emu.url)
    with Sampler(src, rate_hz=20) as sampler:
        start = time.perf_counter()
        time.sleep(0.6)
        end = time.perf_counter()
        row = sampler.summary(start, end, images=1)
    assert row["gross_power_w"] == pytest.approx(12.0, rel=1e-3) and "failed reading" in row["power_flags"]


def test_wt310_dialect_refuses_another_instrument(emulator):
    from edgebench.power.url import open_source

    emu = emulator("scpi", dialect="keysight")
    with pytest.raises(PowerSourceError, match="not a Yokogawa"):
        open_source("serial://{}?protocol=scpi&dialect=wt310".format(emu.path))


def test_generic_dialect_needs_a_query():
    from edgebench.power.url import open_source

    with pytest.raises(PowerSourceError, match="query="):
        open_source("serial:///dev/null?protocol=scpi&dialect=generic")
