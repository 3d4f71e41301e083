"""Per-point figures derived from a whole sweep, for the sweep's end-of-run table.

:func:`derived_columns` takes the measurement rows of a run (dicts keyed by the schema's column
names, e.g. straight from the store; missing columns count as NULL) and returns, per point_key::

    {
      "knee_batch": float | None,       # memory knee of the point's model/backend/precision
      "static_mb": float | None,        # memory before the knee (same fit)
      "mb_per_image": float | None,     # memory per extra image after the knee
      "knee_status": "ok" | "flat" | "too_few_points" | "no_memory_data",
      "net_energy_per_image_j": float | None,  # stored figure, else net_power_w / images_per_s
      "top1": float | None, "top1_source": "measured" | "reference: <citation>" | None,
      "on_pareto": bool,                # on the accuracy vs net energy per image frontier
      "simulated": bool,                # power figures from a SIMULATED source
    }

Missing, NULL or unreadable values never raise (it is called at the end of a sweep, whose table
must not be lost): figures that cannot be derived are None, and rows without a model, backend,
precision, batch size or status are left out. Points of several environments are analysed per
environment (env_key), so nothing is fitted across environments here.
"""

from collections import OrderedDict

from edgebench.results.schema import STATUS_OK


def derived_columns(rows):
    """{point_key: {knee_batch, static_mb, mb_per_image, knee_status, net_energy_per_image_j, top1,
    top1_source, on_pareto, simulated}}; see the module docstring."""
    from edgebench.analysis import fits
    from edgebench.analysis.load import results_from_rows
    from edgebench.analysis.points import (
        accuracy_of,
        is_simulated,
        net_energy_of,
        row_point_key,
        select,
    )
    from edgebench.analysis.summary import memory_knee

    results = results_from_rows(rows)
    out = OrderedDict()
    by_env = OrderedDict()
    for r in results.measurements:
        by_env.setdefault(r.get("env_key"), []).append(r)
    for env_rows in by_env.values():
        part = results_from_rows(env_rows)
        selection = select(part, force=True)
        knees = {(k["model"], k["backend"], k["precision"]): k for k in memory_knee(selection)}
        energies = []
        for r in selection.rows:
            energy, _ = net_energy_of(r)
            top1, source = accuracy_of(r)
            knee = knees.get((r["model"], r["backend"], r["precision"]), {})
            out[row_point_key(r)] = OrderedDict(
                [
                    ("knee_batch", knee.get("knee_batch")),
                    ("static_mb", knee.get("static_mb")),
                    ("mb_per_image", knee.get("mb_per_image")),
                    ("knee_status", knee.get("status")),
                    ("net_energy_per_image_j", energy),
                    ("top1", top1),
                    ("top1_source", source),
                    ("on_pareto", False),
                    ("simulated", is_simulated(r) and energy is not None),
                ]
            )
            if r["status"] == STATUS_OK and energy is not None and energy > 0 and top1 is not None:
                energies.append((energy, top1, row_point_key(r)))
        for i in fits.pareto_min_max([(e, t) for e, t, _ in energies]):
            out[energies[i][2]]["on_pareto"] = True
    return out
