"""/metrics: parsed by prometheus-client's own parser, names checked against Prometheus' naming rules."""
import json
import re
import socket
import urllib.request

import monitor_snapshots
import pytest
from cli_helpers import ROOT

from edgebench.agent.live_power import RailReader
from edgebench.agent.metrics import Counters, MetricsServer, escape_label, render_metrics
from edgebench.platform.sensors import BoardReader

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus-client is in the [fleet] extra")

# Prometheus' naming rules: https://prometheus.io/docs/concepts/data_model/ (name and label syntax) and
# client_golang's promlint (prometheus/testutil/promlint/validations: counter_validations.go,
# generic_name_validations.go, units.go), which `promtool check metrics` runs.
NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
CAMEL = re.compile(r"[a-z][A-Z]")
ABBREVIATIONS = ("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d")
NON_BASE_UNITS = ("minutes", "hours", "days", "weeks", "kelvins", "fahrenheit", "rankine", "inches", "yards",
                  "miles", "bits", "calories", "pounds", "ounces")
BASE_UNITS = ("amperes", "bytes", "celsius", "grams", "joules", "kelvin", "meters", "metres", "seconds", "volts")
PREFIXES = ("pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega", "mibi",
            "giga", "gibi", "tera", "tebi", "peta", "pebi")
TYPES = ("counter", "gauge", "histogram", "summary")


def naming_problems(text):
    """Every rule a metric family of ``text`` breaks, as 'name: problem' strings."""
    problems = []
    for fam in parser.text_string_to_metric_families(text):
        names = set(s.name for s in fam.samples)
        for name in names:
            words = name.lower().split("_")
            if not NAME.match(name) or ":" in name:
                problems.append("{}: not a plain metric name".format(name))
            if CAMEL.search(name):
                problems.append("{}: camelCase".format(name))
            if fam.type == "counter" and not name.endswith("_total"):
                problems.append("{}: counter without _total".format(name))
            if fam.type != "counter" and name.endswith("_total"):
                problems.append("{}: {} with _total".format(name, fam.type))
            if any(w in ABBREVIATIONS for w in words[1:]):
                problems.append("{}: abbreviated unit".format(name))
            if any(w in NON_BASE_UNITS for w in words):
                problems.append("{}: not a base unit".format(name))
            if any(w.startswith(p) and w[len(p):] in BASE_UNITS for w in words for p in PREFIXES):
                problems.append("{}: prefixed unit".format(name))
            if any(t in words[1:] for t in TYPES):
                problems.append("{}: type in the name".format(name))
        if not fam.documentation:
            problems.append("{}: no help".format(fam.name))
        for sample in fam.samples:
            for label in sample.labels:
                if not LABEL.match(label) or label.startswith("__") or CAMEL.search(label):
                    problems.append("{}: bad label name {}".format(fam.name, label))
    return problems


def _families(text):
    return dict((f.name, f) for f in parser.text_string_to_metric_families(text))


