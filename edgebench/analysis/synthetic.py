"""Synthetic results files with known answers, for tests and demonstrations.

:func:`write_results_files` writes rows in the three result formats of the store (results.db,
results.csv, results.json) following the results contract in ``edgebench.results.schema``; the
builders below make rows whose derived figures are known exactly (a memory knee, energies,
accuracies). Everything here is labelled: the run's environment says ``synthetic`` and every power
figure is ``simulated`` = 1 with a ``sim://`` source, so nothing made here passes for a measurement.
"""

import csv
import io
import json
import os
import sqlite3
from collections import OrderedDict

from edgebench import __version__
from edgebench.results.schema import (
    MEASUREMENT_COLUMN_NAMES,
    MEASUREMENT_COLUMNS,
    RUN_COLUMN_NAMES,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    STATUS_OK,
    STATUS_OOM,
    empty_point,
    point_key,
)

BATCHES = (1, 2, 4, 8, 16, 32, 64)
SYNTHETIC_ENVIRONMENT = {
    "host": "synthetic",
    "cpu": "synthetic",
    "os": "synthetic",
    "python": "synthetic",
    "versions": {"edgebench": __version__},
    "board": None,
}


def default_run(run_id=1, environment=None, status="complete"):
    env = dict(SYNTHETIC_ENVIRONMENT) if environment is None else environment
    return OrderedDict(
        [
            ("id", run_id),
            ("started_at", "2024-01-01T00:00:00Z"),
            ("finished_at", "2024-01-01T01:00:00Z"),
            ("status", status),
            ("edgebench_version", __version__),
            ("plan_json", json.dumps({"synthetic": True})),
            ("environment_json", json.dumps(env, sort_keys=True)),
            ("note", "synthetic data"),
        ]
    )


def _numbered(points, runs):
    rows = []
    for index, point in enumerate(points, 1):
        row = OrderedDict((name, None) for name in MEASUREMENT_COLUMN_NAMES)
        row.update(point)
        row["id"] = point.get("id") or index
        row["run_id"] = point.get("run_id") or (runs[0]["id"] if runs else 1)
        rows.append(row)
    return rows


def write_results_files(
    points, out_dir, runs=None, schema_version=SCHEMA_VERSION, formats=("db", "csv", "json")
):
    """Write ``points`` (dicts from ``empty_point``; ``run_id`` may be set on them) to ``out_dir``.

    Returns ``{"db": path, "csv": path, "json": path}`` for the formats written. ``runs`` defaults
    to one synthetic run. ``schema_version`` is written as given, so tests can make files that
    claim an older or newer schema.
    """
    runs = [OrderedDict(r) for r in (runs if runs is not None else [default_run()])]
    rows = _numbered(points, runs)
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir)
    paths = {}
    if "db" in formats:
        path = os.path.join(out_dir, "results.db")
        if os.path.exists(path):
            os.remove(path)
        conn = sqlite3.connect(path)
        try:
            conn.execute(
                "CREATE TABLE runs ({})".format(", ".join("{} {}".format(n, t) for n, t, _ in RUN_COLUMNS))
            )
            conn.execute(
                "CREATE TABLE measurements ({})".format(
                    ", ".join("{} {}".format(n, t) for n, t, _ in MEASUREMENT_COLUMNS)
                )
            )
            conn.executemany(
                "INSERT INTO runs ({}) VALUES ({})".format(
                    ", ".join(RUN_COLUMN_NAMES), ", ".join("?" for _ in RUN_COLUMN_NAMES)
                ),
                [[r.get(n) for n in RUN_COLUMN_NAMES] for r in runs],
            )
            conn.executemany(
                "INSERT INTO measurements ({}) VALUES ({})".format(
                    ", ".join(MEASUREMENT_COLUMN_NAMES), ", ".join("?" for _ in MEASUREMENT_COLUMN_NAMES)
                ),
                [[r[n] for n in MEASUREMENT_COLUMN_NAMES] for r in rows],
            )
            conn.execute("PRAGMA user_version = {}".format(int(schema_version)))
            conn.commit()
        finally:
            conn.close()
        paths["db"] = path
    if "csv" in formats:
        path = os.path.join(out_dir, "results.csv")
        with io.open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(MEASUREMENT_COLUMN_NAMES)
            for r in rows:
                writer.writerow(
                    [
                        "" if r[n] is None else repr(r[n]) if isinstance(r[n], float) else r[n]
                        for n in MEASUREMENT_COLUMN_NAMES
                    ]
                )
        paths["csv"] = path
    if "json" in formats:
        path = os.path.join(out_dir, "results.json")
        doc = OrderedDict(
            [
                ("schema_version", schema_version),
                ("edgebench_version", __version__),
                ("runs", runs),
                ("measurements", rows),
            ]
        )
        with io.open(path, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=1)
        paths["json"] = path
    return paths


