"""``edgebench analyze`` and ``edgebench budget``: argument parsing and output only."""

import sys

from edgebench.analysis.points import MEMORY_BASIS_CHOICES
from edgebench.cliutil import add_json_argument, emit_json
from edgebench.errors import UsageError

RESULTS_HELP = ("results.db, results.csv, results.json, the --out directory of a sweep, or postgresql://... "
                "(what `edgebench push` wrote; ?board=HOST&since=YYYY-MM-DD filter it)")


def add_selection_arguments(parser):
    parser.add_argument(
        "--force",
        action="store_true",
        help="fit across points measured in different environments (env_key); they are refused otherwise",
    )
    parser.add_argument(
        "--env-key",
        metavar="KEY",
        default=None,
        help="analyse only the points of this environment (a unique prefix is enough)",
    )


def add_memory_argument(parser):
    parser.add_argument(
        "--memory",
        choices=MEMORY_BASIS_CHOICES,
        default="auto",
        help="memory figure to fit: 'system' = system_used_peak_mb - system_used_before_mb (on a Jetson "
        "this includes GPU memory), 'system-absolute' = system_used_peak_mb as measured, 'rss' = the "
        "worker's peak_rss_mb; 'auto' (default) = system for GPU engines or on a board, rss for CPU "
        "engines elsewhere (system-wide figures there move with every other process)",
    )


def register(subparsers):
    p = subparsers.add_parser(
        "analyze",
        help="derive the paper's relations from sweep results (memory knee, ops vs time, power, bounds)",
        description="Derive from sweep results: the memory knee per network, static memory vs parameter "
        "size, per-image time vs G-Ops per batch size, net power, the accuracy vs throughput upper bound, "
        "top-1 per parameter and the accuracy vs energy-per-image frontier.",
    )
    p.add_argument("results", metavar="RESULTS", help=RESULTS_HELP)
    add_selection_arguments(p)
    add_memory_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run_analyze)

    b = subparsers.add_parser(
        "budget",
        help="best measured accuracy within an energy, power-and-rate or latency budget",
        description="Name the most accurate measured configuration (model, backend, precision, batch) "
        "that fits the budget, the upper bound on accuracy the fitted relation predicts for it, and the "
        "runners-up. Power and energy are net: above the board's idle power.",
    )
    b.add_argument("results", metavar="RESULTS", help=RESULTS_HELP)
    b.add_argument("--energy-mj", metavar="E", help="net energy per image, millijoules")
    b.add_argument("--power-w", metavar="P", help="net power above idle, watts (with --fps)")
    b.add_argument("--fps", metavar="F", help="images per second to sustain (with --power-w)")
    b.add_argument(
        "--latency-ms", metavar="L", help="latency of one inference call (at its batch size), milliseconds"
    )
    add_selection_arguments(b)
    add_json_argument(b)
    b.set_defaults(func=run_budget)

    s = subparsers.add_parser(
        "show",
        help="one point's raw latencies: distribution, timeline, warm-up drift",
        description="Print the per-iteration latencies a sweep stored for one point: a histogram, the "
        "timeline from first to last call, the warm-up drift, and whether the stored median and p99 are "
        "reproduced exactly from the samples.",
    )
    s.add_argument("results", metavar="RESULTS", help="results.db, or the --out directory of a sweep")
    s.add_argument("point", metavar="POINT",
                   help="point key (model/backend/precision/batch), a unique part of it, or a measurement id")
    add_json_argument(s)
    s.set_defaults(func=run_show)

    from edgebench.analysis.compare import register as register_compare

    register_compare(subparsers)


def run_analyze(args):
    from edgebench.analysis import analyze
    from edgebench.report.text import analyze_tables, render_text

    summary = analyze(args.results, force=args.force, env_key=args.env_key, memory_basis=args.memory)
    if args.json:
        emit_json(summary)
    else:
        write_text(render_text(analyze_tables(summary), summary["warnings"]))
    return 0


def write_text(text, stream=None):
    """Write ``text``; on a terminal that cannot show it (C locale on Python 3.6) with ASCII stand-ins."""
    stream = stream or sys.stdout
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        text = text.replace("→", "->")
        for i, ch in enumerate("▁▂▃▄▅▆▇█"):
            text = text.replace(ch, "_.-=+*#@"[i])
        stream.write(text.encode(encoding, "replace").decode(encoding))


def run_show(args):
    from edgebench.analysis.show import render, show_point

    doc = show_point(args.results, args.point)
    if args.json:
        emit_json(doc)
    else:
        write_text(render(doc))
    return 0


def run_budget(args):
    from edgebench.analysis import budget
    from edgebench.report.text import budget_text

    # Numbers are checked here rather than by argparse so that a bad budget is one line, exit 2.
    values = {}
    for name in ("energy_mj", "power_w", "fps", "latency_ms"):
        values[name] = _budget_number("--" + name.replace("_", "-"), getattr(args, name))
    answer = budget(args.results, force=args.force, env_key=args.env_key, **values)
    if args.json:
        emit_json(answer)
    else:
        write_text(budget_text(answer))
    return 0


def _budget_number(option, text):
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError("{} {!r} is not a number: give a positive number".format(option, text))
    if not value > 0 or value == float("inf"):
        raise UsageError("{} {} is not a usable budget: give a positive number".format(option, text))
    return value
