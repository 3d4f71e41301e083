"""Choosing which measurements enter a fit: ok points, one per configuration, one environment.

Also the per-point figures every analysis shares: which accuracy to use (and where it comes
from), net energy per image, and which memory figure to fit.
"""

import json
from collections import OrderedDict

from edgebench.errors import UsageError
from edgebench.results.schema import STATUS_OK, point_key

SIMULATED_LABEL = "SIMULATED"
NO_ENV_KEY = "(none)"

# Bytes per parameter when the parameter size is expressed in MB, per precision that really ran.
BYTES_PER_PARAM = {"fp32": 4, "fp16": 2, "int8": 1}


def config_key(row):
    return (row["model"], row["backend"], row["precision"])


def effective_precision(row):
    """What the MAC-bearing layers really ran in (``precision_effective``), else the requested one."""
    return row.get("precision_effective") or row.get("precision")


def precision_label(row):
    """``fp16`` when it really ran in fp16; ``fp16→fp32`` when the provider computed it in fp32."""
    req, eff = row.get("precision"), row.get("precision_effective")
    if eff and req and eff != req:
        return "{}→{}".format(req, eff)
    return req or "-"


def engine_key(row):
    """(backend, precision label): the groups analysis and figures compare engines by."""
    return (row["backend"], precision_label(row))


def common_effective(rows):
    """The one effective precision of ``rows``, or the distinct ones joined by '/'."""
    seen = []
    for r in rows:
        eff = effective_precision(r)
        if eff not in seen:
            seen.append(eff)
    return "/".join(seen) if seen else None


def bytes_per_param(requested, effective):
    """Bytes per parameter for the parameter-size axis: of what ran, never of a request that fell back."""
    if effective in BYTES_PER_PARAM:
        return BYTES_PER_PARAM[effective]
    return 4 if effective != requested else BYTES_PER_PARAM.get(requested, 4)


def row_point_key(row):
    return row.get("point_key") or point_key(
        row["model"], row["backend"], row["precision"], row["batch_size"]
    )


def accuracy_of(row):
    """(top1 %, top1_source) for a point: measured on this engine when present, else the reference."""
    if row.get("top1_measured") is not None:
        return row["top1_measured"], "measured"
    if row.get("top1") is not None:
        return row["top1"], "reference: {}".format(row.get("top1_source") or "source not recorded")
    return None, None


def net_energy_of(row):
    """(net energy per image in J, how it was obtained) or (None, None) without power data."""
    if row.get("net_energy_per_image_j") is not None:
        return row["net_energy_per_image_j"], "measured"
    if row.get("net_power_w") is not None and row.get("images_per_s"):
        return row["net_power_w"] / row["images_per_s"], "net_power_w / images_per_s"
    return None, None


def is_simulated(row):
    return bool(row.get("simulated"))


def label_simulated(record, simulated):
    """Add ``simulated`` (and the SIMULATED label when true) to an output record."""
    record["simulated"] = bool(simulated)
    if simulated:
        record["label"] = SIMULATED_LABEL
    return record


def per_image_ms_of(row):
    if row.get("per_image_ms") is not None:
        return row["per_image_ms"]
    if row.get("latency_median_ms") is not None and row.get("batch_size"):
        return row["latency_median_ms"] / row["batch_size"]
    return None


def images_per_s_of(row):
    if row.get("images_per_s") is not None:
        return row["images_per_s"]
    ms = per_image_ms_of(row)
    return 1000.0 / ms if ms else None


