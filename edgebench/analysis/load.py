"""Load a results file (SQLite store, CSV export or JSON export) into typed rows.

All three formats load into the same :class:`Results`: every measurement is a dict with every
column of ``MEASUREMENT_COLUMN_NAMES``, typed by the schema's SQL type (INTEGER -> int,
REAL -> float, TEXT -> str) and NULL as ``None``. An empty string, NaN or an infinity is NULL too
(the schema stores NULL, never 0 or NaN); each such repair is reported in ``Results.warnings``.

Only the standard library is used (sqlite3, csv, json), so this runs on the boards' Python 3.6.

Schema versions: a file newer than this edgebench is refused with a message saying to upgrade.
A file older than ``SCHEMA_VERSION`` is read by column name: columns it lacks are NULL and the
warnings name them; a file that lacks an identity column (model, backend, precision, batch size or
status) cannot be analysed and the error says so. The SQLite file is opened read-only.
"""

import csv
import io
import json
import math
import os
import sqlite3
from collections import OrderedDict

from edgebench.errors import UsageError
from edgebench.results.schema import (
    MEASUREMENT_COLUMN_NAMES,
    MEASUREMENT_COLUMNS,
    RUN_COLUMN_NAMES,
    RUN_COLUMNS,
    SCHEMA_VERSION,
)

RESULT_FILE_NAMES = ("results.db", "results.json", "results.csv")

# A row without these cannot be placed anywhere in the analysis.
IDENTITY_COLUMNS = ("model", "backend", "precision", "batch_size", "status")

_SQLITE_MAGIC = b"SQLite format 3\x00"


def _python_type(sql_type):
    head = sql_type.split()[0].upper()
    if head == "INTEGER":
        return int
    if head == "REAL":
        return float
    return str


MEASUREMENT_TYPES = OrderedDict((name, _python_type(sql)) for name, sql, _ in MEASUREMENT_COLUMNS)
RUN_TYPES = OrderedDict((name, _python_type(sql)) for name, sql, _ in RUN_COLUMNS)


class Results(object):
    """Typed rows of one results file.

    ``measurements`` and ``runs`` are lists of dicts keyed by the schema's column names;
    ``runs`` is empty for a CSV export (CSV carries measurements only). Each run also gets
    ``environment`` and ``plan``: its JSON columns parsed (``None`` when unreadable).
    """

    def __init__(
        self, measurements, runs=(), schema_version=SCHEMA_VERSION, path=None, fmt="rows", warnings=()
    ):
        self.measurements = list(measurements)
        self.runs = list(runs)
        self.schema_version = schema_version
        self.path = path
        self.format = fmt
        self.warnings = list(warnings)

    def describe(self):
        where = self.path or "rows given in memory"
        return "{} ({}, schema {}, {} run(s), {} point(s))".format(
            where, self.format, self.schema_version, len(self.runs), len(self.measurements)
        )

    def run_by_id(self):
        return {run.get("id"): run for run in self.runs}


def load_results(path):
    """Load ``path`` (results.db, results.csv, results.json, a sweep's --out directory, or a
    ``postgresql://`` URL that ``edgebench push`` wrote to, optionally ``?board=...&since=...``)."""
    path = os.fspath(path)
    if path.startswith(("postgresql://", "postgres://")):
        return _load_postgres(path)
    if os.path.isdir(path):
        for name in RESULT_FILE_NAMES:
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return load_results(candidate)
        raise UsageError(
            "{} holds none of {}: pass a results file or the --out directory of a sweep".format(
                path, ", ".join(RESULT_FILE_NAMES)
            )
        )
    if not os.path.exists(path):
        raise UsageError(
            "no such file: {}; pass results.db, results.csv, results.json or a sweep's --out "
            "directory".format(path)
        )
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as err:
        raise UsageError("cannot read {}: {}".format(path, err.strerror or err))
    if head.startswith(_SQLITE_MAGIC):
        return _load_sqlite(path)
    if head.lstrip().startswith(b"{"):
        return _load_json(path)
    if not head.strip():
        raise UsageError("{} is empty: pass a results file written by `edgebench sweep`".format(path))
    return _load_csv(path)


# ---------------------------------------------------------------------------------------------
# value conversion shared by the three formats


