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
    parser.add_argument("results", metavar="RESULTS", help="a results.db, or the --out directory holding one")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for results.csv and results.json")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def store_path(ref):
    """The results.db a RESULTS argument names (the file, or a directory holding one)."""
    path = os.path.join(ref, "results.db") if os.path.isdir(ref) else ref
    if not os.path.isfile(path):
        raise UsageError("{} is not a results store; pass a results.db or the --out directory of a sweep".format(ref))
    return path


def run(args):
    from edgebench.results.export import CSV_NAME, JSON_NAME, export_store
    from edgebench.results.store import ResultStore

    path = store_path(args.results)
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError("--out {} is a file; give a directory".format(args.out))
    with ResultStore(path, create=False) as store:
        os.makedirs(out, exist_ok=True)
        export_store(store, out)
        doc = {"store": os.path.abspath(path), "out": out, "runs": len(store.runs()),
               "measurements": len(store.measurements()),
               "files": [os.path.join(out, CSV_NAME), os.path.join(out, JSON_NAME)]}
    if args.json:
        emit_json(doc)
    else:
        print("{runs} run(s), {measurements} point(s) -> {files[0]}, {files[1]}".format(**doc))
    return 0
