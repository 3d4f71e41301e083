"""Prometheus text exposition from a status snapshot, served over http.server."""
import re
import urllib.request

import monitor_snapshots
import pytest

from edgebench.agent.metrics import MetricsServer, escape_label, render_metrics

LINE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? -?[0-9.e+-]+(inf|nan)?$', re.I)


def _samples(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        assert LINE.match(line), line
        name_labels, value = line.rsplit(" ", 1)
        out[name_labels] = float(value)
    return out


def test_running_snapshot_exports_power_progress_and_rate():
    text = render_metrics(monitor_snapshots.running_snapshot())
    samples = _samples(text)
    assert samples["edgebench_agent_up"] == 1
    assert samples["edgebench_job_points_total"] == 3 and samples["edgebench_job_points_done"] == 2
    assert abs(samples["edgebench_job_progress_ratio"] - 2 / 3.0) < 1e-9
    assert samples['edgebench_power_rail_watts{rail="VDD_IN",source="ina3221 (auto: ina3221)"}'] == 9.75
    assert samples['edgebench_power_net_watts{source="ina3221 (auto: ina3221)"}'] == 6.5
    assert samples['edgebench_temperature_celsius{zone="CPU-therm"}'] == 47.5
    assert 'edgebench_temperature_celsius{zone="AO-therm"}' not in samples  # offline zone: no sample
    assert samples["edgebench_memory_used_bytes"] == 3120.0 * 1024 * 1024
    assert samples["edgebench_queue_jobs"] == 1
    for name in ("edgebench_power_board_watts", "edgebench_job_progress_ratio"):
        assert "# TYPE {} gauge".format(name) in text and "# HELP {} ".format(name) in text


def test_images_per_second_of_the_last_point():
    snap = monitor_snapshots.running_snapshot()
    snap["job"]["last_point"] = monitor_snapshots.ROWS[0]
    samples = _samples(render_metrics(snap))
    assert samples['edgebench_point_images_per_second{point="resnet18/onnxruntime/fp32/1"}'] == 46.5


def test_idle_agent_has_no_job_gauges():
    snap = monitor_snapshots.running_snapshot()
    snap["job"] = None
    snap["sensors"]["power"] = None
    samples = _samples(render_metrics(snap))
    assert samples["edgebench_job_running"] == 0
    assert not [k for k in samples if k.startswith(("edgebench_job_points", "edgebench_power"))]


def test_label_values_are_escaped():
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    snap = monitor_snapshots.running_snapshot()
    snap["sensors"]["power"]["source"] = 'serial:///dev/ttyACM0?protocol="x"'
    assert 'source="serial:///dev/ttyACM0?protocol=\\"x\\""' in render_metrics(snap)


def test_http_server_serves_metrics_on_loopback():
    server = MetricsServer(monitor_snapshots.running_snapshot, 0).start()
    try:
        url = "http://127.0.0.1:{}/metrics".format(server.port)
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read().decode("utf-8")
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "edgebench_agent_up 1.0" in body
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen("http://127.0.0.1:{}/other".format(server.port), timeout=5)
        assert info.value.code == 404
    finally:
        server.stop()
