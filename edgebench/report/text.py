"""Summary tables of an ``analyze`` document, as plain text and as data for HTML.

A table is a dict: ``title``, ``headers``, ``rows`` (lists of already formatted strings) and
``notes`` (lines shown under it). Standard library only: this runs on the boards.
"""

import math

from edgebench.analysis.paper import MEMORY_LABEL, PAPER, POWER_LABEL
from edgebench.analysis.words import plural


def fmt(value, digits=3):
    """A number for a table: None -> "-", otherwise ``digits`` significant figures."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if abs(value) < 1e-9:
            return "0"
        if abs(value) >= 10**digits:
            return "{:.0f}".format(value)
        return "{:.{}g}".format(value, digits)
    return str(value)


def _sim(record):
    return "SIMULATED" if record.get("simulated") else "measured"


def _prec(record):
    """What ran: ``fp16`` or ``fp16→fp32`` (requested fp16, computed in fp32)."""
    return record.get("precision_label") or record.get("precision") or "-"


def _plus_minus(mean, std, unit):
    """``11.8 +/- 0.3 W`` or, without a spread, ``11.8 W``."""
    if std is None:
        return "{} {}".format(fmt(mean), unit)
    return "{} +/- {} {}".format(fmt(mean), fmt(std), unit)


def fit_caveats(fit, x_name, y_unit="ms"):
    """Why a fitted line is not physics: a negative intercept, or fewer than 3 points."""
    out = []
    if fit.get("intercept_ms") is not None and fit["intercept_ms"] < 0:
        out.append("negative intercept ({} {}): the line is a local trend, not a fixed cost".format(
            fmt(fit["intercept_ms"]), y_unit))
    n = fit.get("n")
    if n is not None and n < 3:
        out.append("only {}: a line through them says nothing about {}".format(plural(n, "point"), x_name))
    return out


def _short_source(source):
    if source is None:
        return "-"
    return "measured" if source == "measured" else "reference"


def _table(title, headers, rows, notes=()):
    return {"title": title, "headers": list(headers), "rows": rows, "notes": [n for n in notes if n]}


def analyze_tables(summary):
    tables = []
    knee_rows = []
    for k in summary["memory_knee"]:
        note = k.get("message", "")
        if k.get("outlier_batches"):
            note = (
                (note + "; " if note else "")
                + "outlier left out at batch "
                + ", ".join(str(b) for b in k["outlier_batches"])
            )
        if k.get("oom_batches"):
            note = (
                (note + "; " if note else "")
                + "out of memory at batch "
                + ", ".join(str(b) for b in k["oom_batches"])
            )
        knee_rows.append(
            [
                k["model"],
                k["backend"],
                _prec(k),
                k.get("status", "-"),
                fmt(k.get("static_mb")),
                fmt(k.get("knee_batch")),
                fmt(k.get("mb_per_image")),
                fmt(k.get("r2"), 4),
                fmt(k.get("rmse_mb")),
                note,
            ]
        )
    columns = sorted({k["memory_column"] for k in summary["memory_knee"] if k.get("memory_column")})
    tables.append(
        _table(
            "Memory vs batch: flat at static MB up to the knee, then MB per extra image",
            [
                "model",
                "backend",
                "precision",
                "fit",
                "static MB",
                "knee batch",
                "MB/image",
                "R2",
                "RMSE MB",
                "notes",
            ],
            knee_rows,
            ["memory figure: " + ", ".join(columns)] if columns else [],
        )
    )

    mvp = summary["memory_vs_params"]
    rows = []
    mvp_notes = []
    for f in mvp.get("fits", []):
        rows.append(
            [
                f["backend"],
                _prec(f),
                fmt(f.get("floor_mb")),
                fmt(f.get("slope_mb_per_param_mb")),
                fmt(f.get("r2"), 4),
                str(len(f["points"])),
                f.get("reason", ""),
            ]
        )
        if f.get("precision_note"):
            mvp_notes.append("{} {}: {}".format(f["backend"], _prec(f), f["precision_note"]))
    tables.append(
        _table(
            "Static memory vs parameter size (paper: {})".format(MEMORY_LABEL),
            ["backend", "precision", "floor MB", "slope", "R2", "models", "notes"],
            rows,
            [mvp.get("reason")]
            if not mvp.get("fits")
            else [
                "parameter MB = params x bytes per parameter of the precision that ran (fp32 4, fp16 2, "
                "int8 1) / 1e6"
            ]
            + mvp_notes,
        )
    )

    rows = []
    for f in summary["ops_vs_time"]:
        caveats = fit_caveats(f, "how time scales with G-Ops") if f.get("available") else []
        rows.append(
            [
                f["backend"],
                _prec(f),
                str(f["batch_size"]),
                fmt(f.get("ms_per_gop")),
                fmt(f.get("intercept_ms")),
                fmt(f.get("r2"), 4),
                str(len(f["points"])),
                "; ".join([f.get("reason", "")] + caveats if f.get("reason") else caveats),
            ]
        )
    tables.append(
        _table(
            "Per-image time vs G-Ops (linear fit per batch size)",
            ["backend", "precision", "batch", "ms/G-Op", "intercept ms", "R2", "models", "notes"],
            rows,
        )
    )

    p = summary["power"]
    if p.get("available"):
        rows = []
        for e in p["per_model"]:
            rows.append(
                [
                    e["model"],
                    e["backend"],
                    _prec(e),
                    str(e["batch_size"]),
                    fmt(e["net_power_w"]),
                    fmt(e.get("net_power_ci_w")),
                    fmt(e.get("net_power_cv_across_batches")),
                    _sim(e),
                    e.get("note", ""),
                ]
            )
        agg = p["across_models"]
        notes = [
            "across models: {} net ({}){}; paper: {} over {:.2f} W idle".format(
                _plus_minus(agg["mean_net_power_w"], agg["std_net_power_w"], "W"),
                plural(agg["n_models"], "model"),
                " SIMULATED" if agg.get("simulated") else "",
                POWER_LABEL,
                PAPER["idle_power_w"],
            )
        ]
        if p.get("idle_power_w") is not None:
            notes.append(
                "idle power: {} W{}".format(
                    fmt(p["idle_power_w"]), " SIMULATED" if p.get("simulated") else ""
                )
            )
        for e in p["by_engine"]:
            notes.append(
                "{} {}: {} over {}{}".format(
                    e["backend"],
                    _prec(e),
                    _plus_minus(e["mean_net_power_w"], e["std_net_power_w"], "W"),
                    plural(e["n_models"], "model"),
                    " SIMULATED" if e.get("simulated") else "",
                )
            )
        if p.get("nyquist_failures"):
            notes.append("{} point(s) sampled power below the Nyquist rate".format(p["nyquist_failures"]))
        tables.append(
            _table(
                "Net power at the largest feasible batch",
                ["model", "backend", "precision", "batch", "net W", "+/- W", "CV over batches", "power", "notes"],
                rows,
                notes,
            )
        )
    else:
        tables.append(_table("Net power", [], [], [p.get("reason")]))

    b = summary["accuracy_throughput_bound"]
    if b.get("available"):
        lin, hyp = b["images_per_s"], b["per_image_ms"]
        rows = [
            [
                r["model"],
                r["backend"],
                _prec(r),
                str(r["batch_size"]),
                fmt(r["top1"]),
                _short_source(r["top1_source"]),
                fmt(r["images_per_s"]),
            ]
            for r in lin["envelope"]
        ]
        notes = [
            lin.get("relation"),
            hyp.get("relation"),
            lin.get("note"),
            "accuracy sources: " + ", ".join("{} {}".format(k, v) for k, v in lin["top1_sources"].items()),
        ]
        tables.append(
            _table(
                "Accuracy vs throughput: upper bound fitted on the envelope",
                ["model", "backend", "precision", "batch", "top-1 %", "top-1 from", "images/s"],
                rows,
                notes,
            )
        )
    else:
        tables.append(_table("Accuracy vs throughput upper bound", [], [], [b.get("reason")]))

    rows = [
        [
            str(e["rank"]),
            e["model"],
            _prec(e) if e.get("precision") else "any",
            fmt(e["top1"]),
            _short_source(e["top1_source"]),
            fmt(e["params"] / 1e6),
            fmt(e["top1_per_mparams"]),
        ]
        for e in summary["information_density"]
    ]
    tables.append(
        _table(
            "Information density: top-1 per million parameters",
            ["rank", "model", "precision", "top-1 %", "top-1 from", "M params", "top-1 / M params"],
            rows,
            [] if rows else ["no model has both a parameter count and a top-1 accuracy"],
        )
    )

    par = summary["pareto"]
    if par.get("available"):
        rows = [
            [
                r["model"],
                r["backend"],
                _prec(r),
                str(r["batch_size"]),
                fmt(r["top1"]),
                _short_source(r["top1_source"]),
                fmt(r["net_energy_per_image_j"] * 1000.0),
                fmt(r["images_per_s"]),
                _sim(r),
            ]
            for r in par["frontier"]
        ]
        tables.append(
            _table(
                "Accuracy vs net energy per image: the frontier",
                [
                    "model",
                    "backend",
                    "precision",
                    "batch",
                    "top-1 %",
                    "top-1 from",
                    "mJ/image",
                    "images/s",
                    "power",
                ],
                rows,
                ["{} not shown".format(plural(par["dominated"], "dominated configuration"))],
            )
        )
    else:
        tables.append(_table("Accuracy vs net energy per image", [], [], [par.get("reason")]))
    return tables


def render_text(tables, warnings=()):
    out = []
    for t in tables:
        out.append(t["title"])
        out.append("=" * min(len(t["title"]), 100))
        if t["headers"] and t["rows"]:
            widths = [len(h) for h in t["headers"]]
            for row in t["rows"]:
                for i, cell in enumerate(row):
                    widths[i] = max(widths[i], len(cell))
            line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(t["headers"]))
            out.append(line.rstrip())
            out.append("  ".join("-" * w for w in widths).rstrip())
            for row in t["rows"]:
                out.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
        elif t["headers"]:
            out.append("(nothing to show)")
        for note in t["notes"]:
            out.append("  " + note)
        out.append("")
    for w in warnings:
        out.append("warning: " + w)
    return "\n".join(out).rstrip() + "\n"


def budget_text(answer):
    lines = [answer["message"]]
    best = answer.get("best")
    if best:
        lines.append(
            "  top-1 {}% ({}); {} images/s; {} ms per call; {} mJ per image{}".format(
                fmt(best["top1"]),
                best["top1_source"],
                fmt(best["images_per_s"]),
                fmt(best["latency_ms"]),
                fmt(
                    None
                    if best["net_energy_per_image_j"] is None
                    else best["net_energy_per_image_j"] * 1000.0
                ),
                " SIMULATED" if best.get("simulated") else "",
            )
        )
    bound = answer.get("accuracy_bound")
    if bound:
        lines.append(
            "upper bound on top-1 for this budget: {}% ({}{})".format(
                fmt(bound["top1"]), bound["relation"], "; " + bound["note"] if bound.get("note") else ""
            )
        )
    else:
        lines.append("upper bound on top-1: not available")
    if answer.get("runners_up"):
        lines.append("runners-up:")
        for r in answer["runners_up"]:
            lines.append(
                "  {} {} {} batch {}: top-1 {}% ({}), {} ms per call, {} mJ per image{}".format(
                    r["model"],
                    r["backend"],
                    _prec(r),
                    r["batch_size"],
                    fmt(r["top1"]),
                    _short_source(r["top1_source"]),
                    fmt(r["latency_ms"]),
                    fmt(
                        None if r["net_energy_per_image_j"] is None else r["net_energy_per_image_j"] * 1000.0
                    ),
                    " SIMULATED" if r.get("simulated") else "",
                )
            )
    for w in answer.get("warnings", []):
        lines.append("warning: " + w)
    return "\n".join(lines) + "\n"
