"""Runs in a shared PostgreSQL: ``edgebench push`` writes them, every reader can read them back.

Each board keeps its SQLite store (the source of truth, works offline); a push copies its finished
runs, their points and each ok point's raw samples into PostgreSQL, **one transaction per run**,
idempotent by ``runs.run_uuid``: pushing the same run twice changes nothing, a run that resumed (more
points, a new finished_at) updates its row and adds only the new points, and a point whose samples
changed (measured again) has them replaced. The tables carry the SQLite column names (from
:mod:`edgebench.results.schema`, translated to PostgreSQL types); the PostgreSQL ``id`` columns are
the server's own numbers (a board's ``runs.id`` collides with every other board's) and
``measurements.run_id`` points at the server's ``runs.id``. The board's own run number is kept in
``runs.store_run_id``. ``latencies`` (the store's side table, samples as BYTEA, byte for byte the
store's blob) is keyed by the server's ``measurements.id``; its ``run_id`` is the server's run. The
schema version lives in ``edgebench_schema``; edgebench creates and migrates the tables itself (new
tables and nullable columns are added the way the SQLite store adds them, so a database an older
edgebench wrote gains ``latencies`` on the next push).

The URL is libpq's (``postgresql://user@host:5432/db?sslmode=require``); credentials come from the
URL, ``PGPASSFILE`` / ``~/.pgpass`` or the ``PG*`` environment, as libpq reads them. A URL is never
logged or printed with its password (:func:`redact`). ``board=`` and ``since=`` in the query are
edgebench's read filters and are taken out before the URL reaches libpq.

psycopg2 (``pip install edgebench[fleet]``; 2.9.5 is the last with cp36 wheels) is imported only here,
only when a PostgreSQL URL is used.
"""
import json
import re
from collections import OrderedDict, namedtuple

from edgebench.errors import StoreError, UsageError
from edgebench.results import schema

URL_SCHEMES = ("postgresql://", "postgres://")
FILTER_KEYS = ("board", "since")
CONNECT_TIMEOUT_S = 10
_SINCE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?Z?)?$")
# Serialises schema creation when several boards push to an empty database at once.
_SCHEMA_LOCK_KEY = 0x6564676562  # "edgeb"


class PostgresUnreachable(StoreError):
    """The server did not answer (down, wrong host, refused): a push stays queued and is retried.

    Not bad input, so exit status 1; the message says nothing was lost."""

    exit_status = 1


def is_postgres_url(text):
    return isinstance(text, str) and text.startswith(URL_SCHEMES)


def redact(url):
    """``url`` with its password replaced by ``***`` (for logs, errors and status)."""
    return re.sub(r"^(postgres(?:ql)?://[^:/@?#]*):[^@/?#]*@", r"\1:***@", url)