# Memory figures, in order of preference, per basis.
#   system: system-wide used memory at the peak minus before the model loaded. On a Jetson the
#           GPU shares system memory, so this is what the model costs, GPU allocations included.
#   system-absolute: system_used_peak_mb as measured (includes the OS and other processes).
#   rss:    the worker's own peak resident memory (interpreter and framework included). Off a
#           Jetson with a CPU engine this is the clean figure: system-wide figures there move
#           with every other process on the host.
#   auto:   system for GPU engines (TensorRT, CUDA providers) or points measured on a board,
#           rss otherwise.
_SYSTEM_NET = ("system_used_peak_mb", "system_used_before_mb")
_SYSTEM = ("system_used_peak_mb", None)
_RSS = ("peak_rss_mb", None)
MEMORY_BASES = {
    "system": (_SYSTEM_NET, _SYSTEM, _RSS),
    "system-absolute": (_SYSTEM, _RSS),
    "rss": (_RSS, _SYSTEM_NET, _SYSTEM),
}
MEMORY_BASIS_CHOICES = ("auto", "system", "system-absolute", "rss")
GPU_BACKENDS = ("tensorrt", "torch2trt")


def uses_gpu_memory(rows, boards=None):
    """True when these points ran on a GPU that shares or owns memory (not a CPU engine off-board)."""
    for r in rows:
        provider = (r.get("provider") or "").lower()
        if r["backend"] in GPU_BACKENDS or "cuda" in provider or "tensorrt" in provider:
            return True
        if boards and boards.get(r.get("run_id")):
            return True
    return False


def memory_candidates(rows, basis, boards=None):
    """(candidate pairs in order of preference, the basis actually used)."""
    if basis == "auto":
        basis = "system" if uses_gpu_memory(rows, boards) else "rss"
    if basis not in MEMORY_BASES:
        raise UsageError(
            "unknown memory basis {!r}: use one of {}".format(basis, ", ".join(MEMORY_BASIS_CHOICES))
        )
    return MEMORY_BASES[basis], basis


def memory_label(pair):
    peak, before = pair
    return peak if before is None else "{} - {}".format(peak, before)


def memory_of(row, pair):
    peak, before = pair
    value = row.get(peak)
    if value is None:
        return None
    if before is None:
        return value
    base = row.get(before)
    if base is None:
        return None
    return value - base


def choose_memory_pair(rows, candidates):
    """The memory figure available on the most rows (ties: the first preferred)."""
    best, best_count = None, 0
    for pair in candidates:
        count = sum(1 for r in rows if memory_of(r, pair) is not None)
        if count > best_count:
            best, best_count = pair, count
    return best


class Selection(object):
    """The rows an analysis works on, with what was set aside and why."""

    def __init__(self, rows, all_rows, env_keys, forced, selected_env, warnings, superseded, boards=None):
        self.boards = boards or {}  # run_id -> board description (None off a Jetson)
        self.rows = rows  # every status, one per (env_key, point_key), latest kept
        self.all_rows = all_rows
        self.env_keys = env_keys  # env_key -> number of rows
        self.forced = forced
        self.selected_env = selected_env
        self.warnings = warnings
        self.superseded = superseded

    @property
    def ok(self):
        return [r for r in self.rows if r["status"] == STATUS_OK]

    @property
    def failed(self):
        return [r for r in self.rows if r["status"] != STATUS_OK]

    def environment_summary(self):
        return OrderedDict(
            [
                ("env_keys", OrderedDict(sorted(self.env_keys.items()))),
                ("selected_env_key", self.selected_env),
                ("forced_across_environments", self.forced),
                ("superseded_points", self.superseded),
            ]
        )


def _flatten(prefix, value, out):
    if isinstance(value, dict):
        for key in sorted(value):
            _flatten("{}.{}".format(prefix, key) if prefix else str(key), value[key], out)
    else:
        out[prefix] = value
    return out


def describe_env_differences(results, env_rows):
    """One phrase naming what differs between the environments (from the runs' environment_json)."""
    runs = results.run_by_id()
    flat = OrderedDict()
    for key, rows in env_rows.items():
        env = None
        for r in rows:
            run = runs.get(r.get("run_id"))
            if run and isinstance(run.get("environment"), dict):
                env = run["environment"]
                break
        if env is not None:
            flat[key] = _flatten("", env, {})
    if len(flat) < 2:
        return "the files' runs do not record the environments, so what differs is unknown"
    names = sorted(set().union(*[set(f) for f in flat.values()]))
    differing = []
    for name in names:
        values = [f.get(name) for f in flat.values()]
        if any(v != values[0] for v in values[1:]):
            differing.append(
                "{} ({})".format(
                    name, " / ".join(json.dumps(v) if not isinstance(v, str) else v for v in values)
                )
            )
    if not differing:
        return "their recorded environments are identical apart from the fingerprint"
    extra = "" if len(differing) <= 5 else " and {} more".format(len(differing) - 5)
    return "they differ in " + "; ".join(differing[:5]) + extra


