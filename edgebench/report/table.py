"""The sweep's end-of-run summary table (rich)."""


def _fmt(value, spec="{:.2f}", missing="-"):
    if value is None:
        return missing
    try:
        if value != value:
            return missing
    except TypeError:
        pass
    return spec.format(value)


def precision_label(row):
    """``fp16`` when it really ran in fp16; ``fp16→fp32`` when the provider computed it in fp32."""
    req, eff = row.get("precision"), row.get("precision_effective")
    if eff and req and eff != req:
        return "{}→{}".format(req, eff)
    return req or "-"


def summary_table(rows, title="edgebench sweep"):
    from rich.table import Table
    from rich.text import Text

    has_power = any(r.get("net_power_w") is not None for r in rows)
    simulated = any(r.get("simulated") for r in rows)
    table = Table(title=title, title_justify="left")
    cols = [
        ("model", "left"),
        ("backend", "left"),
        ("precision", "left"),
        ("batch", "right"),
        ("status", "left"),
        ("ms/image", "right"),
        ("images/s", "right"),
        ("median ms", "right"),
        ("p99 ms", "right"),
        ("CV", "right"),
        ("RSS peak MB", "right"),
        ("sys peak MB", "right"),
    ]
    if has_power:
        cols += [("net W" + (" (SIMULATED)" if simulated else ""), "right"), ("net mJ/image", "right")]
    for name, justify in cols:
        table.add_column(name, justify=justify, no_wrap=name != "model")
    notes = []
    for r in rows:
        status = r.get("status") or "-"
        if status == "ok":
            status_text = Text("ok", style="green")
            if r.get("stable") == 0:
                status_text = Text("unstable", style="yellow")
        else:
            status_text = Text(status, style="red" if status in ("crashed", "error", "timeout") else "magenta")
        cv = r.get("latency_cv")
        cv_text = Text(_fmt(cv * 100 if cv is not None else None, "{:.1f}%"),
                       style="yellow" if r.get("stable") == 0 else "")
        cells = [
            r.get("model") or "-",
            r.get("backend") or "-",
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
            cells += [_fmt(r.get("net_power_w"), "{:.2f}"), _fmt(e * 1e3 if e is not None else None, "{:.2f}")]
        table.add_row(*cells)
        reason = r.get("error") if status != "ok" else r.get("note")
        if reason:
            notes.append("{} {} b{}: {}".format(r.get("model"), precision_label(r), r.get("batch_size"), reason))
    return table, _dedupe(notes)


def _dedupe(notes):
    seen, out = set(), []
    for n in notes:
        body = n.split(": ", 1)[-1]
        if body in seen:
            continue
        seen.add(body)
        out.append(n)
    return out