def split_url(url):
    """(libpq URL without edgebench's filters, {"board": ..., "since": ...})."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    kept, filters = [], {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in FILTER_KEYS:
            filters[key] = value
        else:
            kept.append((key, value))
    since = filters.get("since")
    if since is not None and not _SINCE.match(since):
        raise UsageError("since={!r} in {} is not a date: give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ".format(
            since, redact(url)))
    return urlunsplit(parts._replace(query=urlencode(kept))), filters


def _driver():
    try:
        import psycopg2
        import psycopg2.extras  # noqa: F401 (RealDictCursor)
    except ImportError:
        raise UsageError("PostgreSQL needs psycopg2: pip install 'edgebench[fleet]' (psycopg2-binary)")
    return psycopg2


def connect(url):
    """An open psycopg2 connection; :class:`PostgresUnreachable` when the server does not answer."""
    psycopg2 = _driver()
    dsn, _ = split_url(url)
    kwargs = {} if "connect_timeout" in dsn else {"connect_timeout": CONNECT_TIMEOUT_S}
    try:
        return psycopg2.connect(dsn, application_name="edgebench", **kwargs)
    except psycopg2.OperationalError as exc:
        text = " ".join(str(exc).split())
        password = _password(url)
        if password:
            text = text.replace(password, "***")
        raise PostgresUnreachable("cannot connect to {}: {}; check the host, port and that the server "
                                  "accepts this client (pg_hba.conf)".format(redact(url), text))


def _password(url):
    match = re.match(r"^postgres(?:ql)?://[^:/@?#]*:([^@/?#]*)@", url)
    return match.group(1) if match and match.group(1) else None


# ---------------------------------------------------------------------------------------------- schema

def _pg_type(sql_type):
    words = sql_type.upper().split()
    if "PRIMARY" in words:  # the store's own row numbers; latencies.measurement_id is the server's measurements.id
        return "BIGSERIAL PRIMARY KEY" if "AUTOINCREMENT" in words else "BIGINT PRIMARY KEY"
    base = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}.get(words[0], words[0])
    return base + (" NOT NULL" if "NOT" in words else "")


# PostgreSQL-only columns (the store has no use for them).
EXTRA_RUN_COLUMNS = (("store_run_id", "BIGINT", "the run's id in the board's own store"),
                     ("pushed_at", "TEXT", "UTC time of the last push of this run, ISO 8601"))
TABLES = OrderedDict((
    ("runs", schema.RUN_COLUMNS + EXTRA_RUN_COLUMNS),
    ("measurements", schema.MEASUREMENT_COLUMNS),
    ("latencies", schema.LATENCY_COLUMNS),
))


def ensure_schema(conn):
    """Create or migrate edgebench's tables; refuse a database written by a newer edgebench."""
    with conn:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
            cur.execute("CREATE TABLE IF NOT EXISTS edgebench_schema (version INTEGER NOT NULL)")
            cur.execute("SELECT version FROM edgebench_schema")
            row = cur.fetchone()
            version = row[0] if row else None
            if version is not None and version > schema.SCHEMA_VERSION:
                raise StoreError("the PostgreSQL database was written by a newer edgebench (schema {} > {}); "
                                 "upgrade edgebench to push or read it".format(version, schema.SCHEMA_VERSION))
            for table, columns in TABLES.items():
                cur.execute("CREATE TABLE IF NOT EXISTS {} ({})".format(
                    table, ", ".join("{} {}".format(n, _pg_type(t)) for n, t, _ in columns)))
                for name, sql_type, _ in columns:  # columns a newer schema added
                    if "NOT NULL" not in sql_type.upper() and "PRIMARY" not in sql_type.upper():
                        cur.execute("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}".format(
                            table, name, _pg_type(sql_type)))
            cur.execute("CREATE UNIQUE INDEX IF NOT EXISTS runs_run_uuid ON runs (run_uuid)")
            cur.execute("CREATE UNIQUE INDEX IF NOT EXISTS measurements_point ON measurements (run_id, point_key)")
            cur.execute("CREATE INDEX IF NOT EXISTS latencies_run ON latencies (run_id, point_key)")
            if version is None:
                cur.execute("INSERT INTO edgebench_schema (version) VALUES (%s)", (schema.SCHEMA_VERSION,))
            elif version < schema.SCHEMA_VERSION:
                cur.execute("UPDATE edgebench_schema SET version = %s", (schema.SCHEMA_VERSION,))


# ---------------------------------------------------------------------------------------------- push

class PushResult(object):
    """What one push did: runs new / updated / unchanged / skipped (still running); points added, updated;
    points whose raw samples were added, or replaced (the point was measured again)."""

    def __init__(self):
        self.runs_new = 0
        self.runs_updated = 0
        self.runs_unchanged = 0
        self.runs_skipped = 0
        self.points_added = 0
        self.points_updated = 0
        self.latencies_added = 0
        self.latencies_updated = 0
        self.pushed_uuids = []

    def as_dict(self):
        return dict((k, v) for k, v in vars(self).items())

    def add(self, run_push):
        """Count one run's :class:`RunPush`."""
        setattr(self, "runs_" + run_push.kind, getattr(self, "runs_" + run_push.kind) + 1)
        for name in RunPush._fields[1:]:
            setattr(self, name, getattr(self, name) + getattr(run_push, name))


# What push_run did to one run: kind is "new" | "updated" | "unchanged"; then counts of rows.
RunPush = namedtuple("RunPush", "kind points_added points_updated latencies_added latencies_updated")


def _run_values(run):
    names = [n for n in schema.RUN_COLUMN_NAMES if n != "id"]
    values = OrderedDict((n, run.get(n)) for n in names)
    values["store_run_id"] = run.get("id")
    return values


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-12 * max(abs(float(a)), 1.0)
        except (TypeError, ValueError):
            return False
    return a == b


def _insert(cur, table, values, key="id"):
    """INSERT one row (an ordered dict of column -> value); returns its ``key`` (the server's id)."""
    cur.execute("INSERT INTO {} ({}) VALUES ({}) RETURNING {}".format(
        table, ", ".join(values), ", ".join(["%s"] * len(values)), key), list(values.values()))
    return cur.fetchone()[key]


