"""`import edgebench` and `edgebench --help` must not pull in heavy vendor libraries."""
import json
import subprocess
import sys

from cli_helpers import ROOT, edgebench

HEAVY = ("torch", "onnxruntime", "tensorrt", "matplotlib", "pycuda", "torchvision")


def test_import_and_parser_construction_stay_light():
    code = (
        "import sys, json, edgebench, edgebench.cli\n"
        "edgebench.cli.build_parser()\n"
        "print(json.dumps([m for m in {!r} if m in sys.modules]))\n"
    ).format(HEAVY)
    out = subprocess.check_output([sys.executable, "-c", code], cwd=ROOT, universal_newlines=True)
    assert json.loads(out) == []


def test_help_exits_zero_and_lists_sweep():
    proc = edgebench("--help")
    assert proc.returncode == 0 and "sweep" in proc.stdout


def test_no_command_prints_help_and_exits_two():
    proc = edgebench()
    assert proc.returncode == 2 and "usage" in proc.stderr.lower()
