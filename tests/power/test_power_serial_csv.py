import time

import pytest

from edgebench.errors import PowerSourceError
from edgebench.power.sampler import Sampler
from edgebench.power.serial_csv import CsvLineParser


def test_default_columns_compute_volts_times_amps():
    assert CsvLineParser().parse("1000,5.0,200") == (1.0, pytest.approx(1.0))


def test_header_line_replaces_the_columns():
    parser = CsvLineParser()
    parser.parse("t_us;power_mw")
    assert parser.parse("1500;2500") == (pytest.approx(0.0015), pytest.approx(2.5))


def test_banner_line_is_counted_bad_not_fatal():
    parser = CsvLineParser()
    assert parser.parse("INA219 probe v2 ready") is None and parser.bad == 1


def test_torn_line_is_counted_bad():
    parser = CsvLineParser()
    assert parser.parse("12,5.0") is None and parser.bad == 1


def test_nan_value_is_counted_bad():
    parser = CsvLineParser()
    assert parser.parse("1,nan,3") is None and parser.bad == 1


def test_comment_is_skipped_but_not_bad():
    parser = CsvLineParser()
    assert parser.parse("# range switched") is None and (parser.bad, parser.comments) == (0, 1)


def test_duplicate_device_timestamp_is_counted_bad():
    parser = CsvLineParser()
    parser.parse("10,5,100")
    assert parser.parse("10,5,100") is None and parser.bad == 1


def test_large_backward_step_is_a_device_restart_not_an_error():
    parser = CsvLineParser()
    parser.parse("90000,5,100")
    assert parser.parse("3,5,100") is not None and parser.restarts == 1


def test_whitespace_separated_line_without_time_column():
    parser = CsvLineParser("current_ma,power_mw")
    assert parser.parse("12.5 62.5") == (None, pytest.approx(0.0625))


def test_unknown_column_name_is_rejected_with_the_known_ones():
    with pytest.raises(PowerSourceError, match="power_w"):
        CsvLineParser("t_ms,watts")


def test_columns_without_power_are_rejected():
    with pytest.raises(PowerSourceError, match="give no power"):
        CsvLineParser("t_ms,voltage_v")


def _window(src, seconds):
    with Sampler(src) as sampler:
        start = time.perf_counter()
        time.sleep(seconds)
        end = time.perf_counter()
        return sampler.summary(start, end, images=10)


def test_csv_probe_reports_the_emulators_mean_power(emulator, opened):
    emu = emulator("csv", watts=5.0, ripple=0.0)
    row = _window(opened(emu.url), 0.6)
    assert row["gross_power_w"] == pytest.approx(5.0, rel=0.02)
    assert row["power_samples"] > 300


def test_csv_probe_uses_device_timestamps(emulator, opened):
    src = opened(emulator("csv").url)
    assert src.device_timestamps


def test_window_with_mostly_garbage_is_flagged(emulator, opened):
    emu = emulator("csv", watts=5.0, bad_every=2)
    row = _window(opened(emu.url), 0.6)
    assert "unparseable" in row["power_flags"] and "%" in row["power_flags"]


def test_missing_serial_port_is_a_clear_usage_error(opened):
    with pytest.raises(PowerSourceError, match="does not exist"):
        opened("serial:///dev/edgebench-no-such-port?protocol=csv")


def test_busy_serial_port_is_reported(emulator, opened):
    emu = emulator("csv")
    opened(emu.url)
    with pytest.raises(PowerSourceError, match="busy"):
        opened(emu.url)


def _feed(parser, lines):
    for line in lines:
        parser.parse(line)


def test_lines_with_one_more_field_than_the_columns_name_the_remedy():
    parser = CsvLineParser()
    _feed(parser, ["{},5.0,200,1000".format(k) for k in range(20)])
    assert "have 4 fields" in parser.width_diagnosis() and "columns=t_ms,voltage_v,current_ma,-" in \
        parser.width_diagnosis()


def test_a_few_torn_lines_are_not_a_field_count_problem():
    parser = CsvLineParser()
    _feed(parser, ["{},5.0,200".format(k) for k in range(1, 100)] + ["12,5.0"] * 5)
    assert parser.width_diagnosis() is None


def test_banner_text_does_not_count_as_a_field_count_problem():
    parser = CsvLineParser()
    _feed(parser, ["INA226 probe ready v2"] * 20)
    assert parser.width_diagnosis() is None


def test_a_header_clears_the_field_count_diagnosis():
    parser = CsvLineParser()
    _feed(parser, ["{},5.0,200,1000".format(k) for k in range(20)] + ["t_ms,voltage_v,current_ma,power_mw"])
    assert parser.width_diagnosis() is None and parser.parse("30,5.0,200,1000") == (0.03, 1.0)


def test_four_field_probe_read_with_four_columns_reads_right(emulator, opened):
    emu = emulator("csv", watts=5.0, ripple=0.0, power_column=True)
    row = _window(opened(emu.url + "&columns=" + emu.columns), 0.6)
    assert row["gross_power_w"] == pytest.approx(5.0, rel=0.02)


def test_four_field_probe_whose_header_came_before_open_is_flagged_with_columns(emulator, opened):
    emu = emulator("csv", watts=5.0, ripple=0.0, power_column=True)
    time.sleep(0.2)  # the header went out before the port was opened
    row = _window(opened(emu.url), 0.6)
    assert row["gross_power_w"] == pytest.approx(5.0, rel=0.02) or "columns=" in row["power_flags"]


def _csv_source_on_loop(monkeypatch, waiting):
    """A CSV source whose port is pyserial's loop:// with ``waiting`` already in its input at open
    (what a USB-serial bridge delivers from its FIFO right after the port opens)."""
    import serial

    from edgebench.power.url import create_source, parse_url

    src = create_source(parse_url("serial:///dev/ttyUSB9?protocol=csv"))

    def open_loop_port():
        src.ser = serial.serial_for_url("loop://", timeout=0.05)
        src.ser.write(waiting)
        src._last_data_s = time.perf_counter()
        return src.ser

    monkeypatch.setattr(src, "open_port", open_loop_port)
    return src.open()


def test_header_waiting_at_open_sets_the_columns_and_its_samples_are_dropped(monkeypatch):
    src = _csv_source_on_loop(monkeypatch, b"INA226 ready\r\nt_ms,voltage_v,current_ma,power_mw\r\n1,5.0,200,1000\r\n")
    src.ser.write(b"2,5.0,400,2000\r\n")
    block = src.read_block(0.2)
    assert src.parser.layout.width == 4 and list(block.power_w) == [pytest.approx(2.0)]


def test_the_rest_of_a_line_torn_at_open_is_skipped(monkeypatch):
    src = _csv_source_on_loop(monkeypatch, b"t_ms,voltage_v,current_ma\r\n1,5.0,200\r\n2")
    src.ser.write(b"5,5.0,200\r\n30,5.0,400\r\n")  # "5,5.0,200" is the tail of "25,5.0,200"
    assert list(src.read_block(0.2).power_w) == [pytest.approx(2.0)]
