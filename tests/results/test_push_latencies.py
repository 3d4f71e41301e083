"""`edgebench push` copies each ok point's raw samples (the store's ``latencies`` table) into a real PostgreSQL.

The stores are written through the store's own API (``add_point`` + ``add_latencies``, what the sweep
runner calls); the server is the throwaway cluster of tests/pg_server.py.
"""
import pytest
from cli_helpers import edgebench, edgebench_json

from edgebench.results import samples, schema
from edgebench.results.postgres import push_store, read_tables
from edgebench.results.store import ResultStore

psycopg2 = pytest.importorskip("psycopg2")

TIMED = samples.to_float32_ms([0.0012, 0.0011, 0.0013, 0.00125])  # seconds -> float32 ms, as a worker stores
WARMUP = samples.to_float32_ms([0.004, 0.002])


def _point(key, batch, status="ok"):
    return schema.empty_point(point_key=key, model="m", model_source="onnx", backend="onnxruntime",
                              precision="fp32", batch_size=batch, status=status)


def _board_store(path, host="board-a"):
    """A finished run: two ok points with samples, one failed point (no samples, as the runner does)."""
    with ResultStore(str(path)) as store:
        run_id = store.create_run({}, {"host": host})
        for batch in (1, 2):
            key = schema.point_key("m", "onnxruntime", "fp32", batch)
            row_id = store.add_point(run_id, _point(key, batch))
            store.add_latencies(row_id, run_id, key, [v * batch for v in TIMED], WARMUP)
        store.add_point(run_id, _point(schema.point_key("m", "onnxruntime", "fp32", 4), 4, schema.STATUS_OOM))
        store.finish_run(run_id, schema.RUN_COMPLETE)
    return str(path)


def _push(path, url):
    with ResultStore(path, create=False) as store:
        return push_store(store, url)


def _query(url, sql, args=()):
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def _server_samples(url):
    """{point_key: (timed ms, warm-up ms)} decoded from the server with the store's own decoder."""
    tables = read_tables(url, latencies=True)
    return dict((r["point_key"], (samples.decode(r["samples"], r["encoding"]),
                                  samples.decode(r["warmup_samples"], r["encoding"]))) for r in tables.latencies)


def test_a_push_copies_the_samples_of_each_ok_point_only(pg_url, tmp_path):
    result = _push(_board_store(tmp_path / "results.db"), pg_url)
    assert (result.points_added, result.latencies_added, result.latencies_updated) == (3, 2, 0)
    assert sorted(r[0] for r in _query(pg_url, "SELECT point_key FROM latencies")) == [
        "m/onnxruntime/fp32/1", "m/onnxruntime/fp32/2"]


def test_server_samples_decode_to_exactly_the_stores(pg_url, tmp_path):
    path = _board_store(tmp_path / "results.db")
    _push(path, pg_url)
    with ResultStore(path, create=False) as store:
        local = dict((row["point_key"], store.latencies(row["id"])) for row in store.measurements()
                     if store.latencies(row["id"]) is not None)
    assert _server_samples(pg_url) == local


def test_latency_rows_carry_the_servers_measurement_and_run_ids(pg_url, tmp_path):
    _push(_board_store(tmp_path / "a.db", "board-a"), pg_url)
    _push(_board_store(tmp_path / "b.db", "board-b"), pg_url)  # its store ids collide with board-a's
    mismatched = _query(pg_url, "SELECT l.measurement_id FROM latencies l LEFT JOIN measurements m "
                        "ON m.id = l.measurement_id AND m.run_id = l.run_id AND m.point_key = l.point_key "
                        "WHERE m.id IS NULL")
    assert _query(pg_url, "SELECT count(*) FROM latencies") == [(4,)] and mismatched == []


