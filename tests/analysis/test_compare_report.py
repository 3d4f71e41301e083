"""`report` on results from several boards writes the "boards" page: side by side, never fitted together."""
import json
import os

import pytest
from cli_helpers import edgebench, edgebench_json
from fleet_stores import pushed_fleet

pytest.importorskip("psycopg2")


@pytest.fixture(scope="module")
def fleet_url(tmp_path_factory, pg_server):
    return pushed_fleet(tmp_path_factory, pg_server)[1]


@pytest.mark.slow
def test_report_of_a_fleet_shows_both_boards_on_the_boards_page(fleet_url, tmp_path):
    out = tmp_path / "rep"
    proc = edgebench("report", fleet_url, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "2 boards side by side" in proc.stdout
    page = (out / "index.html").read_text()
    assert "agx-orin" in page and "jetson-nano" in page and "boards side by side" in page
    doc = json.loads((out / "boards.json").read_text())
    assert doc["boards"] == ["agx-orin", "jetson-nano"]


@pytest.mark.slow
def test_the_boards_page_has_an_energy_vs_latency_figure_per_network(fleet_url, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rep"
    written = edgebench_json("report", fleet_url, "--out", out, "--json")
    assert [f["file"] for f in written["figures"]] == ["boards_tiny_fp32.png"]
    with open(os.path.join(str(out), "boards_tiny_fp32.png"), "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_one_board_of_the_fleet_gets_the_full_report(fleet_url, tmp_path):
    out = tmp_path / "one"
    proc = edgebench("report", fleet_url + "&board=agx-orin", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.json").exists() and not (out / "boards.json").exists()
