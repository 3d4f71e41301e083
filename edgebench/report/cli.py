"""``edgebench report``: argument parsing and output only."""

import sys

from edgebench.cliutil import add_json_argument, emit_json


def register(subparsers):
    from edgebench.analysis.cli import RESULTS_HELP, add_memory_argument, add_selection_arguments

    p = subparsers.add_parser(
        "report",
        help="write PNG figures, summary tables, summary.json and index.html for sweep results",
        description="Analyse sweep results and write a report folder: one PNG per figure (needs "
        "matplotlib: pip install 'edgebench[report]'), tables.txt, summary.json (the `analyze --json` "
        "document) and an index.html that opens from the folder without a server.",
    )
    p.add_argument("results", metavar="RESULTS", help=RESULTS_HELP)
    p.add_argument("--out", metavar="DIR", required=True, help="folder to write the report into")
    add_selection_arguments(p)
    add_memory_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run)


def run(args):
    from edgebench.report import write_report

    written = write_report(
        args.results, args.out, force=args.force, env_key=args.env_key, memory_basis=args.memory
    )
    if args.json:
        emit_json(written)
        return 0
    drawn = [f for f in written["figures"] if f.get("file")]
    if written.get("boards"):
        print("{} boards side by side: wrote {} figure(s), boards.json and index.html to {} (one board's full "
              "report: RESULTS?board=HOST, or --env-key)".format(len(written["boards"]), len(drawn), args.out))
    else:
        print("wrote {} figure(s), summary.json, tables.txt and index.html to {}".format(len(drawn), args.out))
    if written["figures_note"]:
        print("note: " + written["figures_note"], file=sys.stderr)
    for f in written["figures"]:
        if f.get("skipped"):
            print("not drawn: {}: {}".format(f["title"], f["skipped"]), file=sys.stderr)
    return 0
