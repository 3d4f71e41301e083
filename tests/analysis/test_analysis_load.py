import io
import json
import os
import sqlite3

import pytest

from edgebench.analysis import load_results, synthetic
from edgebench.errors import UsageError
from edgebench.results.schema import MEASUREMENT_COLUMN_NAMES, SCHEMA_VERSION


def _points():
    points = synthetic.four_network_points()
    points.append(synthetic.failed_point("bignet", 64, family="big", params=140000000, top1=80.0))
    return points


def test_three_formats_load_identically(tmp_path):
    paths = synthetic.write_results_files(_points(), str(tmp_path))
    loaded = [load_results(paths[k]).measurements for k in ("db", "csv", "json")]
    assert loaded[0] == loaded[1] == loaded[2]


def test_loaded_values_have_the_schema_types(tmp_path):
    paths = synthetic.write_results_files(_points(), str(tmp_path))
    row = load_results(paths["csv"]).measurements[0]
    assert isinstance(row["batch_size"], int) and isinstance(row["per_image_ms"], float)
    assert isinstance(row["params"], int) and row["error"] is None


def test_directory_loads_its_results_db(tmp_path):
    synthetic.write_results_files(_points(), str(tmp_path))
    assert load_results(str(tmp_path)).format == "sqlite"


def test_runs_environment_is_parsed(tmp_path):
    synthetic.write_results_files(_points(), str(tmp_path))
    run = load_results(str(tmp_path / "results.json")).runs[0]
    assert run["environment"]["host"] == "synthetic"


def test_newer_sqlite_schema_is_refused_with_upgrade_advice(tmp_path):
    paths = synthetic.write_results_files(
        _points(), str(tmp_path), schema_version=SCHEMA_VERSION + 1, formats=("db",)
    )
    with pytest.raises(UsageError, match="upgrade edgebench"):
        load_results(paths["db"])


def test_newer_json_schema_is_refused_with_upgrade_advice(tmp_path):
    paths = synthetic.write_results_files(
        _points(), str(tmp_path), schema_version=SCHEMA_VERSION + 1, formats=("json",)
    )
    with pytest.raises(UsageError, match="schema version {}".format(SCHEMA_VERSION + 1)):
        load_results(paths["json"])


def test_older_sqlite_schema_loads_with_missing_columns_as_null(tmp_path):
    path = str(tmp_path / "results.db")
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE measurements (id INTEGER, run_id INTEGER, model TEXT, backend TEXT, "
        "precision TEXT, batch_size INTEGER, status TEXT, per_image_ms REAL)"
    )
    conn.execute("INSERT INTO measurements VALUES (1, 1, 'm', 'onnxruntime', 'fp32', 4, 'ok', 2.5)")
    conn.commit()
    conn.close()
    results = load_results(path)
    assert results.measurements[0]["per_image_ms"] == 2.5 and results.measurements[0]["net_power_w"] is None
    assert any("older schema version 0" in w and "net_power_w" in w for w in results.warnings)


def test_file_without_identity_columns_is_explained(tmp_path):
    path = str(tmp_path / "results.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE measurements (id INTEGER, latency REAL)")
    conn.commit()
    conn.close()
    with pytest.raises(UsageError, match="no model, backend, precision, batch_size, status column"):
        load_results(path)


def test_nan_power_cells_become_missing_with_a_warning(tmp_path):
    paths = synthetic.write_results_files(_points(), str(tmp_path), formats=("csv",))
    with io.open(paths["csv"], encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("net_power_w")] = "nan"
    lines[1] = ",".join(cells)
    with io.open(paths["csv"], "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    results = load_results(paths["csv"])
    assert results.measurements[0]["net_power_w"] is None
    assert any("NaN" in w and "net_power_w" in w for w in results.warnings)


def test_csv_with_more_columns_than_this_schema_is_refused(tmp_path):
    path = str(tmp_path / "results.csv")
    with io.open(path, "w", encoding="utf-8") as handle:
        handle.write(",".join(MEASUREMENT_COLUMN_NAMES + ("future_column",)) + "\n")
    with pytest.raises(UsageError, match="newer edgebench"):
        load_results(path)


def test_json_that_is_not_an_export_is_explained(tmp_path):
    path = str(tmp_path / "results.json")
    with io.open(path, "w", encoding="utf-8") as handle:
        json.dump({"hello": 1}, handle)
    with pytest.raises(UsageError, match="not an edgebench results export"):
        load_results(path)


def test_missing_file_says_what_to_pass(tmp_path):
    with pytest.raises(UsageError, match="pass results.db, results.csv, results.json"):
        load_results(str(tmp_path / "nope.db"))


def test_sqlite_file_is_not_modified_by_loading(tmp_path):
    paths = synthetic.write_results_files(_points(), str(tmp_path), formats=("db",))
    before = os.path.getmtime(paths["db"]), os.path.getsize(paths["db"])
    load_results(paths["db"])
    assert (os.path.getmtime(paths["db"]), os.path.getsize(paths["db"])) == before


def test_files_written_by_the_store_load_identically(tmp_path):
    from edgebench.results.export import export_run
    from edgebench.results.store import ResultStore

    with ResultStore(str(tmp_path / "results.db")) as store:
        run_id = store.create_run({"models": ["tinynet"]}, {"host": "test", "board": None})
        for point in _points():
            store.add_point(run_id, point)
        store.finish_run(run_id, "complete")
        export_run(store, str(tmp_path), run_id)
    loaded = [load_results(str(tmp_path / name)) for name in ("results.db", "results.csv", "results.json")]
    assert loaded[0].measurements == loaded[1].measurements == loaded[2].measurements
    assert (
        len(loaded[0].measurements) == len(_points()) and loaded[0].runs[0]["environment"]["host"] == "test"
    )
