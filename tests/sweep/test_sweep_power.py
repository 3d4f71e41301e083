"""Power through the sweep: idle before and after, one window per point, SIMULATED said everywhere."""
import csv
import json
import sqlite3

import onnx_models
import pytest
from cli_helpers import edgebench, edgebench_json

FAST = ("--duration", "0.4", "--iterations", "3", "--warmup-ms", "0")
SIM = "sim://?idle_w=1.3&active_w=13.1"
# cpu=tree: the sweep's own workers drive the synthetic power, so how busy the machine is does not
SIM_OWN_LOAD = SIM + "&cpu=tree"


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory):
    """One sweep with simulated power, shared by the tests that only read it."""
    base = tmp_path_factory.mktemp("sim_run")
    out = base / "r"
    doc = edgebench_json("sweep", "--model", onnx_models.conv_net(base / "tiny.onnx"), "--batches", "1,4",
                         "--power", SIM_OWN_LOAD, "--idle-seconds", "0.5", "--json", "--out", out, *FAST,
                         env={"EDGEBENCH_CACHE_DIR": str(base / "cache")})
    return out, doc["measurements"]


def test_every_point_gets_gross_idle_and_net_power(sim_run):
    _, rows = sim_run
    for row in rows:
        assert row["status"] == "ok"
        assert row["gross_power_w"] > row["idle_power_w"] > 0
        assert row["net_power_w"] == pytest.approx(row["gross_power_w"] - row["idle_power_w"])
        assert row["power_samples"] > 10 and row["power_rate_hz"] > 100


def test_net_energy_per_image_is_net_power_times_seconds_per_image(sim_run):
    _, rows = sim_run
    for row in rows:
        expected = row["net_power_w"] / row["images_per_s"]
        assert row["net_energy_per_image_j"] == pytest.approx(expected, rel=0.05)


def test_simulated_power_is_labelled_in_json_csv_and_the_store(sim_run):
    out, rows = sim_run
    assert all(r["simulated"] == 1 and "SIMULATED" in r["power_source"] for r in rows)
    with open(str(out / "results.csv")) as fh:
        assert all("SIMULATED" in r["power_source"] for r in csv.DictReader(fh))
    power = json.loads(sqlite3.connect(str(out / "results.db")).execute("SELECT power_json FROM runs").fetchone()[0])
    assert power["simulated"] is True and power["idle_before"]["idle_power_w"] > 0


def test_simulated_power_is_labelled_in_the_table(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--batches", "1", "--power", SIM, "--idle-seconds", "0.3",
                     "--out", tmp_path / "r", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "SIMULATED" in proc.stdout


def test_without_a_power_source_the_power_columns_are_null(tiny_onnx, cache_dir, tmp_path):
    rows = edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1", "--json", "--out", tmp_path / "r",
                          *FAST)["measurements"]
    assert rows[0]["gross_power_w"] is None and rows[0]["power_source"] is None


def test_unknown_power_scheme_is_refused_before_anything_is_stored(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--power", "scope://bench", "--out", tmp_path / "r", *FAST)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def test_a_board_calibration_adds_calibrated_columns_and_keeps_the_raw_ones(tiny_onnx, cache_dir, tmp_path):
    from edgebench.power.calibration import SCHEMA

    calibration = tmp_path / "board.json"
    calibration.write_text(json.dumps({"schema": SCHEMA, "gain": 1.03, "offset_w": 0.2, "source": SIM_OWN_LOAD,
                                       "reference": "serial:///dev/ttyUSB0?protocol=scpi&dialect=wt310",
                                       "created_utc": "2026-12-01T00:00:00Z", "board_serial": "test"}))
    rows = edgebench_json("sweep", "--model", tiny_onnx, "--batches", "1", "--power", SIM_OWN_LOAD,
                          "--power-calibration", calibration, "--idle-seconds", "0.3", "--json",
                          "--out", tmp_path / "r", *FAST)["measurements"]
    row = rows[0]
    assert row["gross_power_cal_w"] == pytest.approx(1.03 * row["gross_power_w"] + 0.2)
    assert row["net_power_cal_w"] == pytest.approx(1.03 * row["net_power_w"])
    assert "gain 1.0300" in row["power_calibration"] and "wt310" in row["power_calibration"]


def test_an_unreadable_power_calibration_is_refused_before_anything_is_stored(tiny_onnx, cache_dir, tmp_path):
    proc = edgebench("sweep", "--model", tiny_onnx, "--power", SIM, "--power-calibration", tmp_path / "none.json",
                     "--out", tmp_path / "r", *FAST)
    assert proc.returncode == 2 and "--power-calibration" in proc.stderr and not (tmp_path / "r").exists()
