"""Helpers shared by the subcommands: common options, JSON output, argument types."""
import argparse
import json
import math
import sys


def add_root_argument(parser):
    parser.add_argument(
        "--root",
        metavar="DIR",
        default=None,
        help="filesystem root that board files are read under (default: $EDGEBENCH_ROOT or /)",
    )


def add_json_argument(parser):
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout (progress goes to stderr)"
    )


def jsonable(value):
    """Make ``value`` JSON-safe: NaN/inf become null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit_json(obj, stream=None):
    stream = stream or sys.stdout
    json.dump(jsonable(obj), stream, indent=2, sort_keys=False, allow_nan=False)
    stream.write("\n")
    stream.flush()


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("{!r} is not a number".format(text))
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError("{!r} must be a positive number".format(text))
    return value


def non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("{!r} is not a number".format(text))
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError("{!r} must be zero or a positive number".format(text))
    return value


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("{!r} is not a whole number".format(text))
    if value <= 0:
        raise argparse.ArgumentTypeError("{!r} must be a positive whole number".format(text))
    return value


def console(stderr=False, min_width=140):
    """A rich console; when writing to a pipe or file, wide enough that tables do not fold."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    con = Console(file=stream, stderr=stderr)
    if not con.is_terminal:
        con = Console(file=stream, stderr=stderr, width=max(min_width, con.width))
    return con
