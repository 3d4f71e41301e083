import pytest
from power_helpers import board_root

from edgebench.errors import PowerSourceError, UsageError
from edgebench.power.source import NullSource
from edgebench.power.url import open_auto, open_source, parse_url


def test_parse_serial_url_keeps_absolute_port_and_params():
    url = parse_url("serial:///dev/ttyACM0?protocol=ppk2&baud=9600")
    assert (url.scheme, url.target) == ("serial", "/dev/ttyACM0")
    assert dict(url.params) == {"protocol": "ppk2", "baud": "9600"}


def test_parse_rail_form_splits_scheme_and_rail():
    url = parse_url("ina3221:VDD_IN")
    assert (url.scheme, url.target) == ("ina3221", "VDD_IN")


def test_parse_relative_trace_path():
    assert parse_url("trace://runs/trace.csv").target == "runs/trace.csv"


def test_parse_sim_query_without_target():
    url = parse_url("sim://?idle_w=1.3&active_w=13.1")
    assert (url.scheme, url.target, url.params["active_w"]) == ("sim", "", "13.1")


def test_unknown_scheme_is_a_usage_error_listing_schemes():
    with pytest.raises(PowerSourceError) as err:
        parse_url("joulescope://x")
    assert isinstance(err.value, UsageError) and "ina3221" in str(err.value)


def test_duplicate_parameter_is_rejected():
    with pytest.raises(PowerSourceError, match="twice"):
        parse_url("sim://?idle_w=1&idle_w=2")


def test_unknown_parameter_names_the_known_ones():
    with pytest.raises(PowerSourceError) as err:
        open_source("sim://?idle_w=1&bogus=3")
    assert "'bogus'" in str(err.value) and "idle_w" in str(err.value)


def test_serial_without_protocol_says_which_protocols_exist():
    with pytest.raises(PowerSourceError, match="ppk2"):
        open_source("serial:///dev/ttyACM0")


def test_serial_with_unknown_protocol_is_rejected():
    with pytest.raises(PowerSourceError, match="protocol"):
        open_source("serial:///dev/ttyACM0?protocol=monsoon")


def test_empty_url_is_rejected():
    with pytest.raises(PowerSourceError):
        parse_url("  ")


def test_non_numeric_parameter_is_rejected():
    with pytest.raises(PowerSourceError, match="not a number"):
        open_source("sim://?idle_w=lots")


def test_none_opens_the_null_source():
    src = open_source("none")
    assert isinstance(src, NullSource) and not src.has_data and src.label == "none"


def test_auto_picks_ina3221_on_a_board_and_says_so():
    src, _ = open_auto(root=board_root("nano_jp46"))
    try:
        assert src.scheme == "ina3221" and "auto: ina3221" in src.label
    finally:
        src.close()


def test_auto_falls_back_to_the_null_source_and_reports_why(tmp_path):
    src, tried = open_auto(root=str(tmp_path))
    assert not src.has_data
    assert [scheme for scheme, _ in tried][:1] == ["ina3221"]


def test_importing_the_power_package_and_its_cli_loads_no_heavy_modules():
    import subprocess
    import sys

    code = ("import sys, edgebench.power, edgebench.power.cli, edgebench.power.url; "
            "print(','.join(m for m in ('numpy', 'scipy', 'serial') if m in sys.modules))")
    assert subprocess.check_output([sys.executable, "-c", code]).decode().strip() == ""
