"""CSV and JSON exports of a results store, read through :class:`edgebench.results.store.ResultStore`.

A sweep (and an agent job) exports only its own run: ``results.csv`` and ``results.json`` next to
the database describe the run that just finished, so the export costs what the run costs however
many rows the store already holds (an SD card on a Jetson is written once per point, not once per
stored row). ``edgebench export RESULTS --out DIR`` writes the whole store.

Both files are written to a temporary file and renamed, so an interrupted export leaves the
previous file intact. ``results.csv`` has exactly the measurement columns of the schema, in order;
``results.json`` is ``{"schema_version", "edgebench_version", "runs", "measurements", "accuracy"}``.
"""
import csv
import json
import os

from edgebench import __version__
from edgebench._files import atomic_write
from edgebench.results import schema
from edgebench.results.store import store_error

CSV_NAME = "results.csv"
JSON_NAME = "results.json"


def json_safe(value):
    """``value`` with NaN and infinities replaced by None (JSON has neither)."""
    if isinstance(value, dict):
        return dict((k, json_safe(v)) for k, v in value.items())
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


def write_csv(path, rows):
    """Measurement rows as CSV with the schema's columns in order; NULL is an empty field."""
    names = schema.MEASUREMENT_COLUMN_NAMES

    def write(fh):
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if row.get(n) is None else row.get(n) for n in names])

    _write(path, write, newline="")


def write_json(path, schema_version, runs, measurements, accuracy):
    doc = {
        "schema_version": schema_version,
        "edgebench_version": __version__,
        "runs": runs,
        "measurements": measurements,
        "accuracy": accuracy,
    }
    _write(path, lambda fh: json.dump(json_safe(doc), fh, indent=1, allow_nan=False))


def _write(path, write, **open_kwargs):
    """Write an export atomically; an OS error (full disk, read-only) is one StoreError naming it."""
    try:
        atomic_write(path, write, mode="w", encoding="utf-8", **open_kwargs)
    except OSError as exc:
        raise store_error(path, exc, what="export")


def export_run(store, directory, run_id):
    """Write ``results.csv`` and ``results.json`` of one run (and the accuracy rows of its models)."""
    run = store.run(run_id)
    rows = store.measurements(run_id)
    models = set(r["model"] for r in rows)
    accuracy = [a for a in store.accuracy() if a.get("model") in models]
    write_csv(os.path.join(directory, CSV_NAME), rows)
    write_json(os.path.join(directory, JSON_NAME), store.schema_version, [run] if run else [], rows, accuracy)


def export_store(store, directory):
    """Write ``results.csv`` and ``results.json`` of every run in the store."""
    rows = store.measurements()
    write_csv(os.path.join(directory, CSV_NAME), rows)
    write_json(os.path.join(directory, JSON_NAME), store.schema_version, store.runs(), rows, store.accuracy())
