"""``edgebench export``: the CSV and JSON of every run in a results store."""
import os

from edgebench.cliutil import add_json_argument, emit_json
from edgebench.errors import UsageError


def register(subparsers):
    parser = subparsers.add_parser(
        "export",
        help="write results.csv and results.json of every run in a results store",
        description="A sweep writes the CSV and JSON of its own run next to results.db; this writes "
        "those of every run in the store (the same columns and keys).",
    )
    parser.add_argument("results", metavar="RESULTS", help="a results.db, the --out directory holding one, or a "
                        "postgresql:// URL `edgebench push` wrote to (?board=...&since=... filter it)")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for results.csv and results.json")
    add_json_argument(parser)
    parser.set_defaults(func=run)

    push = subparsers.add_parser(
        "push",
        help="copy the finished runs of a results store into a shared PostgreSQL (idempotent)",
        description="Copy every finished run of RESULTS, its points and their raw per-iteration latencies into "
        "PostgreSQL, one transaction per run, by run UUID: pushing again adds nothing, a run that resumed is "
        "updated. edgebench creates and "
        "migrates the tables (the SQLite column names). Credentials come from the URL, PGPASSFILE (~/.pgpass) "
        "or the PG* environment, and are never printed. Needs pip install 'edgebench[fleet]'.",
    )
    push.add_argument("results", metavar="RESULTS", help="a results.db, or the --out directory holding one")
    push.add_argument("url", metavar="URL", help="postgresql://[user[:password]@]host[:port]/database[?sslmode=...]")
    add_json_argument(push)
    push.set_defaults(func=run_push)


def run_push(args):
    import sys

    from edgebench.results.postgres import is_postgres_url, push_store, redact
    from edgebench.results.store import ResultStore

    if not is_postgres_url(args.url):
        raise UsageError("{} is not a PostgreSQL URL: give postgresql://user@host/database".format(args.url))
    path = store_path(args.results)
    with ResultStore(path, create=False) as store:
        result = push_store(store, args.url, say=None if args.json else lambda msg: print(msg, file=sys.stderr))
    doc = dict(result.as_dict(), store=os.path.abspath(path), url=redact(args.url))
    if args.json:
        emit_json(doc)
    else:
        print("{runs_new} new, {runs_updated} updated, {runs_unchanged} unchanged run(s), {runs_skipped} still "
              "running (pushed once they end); {points_added} point(s) added, {points_updated} updated; raw "
              "samples of {latencies_added} point(s) added, {latencies_updated} replaced -> {url}".format(**doc))
    return 0


def store_path(ref):
    """The results.db a RESULTS argument names (the file, or a directory holding one)."""
    path = os.path.join(ref, "results.db") if os.path.isdir(ref) else ref
    if not os.path.isfile(path):
        raise UsageError("{} is not a results store; pass a results.db or the --out directory of a sweep".format(ref))
    return path


def run(args):
    from edgebench.results.export import CSV_NAME, JSON_NAME, export_store
    from edgebench.results.postgres import is_postgres_url
    from edgebench.results.store import ResultStore

    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError("--out {} is a file; give a directory".format(args.out))
    files = [os.path.join(out, CSV_NAME), os.path.join(out, JSON_NAME)]
    if is_postgres_url(args.results):
        from edgebench.results.export import write_csv, write_json
        from edgebench.results.postgres import read_tables, redact

        version, runs, rows, _ = read_tables(args.results)
        os.makedirs(out, exist_ok=True)
        write_csv(files[0], rows)
        write_json(files[1], version, runs, rows, [])
        doc = {"store": redact(args.results), "out": out, "runs": len(runs), "measurements": len(rows),
               "files": files}
    else:
        path = store_path(args.results)
        with ResultStore(path, create=False) as store:
            os.makedirs(out, exist_ok=True)
            export_store(store, out)
            doc = {"store": os.path.abspath(path), "out": out, "runs": len(store.runs()),
                   "measurements": len(store.measurements()), "files": files}
    if args.json:
        emit_json(doc)
    else:
        print("{runs} run(s), {measurements} point(s) -> {files[0]}, {files[1]}".format(**doc))
    return 0
