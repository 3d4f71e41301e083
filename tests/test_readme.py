"""The README tells the truth about the interfaces users rely on."""
import os
import re

from edgebench.results import schema

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _readme():
    with open(README, encoding="utf-8") as fh:
        return fh.read()


def test_readme_documents_every_measurement_column_in_order():
    block = _readme().split("<!-- schema:measurements -->")[1].split("<!-- /schema:measurements -->")[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (.*) \|$", block, re.M)
    assert [name for name, _ in rows] == list(schema.MEASUREMENT_COLUMN_NAMES)
    described = dict((name, text.replace("\\|", "|")) for name, text in rows)
    for name, _, text in schema.MEASUREMENT_COLUMNS:
        assert described[name] == text, name


def test_readme_test_command_is_what_ci_runs():
    with open(os.path.join(os.path.dirname(README), ".ci", "run")) as fh:
        assert "tools/test" in fh.read()
    assert "\ntools/test\n" in _readme()
