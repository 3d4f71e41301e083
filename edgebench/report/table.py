"""The sweep's end-of-run summary table (rich)."""
from edgebench.analysis.points import precision_label
from edgebench.results.schema import STATUS_CRASHED, STATUS_ERROR, STATUS_KILLED, STATUS_OK, STATUS_TIMEOUT


def _fmt(value, spec="{:.2f}", missing="-"):
    if value is None:
        return missing
    try:
        if value != value:
            return missing
    except TypeError:
        pass
    return spec.format(value)




def knee_notes(rows):
    """One line per model/backend/precision whose memory curve has a fitted knee (analysis.derived)."""
    try:
        from edgebench.analysis.derived import derived_columns

        derived = derived_columns(rows)
    except Exception:  # the table must not be lost to an analysis problem
        return []
    lines, seen = [], set()
    for r in rows:
        d = derived.get(r.get("point_key")) or {}
        key = (r.get("model"), r.get("backend"), r.get("precision"))
        if key in seen or d.get("knee_status") != "ok" or d.get("static_mb") is None:
            continue
        seen.add(key)
        lines.append("memory knee {} {} {}: {:.0f} MB up to batch {:.3g}, then +{:.1f} MB per image".format(
            key[0], key[1], key[2], d["static_mb"], d["knee_batch"], d["mb_per_image"] or 0.0))
    return lines


def summary_table(rows, title="edgebench sweep"):
    from rich.table import Table
    from rich.text import Text

    has_power = any(r.get("gross_power_w") is not None for r in rows)
    simulated = any(r.get("simulated") for r in rows)
    backends = sorted(set(r.get("backend") or "-" for r in rows))
    one_backend = len(backends) == 1
    if one_backend:
        title = "{} - {}".format(title, backends[0])
    table = Table(title=title, title_justify="left")
    cols = [("model", "left")] + ([] if one_backend else [("backend", "left")]) + [
        ("precision", "left"),
        ("batch", "right"),
        ("status", "left"),
        ("ms/image", "right"),
        ("images/s", "right"),
        ("median ms", "right"),
        ("p99 ms", "right"),
        ("CV", "right"),
        ("RSS MB", "right"),
        ("sys MB", "right"),
    ]
    if has_power:
        tag = " SIM" if simulated else ""
        cols += [("net W" + tag, "right"), ("net mJ/img" + tag, "right")]
    for name, justify in cols:
        table.add_column(name, justify=justify, no_wrap=True, min_width=len(name))
    notes = []
    for r in rows:
        status = r.get("status") or "-"
        if status == STATUS_OK:
            status_text = Text(STATUS_OK, style="green")
            if r.get("stable") == 0:
                status_text = Text("unstable", style="yellow")
        else:
            failed = status in (STATUS_CRASHED, STATUS_ERROR, STATUS_KILLED, STATUS_TIMEOUT)
            status_text = Text(status, style="red" if failed else "magenta")
        cv = r.get("latency_cv")
        cv_text = Text(_fmt(cv * 100 if cv is not None else None, "{:.1f}%"),
                       style="yellow" if r.get("stable") == 0 else "")
        cells = [r.get("model") or "-"] + ([] if one_backend else [r.get("backend") or "-"]) + [
            precision_label(r),
            str(r.get("batch_size")),
            status_text,
            _fmt(r.get("per_image_ms"), "{:.3f}"),
            _fmt(r.get("images_per_s"), "{:.1f}"),
            _fmt(r.get("latency_median_ms"), "{:.2f}"),
            _fmt(r.get("latency_p99_ms"), "{:.2f}"),
            cv_text,
            _fmt(r.get("peak_rss_mb"), "{:.0f}"),
            _fmt(r.get("system_used_peak_mb"), "{:.0f}"),
        ]
        if has_power:
            e = r.get("net_energy_per_image_j")
            net = _fmt(r.get("net_power_w"), "{:.2f}")
            ci = r.get("net_power_ci_w")
            if r.get("net_power_w") is not None and ci is not None and abs(r["net_power_w"]) <= ci:
                net = "~0 (±{:.2f})".format(ci)  # inside its own uncertainty: no confident number
            cells += [net, _fmt(e * 1e3 if e is not None else None, "{:.2f}")]
        table.add_row(*cells)
        reason = r.get("error") if status != "ok" else r.get("note")
        if status == STATUS_OK and r.get("stability_note"):
            notes.append("{} {} b{}: {}".format(r.get("model"), precision_label(r), r.get("batch_size"),
                                                r["stability_note"]))
        if reason:
            notes.append("{} {} b{}: {}".format(r.get("model"), precision_label(r), r.get("batch_size"), reason))
        if status == STATUS_OK and r.get("power_flags"):
            notes.append("{} {} b{} power: {}".format(r.get("model"), precision_label(r), r.get("batch_size"),
                                                      r["power_flags"]))
    if has_power:
        sources = sorted(set(r.get("power_source") for r in rows if r.get("power_source")))
        idles = sorted(set(round(r["idle_power_w"], 3) for r in rows if r.get("idle_power_w") is not None))
        notes.insert(0, "power from {}; idle {} W subtracted".format(
            ", ".join(sources) or "?", ", ".join("{:.3f}".format(i) for i in idles) or "not measured"))
    if simulated:
        notes.insert(0, "SIM: power from a SIMULATED source (sim://), not a measurement")
    if any(r.get("status") == STATUS_OK and r.get("stable") == 0 for r in rows):
        notes.insert(0, UNSTABLE_LEGEND)
    return table, _dedupe(notes) + knee_notes(rows)


UNSTABLE_LEGEND = ("unstable = the per-call latency varies more than --unstable-cv allows (CV = std / mean, "
                   "default 5%): its median is less trustworthy; each such point's note names the likely "
                   "cause and what to do")


def _dedupe(notes):
    seen, out = set(), []
    for n in notes:
        body = n.split(": ", 1)[-1]
        if body in seen:
            continue
        seen.add(body)
        out.append(n)
    return out
