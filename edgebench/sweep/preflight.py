"""Checks made before a sweep touches any file, and the resources it opens (power, clock lock).

Everything that can be wrong with a sweep's input is found here and raised as a UsageError (exit
status 2) before the store is opened: the backend is usable on this machine, the models resolve,
the power source opens, the results directory is a directory. ``edgebench sweep`` and the agent's
jobs call the same checks.
"""
import os

from edgebench.errors import UsageError


def check_out_dir(out):
    """The results.db path under ``out``; UsageError if ``out`` or the database path is not usable."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError("--out {} is a file; give a directory for results.db, results.csv, results.json".format(out))
    db = os.path.join(out, "results.db")
    if os.path.isdir(db):
        raise UsageError("{} is a directory; choose another --out".format(db))
    return db


def check_backend(plan):
    """The resolved backend name of a plan; UsageError when it cannot run the plan here."""
    from edgebench.engines import backend_class, resolve_backend_name

    name = resolve_backend_name(plan.backend)
    cls = backend_class(name)
    if plan.memory_limit_mb and name in ("tensorrt", "torch2trt"):
        raise UsageError(
            "--memory-limit-mb is an address-space limit, and CUDA reserves more address space than any board "
            "has RAM, so every {} point would fail; drop --memory-limit-mb (system memory is still "
            "recorded per point)".format(name))
    trt_only = plan.no_transfers or plan.shared_profile or plan.workspace_mb or not plan.tf32 or \
        not plan.int8_fp16_fallback or plan.trt_calib_algorithm or plan.cuda_api
    if name == "onnxruntime" and trt_only:
        raise UsageError("--no-transfers, --shared-profile, --workspace-mb, --no-tf32, --no-int8-fp16-fallback, "
                         "--trt-calib-algorithm and --cuda-api apply to TensorRT backends only")
    for precision in plan.precisions:
        if precision not in cls.precisions:
            raise UsageError("{} is not yet supported on the {} backend".format(precision, name))
        if precision == "int8" and name == "onnxruntime":
            from edgebench.calibration import ort_int8

            ort_int8.quantization_options(plan.calib_algorithm)  # UsageError if this onnxruntime lacks it
    cls.check_usable()  # e.g. TensorRT installed but no GPU or CUDA driver: refused before any point
    return name


def check_comparable(store, environment, force):
    """Refuse to add a run to a store whose last run was measured in a different environment."""
    import json

    from edgebench.platform.environment import diff_environments

    runs = store.runs()
    if not runs:
        return []
    last = runs[-1]
    try:
        previous = json.loads(last["environment_json"])
    except (TypeError, ValueError):
        return []
    differences = diff_environments(previous, environment, labels=("run {}".format(last["id"]), "this run"))
    if differences and not force:
        raise UsageError(
            "{} holds runs from a different environment ({}); use another --out, or pass --force to add "
            "this run anyway".format(store.path, "; ".join(differences))
        )
    return differences


def clock_warning(environment, plan):
    """A warning when a Jetson's clocks float and the plan does not lock them, else None."""
    board = environment.get("board") or {}
    if board and board.get("clocks_locked") is False and not plan.lock_clocks:
        return ("clocks are not locked: DVFS will move the numbers; pass --lock-clocks (jetson_clocks for the "
                "sweep, restored after) or run `sudo jetson_clocks` first")
    return None


def prepare_models(plan, say):
    """``{plan model reference: PreparedModel}``; UsageError for a model that cannot be found or built."""
    from edgebench.models import resolve_model

    prepared = {}
    for ref in plan.models:
        say("preparing {} ...".format(ref))
        prepared[ref] = resolve_model(ref, plan.cache_dir, weights=plan.weights)
    names = [p.name for p in prepared.values()]
    dupes = sorted(set(n for n in names if names.count(n) > 1))
    if dupes:
        raise UsageError("two models are both called {}; rename one of the files".format(", ".join(dupes)))
    return prepared


def open_power(plan):
    """The power session of a plan (None for ``--power none``); bad URLs are UsageErrors (exit 2)."""
    if plan.power in (None, "", "none"):
        return None
    from edgebench.power.calibration import load_calibration
    from edgebench.sweep.power_session import PowerSession

    # The board's calibration against a reference meter, when `edgebench power calibrate` stored one
    # (<state dir>/calibration/<board serial>.json); it applies only to the source it was made for.
    calibration = load_calibration(path=plan.power_calibration, root=plan.root)
    if plan.power_calibration and calibration is None:
        raise UsageError("--power-calibration {} cannot be read; run `edgebench power calibrate` or drop the "
                         "flag".format(plan.power_calibration))
    return PowerSession(plan.power, root=plan.root, idle_s=plan.idle_s, calibration=calibration)


def clock_lock_for(plan):
    """A ClockLock when the plan locks clocks and jetson_clocks exists here, else None."""
    if not plan.lock_clocks:
        return None
    from edgebench.platform.clocks import ClockLock, ClockLockError

    lock = ClockLock()
    try:
        found = lock.binary  # checked before anything is measured
    except ClockLockError as exc:
        raise UsageError(str(exc))
    return lock if found else None


def power_mode_for(plan):
    """The PowerMode switch of a plan (None without --power-mode), applied by the session; UsageError
    when nothing here can switch it (no jetson-stats service, no nvpmodel)."""
    if not plan.power_mode:
        return None
    from edgebench.platform import jetson_stats
    from edgebench.platform.clocks import PowerMode, find_binary

    if not jetson_stats.usable() and not find_binary("nvpmodel"):
        raise UsageError("--power-mode {} needs a Jetson: neither jetson-stats' service nor nvpmodel is here; drop "
                         "--power-mode".format(plan.power_mode))
    return PowerMode(plan.power_mode, root=plan.root)
