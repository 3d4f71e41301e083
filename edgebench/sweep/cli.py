"""``edgebench sweep``: measure models x precisions x batch sizes and store every point."""
import argparse
import contextlib
import os
import signal
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
from edgebench.results.schema import STATUS_OK


def batches_arg(text):
    from edgebench.sweep.plan import parse_batches

    try:
        return parse_batches(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def add_plan_arguments(parser):
    """The sweep flags; ``edgebench submit`` (the agent's client) reuses them. Defaults come from the plan."""
    from edgebench.calibration.trt_calibrator import TRT_ALGORITHMS
    from edgebench.engines import CHOICES
    from edgebench.engines.cuda_api import CHOICES as CUDA_APIS
    from edgebench.sweep.plan import CALIB_ALGORITHMS, default

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
    calib.add_argument("--calib-images", type=positive_int, default=default("calib_images"), metavar="N",
                       help="calibration images to use (default %(default)s)")
    calib.add_argument("--calib-algorithm", default=default("calib_algorithm"),
                       choices=CALIB_ALGORITHMS,
                       help="ONNX Runtime calibration method (default %(default)s)")
    calib.add_argument("--trt-calib-algorithm", choices=tuple(TRT_ALGORITHMS),
                       help="TensorRT calibrator (default entropy2, TensorRT's recommended one)")
    timing = parser.add_argument_group("timing")
    timing.add_argument("--iterations", type=positive_int, default=default("iterations"),
                        help="minimum timed iterations per point (default %(default)s)")
    timing.add_argument("--duration", type=non_negative_float, default=default("duration_s"), metavar="SECONDS",
                        help="minimum timed seconds per point (default %(default)g); both minimums must be met")
    timing.add_argument("--max-duration", type=positive_float, default=default("max_duration_s"), metavar="SECONDS",
                        help="stop a point's timed loop after this long even if --iterations is not reached "
                        "(default %(default)g)")
    timing.add_argument("--unstable-cv", type=positive_float, default=default("unstable_cv"), metavar="FRACTION",
                        help="latency CV (std / mean) above which a point is marked unstable (default %(default)g "
                        "= 5%%)")
    timing.add_argument("--warmup-ms", type=non_negative_float, default=default("warmup_s") * 1000.0, metavar="MS",
                        help="warm-up time from the start of the first run, which counts (trtexec's rule; "
                             "default %(default)g)")
    timing.add_argument("--threads", type=positive_int, help="engine intra-op threads (CPU; default: all CPUs)")
    timing.add_argument("--no-transfers", action="store_true",
                        help="TensorRT: time GPU compute only, without host<->device copies "
                        "(like trtexec --noDataTransfers)")
    timing.add_argument("--layers", action="store_true",
                        help="per-layer profile of each point in a separate run after the timed loop (layers_json)")
    timing.add_argument("--point-timeout", type=positive_float, default=default("point_timeout_s"), metavar="SECONDS",
                        help="kill a worker that gives no result within this time (default %(default)g)")
    timing.add_argument("--reuse-worker", action="store_true",
                        help="let one worker measure an engine's rising batches (a new one after a smaller batch, "
                             "another engine or a point not ok); default: a fresh worker per point")
    power = parser.add_argument_group("power")
    power.add_argument("--power", default=default("power"), metavar="URL",
                       help="power source: none (default), auto, ina3221[:RAIL], tegrastats, rapl, nvml, "
                       "serial://PORT?protocol=csv|scpi|ppk2|powersensor3, trace://FILE.csv, sim://?idle_w=&active_w=")
    power.add_argument("--power-calibration", metavar="FILE",
                       help="calibration from `edgebench power calibrate` (default: this board's stored one, if "
                       "any); adds the *_cal_* columns, the raw ones stay raw")
    power.add_argument("--idle-seconds", type=non_negative_float, default=default("idle_s"), metavar="S",
                       help="idle power measured before the sweep (nothing loaded) and again after it "
                       "(default %(default)g)")
    res = parser.add_argument_group("resources")
    res.add_argument("--memory-limit-mb", type=positive_int, metavar="MB",
                     help="address-space limit for each worker; points that exceed it are stored as oom")
    res.add_argument("--shared-profile", action="store_true",
                     help="TensorRT: one engine with a 1..max-batch profile instead of one engine per batch")
    res.add_argument("--workspace-mb", type=positive_int, metavar="MB",
                     help="TensorRT builder workspace limit (default 1024)")
    res.add_argument("--no-tf32", dest="tf32", action="store_false",
                     help="TensorRT: forbid TF32 for fp32 layers (Ampere and newer use it by default)")
    res.add_argument("--no-int8-fp16-fallback", dest="int8_fp16_fallback", action="store_false",
                     help="TensorRT int8: let layers without an int8 kernel fall back to fp32 only, not fp16")
    res.add_argument("--cuda-api", choices=CUDA_APIS,
                     help="TensorRT: the CUDA binding for buffers and events (default: pycuda, else cuda-python)")
    res.add_argument("--lock-clocks", action="store_true",
                     help="on a Jetson, pin clocks with jetson_clocks for the sweep and restore them after")
    res.add_argument("--power-mode", metavar="MODE",
                     help="on a Jetson, the nvpmodel power mode (id or name, e.g. MAXN) for the sweep, put back "
                     "after (through jetson-stats' service when it runs, else nvpmodel as root)")
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
    from edgebench.models import DEFAULT_MODELS, default_cache_dir
    from edgebench.sweep.plan import SweepPlan, models_from_flags

    models = models_from_flags(args.models, args.model, DEFAULT_MODELS)
    plan = SweepPlan(
        models=models,
        weights=args.weights,
        backend=args.backend,
        precisions=args.engine or ["fp32"],
        batch_sizes=args.batches,
        iterations=args.iterations,
        duration_s=args.duration,
        max_duration_s=args.max_duration,
        unstable_cv=args.unstable_cv,
        warmup_s=args.warmup_ms / 1000.0,
        memory_limit_mb=args.memory_limit_mb,
        threads=args.threads,
        point_timeout_s=args.point_timeout,
        reuse_worker=bool(getattr(args, "reuse_worker", False)),
        root=args.root or os.environ.get("EDGEBENCH_ROOT") or None,
        cache_dir=os.path.abspath(args.cache_dir or default_cache_dir()),
        lock_clocks=bool(getattr(args, "lock_clocks", False)),
        power_mode=args.power_mode,
        calib_data=args.calib_data,
        calib_images=args.calib_images,
        calib_algorithm=args.calib_algorithm,
        power=args.power,
        idle_s=args.idle_seconds,
        power_calibration=args.power_calibration,
        no_transfers=args.no_transfers,
        layers=args.layers,
        shared_profile=args.shared_profile,
        workspace_mb=args.workspace_mb,
        tf32=args.tf32,
        int8_fp16_fallback=args.int8_fp16_fallback,
        trt_calib_algorithm=args.trt_calib_algorithm,
        cuda_api=args.cuda_api,
    )
    plan.validate()
    if plan.calib_data and "int8" in plan.precisions:
        from edgebench.calibration import sources

        sources.check_calibration_ref(plan.calib_data)
    return plan


def run(args):
    from edgebench.cliutil import console
    from edgebench.results.schema import RUN_INTERRUPTED
    from edgebench.results.store import ResultStore, store_error
    from edgebench.sweep import preflight
    from edgebench.sweep.session import SweepSession

    err = console(stderr=True)

    def say(msg):
        err.print(msg, style="dim", markup=False, highlight=False)

    def warn(text):
        err.print("warning: " + text, style="yellow", markup=False, highlight=False)

    # Everything that can be wrong with the input is checked before the store is touched.
    plan = plan_from_args(args)
    out = os.path.abspath(args.out)
    db_path = preflight.check_out_dir(out)
    if args.report and os.path.exists(args.report) and not os.path.isdir(args.report):
        raise UsageError("--report {} is a file; give a directory".format(args.report))
    backend = preflight.check_backend(plan)
    prepared = preflight.prepare_models(plan, say)
    preflight.power_mode_for(plan)  # can it be switched here at all? (the session switches it)
    power = preflight.open_power(plan)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:  # under /proc, read-only, full, no permission: one line, exit 2
        raise store_error(db_path, exc)
    with ResultStore(db_path) as store, _sigterm_as_interrupt() as terminated:
        session = SweepSession(plan, backend, prepared, store, power=power,
                               refuse_other_environment=not args.force, say=say, on_note=warn, export_dir=out)
        try:
            with session:
                _run_with_progress(session, err)
        except KeyboardInterrupt:
            pass
        stopped_status = 143 if terminated else 130  # 128 + the signal, as shells report it
        if session.run_id is None:
            err.print("interrupted before the first point; nothing stored", style="yellow")
            return stopped_status
        stored = store.measurements(session.run_id)
    run_id, status = session.run_id, session.status
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
    return stopped_status if status == RUN_INTERRUPTED else 0


class Terminated(KeyboardInterrupt):
    """SIGTERM during a sweep: handled exactly as Ctrl-C (the run is interrupted, its exports written)."""

    run_note = "stopped by SIGTERM"


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While the sweep runs, SIGTERM raises :class:`Terminated`; yields a list that is non-empty after one."""
    seen = []

    def on_term(signum, frame):
        if not seen:
            seen.append(signum)
            raise Terminated()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def _run_with_progress(session, err):
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from edgebench.sweep.eta import EtaEstimator, format_eta

    points = session.plan.points()
    total = len(points)
    macs = dict((ref, getattr(m, "macs", None)) for ref, m in (getattr(session, "models", None) or {}).items())
    try:
        from edgebench.engines import backend_class

        ahead = backend_class(session.backend).prepared_ahead
    except Exception:  # no build step known: the estimate covers the points only
        ahead = ()
    eta = EtaEstimator(points, macs=macs, builds_ahead=ahead)
    current = {"point": None, "started": None}

    class EtaColumn(ProgressColumn):
        """Remaining time from the measured time of similar points; a range while unsure."""

        def render(self, task):
            elapsed = time.monotonic() - current["started"] if current["started"] else 0.0
            return Text(format_eta(eta.remaining(current["point"], elapsed)), style="progress.remaining")

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        EtaColumn(),
        console=err,
        transient=False,
    )
    rows = []
    with progress:
        task = progress.add_task("sweep", total=total)

        def on_start(key, index, _total):
            current["point"], current["started"] = points[index], time.monotonic()
            progress.update(task, description=key)

        def on_point(row):
            rows.append(row)
            if current["point"] is not None:
                eta.record(current["point"], time.monotonic() - current["started"], row.get("build_s"))
            current["point"] = current["started"] = None
            progress.advance(task)
            if row["status"] == STATUS_OK:
                msg = "{} {:>9.3f} ms/image {:>9.1f} images/s".format(
                    row["point_key"], row["per_image_ms"], row["images_per_s"])
            else:
                msg = "{} {}: {}".format(row["point_key"], row["status"], row.get("error") or "")
            progress.console.print(msg, markup=False, highlight=False)

        session.measure(on_start=on_start, on_point=on_point)
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
