"""The results store: one SQLite file (stdlib sqlite3) per store.

Written for SQLite 3.22 (JetPack 4.6): no UPSERT, no window functions. Every point is committed the
moment it is measured, so a crash, Ctrl-C or power loss loses at most the point in flight. The
schema version lives in ``PRAGMA user_version``; migrations are functions below, applied in order.

Opening refuses files that are not SQLite, SQLite files that are not edgebench stores, and stores
written by a newer edgebench - never touching them. Exports (CSV, JSON) live in
:mod:`edgebench.results.export`, which reads through this store; the store never imports it.
"""
import errno
import fcntl
import functools
import json
import os
import sqlite3
import uuid

from edgebench import __version__
from edgebench._helpers import utc_now
from edgebench.errors import StoreError
from edgebench.results import samples as samples_format
from edgebench.results import schema

SQLITE_MAGIC = b"SQLite format 3\x00"


class DiskFullError(StoreError):
    """The store's filesystem is full. Nothing stored is lost; the same write succeeds once there is space."""


def store_error(path, exc, what="results store"):
    """The one-line StoreError for an sqlite3 or OS error ``exc`` on the store (or an export: ``what``) at
    ``path``; a full disk is a DiskFullError."""
    text = getattr(exc, "strerror", None) or str(exc)
    code = getattr(exc, "errno", None)
    lowered = text.lower()
    if code == errno.ENOSPC or "disk is full" in lowered or "no space" in lowered:
        return DiskFullError("disk full writing {} {}: free space on its filesystem, then run again (every point "
                             "stored so far is kept)".format(what, path))
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in lowered or "read-only" in lowered:
        return StoreError("cannot write {} {}: {}; choose a writable --out DIR".format(what, path, text))
    if "malformed" in lowered or "not a database" in lowered or "encrypted" in lowered:
        return StoreError("{} {} is damaged ({}); move it away and choose another --out (sqlite3's .recover "
                          "command may save its rows)".format(what, path, text))
    if "locked" in lowered or "busy" in lowered:
        return StoreError("{} {} is locked by another process ({}); wait for it or choose another --out".format(
            what, path, text))
    return StoreError("{} {}: {} ({}); check the file and its directory, or choose another --out".format(
        what, path, text, type(exc).__name__))