def select(results, force=False, env_key=None):
    """Keep the latest point per (env_key, point_key) and check the points share one environment.

    Raises UsageError when the ok points come from more than one env_key, unless ``force`` (fit
    across them anyway, with a warning) or ``env_key`` (keep only that environment; a unique
    prefix is enough).
    """
    warnings = list(results.warnings)
    rows = list(results.measurements)
    counts = OrderedDict()
    for r in rows:
        key = r.get("env_key") or NO_ENV_KEY
        counts[key] = counts.get(key, 0) + 1

    selected = None
    if env_key is not None:
        matches = [k for k in counts if k == env_key] or [k for k in counts if k.startswith(env_key)]
        if len(matches) != 1:
            raise UsageError(
                "--env-key {!r} matches {} of the environments in {} ({}): pass one of them".format(
                    env_key,
                    "none" if not matches else "several",
                    results.path or "the rows",
                    ", ".join(sorted(counts)),
                )
            )
        selected = matches[0]
        rows = [r for r in rows if (r.get("env_key") or NO_ENV_KEY) == selected]

    latest = OrderedDict()
    for r in rows:
        key = (r.get("env_key") or NO_ENV_KEY, row_point_key(r))
        previous = latest.get(key)
        if previous is None or _order(r) >= _order(previous):
            latest[key] = r
    superseded = len(rows) - len(latest)
    kept = sorted(
        latest.values(),
        key=lambda r: (r["model"], r["backend"], r["precision"], r["batch_size"], r.get("env_key") or ""),
    )
    if superseded:
        warnings.append(
            "{} point(s) measured again in a later run were superseded by the latest measurement".format(
                superseded
            )
        )

    ok_envs = OrderedDict()
    for r in kept:
        if r["status"] == STATUS_OK:
            ok_envs.setdefault(r.get("env_key") or NO_ENV_KEY, []).append(r)
    if len(ok_envs) > 1:
        detail = ", ".join("{} ({} ok points)".format(k, len(v)) for k, v in ok_envs.items())
        why = describe_env_differences(results, ok_envs)
        if not force:
            raise UsageError(
                "{} mixes {} environments that must not be fitted together: {}; {}. Pass --env-key KEY "
                "to analyse one, or --force to fit across them".format(
                    results.path or "the rows", len(ok_envs), detail, why
                )
            )
        warnings.append(
            "fitted across {} environments because of --force: {}; {}".format(len(ok_envs), detail, why)
        )
    elif list(ok_envs) == [NO_ENV_KEY]:
        warnings.append("the points carry no env_key, so nothing shows they come from one environment")
    boards = {}
    for run in results.runs:
        env = run.get("environment")
        boards[run.get("id")] = env.get("board") if isinstance(env, dict) else None
    return Selection(
        kept,
        results.measurements,
        counts,
        bool(force and len(ok_envs) > 1),
        selected,
        warnings,
        superseded,
        boards,
    )


def _order(row):
    return (row.get("run_id") or 0, row.get("id") or 0)


def group_by(rows, key):
    groups = OrderedDict()
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def failure_summary(rows):
    """'oom 3, error 2; first error: ...' for the failed rows."""
    counts = OrderedDict()
    first = None
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        if first is None and r.get("error"):
            first = "{} batch {}: {}".format(r["model"], r["batch_size"], r["error"])
    text = ", ".join("{} {}".format(k, v) for k, v in counts.items())
    if first:
        text += "; first error: " + first
    return text
