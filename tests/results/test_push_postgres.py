"""`edgebench push` into a real PostgreSQL (a throwaway cluster, tests/pg_server.py)."""
import json
import sqlite3

import pytest
from cli_helpers import edgebench, edgebench_json
from fleet_stores import BOARDS, copy_store, two_boards
from pg_server import PASSWORD

from edgebench.results import samples, schema
from edgebench.results.postgres import push_store, read_tables, redact
from edgebench.results.store import ResultStore

psycopg2 = pytest.importorskip("psycopg2")


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    return two_boards(tmp_path_factory)


def _count(url, sql, args=()):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def _store_points(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT r.run_uuid, m.point_key FROM measurements m JOIN runs r ON r.id = m.run_id"
                            ).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_two_boards_pushed_twice_give_each_point_once(boards, pg_url):
    for _ in range(2):
        for board in BOARDS:
            edgebench_json("push", boards[board], pg_url, "--json")
    rows = _count(pg_url, "SELECT r.run_uuid, m.point_key FROM measurements m JOIN runs r ON r.id = m.run_id")
    expected = _store_points(boards[BOARDS[0]]) + _store_points(boards[BOARDS[1]])
    assert sorted(rows) == sorted(expected) and len(rows) == 4


@pytest.mark.slow
def test_second_push_reports_nothing_new(boards, pg_url):
    first = edgebench_json("push", boards["agx_orin_jp6"], pg_url, "--json")
    second = edgebench_json("push", boards["agx_orin_jp6"], pg_url, "--json")
    assert (first["runs_new"], first["points_added"]) == (1, 2)
    assert (second["runs_new"], second["runs_updated"], second["runs_unchanged"], second["points_added"],
            second["points_updated"]) == (0, 0, 1, 0, 0)


@pytest.mark.slow
def test_pushed_run_keeps_the_sqlite_column_values(boards, pg_url):
    edgebench_json("push", boards["nano_jp46"], pg_url, "--json")
    with ResultStore(boards["nano_jp46"], create=False) as store:
        local = store.measurements()
        run = store.runs()[0]
    conn = psycopg2.connect(pg_url)
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM measurements ORDER BY batch_size")
        names = [d[0] for d in cur.description]
        remote = [dict(zip(names, r)) for r in cur.fetchall()]
        cur.execute("SELECT environment_json, plan_json, power_json, store_run_id FROM runs")
        env, plan, power, store_run_id = cur.fetchone()
    conn.close()
    assert set(schema.MEASUREMENT_COLUMN_NAMES) <= set(names)
    for mine, theirs in zip(sorted(local, key=lambda r: r["batch_size"]), remote):
        for column in schema.POINT_FIELDS:
            assert theirs[column] == mine[column], column
    assert json.loads(env) == json.loads(run["environment_json"]) and json.loads(plan) == json.loads(run["plan_json"])
    assert json.loads(power) == json.loads(run["power_json"]) and store_run_id == run["id"]


@pytest.mark.slow
def test_swept_samples_on_the_server_reproduce_its_median_and_p99_exactly(boards, pg_url):
    edgebench_json("push", boards["nano_jp46"], pg_url, "--json")
    tables = read_tables(pg_url, latencies=True)
    points = dict((r["id"], r) for r in tables.measurements)
    assert len(tables.latencies) == len(points) == 2
    for row in tables.latencies:
        point = points[row["measurement_id"]]
        again = samples.stats_from_samples(samples.decode(row["samples"], row["encoding"]), point["batch_size"],
                                           point["duration_s"])
        assert (again["latency_median_ms"], again["latency_p99_ms"]) == (point["latency_median_ms"],
                                                                         point["latency_p99_ms"])


@pytest.mark.slow
def test_a_resumed_run_updates_its_row_and_adds_only_the_new_point(boards, pg_url, tmp_path):
    path = copy_store(boards["agx_orin_jp6"], tmp_path)
    edgebench_json("push", path, pg_url, "--json")
    with ResultStore(path, create=False) as store:
        run = store.runs()[0]
        row = dict(store.measurements(run["id"])[0])
        row.update(point_key="tiny/onnxruntime/fp32/4", batch_size=4)
        store.reopen_run(run["id"])
        store.add_point(run["id"], dict((k, row[k]) for k in schema.POINT_FIELDS))
        store.finish_run(run["id"], schema.RUN_COMPLETE, note="resumed")
    doc = edgebench_json("push", path, pg_url, "--json")
    assert (doc["runs_updated"], doc["points_added"], doc["points_updated"]) == (1, 1, 0)
    assert _count(pg_url, "SELECT count(*), min(runs.note) FROM runs JOIN measurements m ON m.run_id = runs.id"
                  ) == [(3, "resumed")]


def test_a_running_run_is_not_pushed(pg_url, tmp_path):
    with ResultStore(str(tmp_path / "results.db")) as store:
        store.create_run({"models": ["m"]}, {"host": "h"})
        result = push_store(store, pg_url)
    assert (result.runs_skipped, result.runs_new) == (1, 0)


def test_unreachable_server_exits_1_saying_nothing_was_lost_without_the_password(tmp_path):
    with ResultStore(str(tmp_path / "results.db")) as store:
        store.finish_run(store.create_run({}, {"host": "h"}), schema.RUN_COMPLETE)
    url = "postgresql://eb:{}@/edgebench?host={}&connect_timeout=3".format(PASSWORD, tmp_path / "nosuchdir")
    proc = edgebench("push", str(tmp_path / "results.db"), url)
    assert proc.returncode == 1
    assert "nothing was lost" in proc.stderr and "Traceback" not in proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout


def test_wrong_password_is_refused_without_echoing_it(pg_server, tmp_path):
    with ResultStore(str(tmp_path / "results.db")) as store:
        store.finish_run(store.create_run({}, {"host": "h"}), schema.RUN_COMPLETE)
    url = pg_server.url().replace(PASSWORD, "wrong-Guess-42")
    proc = edgebench("push", str(tmp_path / "results.db"), url)
    assert proc.returncode == 1 and "password authentication failed" in proc.stderr
    assert "wrong-Guess-42" not in proc.stderr


def test_password_from_pgpassfile(pg_server, tmp_path):
    with ResultStore(str(tmp_path / "results.db")) as store:
        store.finish_run(store.create_run({}, {"host": "h"}), schema.RUN_COMPLETE)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("*:*:*:eb:{}\n".format(PASSWORD))
    pgpass.chmod(0o600)
    url = pg_server.url(password=False)
    doc = edgebench_json("push", str(tmp_path / "results.db"), url, "--json", env={"PGPASSFILE": str(pgpass)})
    assert doc["runs_new"] == 1


def test_redact_hides_the_password_only():
    assert redact("postgresql://eb:pw@db.lab:5432/fleet?sslmode=require") == \
        "postgresql://eb:***@db.lab:5432/fleet?sslmode=require"
    assert redact("postgresql://eb@db.lab/fleet") == "postgresql://eb@db.lab/fleet"


def test_not_a_postgres_url_is_exit_2(tmp_path):
    with ResultStore(str(tmp_path / "results.db")):
        pass
    proc = edgebench("push", str(tmp_path / "results.db"), "mysql://x/y")
    assert proc.returncode == 2 and "not a PostgreSQL URL" in proc.stderr