def _guarded(method):
    """sqlite3 and OS errors of a store method become one-line StoreErrors naming the store."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            raise store_error(self.path, exc)
    return wrapper


def _create_table_sql(table, columns):
    cols = ",\n  ".join("{} {}".format(name, sqltype) for name, sqltype, _ in columns)
    return "CREATE TABLE {} (\n  {}\n)".format(table, cols)


def _migrate_0_to_1(conn):
    conn.execute(_create_table_sql("runs", schema.RUN_COLUMNS))
    conn.execute(_create_table_sql("measurements", schema.MEASUREMENT_COLUMNS))
    conn.execute(_create_table_sql("accuracy", schema.ACCURACY_COLUMNS))
    conn.execute("CREATE INDEX measurements_run ON measurements (run_id, point_key)")
    conn.execute("CREATE INDEX accuracy_lookup ON accuracy (model, backend, precision)")


_TABLES = (("runs", schema.RUN_COLUMNS), ("measurements", schema.MEASUREMENT_COLUMNS),
           ("accuracy", schema.ACCURACY_COLUMNS))


def _migrate_add_run_uuid(conn):
    """Schema 2: every run gets a UUID (runs measured before keep theirs from now on)."""
    have = set(r[1] for r in conn.execute("PRAGMA table_info(runs)"))
    if "run_uuid" not in have:  # a store created at version 2 already has the column
        conn.execute("ALTER TABLE runs ADD COLUMN run_uuid TEXT")
    for (run_id,) in conn.execute("SELECT id FROM runs WHERE run_uuid IS NULL").fetchall():
        conn.execute("UPDATE runs SET run_uuid = ? WHERE id = ?", (str(uuid.uuid4()), run_id))
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS runs_uuid ON runs (run_uuid)")


def _migrate_2_to_3(conn):
    """The latencies side table (additive: no existing table or column changes)."""
    conn.execute(_create_table_sql("latencies", schema.LATENCY_COLUMNS).replace(
        "CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1))
    conn.execute("CREATE INDEX IF NOT EXISTS latencies_run ON latencies (run_id, point_key)")


# MIGRATIONS[v] upgrades a store at version v to v + 1.
MIGRATIONS = {0: _migrate_0_to_1, 1: _migrate_add_run_uuid, 2: _migrate_2_to_3}
assert len(MIGRATIONS) == schema.SCHEMA_VERSION


def _sql_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    if isinstance(value, float) and value != value:  # NaN -> NULL
        return None
    return value


class ResultStore(object):
    """An open results store. Use as a context manager or call ``close()``."""

    def __init__(self, path, create=True):
        self.path = str(path)
        exists = os.path.exists(self.path)
        if exists:
            self._check_is_sqlite()
        elif not create:
            raise StoreError("results store {} does not exist".format(self.path))
        else:
            directory = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(directory):
                raise StoreError("directory {} does not exist".format(directory))
        self.conn = None
        self._run_locks = {}  # run id -> fd holding its lock while this store measures it
        try:
            self.conn = sqlite3.connect(self.path, timeout=30)
            self.conn.row_factory = sqlite3.Row
            self._prepare(exists)
        except (sqlite3.Error, OSError) as exc:
            self.close()
            raise store_error(self.path, exc)
        except StoreError:
            self.close()
            raise
        if create:
            self._close_abandoned_runs()

    # ------------------------------------------------------------------ opening and migrating

    def _check_is_sqlite(self):
        if os.path.isdir(self.path):
            raise StoreError("{} is a directory, not a results store".format(self.path))
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise StoreError("cannot read results store {}: {}".format(self.path, exc.strerror or exc))
        if head and head != SQLITE_MAGIC:
            raise StoreError(
                "{} is not an edgebench results store (not an SQLite file); it was left untouched - "
                "choose another --out".format(self.path)
            )

    def _tables(self):
        return set(r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))

    def _prepare(self, existed):
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        tables = self._tables() - {"sqlite_sequence"}
        if existed and version == 0 and tables:
            raise self._foreign(tables)
        if version >= 1 and not self._looks_like_ours():  # checked before anything is written to it
            raise self._foreign(tables)
        if version > schema.SCHEMA_VERSION:
            raise StoreError(
                "{} was written by a newer edgebench (schema {} > {}); upgrade edgebench to read it".format(
                    self.path, version, schema.SCHEMA_VERSION
                )
            )
        if version < schema.SCHEMA_VERSION:
            with self.conn:
                for v in range(version, schema.SCHEMA_VERSION):
                    MIGRATIONS[v](self.conn)
                self.conn.execute("PRAGMA user_version = {:d}".format(schema.SCHEMA_VERSION))
        self._add_missing_columns()

    def _foreign(self, tables):
        return StoreError("{} is an SQLite database but not an edgebench results store (tables: {}); it was left "
                          "untouched - choose another --out".format(self.path, ", ".join(sorted(tables)) or "none"))

    def _looks_like_ours(self):
        """Every table of the schema is there with every column a row cannot lack (ids, NOT NULL)."""
        for table, columns in _TABLES:
            have = set(r[1] for r in self.conn.execute("PRAGMA table_info({})".format(table)))
            if not have or any(n not in have for n, t, _ in columns if "NOT NULL" in t or "PRIMARY" in t):
                return False
        return True

    def _add_missing_columns(self):
        """Add the nullable columns a store lacks: new columns are additive and need no version bump
        (older edgebench versions ignore them); ``SCHEMA_VERSION`` moves for changes that are not."""
        for table, columns in _TABLES:
            have = set(r[1] for r in self.conn.execute("PRAGMA table_info({})".format(table)))
            missing = [(n, t) for n, t, _ in columns if n not in have and "NOT NULL" not in t and "PRIMARY" not in t]
            if missing:
                with self.conn:
                    for name, sqltype in missing:
                        self.conn.execute("ALTER TABLE {} ADD COLUMN {} {}".format(table, name, sqltype))

    @property
    @_guarded
    def schema_version(self):
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self):
        for run_id in list(getattr(self, "_run_locks", {})):
            self._release_run(run_id, remove=False)  # still running: the next writer marks it interrupted
        if getattr(self, "conn", None) is not None:
            self.conn.close()
            self.conn = None

    # ------------------------------------------------------------------ who is measuring a run

    def _run_lock_path(self, run_id):
        directory, name = os.path.split(os.path.abspath(self.path))
        return os.path.join(directory, ".{}.run-{:d}.lock".format(name, int(run_id)))

    def _hold_run(self, run_id):
        """Hold the run's lock (flock) for as long as this process measures it: a run whose lock nobody holds
        while it says ``running`` belongs to a process that is gone (SIGKILL, power loss)."""
        if run_id in self._run_locks:
            return
        try:
            fd = os.open(self._run_lock_path(run_id), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError:
            return  # a read-only directory: the run simply has no lock
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # another live process holds it
            return
        os.ftruncate(fd, 0)
        os.write(fd, "{}\n".format(os.getpid()).encode("ascii"))
        self._run_locks[run_id] = fd

    def _release_run(self, run_id, remove=True):
        fd = self._run_locks.pop(run_id, None)
        if fd is None:
            return
        if remove:
            try:
                os.unlink(self._run_lock_path(run_id))
            except OSError:
                pass
        os.close(fd)

    @_guarded
    def _close_abandoned_runs(self):
        """Mark ``interrupted`` the running runs whose process is gone: their lock exists and nobody holds it."""
        for run_id, in self.conn.execute("SELECT id FROM runs WHERE status = ?", (schema.RUN_RUNNING,)).fetchall():
            path = self._run_lock_path(run_id)
            try:
                fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                continue  # no lock: written by an older edgebench, or its directory is read-only; leave it
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its process still measures it
            finally:
                os.close(fd)
            with self.conn:
                self.conn.execute("UPDATE runs SET status = ?, finished_at = ?, note = ? WHERE id = ? AND status = ?",
                                  (schema.RUN_INTERRUPTED, utc_now(), "the process measuring this run is gone "
                                   "(killed or powered off); its stored points are kept", run_id, schema.RUN_RUNNING))
            try:
                os.unlink(path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ writing

    @_guarded
    def create_run(self, plan, environment, started_at=None):
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO runs (started_at, status, edgebench_version, plan_json, environment_json, run_uuid) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    started_at or utc_now(),
                    schema.RUN_RUNNING,
                    __version__,
                    json.dumps(plan, sort_keys=True),
                    json.dumps(environment, sort_keys=True),
                    str(uuid.uuid4()),
                ),
            )
        self._hold_run(cur.lastrowid)
        return cur.lastrowid

    @_guarded
    def finish_run(self, run_id, status, note=None):
        with self.conn:
            self.conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, note = ? WHERE id = ?",
                (status, utc_now(), note, run_id),
            )
        if status != schema.RUN_RUNNING:
            self._release_run(run_id)

    @_guarded
    def reopen_run(self, run_id, note=None):
        """Mark a run as running again (the agent resumes an interrupted job into its own run)."""
        with self.conn:
            self.conn.execute("UPDATE runs SET status = ?, finished_at = NULL, note = ? WHERE id = ?",
                              (schema.RUN_RUNNING, note, run_id))
        self._hold_run(run_id)

    @_guarded
    def last_measurements(self, columns, limit):
        """The newest ``limit`` measurement rows, newest first, restricted to ``columns``."""
        unknown = set(columns) - set(schema.MEASUREMENT_COLUMN_NAMES)
        if unknown:
            raise StoreError("not measurement columns: {}".format(", ".join(sorted(unknown))))
        cur = self.conn.execute("SELECT {} FROM measurements ORDER BY id DESC LIMIT ?".format(", ".join(columns)),
                                (int(limit),))
        return [dict(r) for r in cur]

    @_guarded
    def set_run_power(self, run_id, power):
        with self.conn:
            self.conn.execute("UPDATE runs SET power_json = ? WHERE id = ?",
                              (json.dumps(power, sort_keys=True), run_id))

    @_guarded
    def add_point(self, run_id, row):
        """Insert one measurement row (dict of schema columns) and commit at once."""
        unknown = set(row) - set(schema.POINT_FIELDS)
        if unknown:
            raise StoreError("not measurement columns: {}".format(", ".join(sorted(unknown))))
        names = ["run_id"] + [n for n in schema.POINT_FIELDS if n in row]
        values = [run_id] + [_sql_value(row[n]) for n in names[1:]]
        sql = "INSERT INTO measurements ({}) VALUES ({})".format(", ".join(names), ", ".join("?" * len(names)))
        with self.conn:
            cur = self.conn.execute(sql, values)
        return cur.lastrowid

    @_guarded
    def add_latencies(self, measurement_id, run_id, point_key, latencies_ms, warmup_ms=None):
        """Store a point's raw samples (ms per iteration, in timing order) next to its row."""
        warm = None if warmup_ms is None else samples_format.encode(warmup_ms)
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO latencies ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)".format(
                    ", ".join(schema.LATENCY_COLUMN_NAMES)),
                (measurement_id, run_id, point_key, samples_format.ENCODING, len(latencies_ms),
                 sqlite3.Binary(samples_format.encode(latencies_ms)),
                 None if warmup_ms is None else len(warmup_ms), None if warm is None else sqlite3.Binary(warm)),
            )

    @_guarded
    def latencies(self, measurement_id):
        """(timed samples, warm-up samples or None) in ms of one point, or None when none were stored."""
        row = self.conn.execute("SELECT * FROM latencies WHERE measurement_id = ?", (measurement_id,)).fetchone()
        if row is None:
            return None
        warm = row["warmup_samples"]
        return (samples_format.decode(row["samples"], row["encoding"]),
                None if warm is None else samples_format.decode(warm, row["encoding"]))

    @_guarded
    def add_accuracy(self, row):
        row = dict(row)
        row.setdefault("measured_at", utc_now())
        names = [n for n in schema.ACCURACY_COLUMN_NAMES if n in row and n != "id"]
        sql = "INSERT INTO accuracy ({}) VALUES ({})".format(", ".join(names), ", ".join("?" * len(names)))
        with self.conn:
            cur = self.conn.execute(sql, [_sql_value(row[n]) for n in names])
        return cur.lastrowid

    # ------------------------------------------------------------------ reading

    @_guarded
    def runs(self):
        return [dict(r) for r in self.conn.execute("SELECT * FROM runs ORDER BY id")]

    @_guarded
    def run(self, run_id):
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row else None

    @_guarded
    def measurements(self, run_id=None):
        if run_id is None:
            cur = self.conn.execute("SELECT * FROM measurements ORDER BY id")
        else:
            cur = self.conn.execute("SELECT * FROM measurements WHERE run_id = ? ORDER BY id", (run_id,))
        return [dict(r) for r in cur]

    @_guarded
    def point_keys(self, run_id):
        """Keys of the points already stored for ``run_id`` (a resumed run measures only the rest)."""
        cur = self.conn.execute("SELECT point_key FROM measurements WHERE run_id = ?", (run_id,))
        return set(r[0] for r in cur)

    @_guarded
    def accuracy(self, model=None, backend=None, precision=None):
        clauses, args = [], []
        for col, val in (("model", model), ("backend", backend), ("precision", precision)):
            if val is not None:
                clauses.append("{} = ?".format(col))
                args.append(val)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return [dict(r) for r in self.conn.execute("SELECT * FROM accuracy{} ORDER BY id".format(where), args)]

    @_guarded
    def latest_accuracy(self, model, backend, precision, onnx_sha256=None):
        sql = "SELECT * FROM accuracy WHERE model = ? AND backend = ? AND precision = ?"
        args = [model, backend, precision]
        if onnx_sha256:
            sql += " AND onnx_sha256 = ?"
            args.append(onnx_sha256)
        row = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        return dict(row) if row else None