def _update_changed(cur, table, old, values, extra=(), key="id"):
    """UPDATE the columns of ``values`` that differ from the stored row ``old``; returns them."""
    changed = [n for n in values if not _same(old.get(n), values[n])]
    if changed:
        sets = [(n, values[n]) for n in changed] + list(extra)
        cur.execute("UPDATE {} SET {} WHERE {} = %s".format(
            table, ", ".join("{} = %s".format(n) for n, _ in sets), key), [v for _, v in sets] + [old[key]])
    return changed


def store_latencies(store, run_id):
    """{store measurement id: latencies row} of one run of an open ResultStore, blobs as stored (bytes)."""
    import sqlite3

    from edgebench.results.store import store_error

    try:
        rows = store.conn.execute("SELECT * FROM latencies WHERE run_id = ?", (run_id,)).fetchall()
    except sqlite3.Error as exc:
        raise store_error(store.path, exc)
    return dict((r["measurement_id"], dict(r)) for r in rows)


def _blobs_as_bytes(row):
    """``row`` with its sample blobs as bytes (psycopg2 returns BYTEA as memoryview, sqlite3 BLOB as bytes)."""
    for name in ("samples", "warmup_samples"):
        if row.get(name) is not None:
            row[name] = bytes(row[name])
    return row


def _latency_values(row, run_id, measurement_id):
    """The server's latencies row for the store's ``row``: the same columns, the server's ids."""
    values = OrderedDict((n, row.get(n)) for n in schema.LATENCY_COLUMN_NAMES)
    values.update(measurement_id=measurement_id, run_id=run_id)
    return _blobs_as_bytes(values)


def _push_latencies(cur, server_run_id, pairs):
    """Insert or replace the samples of ``pairs`` [(server measurement id, store latencies row)];
    returns (added, updated). Samples the server has that are unchanged are not written."""
    cur.execute("SELECT * FROM latencies WHERE run_id = %s", (server_run_id,))
    have = dict((r["measurement_id"], r) for r in cur.fetchall())
    added = updated = 0
    for measurement_id, row in pairs:
        values = _latency_values(row, server_run_id, measurement_id)
        old = have.get(measurement_id)
        if old is None:
            _insert(cur, "latencies", values, key="measurement_id")
            added += 1
        elif _update_changed(cur, "latencies", _blobs_as_bytes(dict(old)), values, key="measurement_id"):
            updated += 1
    return added, updated


def push_run(conn, run, points, now, latencies=None):
    """Push one run, its points and their raw samples (``latencies``: {store measurement id: store latencies
    row}, see :func:`store_latencies`) in one transaction; returns a :class:`RunPush`."""
    from psycopg2.extras import RealDictCursor

    if not run.get("run_uuid"):
        raise StoreError("run {} has no run_uuid; open the store with this edgebench once to migrate it".format(
            run.get("id")))
    values = _run_values(run)
    point_names = [n for n in schema.MEASUREMENT_COLUMN_NAMES if n not in ("id", "run_id")]
    with conn:
        with conn.cursor(cursor_factory=RealDictCursor) as cur:
            cur.execute("SELECT * FROM runs WHERE run_uuid = %s FOR UPDATE", (run["run_uuid"],))
            existing = cur.fetchone()
            if existing is None:
                server_id = _insert(cur, "runs", OrderedDict(list(values.items()) + [("pushed_at", now)]))
                kind = "new"
            else:
                server_id = existing["id"]
                changed = _update_changed(cur, "runs", existing, values, [("pushed_at", now)])
                kind = "updated" if changed else "unchanged"
            cur.execute("SELECT * FROM measurements WHERE run_id = %s", (server_id,))
            have = dict((r["point_key"], r) for r in cur.fetchall())
            added = updated = 0
            samples = []  # (server measurement id, store latencies row)
            for point in points:
                fields = OrderedDict((n, point.get(n)) for n in point_names)
                old = have.get(point["point_key"])
                if old is None:
                    measurement_id = _insert(cur, "measurements",
                                             OrderedDict([("run_id", server_id)] + list(fields.items())))
                    added += 1
                else:
                    measurement_id = old["id"]
                    if _update_changed(cur, "measurements", old, fields):
                        updated += 1
                if (latencies or {}).get(point.get("id")) is not None:
                    samples.append((measurement_id, latencies[point["id"]]))
            latencies_added, latencies_updated = _push_latencies(cur, server_id, samples)
            if kind == "unchanged" and (added or updated or latencies_added or latencies_updated):
                cur.execute("UPDATE runs SET pushed_at = %s WHERE id = %s", (now, server_id))
                kind = "updated"
    return RunPush(kind, added, updated, latencies_added, latencies_updated)


