"""``edgebench accuracy`` and ``edgebench calibrate``.

``accuracy`` builds each requested engine (fp32, fp16, int8) of one model with the chosen backend,
runs labelled data through it, prints top-1/top-5 and the change against fp32, and stores one row
per engine in ``<out>/results.db`` (table ``accuracy``).

``calibrate`` builds (or finds in the cache) the int8 model of one model from calibration data and
says what came out: images used and skipped, the data fingerprint, how much of the model runs in
int8, and where the cache file is. A later ``sweep --engine int8`` with the same data reuses it.

Nothing heavy is imported at import time.
"""
import os
import sys

from edgebench.cliutil import add_json_argument, emit_json, positive_int
from edgebench.errors import UnsupportedPrecision, UsageError
from edgebench.results.schema import STATUS_OK

PRECISIONS = ("fp32", "fp16", "int8")
DIGITS_MODEL = "lenet5_digits"


def _add_model_args(parser):
    parser.add_argument("--model", required=True, metavar="NAME|FILE.onnx",
                        help="a zoo model (see `edgebench models`) or an ONNX file")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="ONNX, engine and calibration cache (default $EDGEBENCH_CACHE_DIR or "
                        "~/.cache/edgebench)")


def _add_calib_args(parser, required=False):
    from edgebench.calibration import ALGORITHMS, DEFAULT_ALGORITHM, DEFAULT_CALIB_IMAGES

    parser.add_argument("--calib-data", required=required, metavar="DIR|FILE|digits|synthetic",
                        help="int8 calibration data: a folder of images, a .npy/.npz of preprocessed "
                        "tensors, 'digits' (scikit-learn digits, train split) or 'synthetic' (random; "
                        "int8 accuracy is then meaningless)")
    parser.add_argument("--calib-images", type=positive_int, default=DEFAULT_CALIB_IMAGES, metavar="N",
                        help="calibration images to use, evenly spaced over the sorted files "
                        "(default {})".format(DEFAULT_CALIB_IMAGES))
    parser.add_argument("--calib-algorithm", default=DEFAULT_ALGORITHM, choices=ALGORITHMS,
                        help="ONNX Runtime calibration method (default {})".format(DEFAULT_ALGORITHM))


def register(subparsers):
    from edgebench.engines import CHOICES

    acc = subparsers.add_parser(
        "accuracy",
        help="measure top-1/top-5 of compiled engines on labelled data",
        description="Build each engine of one model (fp32, fp16, int8), run labelled data through it "
        "and report top-1/top-5 and the change against fp32. Rows go to <out>/results.db.",
    )
    _add_model_args(acc)
    acc.add_argument("--engine", action="append", metavar="PRECISION",
                     help="fp32 | fp16 | int8, repeatable or comma-separated (default fp32)")
    acc.add_argument("--data", required=True, metavar="DIR|FILE.npz|digits",
                     help="labelled data: a folder with one sub-folder per class, a .npz with x and y, "
                     "or 'digits' (scikit-learn digits, test split; for lenet5_digits)")
    acc.add_argument("--limit", type=positive_int, metavar="N",
                     help="evaluate N labelled images, evenly spaced (default: all)")
    acc.add_argument("--batch-size", type=positive_int, default=32, metavar="B",
                     help="images per inference (default 32)")
    acc.add_argument("--backend", default="auto", choices=CHOICES,
                     help="engine backend; auto = TensorRT when importable, else ONNX Runtime")
    acc.add_argument("--threads", type=positive_int, help="engine intra-op threads (CPU)")
    _add_calib_args(acc)
    acc.add_argument("--out", default="results", metavar="DIR",
                     help="results directory holding results.db (default ./results)")
    acc.add_argument("--no-store", action="store_true", help="print only; do not write results.db")
    add_json_argument(acc)
    acc.set_defaults(func=run_accuracy)

    cal = subparsers.add_parser(
        "calibrate",
        help="build (or reuse) the int8 calibration of a model",
        description="Calibrate one model for int8 from calibration data and cache the result under "
        "<cache-dir>/calibration/; sweeps with the same data reuse it.",
    )
    _add_model_args(cal)
    _add_calib_args(cal, required=True)
    cal.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "tensorrt"),
                     help="onnxruntime builds the quantized model now; tensorrt calibrates during its "
                     "int8 engine build, so this reports its cache file")
    cal.add_argument("--force", action="store_true", help="recalibrate even if a cached result exists")
    add_json_argument(cal)
    cal.set_defaults(func=run_calibrate)


