import csv

from cli_helpers import edgebench, edgebench_json

from edgebench.results import schema
from edgebench.results.store import ResultStore


def _store_with_two_runs(tmp_path):
    path = str(tmp_path / "results.db")
    with ResultStore(path) as store:
        for model in ("a", "b"):
            run_id = store.create_run({}, {})
            store.add_point(run_id, schema.empty_point(
                point_key="{}/onnxruntime/fp32/1".format(model), model=model, model_source="onnx",
                backend="onnxruntime", precision="fp32", batch_size=1, status="ok"))
    return path


def test_export_writes_every_run_of_a_store(tmp_path):
    _store_with_two_runs(tmp_path)
    doc = edgebench_json("export", str(tmp_path), "--out", str(tmp_path / "all"), "--json")
    assert (doc["runs"], doc["measurements"]) == (2, 2)
    with open(str(tmp_path / "all" / "results.csv")) as fh:
        assert [r["model"] for r in csv.DictReader(fh)] == ["a", "b"]


def test_export_of_something_that_is_not_a_store_is_bad_input(tmp_path):
    proc = edgebench("export", str(tmp_path / "nothing"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "not a results store" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