def _value(text, name, **labels):
    found = [s.value for f in parser.text_string_to_metric_families(text) for s in f.samples
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def _board_snapshot(tree):
    snap = monitor_snapshots.running_snapshot()
    board = BoardReader(tree).read()
    board["rails"] = RailReader(tree).read()
    snap["sensors"]["board"] = board
    return snap


def _counters_after_two_readings():
    counters = Counters()
    snap = monitor_snapshots.running_snapshot()
    counters.observe(snap, now=100.0)
    snap["sensors"]["power"]["board_w"] = 12.0
    snap["job"]["points_done"] = 3
    counters.observe(snap, now=101.0)
    return counters, snap


AGX_ORIN = ROOT + "/tests/fixtures/agx_orin_jp6"


def test_metrics_page_parses_and_follows_the_naming_rules():
    counters, snap = _counters_after_two_readings()
    snap["sensors"]["board"] = _board_snapshot(AGX_ORIN)["sensors"]["board"]
    text = render_metrics(snap, counters, {"board": "agx-orin", "model": "NVIDIA Jetson AGX Orin", "jetpack": "6.0",
                                           "l4t": "36.3.0"})
    assert len(_families(text)) >= 30
    assert naming_problems(text) == []


def test_the_naming_check_catches_todays_old_names():
    old = ("# HELP edgebench_job_points_total points\n# TYPE edgebench_job_points_total gauge\n"
           "edgebench_job_points_total 3.0\n# HELP x_latency_ms l\n# TYPE x_latency_ms gauge\nx_latency_ms 1.0\n")
    assert naming_problems(old) == ["edgebench_job_points_total: gauge with _total", "x_latency_ms: abbreviated unit"]


def test_power_source_label_is_stable_and_its_description_is_an_info_metric():
    text = render_metrics(monitor_snapshots.running_snapshot())
    assert _value(text, "edgebench_power_rail_watts", rail="VDD_IN", source="ina3221") == 9.75
    assert _value(text, "edgebench_power_net_watts", source="ina3221") == 6.5
    assert _value(text, "edgebench_power_source_info", source="ina3221",
                  description="ina3221 (auto: ina3221)") == 1


def test_serial_probe_source_label_is_its_protocol():
    snap = monitor_snapshots.running_snapshot()
    snap["sensors"]["power"].update(url="serial:///dev/ttyACM0?protocol=ppk2", source="PPK2 on /dev/ttyACM0 (5.0 V)")
    assert _value(render_metrics(snap), "edgebench_power_board_watts", source="ppk2") == 9.75


def test_board_power_help_says_why_jetson_stats_reads_higher():
    fam = _families(render_metrics(monitor_snapshots.running_snapshot()))["edgebench_power_board_watts"]
    assert "VDDQ_VDD2_1V8AO is inside VIN_SYS_5V0" in fam.documentation


def test_memory_is_whole_bytes():
    text = render_metrics(monitor_snapshots.running_snapshot())
    assert _value(text, "edgebench_memory_used_bytes") == 3120 * 1024 * 1024
    for fam in parser.text_string_to_metric_families(text):
        if fam.name.endswith("_bytes"):
            assert all(s.value == int(s.value) for s in fam.samples), fam.name


def test_rails_voltage_current_and_power_come_from_the_boards_sysfs():
    text = render_metrics(_board_snapshot(AGX_ORIN))
    assert _value(text, "edgebench_rail_voltage_volts", rail="VIN_SYS_5V0") == pytest.approx(4.968)
    assert _value(text, "edgebench_rail_current_amperes", rail="VIN_SYS_5V0") == pytest.approx(0.953)
    assert _value(text, "edgebench_rail_power_watts", rail="VDDQ_VDD2_1V8AO") == pytest.approx(1.8 * 0.341)


def test_clocks_load_and_temperatures_of_the_board():
    text = render_metrics(_board_snapshot(AGX_ORIN))
    assert _value(text, "edgebench_emc_frequency_hertz") == pytest.approx(3199.0e6)
    assert _value(text, "edgebench_gpu_frequency_hertz") == pytest.approx(1300.5e6)
    assert _value(text, "edgebench_cpu_frequency_hertz") == pytest.approx(2201.6e6)
    assert _value(text, "edgebench_gpu_load_ratio") == 0.0
    assert _value(text, "edgebench_temperature_celsius", zone="tj-thermal") == 47.5
    assert _value(text, "edgebench_swap_total_bytes") == 31414 * 1024 * 1024


def test_cpu_load_is_the_busy_share_between_two_readings(tmp_path):
    stat = tmp_path / "proc" / "stat"
    stat.parent.mkdir()
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\n")
    reader = BoardReader(str(tmp_path))
    reader._cpu_load_pct()
    stat.write_text("cpu  130 0 120 850 0 0 0 0 0 0\n")  # 50 busy of 100 jiffies
    assert reader._cpu_load_pct() == 50.0


def test_energy_counter_integrates_board_power_between_readings():
    counters, _ = _counters_after_two_readings()
    text = render_metrics(monitor_snapshots.running_snapshot(), counters)
    fam = _families(text)["edgebench_energy_joules"]
    assert fam.type == "counter"
    assert _value(text, "edgebench_energy_joules_total", source="ina3221") == pytest.approx((9.75 + 12.0) / 2)


def test_energy_counter_skips_a_gap_longer_than_ten_seconds():
    counters = Counters()
    snap = monitor_snapshots.running_snapshot()
    counters.observe(snap, now=0.0)
    counters.observe(snap, now=60.0)
    assert counters.values()[0] == {"ina3221": 0.0}


def test_points_counter_counts_points_done_in_the_job():
    counters, _ = _counters_after_two_readings()
    assert _value(render_metrics(monitor_snapshots.running_snapshot(), counters),
                  "edgebench_points_measured_total") == 1


def test_running_snapshot_exports_progress():
    text = render_metrics(monitor_snapshots.running_snapshot())
    assert _value(text, "edgebench_job_points") == 3 and _value(text, "edgebench_job_points_done") == 2
    assert _value(text, "edgebench_job_progress_ratio") == pytest.approx(2 / 3.0)
    assert _value(text, "edgebench_queue_jobs") == 1 and _value(text, "edgebench_agent_up") == 1


def test_images_per_second_of_the_last_point():
    snap = monitor_snapshots.running_snapshot()
    snap["job"]["last_point"] = monitor_snapshots.ROWS[0]
    text = render_metrics(snap)
    assert _value(text, "edgebench_job_images_per_second") == 46.5 and _value(text, "edgebench_job_batch_size") == 1


def test_idle_agent_has_no_job_gauges():
    snap = monitor_snapshots.running_snapshot()
    snap["job"] = None
    snap["sensors"]["power"] = None
    names = set(_families(render_metrics(snap)))
    assert "edgebench_job_running" in names
    assert not [n for n in names if n.startswith(("edgebench_job_points", "edgebench_power"))]


def test_label_values_are_escaped():
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    snap = monitor_snapshots.running_snapshot()
    snap["sensors"]["power"]["source"] = 'ina3221 "quoted"\nnext'
    assert _value(render_metrics(snap), "edgebench_power_source_info", description='ina3221 "quoted"\nnext') == 1


def test_http_server_serves_metrics_on_loopback():
    server = MetricsServer(monitor_snapshots.running_snapshot, 0, root=AGX_ORIN).start()
    try:
        url = "http://127.0.0.1:{}/metrics".format(server.port)
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read().decode("utf-8")
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert _value(body, "edgebench_board_info", board="agx-orin") == 1
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen("http://127.0.0.1:{}/other".format(server.port), timeout=5)
        assert info.value.code == 404
    finally:
        server.stop()


def test_an_idle_connection_does_not_hold_up_a_scrape_and_is_dropped():
    server = MetricsServer(monitor_snapshots.running_snapshot, 0, idle_timeout_s=0.5).start()
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        with urllib.request.urlopen("http://127.0.0.1:{}/metrics".format(server.port), timeout=10) as resp:
            assert resp.status == 200
        assert idle.recv(1024) == b""  # the server closed it after its idle timeout
    finally:
        idle.close()
        server.stop()


# ---------------------------------------------------------------------------------------------- deploy/
# The dashboard follows Grafana's dashboard JSON model
# (https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/):
# title, uid, schemaVersion, panels with id/type/title/gridPos (a 24-column grid) and targets with refId.

DASHBOARD = ROOT + "/deploy/grafana/edgebench.json"
PANEL_TYPES = ("timeseries", "stat", "gauge", "bargauge", "table", "text", "row")


def _dashboard():
    with open(DASHBOARD, encoding="utf-8") as fh:
        return json.load(fh)


def _full_page_names():
    counters, snap = _counters_after_two_readings()
    board = snap["sensors"]["board"] = _board_snapshot(AGX_ORIN)["sensors"]["board"]
    board["memory"]["nvmap_used_mb"], board["cpu"]["load_pct"] = 512.0, 20.0  # absent from this tree
    snap["job"]["last_point"] = monitor_snapshots.ROWS[0]
    text = render_metrics(snap, counters, {"board": "b", "model": "m", "jetpack": "6", "l4t": "36"})
    return set(s.name for f in parser.text_string_to_metric_families(text) for s in f.samples)


def test_dashboard_has_the_json_models_required_fields():
    dash = _dashboard()
    assert dash["title"] and 8 <= len(dash["uid"]) <= 40 and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        assert p["type"] in PANEL_TYPES and p["title"]
        grid = p["gridPos"]
        assert all(isinstance(grid[k], int) for k in "hwxy") and grid["x"] + grid["w"] <= 24
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)) and all(t["expr"] for t in p["targets"])


