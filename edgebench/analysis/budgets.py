"""``budget``: the best accuracy measured within an energy, power-and-rate or latency budget.

Three kinds of budget, each with its own test of whether a configuration fits:

* ``energy_mj``: net (idle-subtracted) energy per image <= the budget.
* ``power_w`` and ``fps``: the configuration reaches ``fps`` images/s, and running at that rate
  costs net energy per image x fps <= ``power_w`` watts above idle.
* ``latency_ms``: the latency of one call at the point's batch size (latency_median_ms) <= the
  budget. Needs no power data.

The answer names the best configuration (highest top-1; ties go to the cheapest), the upper bound
on top-1 that the fitted relation predicts for the budget, and the runners-up (the cheapest
fitting configuration of each other model/backend/precision). "Nothing fits" is an answer: ``best``
is null and ``cheapest`` names the configuration closest to fitting.
"""

from collections import OrderedDict

from edgebench.analysis.points import (
    accuracy_of,
    config_key,
    effective_precision,
    failure_summary,
    images_per_s_of,
    is_simulated,
    label_simulated,
    net_energy_of,
    precision_label,
    select,
)
from edgebench.analysis.summary import bound_relation
from edgebench.analysis.words import formula
from edgebench.errors import UsageError

BUDGET_KEYS = (
    "budget",
    "fits",
    "best",
    "accuracy_bound",
    "runners_up",
    "cheapest",
    "considered",
    "message",
    "warnings",
)
RUNNERS_UP = 5


def _candidate(r):
    energy, how = net_energy_of(r)
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
            ("net_energy_per_image_j", energy),
            ("images_per_s", images_per_s_of(r)),
            ("latency_ms", r.get("latency_median_ms")),
        ]
    )
    if energy is not None and how != "measured":
        rec["energy_note"] = "derived as " + how
    if energy is not None:
        label_simulated(rec, is_simulated(r))
    return rec


def _describe(rec, kind):
    text = "{} {} {} batch {}".format(rec["model"], rec["backend"], rec["precision_label"], rec["batch_size"])
    if kind == "latency":
        text += " at {:.3g} ms per call".format(rec["latency_ms"])
    else:
        text += " at {:.3g} mJ per image".format(rec["net_energy_per_image_j"] * 1000.0)
        if kind == "power":
            text += ", {:.4g} images/s".format(rec["images_per_s"])
    if rec.get("simulated") and kind != "latency":
        text += " (SIMULATED power)"
    return text


def _bound_at(relation, x, unit_text):
    """Evaluate a fitted upper bound top1 <= a + b * x at ``x``."""
    if not relation.get("available"):
        return None
    a, b = relation["intercept_top1"], relation["slope_top1_per_unit"]
    raw = a + b * x
    out = OrderedDict(
        [
            ("top1", min(100.0, max(0.0, raw))),
            ("raw_top1", raw),
            ("relation", formula("top1", "<=", a, b, unit_text)),
            ("at", x),
            ("n_points", relation["n"]),
            ("top1_sources", relation["top1_sources"]),
        ]
    )
    notes = []
    if x < relation["x_min"] or x > relation["x_max"]:
        notes.append("extrapolated: the budget lies outside the measured range of {}".format(unit_text))
    if raw > 100.0:
        notes.append("the fitted relation does not limit top-1 at this budget (it gives {:.4g}%)".format(raw))
    elif raw < 0.0:
        notes.append("the fitted relation leaves no accuracy at this budget (it gives {:.4g}%)".format(raw))
    if notes:
        out["note"] = "; ".join(notes)
    return out