def push_store(store, url, run_uuids=None, say=None):
    """Push the finished runs of an open :class:`~edgebench.results.store.ResultStore` (all, or those in
    ``run_uuids``). A run still running is skipped (it is pushed once it ends). Returns a PushResult."""
    from edgebench._helpers import utc_now

    result = PushResult()
    try:
        conn = connect(url)
    except PostgresUnreachable as exc:
        raise PostgresUnreachable("{}; nothing was lost (the runs stay in the board's store): push again when "
                                  "the server answers".format(exc))
    try:
        ensure_schema(conn)
        for run in store.runs():
            if run_uuids is not None and run.get("run_uuid") not in run_uuids:
                continue
            if run.get("status") == schema.RUN_RUNNING:
                result.runs_skipped += 1
                continue
            done = push_run(conn, run, store.measurements(run["id"]), utc_now(), store_latencies(store, run["id"]))
            result.add(done)
            result.pushed_uuids.append(run["run_uuid"])
            if say is not None:
                say("run {} ({}): {}, {} point(s) added, {} updated; raw samples of {} point(s) added, {} "
                    "replaced".format(run["id"], run["run_uuid"], done.kind, done.points_added, done.points_updated,
                                      done.latencies_added, done.latencies_updated))
    except Exception as exc:
        psycopg2 = _driver()
        if isinstance(exc, psycopg2.OperationalError):  # the server went away in the middle
            raise PostgresUnreachable("lost {} while pushing: {}".format(redact(url), " ".join(str(exc).split())))
        if isinstance(exc, psycopg2.Error):
            raise StoreError("PostgreSQL refused the push to {}: {}".format(redact(url), " ".join(str(exc).split())))
        raise
    finally:
        conn.close()
    return result


# ---------------------------------------------------------------------------------------------- read

# What read_tables returns; ``latencies`` is None unless asked for (readers that fit and plot need none).
Tables = namedtuple("Tables", "version runs measurements latencies")


def read_tables(url, latencies=False):
    """:class:`Tables` (schema version, runs, measurements, and with ``latencies=True`` the points' raw
    samples) as dicts keyed by the schema's column names, filtered by the URL's ``board=`` (a run's host
    or board model, as :func:`board_label` shows it) and ``since=`` (runs started on or after). Latency
    rows carry the server's ``measurement_id`` and ``run_id`` and their blobs as bytes, which
    :func:`edgebench.results.samples.decode` reads; a database no push of this edgebench wrote has none."""
    from psycopg2.extras import RealDictCursor

    from edgebench.results.boards import board_matches

    _, filters = split_url(url)
    psycopg2 = _driver()
    conn = connect(url)
    samples = None
    try:
        with conn, conn.cursor(cursor_factory=RealDictCursor) as cur:
            cur.execute("SELECT to_regclass('edgebench_schema') AS t")
            if cur.fetchone()["t"] is None:
                raise UsageError("{} holds no edgebench results yet: `edgebench push RESULTS {}` first".format(
                    redact(url), redact(url)))
            cur.execute("SELECT version FROM edgebench_schema")
            row = cur.fetchone()
            version = row["version"] if row else 0
            if "since" in filters:
                cur.execute("SELECT * FROM runs WHERE started_at >= %s ORDER BY id", (filters["since"],))
            else:
                cur.execute("SELECT * FROM runs ORDER BY id")
            runs = [dict(r) for r in cur.fetchall()]
            if "board" in filters:
                runs = [r for r in runs if board_matches(_environment(r), filters["board"])]
            run_ids = [r["id"] for r in runs]
            cur.execute("SELECT * FROM measurements WHERE run_id = ANY(%s) ORDER BY id", (run_ids,))
            measurements = [dict(r) for r in cur.fetchall()]
            if latencies:
                samples = _read_latencies(cur, run_ids)
    except psycopg2.Error as exc:
        raise StoreError("cannot read {}: {}".format(redact(url), " ".join(str(exc).split())))
    finally:
        conn.close()
    return Tables(version, runs, measurements, samples)


def _read_latencies(cur, run_ids):
    cur.execute("SELECT to_regclass('latencies') AS t")
    if cur.fetchone()["t"] is None:  # written by an edgebench that pushed no samples, not pushed since
        return []
    cur.execute("SELECT * FROM latencies WHERE run_id = ANY(%s) ORDER BY measurement_id", (run_ids,))
    return [_blobs_as_bytes(dict(r)) for r in cur.fetchall()]


def _environment(run):
    try:
        return json.loads(run.get("environment_json") or "{}")
    except ValueError:
        return {}