def test_dashboard_panels_do_not_overlap():
    cells = set()
    for p in _dashboard()["panels"]:
        g = p["gridPos"]
        mine = set((x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"]))
        assert not cells & mine, p["title"]
        cells |= mine


def test_dashboard_names_only_metrics_that_exist():
    exported = _full_page_names()
    used = set()
    for p in _dashboard()["panels"]:
        for t in p["targets"]:
            used.update(re.findall(r"\bedgebench_[a-z_]+", t["expr"]))
    variables = _dashboard()["templating"]["list"]
    used.update(re.findall(r"\bedgebench_[a-z_]+", json.dumps(variables)))
    assert used and used <= exported, sorted(used - exported)


def test_dashboard_shows_what_the_issue_asks_for():
    exprs = " ".join(t["expr"] for p in _dashboard()["panels"] for t in p["targets"])
    for name in ("edgebench_rail_power_watts", "edgebench_power_net_watts", "edgebench_job_images_per_second",
                 "edgebench_job_progress_ratio", "edgebench_temperature_celsius"):
        assert name in exprs


def test_board_selector_filters_every_query_and_prometheus_sets_the_label_on_every_target():
    dash = _dashboard()
    assert [v["name"] for v in dash["templating"]["list"]] == ["datasource", "board"]
    assert all('board=~"$board"' in t["expr"] for p in dash["panels"] for t in p["targets"])
    with open(ROOT + "/deploy/prometheus.yml", encoding="utf-8") as fh:
        lines = [line.strip() for line in fh if not line.strip().startswith("#")]
    targets = [line for line in lines if line.startswith("- targets:")]
    assert targets and len([line for line in lines if line.startswith("board:")]) == len(targets)