# ---------------------------------------------------------------------------------------------
# builders with known answers


def ok_point(model, batch_size, backend="onnxruntime", precision="fp32", **values):
    """An ok point with identity columns and timing filled consistently from ``per_image_ms``."""
    base = dict(
        point_key=point_key(model, backend, precision, batch_size),
        model=model,
        model_source="zoo",
        backend=backend,
        precision=precision,
        batch_size=batch_size,
        status=STATUS_OK,
        env_key="synthetic-env",
    )
    base.update(values)
    per_image_ms = base.get("per_image_ms")
    if per_image_ms is not None:
        base.setdefault("latency_median_ms", per_image_ms * batch_size)
        base.setdefault("images_per_s", 1000.0 / per_image_ms)
    if base.get("net_power_w") is not None:
        base.setdefault("simulated", 1)
        base.setdefault("power_source", "sim://?idle_w=1.3 (SIMULATED)")
        if base.get("idle_power_w") is not None:
            base.setdefault("gross_power_w", base["net_power_w"] + base["idle_power_w"])
        if base.get("net_energy_per_image_j") is None and base.get("images_per_s"):
            base["net_energy_per_image_j"] = base["net_power_w"] / base["images_per_s"]
    return empty_point(**base)


def failed_point(model, batch_size, status=STATUS_OOM, backend="onnxruntime", precision="fp32", **values):
    base = dict(
        point_key=point_key(model, backend, precision, batch_size),
        model=model,
        model_source="zoo",
        backend=backend,
        precision=precision,
        batch_size=batch_size,
        status=status,
        error=values.pop("error", "synthetic {} at batch {}".format(status, batch_size)),
        env_key="synthetic-env",
    )
    base.update(values)
    return empty_point(**base)


def knee_curve(batch_size, static_mb, mb_per_image, knee_batch):
    return static_mb + mb_per_image * max(0.0, batch_size - knee_batch)


def knee_points(
    model="kneenet",
    static_mb=300.0,
    mb_per_image=12.0,
    knee_batch=8.0,
    batches=BATCHES,
    before_mb=1000.0,
    outliers=None,
    backend="tensorrt",
    **values,
):
    """Points whose memory is ``static_mb`` up to ``knee_batch`` then grows ``mb_per_image``.

    The backend defaults to TensorRT, whose memory is fitted on the system-wide figures.

    The memory figures are written as system_used_peak_mb = before_mb + curve and
    system_used_before_mb = before_mb; ``outliers`` maps batch -> MB added to that point.
    """
    outliers = outliers or {}
    per_image_ms = values.pop("per_image_ms", 10.0)
    points = []
    for b in batches:
        mb = knee_curve(b, static_mb, mb_per_image, knee_batch) + outliers.get(b, 0.0)
        points.append(
            ok_point(
                model,
                b,
                backend=backend,
                system_used_before_mb=before_mb,
                system_used_peak_mb=before_mb + mb,
                per_image_ms=per_image_ms,
                **values,
            )
        )
    return points


# Four networks with known accuracy and known net energy per image at each batch size:
# energy_j(batch) = energy_b1_j / batch ** 0.5, latency_ms(batch) = latency_b1_ms * batch ** 0.5.
FOUR_NETWORKS = (
    # model, family, params, gops, top1, energy at batch 1 (J), latency of one call at batch 1 (ms)
    ("tinynet", "tiny", 1000000, 0.2, 55.0, 0.010, 2.0),
    ("smallnet", "small", 5000000, 1.0, 65.0, 0.040, 5.0),
    ("midnet", "mid", 25000000, 8.0, 75.0, 0.200, 20.0),
    ("bignet", "big", 140000000, 31.0, 80.0, 1.000, 80.0),
)
FOUR_BATCHES = (1, 4, 16)
NET_POWER_W = 10.0


