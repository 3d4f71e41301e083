"""The report's JSON, tables and index.html; these need no matplotlib."""

import io
import json
import os
import re
import sys

import pytest

from edgebench.analysis import analyze, synthetic
from edgebench.report import write_report


@pytest.fixture
def results_db(tmp_path, report_points):
    return synthetic.write_results_files(report_points(), str(tmp_path / "results"))["db"]


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Make `import matplotlib` fail, as on a board without the report extra."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_report_without_matplotlib_still_writes_json_tables_and_index(results_db, tmp_path, no_matplotlib):
    out = str(tmp_path / "rep")
    written = write_report(results_db, out)
    assert written["matplotlib"] is False and "pip install 'edgebench[report]'" in written["figures_note"]
    for name in ("summary.json", "tables.txt", "index.html"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    assert not [n for n in os.listdir(out) if n.endswith(".png")]


def test_report_cli_says_how_to_install_matplotlib(results_db, tmp_path, cli, no_matplotlib):
    status, _, err = cli("report", results_db, "--out", tmp_path / "rep")
    assert status == 0 and "pip install 'edgebench[report]'" in err


def test_summary_json_is_the_analyze_output(results_db, tmp_path, no_matplotlib):
    out = str(tmp_path / "rep")
    write_report(results_db, out)
    with io.open(os.path.join(out, "summary.json"), encoding="utf-8") as handle:
        doc = json.load(handle)
    expected = json.loads(json.dumps(analyze(results_db)))
    assert doc == expected


def test_index_html_links_only_files_that_exist(results_db, tmp_path, no_matplotlib):
    out = str(tmp_path / "rep")
    write_report(results_db, out)
    with io.open(os.path.join(out, "index.html"), encoding="utf-8") as handle:
        page = handle.read()
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert links and all(os.path.isfile(os.path.join(out, link)) for link in links)


def test_index_html_shows_the_summary_tables(results_db, tmp_path, no_matplotlib):
    out = str(tmp_path / "rep")
    write_report(results_db, out)
    with io.open(os.path.join(out, "index.html"), encoding="utf-8") as handle:
        page = handle.read()
    assert "<table>" in page and "Information density" in page and "mobilenet_v2" in page


def test_index_html_flags_simulated_power(results_db, tmp_path, no_matplotlib):
    out = str(tmp_path / "rep")
    write_report(results_db, out)
    with io.open(os.path.join(out, "index.html"), encoding="utf-8") as handle:
        assert "SIMULATED" in handle.read()


def test_report_of_only_failed_points_exits_2(tmp_path, cli):
    path = synthetic.write_results_files([synthetic.failed_point("m", 1)], str(tmp_path / "r"))["db"]
    status, _, err = cli("report", path, "--out", tmp_path / "rep")
    assert status == 2 and "failed" in err and not os.path.exists(str(tmp_path / "rep"))


def test_report_accepts_rows_in_memory(tmp_path, report_points, no_matplotlib):
    written = write_report(report_points(), str(tmp_path / "rep"))
    assert "summary.json" in written["files"]
