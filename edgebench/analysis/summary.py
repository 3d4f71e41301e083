"""``analyze``: the seed paper's relations derived from one results file.

Every section is a plain JSON-able structure; the keys are listed in ``ANALYZE_KEYS`` and in the
README. A section that cannot be computed says why (``available: false`` and ``reason``) instead
of failing the whole analysis.
"""

import math
from collections import OrderedDict

from edgebench.analysis import fits
from edgebench.analysis.paper import PAPER
from edgebench.analysis.points import (
    accuracy_of,
    bytes_per_param,
    choose_memory_pair,
    common_effective,
    config_key,
    effective_precision,
    failure_summary,
    group_by,
    images_per_s_of,
    is_simulated,
    label_simulated,
    memory_candidates,
    memory_label,
    memory_of,
    net_energy_of,
    per_image_ms_of,
    precision_label,
    select,
)
from edgebench.analysis.words import formula
from edgebench.errors import UsageError
from edgebench.results.schema import STATUS_OK, STATUS_OOM

ANALYZE_KEYS = (
    "schema_version",
    "source",
    "environment",
    "points",
    "warnings",
    "memory_knee",
    "memory_vs_params",
    "ops_vs_time",
    "power",
    "accuracy_throughput_bound",
    "information_density",
    "pareto",
    "paper",
)


def _unavailable(reason, **extra):
    out = OrderedDict([("available", False), ("reason", reason)])
    out.update(extra)
    return out


def _ident(row_or_key, family=None, rows=()):
    model, backend, precision = row_or_key
    out = OrderedDict([("model", model), ("backend", backend), ("precision", precision)])
    _add_effective(out, precision, common_effective(rows) if rows else None)
    if family is not None:
        out["family"] = family
    return out


def _add_effective(record, requested, effective):
    """``precision_effective`` (what ran) and ``precision_label`` (``fp16→fp32`` when it fell back)."""
    record["precision_effective"] = effective or requested
    record["precision_label"] = precision_label({"precision": requested, "precision_effective": effective})
    return record


def _engine_group(record):
    """(backend, requested precision, effective precision) of a derived record."""
    return (record["backend"], record["precision"], record["precision_effective"])


def _family(rows):
    for r in rows:
        if r.get("family"):
            return r["family"]
    return None


# ---------------------------------------------------------------------------------------------


def memory_knee(selection, basis="auto", min_points=4):
    out = []
    for key, rows in group_by(selection.rows, config_key).items():
        ok = [r for r in rows if r["status"] == STATUS_OK]
        entry = _ident(key, _family(rows), ok or rows)
        entry["oom_batches"] = sorted(r["batch_size"] for r in rows if r["status"] == STATUS_OOM)
        entry["failed_batches"] = sorted(r["batch_size"] for r in rows if r["status"] != STATUS_OK)
        entry["largest_ok_batch"] = max([r["batch_size"] for r in ok], default=None)
        candidates, used_basis = memory_candidates(ok or rows, basis, selection.boards)
        pair = choose_memory_pair(ok, candidates)
        entry["memory_basis"] = used_basis
        entry["memory_column"] = memory_label(pair) if pair else None
        if pair is None:
            entry.update(
                status="no_memory_data",
                message="no ok point has a memory figure (system_used_peak_mb or peak_rss_mb)",
            )
            out.append(entry)
            continue
        if pair != candidates[0]:
            entry["memory_note"] = "{} missing; fitted {} instead".format(
                memory_label(candidates[0]), memory_label(pair)
            )
        pts = [(r["batch_size"], memory_of(r, pair)) for r in ok if memory_of(r, pair) is not None]
        pts.sort()
        entry["points"] = [OrderedDict([("batch_size", b), ("memory_mb", m)]) for b, m in pts]
        fit = fits.fit_knee([p[0] for p in pts], [p[1] for p in pts], min_points=min_points)
        if fit["status"] == "too_few_points":
            entry.update(
                status="too_few_points",
                message="needs at least {} ok batch sizes (3 distinct) with memory figures, has {}{}".format(
                    min_points,
                    len(pts),
                    " (batch {})".format(", ".join(str(p[0]) for p in pts)) if pts else "",
                )
                + (
                    "; failed: " + failure_summary([r for r in rows if r["status"] != STATUS_OK])
                    if entry["failed_batches"]
                    else ""
                ),
            )
            out.append(entry)
            continue
        entry.update(
            status=fit["status"],
            static_mb=fit["static"],
            knee_batch=fit["knee"],
            mb_per_image=fit["slope"],
            r2=fit["r2"],
            rmse_mb=fit["rmse"],
            points_used=fit["n"],
            outlier_batches=[int(b) for b in fit["outliers"]],
        )
        if fit["status"] == "flat":
            entry["message"] = "memory stays flat up to batch {}: no knee in the measured range".format(
                pts[-1][0]
            )
        out.append(entry)
    return out


