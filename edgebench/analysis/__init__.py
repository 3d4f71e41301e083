"""Analysis of sweep results: memory knee, scaling fits, accuracy/energy frontiers, density.

Importing this package is cheap (numpy is imported by the functions that fit). Public API:

* :func:`load_results` (path) -> :class:`~edgebench.analysis.load.Results`: results.db,
  results.csv, results.json or a sweep's ``--out`` directory.
* :func:`analyze` (path_or_results, force=False, env_key=None, memory_basis="auto") -> dict: the
  ``edgebench analyze --json`` document.
* :func:`budget` (path_or_results, energy_mj=None, power_w=None, fps=None, latency_ms=None,
  force=False, env_key=None) -> dict: the ``edgebench budget --json`` document.
* :func:`derived_columns` (rows) -> {point_key: {...}}: knee and energy per point, for the
  sweep's end-of-run table.

Errors are :class:`edgebench.errors.UsageError` with a message that says what to do next.
"""


def load_results(path):
    from edgebench.analysis.load import load_results as _load

    return _load(path)


def _as_results(path_or_results):
    from edgebench.analysis.load import Results, results_from_rows
    from edgebench.analysis.load import load_results as _load

    if isinstance(path_or_results, Results):
        return path_or_results
    if isinstance(path_or_results, (list, tuple)):
        return results_from_rows(path_or_results)
    return _load(path_or_results)


def analyze(path_or_results, force=False, env_key=None, memory_basis="auto"):
    from edgebench.analysis.summary import analyze_results

    return analyze_results(
        _as_results(path_or_results), force=force, env_key=env_key, memory_basis=memory_basis
    )


def budget(
    path_or_results, energy_mj=None, power_w=None, fps=None, latency_ms=None, force=False, env_key=None
):
    from edgebench.analysis.budgets import budget_results

    return budget_results(
        _as_results(path_or_results),
        energy_mj=energy_mj,
        power_w=power_w,
        fps=fps,
        latency_ms=latency_ms,
        force=force,
        env_key=env_key,
    )


def derived_columns(rows):
    from edgebench.analysis.derived import derived_columns as _derived

    return _derived(rows)