# ----------------------------------------------------------------------------- shared helpers


def parse_precisions(values):
    out = []
    for group in values or ["fp32"]:
        for item in group.split(","):
            item = item.strip().lower()
            if not item:
                continue
            if item not in PRECISIONS:
                raise UsageError("unknown engine precision {!r}; choose from {}".format(item, ", ".join(PRECISIONS)))
            if item not in out:
                out.append(item)
    if not out:
        raise UsageError("no engine precision given: --engine fp32|fp16|int8")
    return out


def _resolve(args, say):
    from edgebench.models import default_cache_dir, resolve_model

    cache_dir = os.path.abspath(args.cache_dir or default_cache_dir())
    say("preparing {} ...".format(args.model))
    return resolve_model(args.model, cache_dir), cache_dir


def _preprocess(prepared):
    from edgebench.calibration.ort_int8 import preprocess_for

    return preprocess_for(prepared.name, list(prepared.input_shape), None, prepared.source)


def _default_calib(args, prepared):
    if args.calib_data:
        return args.calib_data
    if prepared.name == DIGITS_MODEL and prepared.source == "zoo":
        return "digits"
    raise UsageError(
        "int8 needs calibration data: pass --calib-data DIR (a folder of images), FILE.npy/.npz, or "
        "'synthetic' (int8 accuracy is then meaningless)"
    )


def _engine_options(prepared, calib_data, args):
    from edgebench.engines.base import EngineOptions

    return EngineOptions(node_macs=prepared.node_macs, input_shape=list(prepared.input_shape),
                         model_source=prepared.source, calib_data=calib_data, calib_images=args.calib_images,
                         calib_algorithm=args.calib_algorithm)


def _say(args):
    quiet = getattr(args, "json", False)

    def say(msg):
        print(msg, file=sys.stderr if quiet else sys.stdout)
        (sys.stderr if quiet else sys.stdout).flush()

    return say


def _fmt(value, spec="{:.2f}"):
    return "-" if value is None else spec.format(value)


# ----------------------------------------------------------------------------- accuracy


def run_accuracy(args):
    from edgebench.calibration.accuracy import evaluate, open_labelled_data
    from edgebench.calibration.sources import check_calibration_ref
    from edgebench.engines import get_backend, resolve_backend_name
    from edgebench.engines.base import EngineSpec

    precisions = parse_precisions(args.engine)
    say = _say(args)
    backend_name = resolve_backend_name(args.backend)
    out_dir = os.path.abspath(args.out)
    db_path = os.path.join(out_dir, "results.db")
    if not args.no_store and os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError("--out {} is a file; give a directory for results.db".format(args.out))
    prepared, cache_dir = _resolve(args, say)
    pre = _preprocess(prepared)
    data = open_labelled_data(args.data, preprocess=pre, shape=prepared.input_shape, limit=args.limit,
                              num_classes=prepared.num_classes)
    calib_data = calib_fp = None
    notes = []
    if "int8" in precisions:
        calib_data = _default_calib(args, prepared)
        check_calibration_ref(calib_data)
        if os.path.exists(calib_data) and os.path.exists(args.data) and \
                os.path.realpath(calib_data) == os.path.realpath(args.data):
            notes.append("int8 was calibrated on the evaluation data itself: its accuracy is optimistic")
    backend = get_backend(backend_name)
    results = []
    for precision in precisions:
        spec = EngineSpec(
            onnx_path=prepared.onnx_path,
            onnx_sha256=prepared.onnx_sha256,
            model=prepared.name,
            precision=precision,
            batch_size=args.batch_size,
            cache_dir=cache_dir,
            threads=args.threads,
            options=_engine_options(prepared, calib_data, args),
        )
        row = {"precision": precision, "status": STATUS_OK, "top1": None, "top5": None, "samples": None,
               "skipped": None, "delta_top1_vs_fp32": None, "precision_effective": None,
               "calibration_fingerprint": None, "notes": [], "error": None}
        say("evaluating {} {} on {} ...".format(prepared.name, precision, data.name))
        try:
            session = backend.load(spec)
        except UnsupportedPrecision as exc:
            row.update(status="unsupported", error=str(exc))
            results.append(row)
            continue
        try:
            info = getattr(session, "info", None)
            if info is not None:
                row["precision_effective"] = info.precision_effective
                row["notes"].extend(info.notes)
            if precision == "int8":
                calib_fp, calib_notes = _calibration_details(spec)
                row["calibration_fingerprint"] = calib_fp
                row["notes"].extend(n for n in calib_notes if n not in row["notes"])
            row.update(evaluate(session, data, args.batch_size, num_classes=prepared.num_classes))
        finally:
            session.close()
        results.append(row)
    _fill_deltas(results, prepared, backend_name, data, db_path if not args.no_store else None)
    stored = None
    if not args.no_store:
        stored = _store(db_path, out_dir, prepared, backend_name, data, results)
    report = {
        "model": prepared.name,
        "onnx_sha256": prepared.onnx_sha256,
        "backend": backend_name,
        "data": data.describe(),
        "batch_size": args.batch_size,
        "results": results,
        "notes": notes,
        "store": stored,
    }
    if args.json:
        emit_json(report)
    else:
        _print_accuracy(report)
    return 0