def memory_vs_params(knees, selection):
    """Static memory vs parameter size across models, per (backend, precision, memory figure)."""
    params = {}
    for r in selection.rows:
        if r.get("params") is not None:
            params[config_key(r)] = r["params"]
    groups = OrderedDict()
    skipped = []
    for k in knees:
        key = (k["model"], k["backend"], k["precision"])
        effective = k["precision_effective"]
        static, source = None, None
        if k.get("status") in ("ok", "flat"):
            static, source = k["static_mb"], "knee fit"
        elif k.get("points"):
            static, source = k["points"][0]["memory_mb"], "batch {}".format(k["points"][0]["batch_size"])
        if static is None or params.get(key) is None:
            skipped.append(k["model"])
            continue
        bytes_per = bytes_per_param(k["precision"], effective)
        groups.setdefault(_engine_group(k) + (k["memory_column"],), []).append(
            OrderedDict(
                [
                    ("model", k["model"]),
                    ("param_mb", params[key] * bytes_per / 1e6),
                    ("static_mb", static),
                    ("static_from", source),
                ]
            )
        )
    out = []
    for (backend, precision, effective, column), pts in groups.items():
        entry = OrderedDict([("backend", backend), ("precision", precision)])
        _add_effective(entry, precision, effective)
        entry["memory_column"] = column
        entry["bytes_per_param"] = bytes_per_param(precision, effective)
        entry["points"] = pts
        if effective != precision:
            entry["precision_note"] = (
                "requested {} but the layers ran in {}: parameter MB uses {} bytes per parameter, so this is "
                "not a {} memory model".format(precision, effective, entry["bytes_per_param"], precision)
            )
        fit = fits.linear_fit([p["param_mb"] for p in pts], [p["static_mb"] for p in pts])
        if fit is None:
            entry.update(
                available=False,
                reason="needs at least 2 models with different parameter sizes, has {}".format(len(pts)),
            )
        else:
            entry.update(
                available=True,
                floor_mb=fit["intercept"],
                slope_mb_per_param_mb=fit["slope"],
                r2=fit["r2"],
                n=fit["n"],
                paper_floor_mb=PAPER["memory_floor_mb"],
                paper_slope_mb_per_param_mb=PAPER["memory_slope_per_param_mb"],
            )
        out.append(entry)
    if not out:
        return {
            "available": False,
            "reason": "no model has both a parameter count and a static memory figure",
            "fits": [],
        }
    return OrderedDict(
        [
            ("available", any(e["available"] for e in out)),
            ("fits", out),
            ("models_without_data", sorted(set(skipped))),
        ]
    )


def ops_vs_time(selection):
    out = []
    ok = [r for r in selection.ok if r.get("gops") is not None and per_image_ms_of(r) is not None]
    for (backend, precision, effective, batch), rows in sorted(
        group_by(ok, lambda r: (r["backend"], r["precision"], effective_precision(r), r["batch_size"])).items()
    ):
        pts = [
            OrderedDict([("model", r["model"]), ("gops", r["gops"]), ("per_image_ms", per_image_ms_of(r))])
            for r in rows
        ]
        entry = OrderedDict([("backend", backend), ("precision", precision)])
        _add_effective(entry, precision, effective)
        entry["batch_size"] = batch
        entry["points"] = pts
        fit = fits.linear_fit([p["gops"] for p in pts], [p["per_image_ms"] for p in pts])
        if fit is None:
            entry.update(
                available=False,
                reason="needs at least 2 models with different G-Ops, has {}".format(len(pts)),
            )
        else:
            entry.update(
                available=True,
                ms_per_gop=fit["slope"],
                intercept_ms=fit["intercept"],
                r2=fit["r2"],
                n=fit["n"],
            )
        out.append(entry)
    return out


