#!/usr/bin/env python3
"""Rewrite the README's measurement-column table from edgebench/results/schema.py (tests/test_readme.py checks it)."""
import os
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from edgebench.results import schema  # noqa: E402

START, END = "<!-- schema:measurements -->\n", "<!-- /schema:measurements -->"


def main():
    path = os.path.join(HERE, "README.md")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    head, rest = text.split(START)
    _, tail = rest.split(END)
    rows = "\n".join("| `{}` | {} |".format(n, d.replace("|", "\\|")) for n, _, d in schema.MEASUREMENT_COLUMNS)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(head + START + "| column | meaning |\n|---|---|\n" + rows + "\n" + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
