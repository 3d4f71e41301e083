"""The report's index.html: figures and summary tables in one self-contained page.

No server, no scripts, no external resources: styles are inline and figures are linked by
relative file names, so the folder can be copied and opened anywhere.
"""

import html

from edgebench.report.text import analyze_tables

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
"""


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


def index_html(summary, figures, figures_note=None, files=()):
    """The page as a string. ``figures``: dicts with title, file (relative) and skipped."""
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
    if files:
        out.append(
            "<h2>Files</h2><ul>{}</ul>".format(
                "".join('<li><a href="{0}">{0}</a></li>'.format(_e(name)) for name in files)
            )
        )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