def power(selection):
    has_power = [r for r in selection.ok if r.get("net_power_w") is not None]
    if not has_power:
        return _unavailable(
            "no ok point has net_power_w: the sweep ran without a power source (sweep --power ...) or the "
            "source gave no data"
        )
    per_model = []
    for key, rows in group_by(selection.ok, config_key).items():
        powered = sorted((r for r in rows if r.get("net_power_w") is not None), key=lambda r: r["batch_size"])
        if not powered:
            continue
        largest_ok = max(r["batch_size"] for r in rows)
        top = powered[-1]
        entry = _ident(key, _family(rows), rows)
        entry.update(
            largest_ok_batch=largest_ok,
            batch_size=top["batch_size"],
            net_power_w=top["net_power_w"],
            net_power_ci_w=top.get("net_power_ci_w"),
            gross_power_w=top.get("gross_power_w"),
            idle_power_w=top.get("idle_power_w"),
            power_source=top.get("power_source"),
        )
        if top["batch_size"] != largest_ok:
            entry["note"] = "batch {} has no power figure; used batch {}".format(
                largest_ok, top["batch_size"]
            )
        values = [r["net_power_w"] for r in powered]
        mean = sum(values) / len(values)
        entry["net_power_cv_across_batches"] = _std(values) / mean if len(values) > 1 and mean > 0 else None
        entry["vs_batch"] = [
            label_simulated(
                OrderedDict(
                    [
                        ("batch_size", r["batch_size"]),
                        ("net_power_w", r["net_power_w"]),
                        ("net_power_ci_w", r.get("net_power_ci_w")),
                    ]
                ),
                is_simulated(r),
            )
            for r in powered
        ]
        label_simulated(entry, any(is_simulated(r) for r in powered))
        per_model.append(entry)

    def aggregate(entries):
        values = [e["net_power_w"] for e in entries]
        agg = OrderedDict(
            [
                ("n_models", len(values)),
                ("mean_net_power_w", sum(values) / len(values)),
                ("std_net_power_w", _std(values) if len(values) > 1 else None),
                ("min_net_power_w", min(values)),
                ("max_net_power_w", max(values)),
            ]
        )
        return label_simulated(agg, any(e["simulated"] for e in entries))

    by_engine = []
    for (backend, precision, effective), entries in group_by(per_model, _engine_group).items():
        agg = OrderedDict([("backend", backend), ("precision", precision)])
        _add_effective(agg, precision, effective)
        agg.update(aggregate(entries))
        by_engine.append(agg)
    idle = [r["idle_power_w"] for r in has_power if r.get("idle_power_w") is not None]
    out = OrderedDict([("available", True)])
    out["across_models"] = aggregate(per_model)
    out["by_engine"] = by_engine
    out["idle_power_w"] = sum(idle) / len(idle) if idle else None
    out["std_ddof"] = 1
    out["per_model"] = per_model
    out["nyquist_failures"] = sum(1 for r in has_power if r.get("nyquist_ok") == 0)
    out["paper"] = OrderedDict(
        [
            ("idle_power_w", PAPER["idle_power_w"]),
            ("net_power_w", PAPER["net_power_w"]),
            ("net_power_std_w", PAPER["net_power_std_w"]),
        ]
    )
    out["points_without_power"] = len(selection.ok) - len(has_power)
    label_simulated(out, any(is_simulated(r) for r in has_power))
    return out


def _std(values):
    n = len(values)
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def _source_counts(rows):
    counts = OrderedDict()
    for r in rows:
        _, source = accuracy_of(r)
        kind = "measured" if source == "measured" else "reference"
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _point_record(r, **extra):
    top1, source = accuracy_of(r)
    rec = OrderedDict(
        [
            ("model", r["model"]),
            ("backend", r["backend"]),
            ("precision", r["precision"]),
            ("precision_effective", effective_precision(r)),
            ("precision_label", precision_label(r)),
            ("batch_size", r["batch_size"]),
            ("top1", top1),
            ("top1_source", source),
        ]
    )
    rec.update(extra)
    return rec


def bound_relation(rows, x_of, x_name, what):
    """Envelope upper bound of top-1 against x (a rate: more is better) over ``rows``."""
    pts = [(x_of(r), r) for r in rows if accuracy_of(r)[0] is not None and x_of(r)]
    if not pts:
        return _unavailable("no ok point has both a top-1 accuracy and {}".format(what))
    xs = [p[0] for p in pts]
    ys = [accuracy_of(p[1])[0] for p in pts]
    bound = fits.linear_upper_bound(xs, ys)
    out = OrderedDict(
        [
            ("available", True),
            ("intercept_top1", bound["intercept"]),
            ("slope_top1_per_unit", bound["slope"]),
            ("x", x_name),
            ("n", len(pts)),
            ("top1_sources", _source_counts([p[1] for p in pts])),
            ("x_min", min(xs)),
            ("x_max", max(xs)),
        ]
    )
    out["envelope"] = [_point_record(pts[i][1], **{x_name: xs[i]}) for i in bound["envelope"]]
    if bound["slope"] == 0:
        out["note"] = "no trade-off: the most accurate configuration is also the best on {}".format(what)
    return out