class _Converter(object):
    """Converts raw cells to schema types and counts the repairs for one warning per column."""

    def __init__(self, label):
        self.label = label
        self.nonfinite = OrderedDict()  # column -> count
        self.bad = OrderedDict()  # column -> (count, first example)

    def convert(self, column, kind, raw):
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        if kind is str:
            text = raw if isinstance(raw, str) else str(raw)
            return text if text != "" else None
        if isinstance(raw, str):
            raw = raw.strip()
            if raw == "":
                return None
        try:
            if kind is int:
                if isinstance(raw, bool):
                    return int(raw)
                if isinstance(raw, int):
                    return raw
                value = float(raw)
                if not math.isfinite(value):
                    self.nonfinite[column] = self.nonfinite.get(column, 0) + 1
                    return None
                if value != int(value):
                    raise ValueError("not a whole number")
                return int(value)
            value = float(raw)
        except (TypeError, ValueError):
            count, example = self.bad.get(column, (0, raw))
            self.bad[column] = (count + 1, example)
            return None
        if not math.isfinite(value):
            self.nonfinite[column] = self.nonfinite.get(column, 0) + 1
            return None
        return value

    def warnings(self):
        out = []
        for column, count in self.nonfinite.items():
            out.append(
                "{}: {} NaN/infinite value(s) in {} treated as missing".format(self.label, count, column)
            )
        for column, (count, example) in self.bad.items():
            out.append(
                "{}: {} unreadable value(s) in {} (e.g. {!r}) treated as missing".format(
                    self.label, count, column, example
                )
            )
        return out


def _typed_rows(raw_rows, types, label, present_columns):
    converter = _Converter(label)
    rows = []
    for raw in raw_rows:
        row = OrderedDict()
        for column, kind in types.items():
            row[column] = (
                converter.convert(column, kind, raw.get(column)) if column in present_columns else None
            )
        rows.append(row)
    return rows, converter.warnings()


def _check_version(path, version):
    if version > SCHEMA_VERSION:
        raise UsageError(
            "{} has results schema version {} but this edgebench (schema {}) reads only up to {}: "
            "upgrade edgebench (pip install -U edgebench) to analyse it".format(
                path, version, SCHEMA_VERSION, SCHEMA_VERSION
            )
        )


def _columns_report(path, version, present, expected, what):
    """Warnings (and errors) for a file whose columns differ from this schema's."""
    warnings = []
    missing = [c for c in expected if c not in present]
    unknown = sorted(c for c in present if c not in expected)
    if what == "measurements":
        lacking = [c for c in IDENTITY_COLUMNS if c not in present]
        if lacking:
            raise UsageError(
                "{} has no {} column(s) in its {}: it is not an edgebench results file, or predates "
                "results schema {}; pass the results.db, results.csv or results.json that "
                "`edgebench sweep` wrote, or re-run the sweep".format(
                    path, ", ".join(lacking), what, SCHEMA_VERSION
                )
            )
    if missing and version < SCHEMA_VERSION:
        warnings.append(
            "{} uses older schema version {} (this edgebench writes {}); {} it lacks are treated as "
            "missing: {}".format(path, version, SCHEMA_VERSION, what + " columns", ", ".join(missing))
        )
    elif missing:
        warnings.append(
            "{}: {} columns missing, treated as missing: {}".format(path, what, ", ".join(missing))
        )
    if unknown:
        warnings.append("{}: ignored unknown {} columns: {}".format(path, what, ", ".join(unknown)))
    return warnings


def _finish(path, fmt, version, measurements, runs, warnings):
    kept = []
    dropped = 0
    for row in measurements:
        if any(row.get(c) is None for c in IDENTITY_COLUMNS):
            dropped += 1
            continue
        kept.append(row)
    if dropped:
        warnings.append(
            "{}: skipped {} row(s) without model, backend, precision, batch size or status".format(
                path, dropped
            )
        )
    for run in runs:
        for column, key in (("environment_json", "environment"), ("plan_json", "plan")):
            text = run.get(column)
            parsed = None
            if text:
                try:
                    parsed = json.loads(text)
                except ValueError:
                    warnings.append("{}: run {} has unreadable {}".format(path, run.get("id"), column))
            run[key] = parsed
    return Results(kept, runs, version, path, fmt, warnings)


# ---------------------------------------------------------------------------------------------
# SQLite


def _load_sqlite(path):
    try:
        from urllib.request import pathname2url

        conn = sqlite3.connect("file:{}?mode=ro".format(pathname2url(os.path.abspath(path))), uri=True)
    except sqlite3.Error as err:
        raise UsageError("cannot open {} as SQLite: {}".format(path, err))
    try:
        conn.row_factory = sqlite3.Row
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        _check_version(path, version)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "measurements" not in tables:
            raise UsageError(
                "{} is an SQLite file without a measurements table: pass the results.db written "
                "by `edgebench sweep`".format(path)
            )
        warnings = []
        m_cols = [r[1] for r in conn.execute("PRAGMA table_info(measurements)")]
        warnings += _columns_report(path, version, m_cols, MEASUREMENT_COLUMN_NAMES, "measurements")
        order = "ORDER BY id" if "id" in m_cols else ""
        raw_m = [dict(r) for r in conn.execute("SELECT * FROM measurements {}".format(order))]
        raw_r = []
        r_cols = []
        if "runs" in tables:
            r_cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
            order = "ORDER BY id" if "id" in r_cols else ""
            raw_r = [dict(r) for r in conn.execute("SELECT * FROM runs {}".format(order))]
        else:
            warnings.append("{}: no runs table; environment details are unavailable".format(path))
    except sqlite3.DatabaseError as err:
        raise UsageError("cannot read {}: {} (is it a results.db from `edgebench sweep`?)".format(path, err))
    finally:
        conn.close()
    measurements, w = _typed_rows(raw_m, MEASUREMENT_TYPES, path, set(m_cols))
    warnings += w
    runs, w = _typed_rows(raw_r, RUN_TYPES, path, set(r_cols))
    warnings += w
    return _finish(path, "sqlite", version, measurements, runs, warnings)


