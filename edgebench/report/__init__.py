"""Reports of sweep results: summary tables, PNG figures, summary.json and index.html.

Importing this package is cheap; matplotlib (the optional ``report`` extra) is imported only when
figures are drawn. Public API:

* :func:`write_report` (results_path_or_rows, out_dir, force=False, env_key=None,
  memory_basis="auto", figures=True) -> dict of what was written; ``edgebench sweep --report DIR``
  calls it.
* ``edgebench.report.text``: ``analyze_tables(summary)``, ``render_text(tables)``,
  ``budget_text(answer)`` for plain-text output.
"""


def write_report(results_path_or_rows, out_dir, force=False, env_key=None, memory_basis="auto", figures=True):
    from edgebench.report.build import write_report as _write

    return _write(
        results_path_or_rows,
        out_dir,
        force=force,
        env_key=env_key,
        memory_basis=memory_basis,
        figures=figures,
    )
