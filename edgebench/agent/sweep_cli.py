"""``edgebench sweep``: measure models x precisions x batch sizes and store every point."""
import argparse
import os
import sys

from edgebench.cliutil import (
    add_json_argument,
    add_root_argument,
    emit_json,
    non_negative_float,
    positive_float,
    positive_int,
)
from edgebench.errors import UsageError


def batches_arg(text):
    from edgebench.agent.plan import parse_batches

    try:
        return parse_batches(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def add_plan_arguments(parser):
    """The sweep flags; ``edgebench submit`` (the agent's client) reuses them."""
    from edgebench.engines import CHOICES

    models = parser.add_argument_group("what to measure")
    models.add_argument("--models", action="append", metavar="NAME[,NAME...]",
                        help="zoo models (see `edgebench models`); default: the seed paper's set")
    models.add_argument("--model", action="append", metavar="FILE.onnx",
                        help="a user ONNX model (repeatable); a fixed batch of 1 is made dynamic if possible")
    models.add_argument("--weights", metavar="PATH", help="local state dict for the (single) zoo model")
    models.add_argument("--engine", action="append", metavar="PRECISION",
                        help="fp32 | fp16 | int8, repeatable or comma-separated (default fp32)")
    models.add_argument("--backend", default="auto", choices=CHOICES,
                        help="engine backend; auto = TensorRT when importable, else ONNX Runtime")
    models.add_argument("--batches", type=batches_arg, metavar="SPEC",
                        help="batch sizes: 1-64 (powers of two, the default), 1..8 (every one) or 1,2,4")
    calib = parser.add_argument_group("int8 calibration")
    calib.add_argument("--calib-data", metavar="DIR|FILE|digits|synthetic",
                       help="calibration data for int8: a folder of images, preprocessed .npy/.npz, the bundled "
                       "'digits', or 'synthetic' (timing only)")
    calib.add_argument("--calib-images", type=positive_int, default=500, metavar="N",
                       help="calibration images to use (default 500)")
    calib.add_argument("--calib-algorithm", default="minmax", choices=("minmax", "entropy", "percentile"),
                       help="ONNX Runtime calibration method (default minmax; TensorRT uses entropy 2)")
    timing = parser.add_argument_group("timing")
    timing.add_argument("--iterations", type=positive_int, default=10,
                        help="minimum timed iterations per point (default 10)")
    timing.add_argument("--duration", type=non_negative_float, default=3.0, metavar="SECONDS",
                        help="minimum timed seconds per point (default 3); both minimums must be met")
    timing.add_argument("--max-duration", type=positive_float, default=60.0, metavar="SECONDS",
                        help="stop a point's timed loop after this long even if --iterations is not reached "
                        "(default 60)")
    timing.add_argument("--warmup-ms", type=non_negative_float, default=200.0, metavar="MS",
                        help="warm-up time before timing, at least one iteration (default 200)")
    timing.add_argument("--threads", type=positive_int, help="engine intra-op threads (CPU; default: all CPUs)")
    timing.add_argument("--no-transfers", action="store_true",
                        help="TensorRT: time GPU compute only, without host<->device copies "
                        "(like trtexec --noDataTransfers)")
    timing.add_argument("--layers", action="store_true",
                        help="per-layer profile of each point in a separate run after the timed loop (layers_json)")
    timing.add_argument("--point-timeout", type=positive_float, default=1800.0, metavar="SECONDS",
                        help="kill a worker that gives no result within this time (default 1800)")
    power = parser.add_argument_group("power")
    power.add_argument("--power", default="none", metavar="URL",
                       help="power source: none (default), auto, ina3221[:RAIL], tegrastats, rapl, nvml, "
                       "serial://PORT?protocol=csv|scpi|ppk2|powersensor3, trace://FILE.csv, sim://?idle_w=&active_w=")
    power.add_argument("--idle-seconds", type=non_negative_float, default=10.0, metavar="S",
                       help="idle power measured before the sweep (nothing loaded) and again after it (default 10)")
    res = parser.add_argument_group("resources")
    res.add_argument("--memory-limit-mb", type=positive_int, metavar="MB",
                     help="address-space limit for each worker; points that exceed it are stored as oom")
    res.add_argument("--shared-profile", action="store_true",
                     help="TensorRT: one engine with a 1..max-batch profile instead of one engine per batch")
    res.add_argument("--workspace-mb", type=positive_int, metavar="MB",
                     help="TensorRT builder workspace limit (default 1024)")
    res.add_argument("--lock-clocks", action="store_true",
                     help="on a Jetson, pin clocks with jetson_clocks for the sweep and restore them after")
    res.add_argument("--cache-dir", metavar="DIR",
                     help="ONNX and engine cache (default $EDGEBENCH_CACHE_DIR or ~/.cache/edgebench)")
    add_root_argument(res)


def register(subparsers):
    parser = subparsers.add_parser(
        "sweep",
        help="measure time, memory (and power) per model, precision and batch size",
        description="Sweep models over batch sizes and precisions. Each point runs in its own worker "
        "process and is committed to <out>/results.db the moment it is measured; results.csv and "
        "results.json are written at the end (also after Ctrl-C).",
    )
    add_plan_arguments(parser)
    parser.add_argument("--out", default="results", metavar="DIR",
                        help="results directory: results.db, results.csv, results.json (default ./results)")
    parser.add_argument("--report", metavar="DIR",
                        help="after the sweep, write the report (figures, index.html, summary.json) of this run to DIR")
    parser.add_argument("--force", action="store_true",
                        help="add this run to a results.db that holds runs from a different environment "
                        "(board, power mode, clocks, JetPack, TensorRT, CPU)")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def plan_from_args(args):
    from edgebench.agent.plan import SweepPlan
    from edgebench.models import DEFAULT_MODELS, default_cache_dir

    models = []
    for group in args.models or []:
        models.extend(m.strip() for m in group.split(",") if m.strip())
    models.extend(args.model or [])
    if not models:
        models = list(DEFAULT_MODELS)
    plan = SweepPlan(
        models=models,
        weights=args.weights,
        backend=args.backend,
        precisions=args.engine or ["fp32"],
        batch_sizes=args.batches,
        iterations=args.iterations,
        duration_s=args.duration,
        max_duration_s=args.max_duration,
        warmup_s=args.warmup_ms / 1000.0,
        memory_limit_mb=args.memory_limit_mb,
        threads=args.threads,
        point_timeout_s=args.point_timeout,
        root=args.root or os.environ.get("EDGEBENCH_ROOT") or None,
        cache_dir=os.path.abspath(args.cache_dir or default_cache_dir()),
        lock_clocks=bool(getattr(args, "lock_clocks", False)),
        calib_data=args.calib_data,
        calib_images=args.calib_images,
        calib_algorithm=args.calib_algorithm,
        power=args.power,
        idle_s=args.idle_seconds,
        no_transfers=args.no_transfers,
        layers=args.layers,
        shared_profile=args.shared_profile,
        workspace_mb=args.workspace_mb,
    )
    plan.validate()
    if plan.calib_data and "int8" in plan.precisions:
        from edgebench.calibration import sources

        sources.check_calibration_ref(plan.calib_data)
    return plan


def check_out_dir(out):
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError("--out {} is a file; give a directory for results.db, results.csv, results.json".format(out))
    db = os.path.join(out, "results.db")
    if os.path.isdir(db):
        raise UsageError("{} is a directory; choose another --out".format(db))
    return db


def check_backend(plan):
    from edgebench.engines import backend_class, resolve_backend_name

    name = resolve_backend_name(plan.backend)
    cls = backend_class(name)
    if plan.memory_limit_mb and name in ("tensorrt", "torch2trt"):
        raise UsageError(
            "--memory-limit-mb is an address-space limit, and CUDA reserves more address space than any board "
            "has RAM, so every {} point would fail; drop --memory-limit-mb (system memory is still "
            "recorded per point)".format(name))
    if name == "onnxruntime" and (plan.no_transfers or plan.shared_profile or plan.workspace_mb):
        raise UsageError("--no-transfers, --shared-profile and --workspace-mb apply to TensorRT backends only")
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
    board = environment.get("board") or {}
    if board and board.get("clocks_locked") is False and not plan.lock_clocks:
        return ("clocks are not locked: DVFS will move the numbers; pass --lock-clocks (jetson_clocks for the "
                "sweep, restored after) or run `sudo jetson_clocks` first")
    return None


def prepare_models(plan, say):
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


def run(args):
    from edgebench.agent.runner import Sweep, collect_environment
    from edgebench.agent.schema import RUN_COMPLETE, RUN_FAILED, RUN_INTERRUPTED
    from edgebench.agent.store import ResultStore
    from edgebench.cliutil import console

    err = console(stderr=True)

    def say(msg):
        err.print(msg, style="dim", markup=False, highlight=False)

    # Everything that can be wrong with the input is checked before the store is touched.
    plan = plan_from_args(args)
    out = os.path.abspath(args.out)
    db_path = check_out_dir(out)
    if args.report and os.path.exists(args.report) and not os.path.isdir(args.report):
        raise UsageError("--report {} is a file; give a directory".format(args.report))
    backend = check_backend(plan)
    prepared = prepare_models(plan, say)
    power = open_power(plan)
    os.makedirs(out, exist_ok=True)
    store = ResultStore(db_path)
    environment = collect_environment(plan.root)
    try:
        differences = check_comparable(store, environment, args.force)
    except UsageError:
        store.close()
        if power is not None:
            power.finish(measure_idle=False)
        raise
    for line in differences:
        say("note: --force: " + line)
    warning = clock_warning(environment, plan)
    if warning:
        err.print("warning: " + warning, style="yellow", markup=False, highlight=False)
    clock_lock = clock_lock_for(plan)
    plan_dict = plan.to_dict()
    plan_dict["backend_resolved"] = backend
    status, note = RUN_COMPLETE, None
    run_id = None
    power_warnings = []
    try:
        if clock_lock is not None:
            clock_lock.lock()
        if power is not None:
            power.start(say)
        run_id = store.create_run(plan_dict, environment)
        sweep = Sweep(plan, prepared, store, run_id, environment, backend, power=power)
        _run_with_progress(sweep, err)
    except KeyboardInterrupt:
        status, note = RUN_INTERRUPTED, "interrupted by the user (Ctrl-C)"
    except Exception as exc:  # record the failure on the run, keep what was measured, then report it
        if run_id is not None:
            store.finish_run(run_id, RUN_FAILED, "{}: {}".format(type(exc).__name__, exc))
            store.export_all(out)
        raise
    finally:
        if power is not None:
            try:
                power_warnings = power.finish(say, measure_idle=status == RUN_COMPLETE)
            except KeyboardInterrupt:
                power_warnings = power.warnings
        if clock_lock is not None and clock_lock.locked:
            clock_lock.restore()
        if run_id is None:  # interrupted before the run began: nothing to record
            store.close()
    if run_id is None:
        err.print("interrupted before the first point; nothing stored", style="yellow")
        return 130
    if power is not None:
        environment_note = "; ".join(power_warnings) or None
        note = "; ".join(n for n in (note, environment_note) if n) or None
        store.set_run_power(run_id, power.metadata())
    store.finish_run(run_id, status, note)
    store.export_all(out)
    stored = store.measurements(run_id)
    store.close()
    for warning in power_warnings:
        err.print("warning: " + warning, style="yellow", markup=False, highlight=False)
    if status == RUN_INTERRUPTED:
        err.print("interrupted: {} point(s) of run {} are stored in {}".format(len(stored), run_id, db_path),
                  style="yellow")
    report = _write_report(args.report, stored, err) if args.report and stored else None
    if args.json:
        doc = {"run_id": run_id, "status": status, "out": out, "measurements": stored}
        if args.report:
            doc["report"] = report
        emit_json(doc)
    else:
        _print_summary(stored, run_id, out)
    return 130 if status == RUN_INTERRUPTED else 0


def _write_report(directory, rows, err):
    """The report of this run; a failure is reported, never allowed to cost the stored results."""
    from edgebench.errors import EdgebenchError
    from edgebench.report import write_report

    try:
        written = write_report(rows, os.path.abspath(directory))
    except EdgebenchError as exc:
        err.print("report not written: {}".format(exc), style="yellow", markup=False, highlight=False)
        return None
    err.print("report: {}/index.html ({} figures)".format(
        written["out_dir"], sum(1 for f in written["figures"] if not f.get("skipped"))), markup=False, highlight=False)
    return written


def open_power(plan):
    """The power session of a plan (None for ``--power none``); bad URLs are UsageErrors (exit 2)."""
    if plan.power in (None, "", "none"):
        return None
    from edgebench.agent.power_session import PowerSession

    return PowerSession(plan.power, root=plan.root, idle_s=plan.idle_s)


def clock_lock_for(plan):
    if not plan.lock_clocks:
        return None
    from edgebench.platform.clocks import ClockLock, ClockLockError

    lock = ClockLock()
    try:
        found = lock.binary  # checked before anything is measured
    except ClockLockError as exc:
        raise UsageError(str(exc))
    return lock if found else None


def _run_with_progress(sweep, err):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    total = len(sweep.plan.points())
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    rows = []
    with progress:
        task = progress.add_task("sweep", total=total)

        def on_start(key, index, _total):
            progress.update(task, description=key)

        def on_point(row):
            rows.append(row)
            progress.advance(task)
            if row["status"] == "ok":
                msg = "{} {:>9.3f} ms/image {:>9.1f} images/s".format(
                    row["point_key"], row["per_image_ms"], row["images_per_s"])
            else:
                msg = "{} {}: {}".format(row["point_key"], row["status"], row.get("error") or "")
            progress.console.print(msg, markup=False, highlight=False)

        sweep.run(on_start=on_start, on_point=on_point)
        progress.update(task, description="done")
    return rows


def _print_summary(rows, run_id, out):
    from edgebench.cliutil import console
    from edgebench.report.table import summary_table

    con = console()
    table, notes = summary_table(rows, title="edgebench run {} ({} points)".format(run_id, len(rows)))
    con.print(table)
    for note in notes:
        con.print("  * " + note, markup=False, highlight=False)
    con.print("results: {}/results.db, results.csv, results.json".format(out), markup=False, highlight=False)
    sys.stdout.flush()
