"""Parsers never raise on arbitrary input (hypothesis)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from edgebench.errors import PowerSourceError
from edgebench.power.ina3221 import SensorReadError, parse_sysfs_number
from edgebench.power.powersensor3 import decode_words
from edgebench.power.ppk2 import counter_steps, parse_metadata, unpack_words
from edgebench.power.scpi import parse_reply_numbers
from edgebench.power.serial_csv import CsvLineParser
from edgebench.power.tegrastats import parse_power_fields
from edgebench.power.url import parse_url

FAST = settings(max_examples=150, deadline=None)


@FAST
@given(st.text())
def test_tegrastats_parser_returns_finite_milliwatts(line):
    assert all(math.isfinite(v) and v >= 0 for v in parse_power_fields(line).values())


@FAST
@given(st.lists(st.one_of(st.binary(max_size=40), st.text(max_size=40)), max_size=30))
def test_csv_parser_yields_finite_power_or_counts_the_line(lines):
    parser = CsvLineParser()
    for line in lines:
        parsed = parser.parse(line)
        assert parsed is None or math.isfinite(parsed[1])


@FAST
@given(st.binary(max_size=400))
def test_ppk2_metadata_parser_never_raises(data):
    mods = parse_metadata(data)
    assert len(mods.r) == 5


@FAST
@given(st.binary(max_size=400))
def test_ppk2_word_unpacking_never_raises(data):
    raw, rng, counter, _ = unpack_words(data)
    assert raw.size == len(data) // 4 and (rng <= 4).all() and (counter_steps(counter) >= 1).all()


@FAST
@given(st.binary(max_size=400))
def test_powersensor3_framing_never_raises(data):
    starts, sensor, level, marker, consumed, skipped, stopped = decode_words(data)
    assert consumed <= len(data) and (level < 1024).all()


@FAST
@given(st.text(max_size=80))
def test_scpi_reply_parser_never_raises(text):
    assert all(v != v or abs(v) < 9.9e37 for v in parse_reply_numbers(text))


@FAST
@given(st.binary(max_size=40))
def test_sysfs_number_parser_raises_only_its_own_error(data):
    try:
        parse_sysfs_number(data)
    except SensorReadError:
        pass


@FAST
@given(st.text(max_size=80))
def test_url_parser_raises_only_power_source_errors(text):
    try:
        parse_url(text)
    except PowerSourceError:
        pass
