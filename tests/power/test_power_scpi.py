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


def _raw_query(emu, line, wait_s=0.5):
    """Send one line to the emulator's pty as a terminal program would; the reply (b"" if none)."""
    import serial

    port = serial.Serial(emu.path, 9600, timeout=wait_s)
    try:
        port.write(line.encode("ascii") + b"\n")
        return port.readline()
    finally:
        port.close()


def test_wt310_emulator_gives_no_reply_to_the_samp_subsystem(emulator):
    emu = emulator("scpi", dialect="wt310")
    assert _raw_query(emu, ":SAMP:RATE?") == b""


def test_wt310_emulator_queues_undefined_header_for_an_unknown_command(emulator):
    emu = emulator("scpi", dialect="wt310")
    _raw_query(emu, ":SAMP:RATE?", wait_s=0.2)
    assert _raw_query(emu, ":STAT:ERR?").startswith(b":STATUS:ERROR 113")


def test_wt310_emulator_accepts_long_and_lower_case_headers(emulator):
    emu = emulator("scpi", dialect="wt310", update_s=0.25)
    assert _raw_query(emu, ":rate?") == b":RATE 250.0E-03\r\n"


def test_header_pattern_rejects_a_truncated_long_form():
    from edgebench.power.emulators.scpi_meter import Header

    header = Header(":NUMeric:NORMal:VALue?")
    assert header.match(":numeric:norm:val?") == [] and header.match(":NUM:NORM:VALU?") is None


def test_wt310_client_reads_power_from_a_meter_without_samp(emulator, opened):
    emu = emulator("scpi", dialect="wt310", watts=30.0, ripple=0.0, update_s=0.1)
    src = opened(emu.url)
    assert src.read().power_w == pytest.approx(30.0, rel=1e-3)
    assert not [c for c in emu.commands if c.upper().startswith(":SAMP")]


def test_wt310_client_selects_the_wt300_command_set_first(emulator, opened):
    emu = emulator("scpi", dialect="wt310")
    opened(emu.url)
    assert emu.commands[:3] == ["*CLS", "*IDN?", ":SYST:COMM:COMM WT300"] and emu.errors == []


def test_wt310_client_asks_the_interval_with_rate(emulator, opened):
    emu = emulator("scpi", dialect="wt310", update_s=0.5)
    src = opened(emu.url)
    assert ":RATE?" in emu.commands and src.update_interval_s == pytest.approx(0.5)


def test_a_command_the_meter_does_not_define_fails_naming_it(emulator, monkeypatch):
    from edgebench.power import scpi
    from edgebench.power.url import open_source

    monkeypatch.setattr(scpi, "WT310_INTERVAL_QUERY", ":SAMP:RATE?")
    emu = emulator("scpi", dialect="wt310")
    with pytest.raises(PowerSourceError, match=r"did not answer ':SAMP:RATE\?'"):
        open_source(emu.url + "&timeout=0.5")


def test_a_refused_setup_command_is_reported_from_the_error_queue(emulator, monkeypatch):
    from edgebench.power import scpi
    from edgebench.power.url import open_source

    monkeypatch.setattr(scpi, "WT310_INIT", scpi.WT310_INIT + (":NUM:NORM:ITEM4 WATTS,1",))
    emu = emulator("scpi", dialect="wt310")
    with pytest.raises(PowerSourceError, match="refused a setup command .224"):
        open_source(emu.url)


@pytest.mark.parametrize("dialect", ["keysight", "rigol"])
def test_supplies_give_no_reply_to_a_header_they_do_not_define(dialect, emulator):
    emu = emulator("scpi", dialect=dialect)
    assert _raw_query(emu, ":SAMP:RATE?", wait_s=0.3) == b""


def test_wt310_client_clears_an_error_left_by_an_earlier_session(emulator, opened):
    emu = emulator("scpi", dialect="wt310")
    _raw_query(emu, ":SAMP:RATE?", wait_s=0.2)  # an earlier program's undefined header, still queued
    assert opened(emu.url).update_interval_s == pytest.approx(0.1)
