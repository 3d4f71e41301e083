"""Every reader accepts the postgresql:// URL `edgebench push` wrote to, as it accepts a results.db."""
import csv
import os

import pytest
from cli_helpers import edgebench, edgebench_json
from fleet_stores import BOARDS, pushed_fleet

pytest.importorskip("psycopg2")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, pg_server):
    """Two fake boards' stores pushed into one fresh database: (stores by board, URL)."""
    return pushed_fleet(tmp_path_factory, pg_server)


def _filtered(url, query):
    return url + "&" + query  # the test URLs already carry ?host=


@pytest.mark.slow
def test_analyze_reads_postgres_like_the_db(fleet):
    stores, url = fleet
    from edgebench.analysis import load_results

    remote = load_results(url)
    local = [load_results(stores[b]) for b in BOARDS]
    assert remote.format == "postgresql" and len(remote.runs) == 2
    key = lambda r: (r["env_key"], r["point_key"])  # noqa: E731
    assert sorted(map(key, remote.measurements)) == sorted(key(r) for lr in local for r in lr.measurements)



@pytest.mark.slow
def test_analyze_json_counts_both_boards_environments(fleet):
    _, url = fleet
    doc = edgebench_json("analyze", url, "--json", "--force")
    assert doc["source"]["format"] == "postgresql" and doc["source"]["runs"] == 2
    assert doc["points"]["ok"] == 4 and len(doc["environment"]["env_keys"]) == 2


@pytest.mark.slow
def test_analyze_refuses_to_fit_across_the_boards_without_force(fleet):
    _, url = fleet
    proc = edgebench("analyze", url)
    assert proc.returncode == 2 and "environment" in proc.stderr


@pytest.mark.slow
def test_board_filter_keeps_only_that_boards_runs(fleet):
    _, url = fleet
    from edgebench.analysis import load_results

    only = load_results(_filtered(url, "board=jetson-nano"))
    assert len(only.runs) == 1 and only.runs[0]["environment"]["host"] == "jetson-nano"
    assert len(only.measurements) == 2


@pytest.mark.slow
def test_since_in_the_future_reads_no_runs(fleet, tmp_path):
    _, url = fleet
    doc = edgebench_json("export", _filtered(url, "since=2999-01-01"), "--out", tmp_path / "x", "--json")
    assert (doc["runs"], doc["measurements"]) == (0, 0)


@pytest.mark.slow
def test_export_of_postgres_writes_the_schema_columns(fleet, tmp_path):
    _, url = fleet
    doc = edgebench_json("export", url, "--out", tmp_path / "x", "--json")
    assert doc["measurements"] == 4 and "***" in doc["store"]
    with open(doc["files"][0]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and rows[0]["point_key"].startswith("tiny/")


@pytest.mark.slow
def test_report_of_postgres_writes_its_page(fleet, tmp_path):
    _, url = fleet
    proc = edgebench("report", url, "--out", tmp_path / "rep", "--force")
    assert proc.returncode == 0, proc.stderr
    assert os.path.isfile(str(tmp_path / "rep" / "index.html"))


@pytest.mark.slow
def test_budget_reads_postgres(fleet, pg_server):
    import psycopg2

    _, url = fleet
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:  # a reference accuracy, as a zoo model would carry
        cur.execute("UPDATE measurements SET top1 = 70.0")
    conn.close()
    doc = edgebench_json("budget", url + "&board=agx-orin", "--latency-ms", "1000", "--json")
    assert doc["best"]["model"] == "tiny"


def test_bad_since_is_one_line_exit_2(pg_url):
    proc = edgebench("analyze", _filtered(pg_url, "since=yesterday"))
    assert proc.returncode == 2 and "is not a date" in proc.stderr and "Traceback" not in proc.stderr


def test_an_empty_database_says_push_first(pg_url):
    proc = edgebench("analyze", pg_url)
    assert proc.returncode == 2 and "edgebench push" in proc.stderr
    assert "s3cret" not in proc.stderr


def test_an_unreachable_server_is_one_line_exit_1_for_a_reader(tmp_path):
    proc = edgebench("analyze", "postgresql://eb:pw-xyz@/fleet?host={}&connect_timeout=2".format(tmp_path))
    assert proc.returncode == 1 and proc.stderr.startswith("edgebench: error: cannot connect to")
    assert "push again" not in proc.stderr and "pw-xyz" not in proc.stderr and "Traceback" not in proc.stderr
