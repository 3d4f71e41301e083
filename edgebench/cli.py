"""Command-line entry point: argument parsing and dispatch only.

Each subpackage owns its commands in a small ``cli`` module with ``register(subparsers)``; that
module imports nothing heavy at import time, so ``edgebench --help`` stays fast on a board.
"""
import argparse
import os
import sys

from edgebench import __version__
from edgebench.errors import EdgebenchError

# Order is the order of ``edgebench --help``.
COMMAND_MODULES = (
    "edgebench.models.cli",
    "edgebench.sweep.cli",
    "edgebench.results.cli",
    "edgebench.calibration.cli",
    "edgebench.analysis.cli",
    "edgebench.report.cli",
    "edgebench.platform.cli",
    "edgebench.power.cli",
    "edgebench.agent.cli",
    "edgebench.agent.service",
)


def build_parser():
    import importlib

    parser = argparse.ArgumentParser(
        prog="edgebench",
        description="Sweep neural networks over batch sizes and precisions; measure time per image, "
        "power, energy per image and memory (Jetson TensorRT, or ONNX Runtime anywhere).",
    )
    parser.add_argument("--version", action="version", version="edgebench " + __version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None):
    """Run the ``edgebench`` command; return its exit status (0 ok, 1 failure, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage and the reason
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    debug = os.environ.get("EDGEBENCH_DEBUG", "")
    try:
        return int(args.func(args) or 0)
    except EdgebenchError as err:
        if debug:
            raise
        print("edgebench: error: {}".format(err), file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print("edgebench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `edgebench models | head`
        return 0
    except Exception as err:  # a traceback is a bug; show one line unless asked
        if debug:
            raise
        print(
            "edgebench: internal error: {}: {} (this is a bug; rerun with EDGEBENCH_DEBUG=1 for the "
            "traceback and report it)".format(type(err).__name__, err),
            file=sys.stderr,
        )
        return 1