def _calibration_details(spec):
    """(fingerprint, notes) of the int8 calibration the ONNX Runtime backend used for ``spec``."""
    from edgebench.calibration import ort_int8

    source = ort_int8.source_for_spec(spec)
    opts = ort_int8.quantization_options(spec.options.calib_algorithm or ort_int8.DEFAULT_ALGORITHM)
    path = ort_int8.int8_model_path(spec.cache_dir, spec.onnx_sha256, source.fingerprint, opts)
    info = ort_int8.read_int8_info(path) or {}
    return source.fingerprint, list(info.get("notes") or source.warnings())


def _fill_deltas(results, prepared, backend_name, data, db_path):
    fp32 = next((r for r in results if r["precision"] == "fp32" and r["status"] == STATUS_OK), None)
    base = fp32["top1"] if fp32 else None
    if base is None and db_path and os.path.exists(db_path):
        base = _stored_fp32(db_path, prepared, backend_name, data)
    for row in results:
        if row["status"] == STATUS_OK and base is not None:
            row["delta_top1_vs_fp32"] = row["top1"] - base


def _stored_fp32(db_path, prepared, backend_name, data):
    from edgebench.results.store import ResultStore

    store = ResultStore(db_path, create=False)
    try:
        rows = store.accuracy(model=prepared.name, backend=backend_name, precision="fp32")
    finally:
        store.close()
    for row in reversed(rows):
        if row.get("onnx_sha256") == prepared.onnx_sha256 and row.get("data_fingerprint") == data.fingerprint:
            return row.get("top1")
    return None


def _store(db_path, out_dir, prepared, backend_name, data, results):
    from edgebench.results.store import ResultStore

    os.makedirs(out_dir, exist_ok=True)
    store = ResultStore(db_path)
    try:
        for row in results:
            if row["status"] != "ok":
                continue
            store.add_accuracy(
                {
                    "model": prepared.name,
                    "onnx_sha256": prepared.onnx_sha256,
                    "backend": backend_name,
                    "precision": row["precision"],
                    "data_fingerprint": data.fingerprint,
                    "data_name": data.name,
                    "samples": row["samples"],
                    "top1": row["top1"],
                    "top5": row["top5"],
                    "delta_top1_vs_fp32": row["delta_top1_vs_fp32"],
                    "calibration_fingerprint": row["calibration_fingerprint"],
                }
            )
    finally:
        store.close()
    return db_path


def _print_accuracy(report):
    from rich.table import Table

    from edgebench.cliutil import console

    con = console()
    data = report["data"]
    table = Table(title="accuracy of {} ({}) on {} - {} images".format(
        report["model"], report["backend"], data["name"], data["used"]))
    for name in ("engine", "ran as", "top-1 %", "top-5 %", "vs fp32 (pp)", "images", "status"):
        table.add_column(name, justify="left" if name in ("engine", "ran as", "status") else "right")
    notes = list(report["notes"])
    for row in report["results"]:
        delta = row["delta_top1_vs_fp32"]
        table.add_row(
            row["precision"],
            row["precision_effective"] or "-",
            _fmt(row["top1"]),
            _fmt(row["top5"]),
            "-" if delta is None else "{:+.2f}".format(delta),
            _fmt(row["samples"], "{}"),
            row["status"] if row["status"] == STATUS_OK else "{}: {}".format(row["status"], row["error"]),
        )
        for note in row["notes"]:
            text = "{}: {}".format(row["precision"], note)
            if text not in notes:
                notes.append(text)
    con.print(table)
    if data["skipped"]:
        notes.append("{} labelled image(s) could not be decoded and were skipped".format(data["skipped"]))
    for note in notes:
        con.print("  * " + note, markup=False, highlight=False)
    if report["store"]:
        con.print("stored in {}".format(report["store"]), markup=False, highlight=False)


