"""The layout's rules, read from the source: imports point down, and the daemon is nobody's dependency."""
import ast
import os

from cli_helpers import ROOT

PACKAGE = os.path.join(ROOT, "edgebench")
BELOW_THE_DAEMON = ("results", "sweep", "analysis", "report", "calibration", "monitor", "engines", "power",
                    "models", "platform")


def _imports(subpackage):
    """(file, imported module) for every edgebench import in a subpackage, lazy ones included."""
    found = []
    for dirpath, _, names in os.walk(os.path.join(PACKAGE, subpackage)):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edgebench"):
                    found.append((os.path.relpath(path, ROOT), node.module))
                elif isinstance(node, ast.Import):
                    found.extend((os.path.relpath(path, ROOT), a.name) for a in node.names
                                 if a.name.startswith("edgebench"))
    return found


def test_nothing_below_the_daemon_imports_the_agent():
    offending = [(f, m) for sub in BELOW_THE_DAEMON for f, m in _imports(sub) if m.startswith("edgebench.agent")]
    assert offending == []


def test_results_imports_no_sibling_but_errors_and_file_helpers():
    allowed = ("edgebench.results", "edgebench.errors", "edgebench._files", "edgebench._helpers", "edgebench.cliutil")
    offending = [(f, m) for f, m in _imports("results")
                 if m != "edgebench" and not any(m == a or m.startswith(a + ".") for a in allowed)]
    assert offending == []
