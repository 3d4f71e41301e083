"""``write_report``: summary.json, tables.txt, PNG figures and index.html in one folder."""

import io
import json
import os
from collections import OrderedDict

from edgebench.cliutil import jsonable


def write_report(results_path_or_rows, out_dir, force=False, env_key=None, memory_basis="auto", figures=True):
    """Analyse results and write a report folder; return what was written.

    ``results_path_or_rows``: a results file or --out directory, a list of measurement dicts, or
    a loaded :class:`~edgebench.analysis.load.Results`. Writes ``summary.json`` (the ``analyze``
    document), ``tables.txt``, one PNG per figure the data allows (when matplotlib is installed
    and ``figures`` is true) and ``index.html``. Returns a dict with ``out_dir``, ``files``
    (names relative to out_dir), ``figures`` (name, title, file, skipped), ``matplotlib``
    (bool) and ``figures_note`` (why figures are missing, or None).
    Raises :class:`edgebench.errors.UsageError` when nothing can be analysed.
    """
    from edgebench.analysis import _as_results
    from edgebench.analysis.points import select
    from edgebench.analysis.summary import analyze_results
    from edgebench.errors import UsageError
    from edgebench.report.figures import FIGURES, INSTALL_HINT, matplotlib_available
    from edgebench.report.page import index_html
    from edgebench.report.text import analyze_tables, render_text

    results = _as_results(results_path_or_rows)
    if not force and env_key is None:  # several boards: side by side, never fitted together
        from edgebench.report.boards import fleet_report

        fleet = fleet_report(results, out_dir, figures)
        if fleet is not None:
            return fleet
    summary = analyze_results(results, force=force, env_key=env_key, memory_basis=memory_basis)
    selection = select(results, force=force, env_key=env_key)
    try:
        if not os.path.isdir(out_dir):
            os.makedirs(out_dir)
    except OSError as err:
        raise UsageError(
            "cannot create report folder {}: {}; pass another --out".format(out_dir, err.strerror)
        )

    files = []
    doc = jsonable(summary)
    with io.open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    files.append("summary.json")
    with io.open(os.path.join(out_dir, "tables.txt"), "w", encoding="utf-8") as handle:
        handle.write(render_text(analyze_tables(summary), summary["warnings"]))
    files.append("tables.txt")

    for name, _ in FIGURES:  # no stale figure from an earlier report may pass for a current one
        stale = os.path.join(out_dir, name + ".png")
        if os.path.exists(stale):
            os.remove(stale)
    have_mpl = matplotlib_available()
    note = None
    drawn = [OrderedDict([("name", n), ("title", t), ("file", None), ("skipped", None)]) for n, t in FIGURES]
    if not figures:
        note = "figures were not requested"
    elif not have_mpl:
        note = "figures need matplotlib, which is not installed: {}".format(INSTALL_HINT)
    else:
        from edgebench.report.figures import draw_figures

        drawn = draw_figures(summary, selection.rows, out_dir)
    with io.open(os.path.join(out_dir, "index.html"), "w", encoding="utf-8") as handle:
        handle.write(index_html(summary, drawn, note, files, rows=selection.rows, runs=results.runs))
    files.append("index.html")
    files += [f["file"] for f in drawn if f.get("file")]
    return OrderedDict(
        [
            ("out_dir", out_dir),
            ("files", files),
            ("figures", drawn),
            ("matplotlib", have_mpl),
            ("figures_note", note),
        ]
    )
