import csv
import json
import os

from edgebench.results import schema
from edgebench.results.export import export_run, export_store
from edgebench.results.store import ResultStore


def _row(**kw):
    base = dict(point_key="m/onnxruntime/fp32/1", model="m", model_source="onnx", backend="onnxruntime",
                precision="fp32", batch_size=1, status="ok", per_image_ms=1.5)
    base.update(kw)
    return schema.empty_point(**base)


def _store_with_one_point(tmp_path, **kw):
    store = ResultStore(str(tmp_path / "results.db"))
    run_id = store.create_run({}, {})
    store.add_point(run_id, _row(**kw))
    return store, run_id


def test_csv_header_equals_the_database_columns(tmp_path):
    store, run_id = _store_with_one_point(tmp_path)
    export_run(store, str(tmp_path), run_id)
    db_cols = [r[1] for r in store.conn.execute("PRAGMA table_info(measurements)")]
    with open(str(tmp_path / "results.csv")) as fh:
        assert next(csv.reader(fh)) == db_cols


def test_json_export_has_the_same_rows_and_nulls(tmp_path):
    store, run_id = _store_with_one_point(tmp_path, latency_cv=float("nan"))
    export_run(store, str(tmp_path), run_id)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["schema_version"] == schema.SCHEMA_VERSION
    assert doc["measurements"][0]["latency_cv"] is None
    assert set(doc["measurements"][0]) == set(schema.MEASUREMENT_COLUMN_NAMES)


def test_exports_are_readable_by_other_users(tmp_path):
    store, run_id = _store_with_one_point(tmp_path)
    export_run(store, str(tmp_path), run_id)
    for name in ("results.csv", "results.json"):
        assert os.stat(str(tmp_path / name)).st_mode & 0o777 == 0o644


def _two_runs(tmp_path):
    store = ResultStore(str(tmp_path / "results.db"))
    first = store.create_run({}, {})
    store.add_point(first, _row(model="a", point_key="a/onnxruntime/fp32/1"))
    second = store.create_run({}, {})
    store.add_point(second, _row(model="b", point_key="b/onnxruntime/fp32/1"))
    return store, first, second


def test_a_run_export_holds_only_that_run(tmp_path):
    store, _first, second = _two_runs(tmp_path)
    export_run(store, str(tmp_path), second)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [r["id"] for r in doc["runs"]] == [second]
    assert [m["model"] for m in doc["measurements"]] == ["b"]


def test_a_run_export_carries_only_the_accuracy_of_its_models(tmp_path):
    store, _first, second = _two_runs(tmp_path)
    for model in ("a", "b"):
        store.add_accuracy({"model": model, "backend": "onnxruntime", "precision": "fp32", "top1": 50.0,
                            "data_fingerprint": "digits:test", "samples": 10})
    export_run(store, str(tmp_path), second)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [a["model"] for a in doc["accuracy"]] == ["b"]


def test_a_store_export_holds_every_run(tmp_path):
    store, first, second = _two_runs(tmp_path)
    export_store(store, str(tmp_path))
    with open(str(tmp_path / "results.csv")) as fh:
        assert [r["model"] for r in csv.DictReader(fh)] == ["a", "b"]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [r["id"] for r in doc["runs"]] == [first, second]


def test_an_export_that_cannot_be_written_is_one_store_error_naming_it(tmp_path):
    import pytest

    from edgebench.errors import StoreError

    with ResultStore(str(tmp_path / "results.db")) as store:
        with pytest.raises(StoreError) as info:
            export_store(store, str(tmp_path / "missing" / "dir"))
    assert "export {}".format(tmp_path / "missing" / "dir" / "results.csv") in str(info.value)