def test_a_second_push_of_an_unchanged_run_writes_no_sample_row(pg_url, tmp_path):
    path = _board_store(tmp_path / "results.db")
    _push(path, pg_url)
    before = _query(pg_url, "SELECT measurement_id, xmin::text FROM latencies ORDER BY 1")
    again = _push(path, pg_url)
    assert (again.runs_unchanged, again.latencies_added, again.latencies_updated) == (1, 0, 0)
    assert _query(pg_url, "SELECT measurement_id, xmin::text FROM latencies ORDER BY 1") == before


def test_samples_measured_again_replace_the_servers(pg_url, tmp_path):
    path = _board_store(tmp_path / "results.db")
    _push(path, pg_url)
    redone = samples.to_float32_ms([0.002, 0.0021, 0.0019])
    with ResultStore(path, create=False) as store:
        row = store.measurements()[0]
        store.add_latencies(row["id"], row["run_id"], row["point_key"], redone, None)
    result = _push(path, pg_url)
    assert (result.runs_updated, result.latencies_added, result.latencies_updated) == (1, 0, 1)
    assert _query(pg_url, "SELECT count(*) FROM latencies") == [(2,)]
    tables = read_tables(pg_url, latencies=True)
    server = [r for r in tables.latencies if r["point_key"] == row["point_key"]][0]
    assert samples.decode(server["samples"]) == redone and server["warmup_samples"] is None


def test_a_database_written_without_the_latencies_table_gains_it_on_the_next_push(pg_url, tmp_path):
    path = _board_store(tmp_path / "results.db")
    _push(path, pg_url)
    _query(pg_url, "DROP TABLE latencies")  # what the previous edgebench's push left: runs and measurements only
    _push(path, pg_url)
    columns = _query(pg_url, "SELECT column_name, data_type FROM information_schema.columns "
                     "WHERE table_name = 'latencies'")
    assert dict(columns) == {"measurement_id": "bigint", "run_id": "bigint", "point_key": "text",
                             "encoding": "text", "count": "bigint", "samples": "bytea",
                             "warmup_count": "bigint", "warmup_samples": "bytea"}


def test_a_run_pushed_before_without_samples_gets_them_on_the_next_push(pg_url, tmp_path):
    path = _board_store(tmp_path / "results.db")
    _push(path, pg_url)
    _query(pg_url, "DELETE FROM latencies")  # the run as a push that carried no samples left it
    result = _push(path, pg_url)
    assert (result.runs_updated, result.points_added, result.latencies_added) == (1, 0, 2)
    assert len(_server_samples(pg_url)) == 2


def test_the_latencies_table_is_unique_on_measurement_id(pg_url, tmp_path):
    _push(_board_store(tmp_path / "results.db"), pg_url)
    with pytest.raises(psycopg2.IntegrityError):
        _query(pg_url, "INSERT INTO latencies SELECT * FROM latencies LIMIT 1")


def test_read_tables_filters_the_samples_by_board(pg_url, tmp_path):
    _push(_board_store(tmp_path / "a.db", "board-a"), pg_url)
    _push(_board_store(tmp_path / "b.db", "board-b"), pg_url)
    tables = read_tables(pg_url + "&board=board-b", latencies=True)
    assert sorted(r["run_id"] for r in tables.latencies) == [tables.runs[0]["id"]] * 2


def test_read_tables_of_a_database_without_the_latencies_table_has_no_samples(pg_url, tmp_path):
    _push(_board_store(tmp_path / "results.db"), pg_url)
    _query(pg_url, "DROP TABLE latencies")
    assert read_tables(pg_url, latencies=True).latencies == []


def test_push_json_counts_the_samples_added_and_replaced(pg_url, tmp_path):
    doc = edgebench_json("push", _board_store(tmp_path / "results.db"), pg_url, "--json")
    assert (doc["latencies_added"], doc["latencies_updated"], doc["points_added"]) == (2, 0, 3)


def test_push_line_says_how_many_points_samples_were_added(pg_url, tmp_path):
    proc = edgebench("push", _board_store(tmp_path / "results.db"), pg_url)
    assert proc.returncode == 0, proc.stderr
    assert "raw samples of 2 point(s) added, 0 replaced" in proc.stdout