# ----------------------------------------------------------------------------- calibrate


def run_calibrate(args):
    from edgebench.calibration import ort_int8
    from edgebench.calibration.sources import open_calibration_source

    say = _say(args)
    prepared, cache_dir = _resolve(args, say)
    pre = _preprocess(prepared)
    source = open_calibration_source(
        args.calib_data, preprocess=pre, limit=args.calib_images,
        shape=None if pre is not None else prepared.input_shape,
    )
    if args.backend == "tensorrt":
        report = _trt_cache_report(prepared, source, cache_dir)
    else:
        say("int8 calibration of {} with {} (reused when cached) ...".format(prepared.name, args.calib_data))
        path, info = ort_int8.prepare_int8_onnx(
            prepared.onnx_path, prepared.onnx_sha256, source, cache_dir,
            algorithm=args.calib_algorithm, node_macs=prepared.node_macs, force=args.force,
        )
        report = {
            "model": prepared.name,
            "backend": "onnxruntime",
            "cache": info.get("cache"),
            "path": path,
            "fingerprint": info.get("fingerprint"),
            "algorithm": info.get("algorithm"),
            "calibration": info.get("calibration"),
            "precision_effective": info.get("precision_effective"),
            "int8_mac_fraction": info.get("int8_mac_fraction"),
            "fp32_top1_agreement": info.get("fp32_top1_agreement"),
            "calibrate_s": info.get("calibrate_s"),
            "onnxruntime": info.get("onnxruntime"),
            "notes": info.get("notes") or [],
        }
    if args.json:
        emit_json(report)
    else:
        _print_calibration(report)
    return 0


def _trt_cache_report(prepared, source, cache_dir):
    from edgebench.calibration import cache
    from edgebench.calibration.trt_calibrator import DEFAULT_TRT_ALGORITHM, trt_cache_path
    from edgebench.platform.versions import python_package

    path = trt_cache_path(cache_dir, prepared.onnx_sha256, source.fingerprint, DEFAULT_TRT_ALGORITHM,
                          python_package("tensorrt")["version"])  # the key holds the TensorRT version
    manifest = cache.load_verified(path)
    return {
        "model": prepared.name,
        "backend": "tensorrt",
        "cache": "hit" if manifest else "absent",
        "path": path,
        "fingerprint": source.fingerprint,
        "algorithm": DEFAULT_TRT_ALGORITHM,
        "calibration": manifest.get("calibration") if manifest else source.describe(),
        "notes": (manifest or {}).get("notes") or (
            [] if manifest else ["TensorRT calibrates during its first int8 engine build with this data "
                                 "(edgebench sweep --backend tensorrt --engine int8 --calib-data ...)"]
        ),
    }


def _print_calibration(report):
    cal = report.get("calibration") or {}
    lines = [
        "model        {}".format(report["model"]),
        "backend      {}".format(report["backend"]),
        "cache        {} {}".format(report["cache"], report["path"]),
        "data         {} ({}; {} selected, {} used, {} skipped)".format(
            cal.get("ref"), cal.get("kind"), cal.get("selected"), cal.get("used"), cal.get("skipped")),
        "fingerprint  {}".format(report["fingerprint"]),
        "algorithm    {}".format(report["algorithm"]),
    ]
    if report.get("precision_effective"):
        lines.append("runs as      {} ({:.0%} of MACs in int8)".format(
            report["precision_effective"], report.get("int8_mac_fraction") or 0.0))
    if report.get("fp32_top1_agreement") is not None:
        lines.append("agreement    {:.1f}% of one calibration batch has the fp32 top-1 class".format(
            report["fp32_top1_agreement"]))
    if report.get("calibrate_s") is not None:
        lines.append("took         {:.1f} s (when built)".format(report["calibrate_s"]))
    for note in report.get("notes") or []:
        lines.append("  * " + note)
    print("\n".join(lines))
    sys.stdout.flush()