def budget_results(
    results, energy_mj=None, power_w=None, fps=None, latency_ms=None, force=False, env_key=None
):
    """Answer a budget question about ``results``; see the module docstring."""
    given = [energy_mj is not None, power_w is not None or fps is not None, latency_ms is not None]
    if sum(given) != 1:
        raise UsageError(
            "give exactly one budget: --energy-mj E, or --power-w P with --fps F, or --latency-ms L"
        )
    if (power_w is None) != (fps is None):
        raise UsageError(
            "--power-w and --fps go together: give both (net watts above idle, images per second)"
        )
    for name, value in (
        ("--energy-mj", energy_mj),
        ("--power-w", power_w),
        ("--fps", fps),
        ("--latency-ms", latency_ms),
    ):
        if value is not None and not value > 0:
            raise UsageError("{} must be a positive number, got {}".format(name, value))

    selection = select(results, force=force, env_key=env_key)
    where = results.path or "the rows"
    if not selection.ok:
        raise UsageError(
            "nothing to choose from in {}: no ok point ({}); re-run the sweep".format(
                where, failure_summary(selection.failed) or "no points at all"
            )
        )
    warnings = list(selection.warnings)
    rated = [r for r in selection.ok if accuracy_of(r)[0] is not None]
    if not rated:
        raise UsageError(
            "no ok point in {} has a top-1 accuracy (reference or measured): run `edgebench accuracy` "
            "or use zoo models with reference accuracy".format(where)
        )
    if len(rated) < len(selection.ok):
        warnings.append(
            "{} ok point(s) without a top-1 accuracy were not considered".format(
                len(selection.ok) - len(rated)
            )
        )

    if latency_ms is not None:
        kind = "latency"
        budget = OrderedDict([("latency_ms", latency_ms)])
        pool = [r for r in rated if r.get("latency_median_ms") is not None]
        if not pool:
            raise UsageError("no ok point in {} has latency_median_ms".format(where))

        def cost(r):
            return r["latency_median_ms"]

        def fits(r):
            return r["latency_median_ms"] <= latency_ms

        relation = bound_relation(pool, lambda r: 1000.0 / r["latency_median_ms"], "calls_per_s", "latency")
        bound = _bound_at(relation, 1000.0 / latency_ms, "calls_per_s (1000 / latency_ms)")
    else:
        pool = [r for r in rated if (net_energy_of(r)[0] or 0) > 0]
        if not pool:
            raise UsageError(
                "no power data in {}: net energy per image is empty on every ok point, so an energy or power "
                "budget cannot be answered; sweep again with a power source (--power ina3221, ...) or ask "
                "--latency-ms instead".format(where)
            )
        if len(pool) < len(rated):
            warnings.append(
                "{} ok point(s) have no power data and were not considered".format(len(rated) - len(pool))
            )
        energy_relation = bound_relation(pool, lambda r: 1.0 / net_energy_of(r)[0], "images_per_j", "energy")

        def cost(r):
            return net_energy_of(r)[0]

        if energy_mj is not None:
            kind = "energy"
            budget = OrderedDict([("energy_mj", energy_mj), ("energy_j", energy_mj / 1000.0)])

            def fits(r):
                return net_energy_of(r)[0] <= energy_mj / 1000.0

            bound = _bound_at(
                energy_relation, 1000.0 / energy_mj, "images_per_j (1 / net_energy_per_image_j)"
            )
        else:
            kind = "power"
            budget = OrderedDict(
                [
                    ("power_w", power_w),
                    ("fps", fps),
                    ("energy_j", power_w / fps),
                    ("power_basis", "net: watts above idle"),
                ]
            )

            def fits(r):
                return (images_per_s_of(r) or 0) >= fps and net_energy_of(r)[0] * fps <= power_w

            energy_bound = _bound_at(
                energy_relation, fps / power_w, "images_per_j (1 / net_energy_per_image_j)"
            )
            rate_relation = bound_relation(pool, images_per_s_of, "images_per_s", "throughput")
            rate_bound = _bound_at(rate_relation, fps, "images_per_s")
            bound = energy_bound
            if rate_bound is not None and (bound is None or rate_bound["raw_top1"] < bound["raw_top1"]):
                bound = rate_bound
            if bound is not None:
                bound["limited_by"] = "images_per_s" if bound is rate_bound else "energy per image"
        if any(is_simulated(r) for r in pool):
            warnings.append("energy figures come from a SIMULATED power source: they are not measurements")

    fitting = sorted(
        (r for r in pool if fits(r)), key=lambda r: (-accuracy_of(r)[0], cost(r), r["batch_size"])
    )
    out = OrderedDict()
    out["budget"] = budget
    out["fits"] = len(fitting)
    out["considered"] = len(pool)
    if fitting:
        best_row = fitting[0]
        best = _candidate(best_row)
        if kind == "power":
            best["net_power_at_fps_w"] = best["net_energy_per_image_j"] * fps
        out["best"] = best
        seen = {config_key(best_row)}
        runners = []
        for r in fitting[1:]:
            key = config_key(r)
            if key in seen:
                continue
            seen.add(key)
            runners.append(_candidate(r))
            if len(runners) == RUNNERS_UP:
                break
        out["runners_up"] = runners
        out["cheapest"] = None
        out["message"] = "best within the budget: {}, top-1 {:.4g}% ({})".format(
            _describe(best, kind), best["top1"], best["top1_source"]
        )
    else:
        near = pool
        if kind == "power":
            # reaching the rate comes first; without it, the fastest configuration is the closest
            near = [r for r in pool if (images_per_s_of(r) or 0) >= fps] or [max(pool, key=images_per_s_of)]
        cheapest = _candidate(min(near, key=lambda r: (cost(r), -accuracy_of(r)[0])))
        out["best"] = None
        out["runners_up"] = []
        out["cheapest"] = cheapest
        out["message"] = "nothing fits this budget; the closest configuration is {}".format(
            _describe(cheapest, kind)
        )
    out["accuracy_bound"] = bound
    out["warnings"] = warnings
    return out