# ---------------------------------------------------------------------------------------------
# PostgreSQL (the tables `edgebench push` writes; same column names as the SQLite store)


def _load_postgres(url):
    from edgebench.results.postgres import read_tables, redact

    label = redact(url)
    version, raw_r, raw_m, _ = read_tables(url)
    _check_version(label, version)
    measurements, warnings = _typed_rows(raw_m, MEASUREMENT_TYPES, label, set(MEASUREMENT_COLUMN_NAMES))
    runs, w = _typed_rows(raw_r, RUN_TYPES, label, set(RUN_COLUMN_NAMES))
    return _finish(label, "postgresql", version, measurements, runs, warnings + w)


# ---------------------------------------------------------------------------------------------
# JSON


def _load_json(path):
    try:
        with io.open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as err:
        raise UsageError("cannot read {} as JSON: {}".format(path, err))
    if not isinstance(doc, dict) or not isinstance(doc.get("measurements"), list):
        raise UsageError(
            '{} is not an edgebench results export (no "measurements" list): pass the '
            "results.json written by `edgebench sweep`".format(path)
        )
    version = doc.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise UsageError("{}: schema_version {!r} is not a whole number".format(path, version))
    _check_version(path, version)
    raw_m = [r for r in doc["measurements"] if isinstance(r, dict)]
    raw_r = [r for r in (doc.get("runs") or []) if isinstance(r, dict)]
    warnings = []
    if version < 1:
        warnings.append("{} has no schema_version; read as an older export".format(path))
    m_cols = set()
    for r in raw_m:
        m_cols.update(r)
    if raw_m:
        warnings += _columns_report(path, version, m_cols, MEASUREMENT_COLUMN_NAMES, "measurements")
    r_cols = set()
    for r in raw_r:
        r_cols.update(r)
    measurements, w = _typed_rows(raw_m, MEASUREMENT_TYPES, path, m_cols)
    warnings += w
    runs, w = _typed_rows(raw_r, RUN_TYPES, path, r_cols)
    warnings += w
    return _finish(path, "json", version, measurements, runs, warnings)


# ---------------------------------------------------------------------------------------------
# CSV


def _load_csv(path):
    try:
        with io.open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            raw_m = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UsageError("cannot read {} as CSV: {}".format(path, err))
    if not header:
        raise UsageError(
            "{} has no header line: pass the results.csv written by `edgebench sweep`".format(path)
        )
    unknown = [c for c in header if c not in MEASUREMENT_COLUMN_NAMES]
    if unknown and all(c in header for c in MEASUREMENT_COLUMN_NAMES):
        # Every current column plus more: written by a newer edgebench.
        raise UsageError(
            "{} has columns this edgebench (schema {}) does not know ({}): it was written by a newer "
            "edgebench; upgrade (pip install -U edgebench) to analyse it".format(
                path, SCHEMA_VERSION, ", ".join(unknown[:5])
            )
        )
    # CSV carries no version: a header lacking columns is an older export.
    version = SCHEMA_VERSION if all(c in header for c in MEASUREMENT_COLUMN_NAMES) else 0
    warnings = _columns_report(path, version, header, MEASUREMENT_COLUMN_NAMES, "measurements")
    measurements, w = _typed_rows(raw_m, MEASUREMENT_TYPES, path, set(header))
    warnings += w
    return _finish(path, "csv", version, measurements, [], warnings)


def results_from_rows(rows, runs=()):
    """Wrap measurement dicts held in memory (e.g. the store's rows) as :class:`Results`.

    Values are converted as if they had been read from a file, so an int in a REAL column becomes
    a float and NaN becomes ``None``.
    """
    rows = [dict(r) for r in rows]
    present = set()
    for r in rows:
        present.update(r)
    measurements, warnings = _typed_rows(rows, MEASUREMENT_TYPES, "rows", present)
    runs = [dict(r) for r in runs]
    run_columns = set()
    for r in runs:
        run_columns.update(r)
    runs_typed, w = _typed_rows(runs, RUN_TYPES, "runs", run_columns & set(RUN_COLUMN_NAMES))
    return _finish(None, "rows", SCHEMA_VERSION, measurements, runs_typed, warnings + w)