def accuracy_throughput_bound(selection):
    ok = selection.ok
    linear = bound_relation(ok, images_per_s_of, "images_per_s", "throughput")
    if not linear["available"]:
        return linear
    out = OrderedDict([("available", True)])
    out["images_per_s"] = linear
    out["images_per_s"]["relation"] = formula(
        "top1", "<=", linear["intercept_top1"], linear["slope_top1_per_unit"], "images_per_s"
    )

    def rate_from_time(r):
        ms = per_image_ms_of(r)
        return 1000.0 / ms if ms else None

    hyper = bound_relation(ok, rate_from_time, "images_per_s_from_per_image_ms", "a per-image time")
    if hyper["available"]:
        a, b = hyper["intercept_top1"], hyper["slope_top1_per_unit"]
        hyper["k_top1_ms"] = -1000.0 * b
        hyper["relation"] = formula("top1", "<=", a, 1000.0 * b, "/ per_image_ms")
        for rec in hyper["envelope"]:
            rec["per_image_ms"] = 1000.0 / rec.pop("images_per_s_from_per_image_ms")
    out["per_image_ms"] = hyper
    return out


def information_density(selection):
    rows = [r for r in selection.rows if r.get("params") and accuracy_of(r)[0] is not None]
    entries = OrderedDict()
    for r in rows:
        top1, source = accuracy_of(r)
        if source == "measured":
            key = (r["model"], r["backend"], r["precision"], source)
        else:
            key = (r["model"], None, None, source)
        measured = source == "measured"
        if key in entries:
            continue
        entries[key] = OrderedDict(
            [
                ("model", r["model"]),
                ("family", r.get("family")),
                ("backend", key[1]),
                ("precision", key[2]),
                ("precision_effective", effective_precision(r) if measured else None),
                ("precision_label", precision_label(r) if measured else None),
                ("top1", top1),
                ("top1_source", source),
                ("params", r["params"]),
                ("top1_per_mparams", top1 / (r["params"] / 1e6)),
            ]
        )
    ranked = sorted(entries.values(), key=lambda e: -e["top1_per_mparams"])
    for rank, e in enumerate(ranked, 1):
        e["rank"] = rank
    return ranked


def pareto(selection):
    rows = []
    for r in selection.ok:
        energy, how = net_energy_of(r)
        top1, _ = accuracy_of(r)
        if energy is not None and energy > 0 and top1 is not None:
            rows.append((energy, top1, how, r))
    if not rows:
        reason = (
            "no ok point has net energy per image (no power data)"
            if not any(net_energy_of(r)[0] is not None for r in selection.ok)
            else "no ok point has both net energy per image and a top-1 accuracy"
        )
        return _unavailable(reason, frontier=[])
    idx = fits.pareto_min_max([(e, t) for e, t, _, _ in rows])
    frontier = []
    for i in idx:
        energy, top1, how, r = rows[i]
        rec = _point_record(r, net_energy_per_image_j=energy, images_per_s=images_per_s_of(r))
        if how != "measured":
            rec["energy_note"] = "derived as " + how
        frontier.append(label_simulated(rec, is_simulated(r)))
    out = OrderedDict(
        [
            ("available", True),
            ("n_points", len(rows)),
            ("frontier", frontier),
            ("dominated", len(rows) - len(idx)),
        ]
    )
    return label_simulated(out, any(is_simulated(r) for _, _, _, r in rows))


def analyze_results(results, force=False, env_key=None, memory_basis="auto"):
    """The full analysis of a :class:`~edgebench.analysis.load.Results`, as a JSON-able dict."""
    selection = select(results, force=force, env_key=env_key)
    if not selection.rows:
        raise UsageError(
            "{} holds no measurements: run `edgebench sweep` first".format(results.path or "the input")
        )
    if not selection.ok:
        message = "nothing to analyse in {}: all {} point(s) failed ({}); fix the cause and re-run the sweep"
        where = results.path or "the rows"
        raise UsageError(message.format(where, len(selection.rows), failure_summary(selection.failed)))
    warnings = selection.warnings
    knees = memory_knee(selection, basis=memory_basis)
    summary = OrderedDict()
    summary["schema_version"] = results.schema_version
    summary["source"] = OrderedDict(
        [("path", results.path), ("format", results.format), ("runs", len(results.runs))]
    )
    summary["environment"] = selection.environment_summary()
    statuses = OrderedDict()
    for r in selection.rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    summary["points"] = OrderedDict(
        [
            ("total", len(selection.rows)),
            ("ok", len(selection.ok)),
            ("by_status", statuses),
            ("memory_basis", memory_basis),
        ]
    )
    summary["warnings"] = warnings
    summary["memory_knee"] = knees
    summary["memory_vs_params"] = memory_vs_params(knees, selection)
    summary["ops_vs_time"] = ops_vs_time(selection)
    summary["power"] = power(selection)
    summary["accuracy_throughput_bound"] = accuracy_throughput_bound(selection)
    summary["information_density"] = information_density(selection)
    summary["pareto"] = pareto(selection)
    summary["paper"] = PAPER
    if any(r.get("simulated") for r in selection.ok):
        warnings.append("power figures come from a SIMULATED source: they are not measurements")
    return summary