def four_network_points(with_power=True, batches=FOUR_BATCHES):
    points = []
    for model, family, params, gops, top1, energy_b1, latency_b1 in FOUR_NETWORKS:
        for b in batches:
            latency_ms = latency_b1 * b**0.5
            per_image_ms = latency_ms / b
            values = dict(
                family=family,
                params=params,
                gops=gops,
                top1=top1,
                top1_source="synthetic reference",
                per_image_ms=per_image_ms,
                latency_median_ms=latency_ms,
            )
            if with_power:
                values.update(
                    net_energy_per_image_j=energy_b1 / b**0.5,
                    net_power_w=NET_POWER_W,
                    idle_power_w=1.3,
                )
            points.append(ok_point(model, b, **values))
    return points


# A plausible sweep of a few zoo networks (figures from the model zoo notes, timings invented),
# for demonstrating the report, as if measured with TensorRT on a board. Power is SIMULATED.
DEMO_NETWORKS = (
    # model, family, params, gops, top1, ms per image at batch 1, ms floor at large batch
    ("alexnet", "alexnet", 61100840, 1.43, 56.5, 12.0, 4.0),
    ("vgg16", "vgg", 138357544, 30.97, 71.6, 160.0, 100.0),
    ("vgg19", "vgg", 143667240, 39.30, 72.4, 190.0, 125.0),
    ("googlenet", "inception", 6624904, 3.01, 69.8, 30.0, 18.0),
    ("inception_v3", "inception", 27161264, 11.43, 77.3, 80.0, 55.0),
    ("resnet18", "resnet", 11689512, 3.63, 69.8, 25.0, 14.0),
    ("resnet50", "resnet", 25557032, 8.19, 76.1, 60.0, 38.0),
    ("resnet152", "resnet", 60192808, 23.05, 78.3, 160.0, 105.0),
    ("mobilenet_v2", "mobilenet", 3504872, 0.60, 71.9, 9.0, 4.5),
    ("squeezenet1_1", "squeezenet", 1235496, 0.70, 58.2, 6.0, 3.0),
)
_PRECISION_SPEEDUP = {"fp32": 1.0, "fp16": 1.8, "int8": 3.0}
_PRECISION_TOP1_DROP = {"fp32": 0.0, "fp16": 0.0, "int8": 0.6}


def demo_points(memory_limit_mb=2200.0, precisions=("fp32", "fp16", "int8"), batches=BATCHES):
    points = []
    for i, (model, family, params, gops, top1, ms_b1, ms_floor) in enumerate(DEMO_NETWORKS):
        param_mb = params * 4 / 1e6
        static_mb = 200.0 + 1.30 * param_mb
        knee = 4.0 if gops > 10 else 8.0
        act_mb = 2.0 + 0.9 * gops
        for precision in precisions:
            speed = _PRECISION_SPEEDUP[precision]
            for b in batches:
                mb = knee_curve(b, static_mb, act_mb, knee)
                if mb > memory_limit_mb:
                    points.append(
                        failed_point(
                            model,
                            b,
                            family=family,
                            params=params,
                            gops=gops,
                            top1=top1,
                            precision=precision,
                            top1_source="torchvision IMAGENET1K_V1",
                            error="out of memory under --memory-limit-mb",
                            backend="tensorrt",
                        )
                    )
                    continue
                per_image_ms = (ms_floor + (ms_b1 - ms_floor) / b**0.8) / speed
                net_power_w = 11.8 + 0.7 * ((i * 7 + len(precision) * 3) % 5 - 2) / 2.0 + 0.1 * (b**0.5)
                values = dict(
                    family=family,
                    params=params,
                    gops=gops,
                    top1=top1,
                    top1_source="torchvision IMAGENET1K_V1",
                    per_image_ms=per_image_ms,
                    system_used_before_mb=900.0,
                    system_used_peak_mb=900.0 + mb,
                    peak_rss_mb=100.0 + mb,
                    baseline_rss_mb=100.0,
                    net_power_w=net_power_w,
                    idle_power_w=1.30,
                    latency_cv=0.01,
                    stable=1,
                    power_rate_hz=1000.0,
                    nyquist_ok=1,
                )
                if precision == "int8":  # as if `edgebench accuracy` had run on the int8 engines
                    values["top1_measured"] = round(top1 - _PRECISION_TOP1_DROP[precision], 2)
                    values["accuracy_data"] = "synthetic"
                points.append(ok_point(model, b, backend="tensorrt", precision=precision, **values))
    return points
