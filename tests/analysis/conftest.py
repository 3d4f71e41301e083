import pytest

import edgebench.cli


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run `edgebench ARGS` through the real entry point with the analysis commands registered.

    Returns (exit status, stdout, stderr).
    """
    monkeypatch.setattr(edgebench.cli, "COMMAND_MODULES", ("edgebench.analysis.cli", "edgebench.report.cli"))

    def run(*argv):
        status = edgebench.cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run
