"""The report's "boards" page: results from several boards, side by side, with no fit across them.

``report`` on results that span several boards (a fleet's PostgreSQL, or a file holding runs from
several hosts) writes this page instead of fitting the boards together, unless ``--force`` or
``--env-key`` asks for one analysis: ``boards.json`` (the ``compare --json`` document), one figure
per network and precision (net energy per image against per-image latency, one colour per board,
one marker per batch size along each board's line), and ``index.html``/``boards.html`` with the
tables and each budget's winner. Per-board reports stay one command away (``?board=HOST``).
"""
import io
import json
import os
import re
from collections import OrderedDict

from edgebench.cliutil import jsonable
from edgebench.report.page import _CSS, _e

# Okabe-Ito, colour-blind safe; one colour per board for the whole page.
BOARD_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _boards_in(results):
    from edgebench.results.boards import board_label

    return set(board_label(r.get("environment") if isinstance(r.get("environment"), dict) else {})
               for r in results.runs if r.get("id") in set(m.get("run_id") for m in results.measurements))


def _figure_name(net):
    return "boards_{}_{}.png".format(re.sub(r"[^A-Za-z0-9_.-]+", "_", net["model"]), net["precision"])


def draw_board_figure(net, colours, path):
    """Net energy per image (mJ) against per-image latency (ms), one line per board and engine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    drawn = 0
    for entry in net["boards"]:
        pts = [(p["per_image_ms"], p["net_energy_per_image_j"] * 1e3, p["batch_size"]) for p in entry["points"]
               if p["per_image_ms"] is not None and p["net_energy_per_image_j"] is not None]
        if not pts:
            continue
        label = "{} ({})".format(entry["board"], entry["backend"]) + (" SIMULATED" if entry["simulated"] else "")
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", color=colours[entry["board"]], label=label)
        for x, y, batch in pts:
            ax.annotate(str(batch), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xlabel("per-image latency (ms)")
    ax.set_ylabel("net energy per image (mJ)")
    ax.set_title("{} {}: energy vs latency by board (labels: batch size)".format(net["model"], net["precision"]))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def boards_html(doc, figures, note):
    from edgebench.analysis.compare import BUDGETS

    cols = (("board", "board"), ("backend", "engine"), ("images_per_s", "images/s"), ("images_per_s_batch", "at batch"),
            ("latency_ms", "latency ms"), ("per_image_ms", "ms / image"), ("net_power_w", "net W"),
            ("net_energy_per_image_j", "net J / image"), ("memory_knee_batch", "memory knee (batch)"),
            ("top1", "top-1 %"), ("top1_source", "top-1 from"))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>edgebench boards</title>", "<style>{}</style>".format(_CSS), "</head><body>",
           "<h1>edgebench: boards side by side</h1>",
           '<p class="meta">Results: {}. Boards: {}. Nothing here is fitted across boards; for one board\'s '
           'full report, run <code>edgebench report RESULTS?board=HOST</code>.</p>'.format(
               _e("; ".join(doc["sources"])), _e(", ".join(doc["boards"])))]
    if any(e["simulated"] for net in doc["networks"] for e in net["boards"]):
        out.append('<div class="simulated">Some power and energy figures come from a SIMULATED power source. '
                   "They are not measurements.</div>")
    if doc["warnings"]:
        out.append('<div class="warnings"><ul>{}</ul></div>'.format(
            "".join("<li>{}</li>".format(_e(w)) for w in doc["warnings"])))
    if note:
        out.append('<p class="skipped">{}</p>'.format(_e(note)))
    if figures:
        out.append('<div class="figures">')
        for title, name in figures:
            out.append('<figure><a href="{0}"><img src="{0}" alt="{1}"></a><figcaption>{1}</figcaption>'
                       "</figure>".format(_e(name), _e(title)))
        out.append("</div>")
    for net in doc["networks"]:
        out.append("<h2>{} {}</h2><table><thead><tr>{}</tr></thead><tbody>".format(
            _e(net["model"]), _e(net["precision"]), "".join("<th>{}</th>".format(_e(h)) for _, h in cols)))
        for entry in net["boards"]:
            out.append("<tr>{}</tr>".format("".join("<td>{}</td>".format(_e(entry.get(k))) for k, _ in cols)))
        out.append("</tbody></table><p class=\"note\">{}</p>".format(_e("; ".join(
            "{}: {}".format(BUDGETS[name][2], w["board"] if w else "-") for name, w in net["winners"].items()))))
    out.append("<h2>Budgets won</h2><table><thead><tr><th>board</th>{}</tr></thead><tbody>".format(
        "".join("<th>{}</th>".format(_e(n)) for n in BUDGETS)))
    for board, won in doc["wins"].items():
        out.append("<tr><td>{}</td>{}</tr>".format(_e(board), "".join(
            '<td class="num">{}</td>'.format(c) for c in won.values())))
    out.append("</tbody></table></body></html>")
    return "\n".join(out) + "\n"


def fleet_report(results, out_dir, figures=True):
    """Write the boards page when ``results`` span several boards; None (nothing written) otherwise."""
    from edgebench.analysis.compare import compare_results
    from edgebench.errors import UsageError
    from edgebench.report.figures import INSTALL_HINT, matplotlib_available

    if len(_boards_in(results)) < 2:
        return None
    try:
        doc = compare_results([results])
    except UsageError:
        return None  # several boards but no network in common: the usual report explains the mix
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as err:
        raise UsageError("cannot create report folder {}: {}; pass another --out".format(out_dir, err.strerror))
    colours = OrderedDict((b, BOARD_COLOURS[i % len(BOARD_COLOURS)]) for i, b in enumerate(doc["boards"]))
    have_mpl = matplotlib_available()
    note, drawn = None, []
    if not figures:
        note = "figures were not requested"
    elif not have_mpl:
        note = "figures need matplotlib, which is not installed: {}".format(INSTALL_HINT)
    listed = []
    for net in doc["networks"]:
        name = _figure_name(net)
        title = "{} {}: net energy per image vs latency".format(net["model"], net["precision"])
        path = os.path.join(out_dir, name)
        if os.path.exists(path):
            os.remove(path)  # never a stale figure
        ok = bool(figures and have_mpl and draw_board_figure(net, colours, path))
        listed.append(OrderedDict((("name", name[:-4]), ("title", title), ("file", name if ok else None),
                                   ("skipped", None if ok else (note or "no point has both latency and energy")))))
        if ok:
            drawn.append((title, name))
    files = ["boards.json", "boards.html", "index.html"]
    with io.open(os.path.join(out_dir, "boards.json"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(jsonable(doc), indent=2, allow_nan=False) + "\n")
    page = boards_html(doc, drawn, note)
    for name in ("boards.html", "index.html"):
        with io.open(os.path.join(out_dir, name), "w", encoding="utf-8") as handle:
            handle.write(page)
    return OrderedDict((("out_dir", out_dir), ("files", files + [n for _, n in drawn]), ("figures", listed),
                        ("matplotlib", have_mpl), ("figures_note", note), ("boards", doc["boards"])))
