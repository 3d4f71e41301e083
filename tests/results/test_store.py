import sqlite3

import pytest

from edgebench.errors import StoreError
from edgebench.results import schema
from edgebench.results.store import ResultStore


def _row(**kw):
    base = dict(point_key="m/onnxruntime/fp32/1", model="m", model_source="onnx", backend="onnxruntime",
                precision="fp32", batch_size=1, status="ok", per_image_ms=1.5)
    base.update(kw)
    return schema.empty_point(**base)


def test_point_is_visible_to_another_connection_at_once(tmp_path):
    path = str(tmp_path / "results.db")
    store = ResultStore(path)
    run_id = store.create_run({"models": ["m"]}, {"host": "h"})
    store.add_point(run_id, _row())
    other = sqlite3.connect(path)
    assert other.execute("SELECT count(*) FROM measurements").fetchone()[0] == 1


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "results.db"
    path.write_bytes(b"my precious notes\n")
    with pytest.raises(StoreError) as info:
        ResultStore(str(path))
    assert "not an edgebench results store" in str(info.value)
    assert path.read_bytes() == b"my precious notes\n"


def test_another_applications_sqlite_file_is_refused(tmp_path):
    path = str(tmp_path / "results.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError):
        ResultStore(path)
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall() == [("songs",)]


def test_a_store_from_a_newer_edgebench_is_refused(tmp_path):
    path = str(tmp_path / "results.db")
    ResultStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as info:
        ResultStore(path)
    assert "newer edgebench" in str(info.value)


def test_reopening_appends_a_second_run(tmp_path):
    path = str(tmp_path / "results.db")
    with ResultStore(path) as store:
        store.add_point(store.create_run({}, {}), _row())
    with ResultStore(path) as store:
        run2 = store.create_run({}, {})
        store.add_point(run2, _row())
        assert [r["id"] for r in store.runs()] == [1, 2] and len(store.measurements()) == 2


def test_point_keys_of_a_run_list_what_is_already_measured(tmp_path):
    store = ResultStore(str(tmp_path / "results.db"))
    run_id = store.create_run({}, {})
    store.add_point(run_id, _row())
    assert store.point_keys(run_id) == {"m/onnxruntime/fp32/1"}


def test_unknown_column_is_refused_before_writing(tmp_path):
    store = ResultStore(str(tmp_path / "results.db"))
    run_id = store.create_run({}, {})
    with pytest.raises(StoreError):
        store.add_point(run_id, dict(_row(), bogus=1))
    assert store.measurements() == []


def test_finished_run_records_status_and_note(tmp_path):
    store = ResultStore(str(tmp_path / "results.db"))
    run_id = store.create_run({}, {})
    store.finish_run(run_id, schema.RUN_INTERRUPTED, "Ctrl-C")
    run = store.run(run_id)
    assert run["status"] == "interrupted" and run["note"] == "Ctrl-C" and run["finished_at"]


def test_a_store_missing_newer_nullable_columns_gains_them_on_open(tmp_path):
    path = str(tmp_path / "results.db")
    ResultStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE m2 AS SELECT id, run_id, point_key, model, model_source, backend, precision, "
                 "batch_size, status FROM measurements")
    conn.execute("DROP TABLE measurements")
    conn.execute("ALTER TABLE m2 RENAME TO measurements")
    conn.commit()
    conn.close()
    store = ResultStore(path)
    store.add_point(store.create_run({}, {}), _row(per_image_ms=2.0))
    assert store.measurements()[0]["per_image_ms"] == 2.0


# ---------------------------------------------------------------------- store errors are user errors (issue 13)

def test_a_foreign_sqlite_file_with_our_table_names_is_refused_unaltered(tmp_path):
    path = tmp_path / "results.db"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, title TEXT)")
    conn.execute("CREATE TABLE measurements (id INTEGER PRIMARY KEY, value REAL)")
    conn.execute("PRAGMA user_version = {:d}".format(schema.SCHEMA_VERSION))
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        ResultStore(str(path))
    assert "not an edgebench results store" in str(info.value) and "measurements, runs" in str(info.value)
    assert path.read_bytes() == before


def _damage(path):
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data)):  # every page but the header page
        data[i] = (data[i] * 7 + 13) & 0xFF
    path.write_bytes(bytes(data))


def test_a_store_with_malformed_pages_is_one_store_error_naming_it(tmp_path):
    path = tmp_path / "results.db"
    store = ResultStore(str(path))
    store.add_point(store.create_run({}, {}), _row())
    store.close()
    _damage(path)
    with pytest.raises(StoreError) as info:
        with ResultStore(str(path)) as again:
            again.runs()
    assert "is damaged" in str(info.value) and str(path) in str(info.value)


def test_an_sqlite_error_while_writing_becomes_a_store_error(tmp_path):
    path = str(tmp_path / "results.db")
    store = ResultStore(path)
    store.conn.execute("PRAGMA query_only = 1")  # SQLite refuses every write: "attempt to write a readonly database"
    with pytest.raises(StoreError) as info:
        store.create_run({}, {})
    assert "cannot write results store {}".format(path) in str(info.value)


@pytest.mark.parametrize("text, kind, words", [
    ("database or disk is full", "DiskFullError", "disk full writing results store"),
    ("attempt to write a readonly database", "StoreError", "choose a writable --out"),
    ("database is locked", "StoreError", "locked by another process"),
])
def test_sqlite_error_texts_map_to_one_line_with_the_remedy(text, kind, words):
    from edgebench.results.store import store_error

    err = store_error("/x/results.db", sqlite3.OperationalError(text))
    assert type(err).__name__ == kind and words in str(err) and "/x/results.db" in str(err)
