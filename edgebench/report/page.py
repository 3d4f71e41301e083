"""The report's index.html: figures and summary tables in one self-contained page.

No server, no external resources: styles and the one small script (click a header of the
measured-points table to sort by it) are inline and figures are linked by relative file names, so
the folder can be copied and opened anywhere; without scripts the page reads the same, unsorted.
"""

import html
import json

from edgebench.analysis.points import per_image_ms_of, precision_label
from edgebench.report.text import analyze_tables, fmt

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em auto;
       max-width: 1200px; color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #555; font-size: 0.92em; }
.simulated { background: #fde8dd; border: 2px solid #D55E00; color: #8a2f00; padding: 0.6em 1em;
             font-weight: bold; margin: 1em 0; }
.warnings { background: #fff8e1; border-left: 4px solid #e6a700; padding: 0.5em 1em; font-size: 0.92em; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1.2em; }
figure { margin: 0; border: 1px solid #e3e3e3; padding: 0.5em; background: #fff; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9em; color: #444; margin-top: 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; font-size: 0.88em; margin: 0.15em 0; }
.skipped { color: #666; font-size: 0.9em; }
table.sortable th { cursor: pointer; }
table.sortable th.asc::after { content: " \\25B2"; }
table.sortable th.desc::after { content: " \\25BC"; }
.scroll { overflow-x: auto; }
"""

# Sort the measured-points table by the clicked column: numbers as numbers, "-" last.
_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("th");
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = !th.classList.contains("asc");
      heads.forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var text = row.cells[col].textContent.trim();
        if (text === "-" || text === "") { return null; }
        var num = Number(text);
        return isNaN(num) ? text : num;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null) { return 1; }
        if (y === null) { return -1; }
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""

# (header, value of a stored row) for the measured-points table.
POINT_COLUMNS = (
    ("model", lambda r: r.get("model")),
    ("backend", lambda r: r.get("backend")),
    ("precision", precision_label),
    ("batch", lambda r: r.get("batch_size")),
    ("status", lambda r: r.get("status") if r.get("status") != "ok" or r.get("stable") != 0 else "unstable"),
    ("ms/image", per_image_ms_of),
    ("images/s", lambda r: r.get("images_per_s")),
    ("median ms", lambda r: r.get("latency_median_ms")),
    ("p99 ms", lambda r: r.get("latency_p99_ms")),
    ("CV %", lambda r: None if r.get("latency_cv") is None else 100.0 * r["latency_cv"]),
    ("iterations", lambda r: r.get("iterations")),
    ("load s", lambda r: r.get("load_s")),
    ("build s", lambda r: r.get("build_s")),
    ("peak RSS MB", lambda r: r.get("peak_rss_mb")),
    ("net W", lambda r: r.get("net_power_w")),
    ("net mJ/image", lambda r: None if r.get("net_energy_per_image_j") is None
     else 1000.0 * r["net_energy_per_image_j"]),
    ("power", lambda r: None if r.get("net_power_w") is None else ("SIMULATED" if r.get("simulated") else "measured")),
    ("note", lambda r: r.get("error") or r.get("note")),
)



def _e(text):
    return html.escape("" if text is None else str(text), quote=True)


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _table_html(table):
    parts = ["<h2>{}</h2>".format(_e(table["title"]))]
    if table["headers"] and table["rows"]:
        parts.append(
            "<table><thead><tr>{}</tr></thead><tbody>".format(
                "".join("<th>{}</th>".format(_e(h)) for h in table["headers"])
            )
        )
        for row in table["rows"]:
            cells = []
            for cell in row:
                cls = ' class="num"' if _is_number(cell) else ""
                cells.append("<td{}>{}</td>".format(cls, _e(cell)))
            parts.append("<tr>{}</tr>".format("".join(cells)))
        parts.append("</tbody></table>")
    elif table["headers"]:
        parts.append('<p class="note">nothing to show</p>')
    for note in table["notes"]:
        parts.append('<p class="note">{}</p>'.format(_e(note)))
    return "\n".join(parts)


def points_table_html(rows):
    """Every measured point (the rows the analysis used), one line each, sortable by any column."""
    parts = ["<h2>Measured points</h2>",
             '<p class="note">{} point(s); click a column header to sort.</p>'.format(len(rows)),
             '<div class="scroll"><table class="sortable" id="points"><thead><tr>{}</tr></thead><tbody>'.format(
                 "".join("<th>{}</th>".format(_e(h)) for h, _ in POINT_COLUMNS))]
    for r in rows:
        cells = []
        for _, value_of in POINT_COLUMNS:
            cell = fmt(value_of(r))
            cls = ' class="num"' if _is_number(cell) else ""
            cells.append("<td{}>{}</td>".format(cls, _e(cell)))
        parts.append("<tr>{}</tr>".format("".join(cells)))
    parts.append("</tbody></table></div>")
    return "\n".join(parts)


def _flat(prefix, value, out):
    if isinstance(value, dict):
        for key in sorted(value):
            _flat("{}.{}".format(prefix, key) if prefix else str(key), value[key], out)
    else:
        out.append((prefix, value))
    return out


def environment_html(runs):
    """Each run's recorded environment (host, CPU, OS, Python, library versions, board) as a table."""
    parts = ["<h2>Environment</h2>"]
    if not runs:
        parts.append('<p class="note">the results file carries no runs (a CSV export): the environment '
                     "is unknown</p>")
        return "\n".join(parts)
    for run in runs:
        parts.append("<h3>run {} ({}, {} to {}, edgebench {})</h3>".format(
            _e(run.get("id")), _e(run.get("status")), _e(run.get("started_at")), _e(run.get("finished_at") or "-"),
            _e(run.get("edgebench_version"))))
        env = run.get("environment")
        if not isinstance(env, dict):
            parts.append('<p class="note">no readable environment recorded</p>')
            continue
        items = _flat("", env, [])
        parts.append("<table><tbody>{}</tbody></table>".format("".join(
            "<tr><th>{}</th><td>{}</td></tr>".format(
                _e(k), _e(v if isinstance(v, str) else json.dumps(v))) for k, v in items)))
    return "\n".join(parts)


def index_html(summary, figures, figures_note=None, files=(), rows=None, runs=None):
    """The page as a string. ``figures``: dicts with title, file (relative) and skipped; ``rows``: the
    measured points for their table; ``runs``: the runs (with a parsed ``environment``)."""
    source = summary.get("source", {})
    points = summary.get("points", {})
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>edgebench report</title>",
        "<style>{}</style>".format(_CSS),
        "</head><body>",
        "<h1>edgebench report</h1>",
        '<p class="meta">Results: {} ({}, schema {}); {} point(s), {} ok.</p>'.format(
            _e(source.get("path") or "rows"),
            _e(source.get("format")),
            _e(summary.get("schema_version")),
            _e(points.get("total")),
            _e(points.get("ok")),
        ),
    ]
    if summary.get("power", {}).get("simulated"):
        out.append(
            '<div class="simulated">Power and energy figures in this report come from a SIMULATED '
            "power source. They are not measurements.</div>"
        )
    if summary.get("warnings"):
        out.append(
            '<div class="warnings"><strong>Warnings</strong><ul>{}</ul></div>'.format(
                "".join("<li>{}</li>".format(_e(w)) for w in summary["warnings"])
            )
        )
    out.append("<h2>Figures</h2>")
    if figures_note:
        out.append('<p class="skipped">{}</p>'.format(_e(figures_note)))
    drawn = [f for f in figures if f.get("file")]
    if drawn:
        out.append('<div class="figures">')
        for f in drawn:
            out.append(
                '<figure><a href="{0}"><img src="{0}" alt="{1}"></a><figcaption>{1}</figcaption>'
                "</figure>".format(_e(f["file"]), _e(f["title"]))
            )
        out.append("</div>")
    skipped = [f for f in figures if not f.get("file") and f.get("skipped")]
    if skipped:
        out.append(
            '<p class="skipped">Not drawn:</p><ul class="skipped">{}</ul>'.format(
                "".join("<li>{}: {}</li>".format(_e(f["title"]), _e(f["skipped"])) for f in skipped)
            )
        )
    for table in analyze_tables(summary):
        out.append(_table_html(table))
    if rows is not None:
        out.append(points_table_html(rows))
    if runs is not None:
        out.append(environment_html(runs))
    if files:
        out.append(
            "<h2>Files</h2><ul>{}</ul>".format(
                "".join('<li><a href="{0}">{0}</a></li>'.format(_e(name)) for name in files)
            )
        )
    if rows:
        out.append("<script>{}</script>".format(_SORT_JS))
    out.append("</body></html>")
    return "\n".join(out) + "\n"
