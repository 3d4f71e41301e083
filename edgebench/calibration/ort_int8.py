"""INT8 on ONNX Runtime: static QDQ quantization from calibration data, cached like an engine.

``prepare_int8_onnx(onnx_path, onnx_sha256, source, cache_dir)`` returns ``(quantized_path, info)``.
The quantized file is ``<cache_dir>/calibration/ort-int8-<model16>-<key16>.onnx`` with a JSON
manifest beside it; the key covers the fp32 model's SHA-256, the calibration data fingerprint, the
algorithm and quantization options, and the onnxruntime and onnx versions. A cached file is
verified against its manifest before use; a corrupt one is rebuilt with a warning. A failed
calibration caches nothing (it is built in a private temporary directory and moved into place only
once it loads and runs).

Quantization: ``onnxruntime.quantization.quantize_static`` in QDQ format, per-channel int8 weights,
uint8 activations (see DEFAULT_OPTIONS for why), MinMax calibration unless asked otherwise.
Differences handled here:

* onnxruntime 1.10 (Python 3.6, JetPack 4.6): no ``quant_pre_process``; ``quantize_static`` takes
  ``optimize_model=True`` and writes ``<model>-opt.onnx`` beside its input and
  ``augmented_model.onnx`` into the *current directory* - so it runs on a link to the model inside a
  private directory that is also the working directory; ``CalibrationMethod`` has MinMax, Entropy,
  Percentile; ``onnxruntime.quantization`` imports ``six``, which onnxruntime 1.10 does not declare.
* onnxruntime >= 1.12: ``quant_pre_process`` (shape inference + graph optimization, which folds
  BatchNormalization into Conv) runs first; ``optimize_model`` is gone; Gemm stays Gemm and becomes
  ``com.microsoft.QGemm`` at run time instead of MatMul + Add.

Whether the model really runs in int8 is read from the graph ONNX Runtime executes
(``int8_execution_report``): QDQ pairs around a Conv are fused into QLinearConv (QGemm,
QLinearMatMul) at ``ORT_ENABLE_EXTENDED`` and above; a provider without int8 kernels leaves
DequantizeLinear -> Conv in float, which is slower than fp32, and the report says so.
"""
import contextlib
import logging
import os
import shutil
import tempfile
import time

import numpy as np

from edgebench._helpers import first_line
from edgebench.calibration import ALGORITHMS, DEFAULT_ALGORITHM, DEFAULT_CALIB_IMAGES, cache
from edgebench.calibration.sources import open_calibration_source
from edgebench.errors import EdgebenchError, UnsupportedPrecision, UsageError

LOG = logging.getLogger("edgebench.calibration")

RECIPE_VERSION = 1  # bump when the quantization recipe changes: invalidates cached int8 models
# uint8 activations with int8 weights (U8S8): measured on resnet18, onnxruntime 1.32's CPU provider
# fuses all 21 conv/gemm layers into int8 kernels with uint8 activations but leaves the 11 convs
# followed by a ReLU in float with int8 activations; onnxruntime 1.10 fuses all 21 either way.
DEFAULT_OPTIONS = {
    "format": "qdq",
    "per_channel": True,
    "activation_type": "uint8",
    "weight_type": "int8",
    "reduce_range": False,
}
CALIB_BATCH = 8  # images per calibration inference when the model's batch axis is dynamic

INT8_KERNELS = frozenset(
    (
        "QLinearConv",
        "QLinearMatMul",
        "ConvInteger",
        "MatMulInteger",
        "QGemm",
        "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul",
        "QLinearConvTranspose",
    )
)
FLOAT_MAC_KERNELS = frozenset(("Conv", "ConvTranspose", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul"))


def ort_version():
    import onnxruntime

    return onnxruntime.__version__


def _import_quantization():
    try:
        from onnxruntime import quantization
    except ImportError as exc:
        if "six" in str(exc):
            raise UnsupportedPrecision(
                "onnxruntime's quantization tools need the 'six' package on this onnxruntime version: "
                "pip install six"
            )
        raise UnsupportedPrecision("onnxruntime.quantization cannot be imported: {}".format(first_line(exc)))
    return quantization


def quantization_options(algorithm=DEFAULT_ALGORITHM, options=None):
    """The effective options (validated); part of the cache key."""
    if algorithm not in ALGORITHMS:
        raise UsageError(
            "unknown calibration algorithm {!r}; choose one of {}".format(algorithm, ", ".join(ALGORITHMS))
        )
    merged = dict(DEFAULT_OPTIONS)
    for key, value in (options or {}).items():
        if key not in DEFAULT_OPTIONS:
            raise UsageError(
                "unknown int8 option {!r}; known: {}".format(key, ", ".join(sorted(DEFAULT_OPTIONS)))
            )
        merged[key] = value
    for key in ("activation_type", "weight_type"):
        if merged[key] not in ("int8", "uint8"):
            raise UsageError("{} must be int8 or uint8, not {!r}".format(key, merged[key]))
    if merged["format"] not in ("qdq", "qoperator"):
        raise UsageError("format must be qdq or qoperator, not {!r}".format(merged["format"]))
    merged["algorithm"] = algorithm
    return merged


def cache_key(onnx_sha256, fingerprint, opts):
    import onnx

    return cache.key_of(
        {
            "recipe": RECIPE_VERSION,
            "model": onnx_sha256,
            "data": fingerprint,
            "options": opts,
            "onnxruntime": ort_version(),
            "onnx": onnx.__version__,
        }
    )


def int8_model_path(cache_dir, onnx_sha256, fingerprint, opts):
    return os.path.join(
        cache.calibration_dir(cache_dir),
        "ort-int8-{}-{}.onnx".format(cache.short_hash(onnx_sha256, 12), cache_key(onnx_sha256, fingerprint, opts)[:16]),
    )


def read_int8_info(quantized_path):
    """The manifest written beside a quantized model (what ``prepare_int8_onnx`` returned as info)."""
    return cache.read_json(cache.manifest_path(quantized_path))


# ----------------------------------------------------------------------------- model inspection


def model_input(model, source_shape, path):
    """(name, dims) of the model's single float image input, checked against the data's shape."""
    init_names = set(i.name for i in model.graph.initializer)
    inputs = [vi for vi in model.graph.input if vi.name not in init_names]
    if len(inputs) != 1:
        raise UsageError(
            "{} has {} inputs; int8 calibration feeds models with a single image input".format(path, len(inputs))
        )
    vi = inputs[0]
    if vi.type.tensor_type.elem_type != 1:  # FLOAT
        raise UnsupportedPrecision(
            "the model input {!r} is not float32; int8 calibration feeds float32".format(vi.name)
        )
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        dims.append(int(d.dim_value) if d.HasField("dim_value") else None)
    per_image = dims[1:]
    if len(per_image) != len(source_shape) or any(
        d is not None and d != s for d, s in zip(per_image, source_shape)
    ):
        raise UsageError(
            "calibration data gives {} tensors but {} takes {}; pass data of the model's input size".format(
                "x".join(str(s) for s in source_shape),
                os.path.basename(path),
                "x".join("?" if d is None else str(d) for d in per_image),
            )
        )
    return vi.name, dims


def _session(path, level, optimized_path=None, providers=None, threads=None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    if threads:
        opts.intra_op_num_threads = int(threads)
    if optimized_path:
        opts.optimized_model_filepath = optimized_path
    return ort.InferenceSession(path, opts, providers=providers or ["CPUExecutionProvider"])


def _mac_weight(name, node_macs):
    if not node_macs:
        return None
    if name in node_macs:
        return node_macs[name]
    # onnxruntime 1.10's quantizer turns Gemm "fc" into MatMul "fc_MatMul" + Add "fc_Add".
    for suffix in ("_MatMul", "_Gemm", "_quant"):
        if name.endswith(suffix) and name[: -len(suffix)] in node_macs:
            return node_macs[name[: -len(suffix)]]
    return None


def classify_graph(graph, node_macs=None):
    """Count int8 and float MAC kernels in an (optimized) ONNX graph; see int8_execution_report."""
    int8 = []
    floats = []
    for node in graph.node:
        if node.op_type in INT8_KERNELS:
            int8.append(node)
        elif node.op_type in FLOAT_MAC_KERNELS:
            floats.append(node)
    weights_int8 = [_mac_weight(n.name, node_macs) for n in int8]
    weights_float = [_mac_weight(n.name, node_macs) for n in floats]
    if node_macs and all(w is not None for w in weights_int8 + weights_float):
        basis = "macs"
        low, high = float(sum(weights_int8)), float(sum(weights_float))
    else:
        basis = "nodes"
        low, high = float(len(int8)), float(len(floats))
    total = low + high
    fraction = low / total if total else 0.0
    if not int8:
        effective = "fp32"
    elif not floats:
        effective = "int8"
    else:
        effective = "mixed"
    kept = {}
    for node in floats:
        kept[node.op_type] = kept.get(node.op_type, 0) + 1
    return {
        "precision_effective": effective,
        "int8_mac_fraction": round(fraction, 4),
        "fraction_basis": basis,
        "int8_kernels": len(int8),
        "float_mac_kernels": len(floats),
        "kept_float": ["{} x{}".format(op, n) for op, n in sorted(kept.items())],
    }


def int8_execution_report(model_path, node_macs=None, providers=None):
    """What ONNX Runtime really executes for a quantized model on ``providers`` (default: CPU).

    Creates a session at ``ORT_ENABLE_EXTENDED`` (QDQ fusion happens there; the result is portable,
    unlike ``ORT_ENABLE_ALL`` whose NCHWc layouts are machine-specific), saves the optimized graph
    through ``SessionOptions.optimized_model_filepath`` and counts MAC kernels: QLinearConv,
    QLinearMatMul, QGemm, ConvInteger, MatMulInteger ... are int8; Conv, Gemm, MatMul, FusedConv ...
    left in the graph ran in float. ``node_macs`` (fp32 node name -> MACs, from the model counts)
    weights the fraction by MACs; without it the fraction is by node count (``fraction_basis``).

    Returns ``{precision_effective: int8|mixed|fp32, int8_mac_fraction, fraction_basis,
    int8_kernels, float_mac_kernels, kept_float}``.
    """
    import onnx

    fd, tmp = tempfile.mkstemp(prefix=".int8-probe-", suffix=".onnx")
    os.close(fd)
    try:
        _session(model_path, "ORT_ENABLE_EXTENDED", optimized_path=tmp, providers=providers, threads=1)
        graph = onnx.load(tmp).graph
    finally:
        os.unlink(tmp)
    return classify_graph(graph, node_macs)


# ----------------------------------------------------------------------------- calibration reader


def make_data_reader(source, input_name, batch_size, drop_last=False):
    """An ``onnxruntime.quantization.CalibrationDataReader`` over ``source``'s batches."""
    quantization = _import_quantization()

    class SourceDataReader(quantization.CalibrationDataReader):
        def __init__(self):
            self._batches = source.batches(batch_size, drop_last=drop_last)
            self.batches_read = 0
            self.images_read = 0

        def get_next(self):
            batch = next(self._batches, None)
            if batch is None:
                return None
            self.batches_read += 1
            self.images_read += len(batch)
            return {input_name: batch}

    return SourceDataReader()


@contextlib.contextmanager
def _working_directory(path):
    # onnxruntime < 1.12 writes augmented_model.onnx into the current directory.
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _link_or_copy(src, dst):
    try:
        os.symlink(os.path.abspath(src), dst)
    except (OSError, NotImplementedError):
        shutil.copyfile(src, dst)


def _quantize(q, model_in, model_out, reader, opts, workdir):
    qtype = {"int8": q.QuantType.QInt8, "uint8": q.QuantType.QUInt8}
    method = {
        "minmax": q.CalibrationMethod.MinMax,
        "entropy": q.CalibrationMethod.Entropy,
        "percentile": q.CalibrationMethod.Percentile,
    }[opts["algorithm"]]
    kwargs = dict(
        quant_format=q.QuantFormat.QDQ if opts["format"] == "qdq" else q.QuantFormat.QOperator,
        per_channel=bool(opts["per_channel"]),
        reduce_range=bool(opts["reduce_range"]),
        activation_type=qtype[opts["activation_type"]],
        weight_type=qtype[opts["weight_type"]],
        calibrate_method=method,
    )
    code = getattr(q.quantize_static, "__code__", None)
    if code is not None and "optimize_model" in code.co_varnames:
        kwargs["optimize_model"] = True  # onnxruntime < 1.12: its own pre-optimization
    with _working_directory(workdir):
        q.quantize_static(model_in, model_out, reader, **kwargs)


def _preprocess_model(q, onnx_path, workdir, notes):
    """Link the model into ``workdir``, and run ``quant_pre_process`` where it exists."""
    linked = os.path.join(workdir, "model.onnx")
    _link_or_copy(onnx_path, linked)
    pre = getattr(q, "quant_pre_process", None)
    if pre is None:
        return linked
    out = os.path.join(workdir, "model-pre.onnx")
    try:
        pre(linked, out, skip_symbolic_shape=True)
    except Exception as exc:  # shape inference or the optimizer refusing a graph: quantize as is
        LOG.warning("quantization pre-processing failed (%s); quantizing the model as exported", first_line(exc))
        notes.append("quant_pre_process failed ({}); quantized without it".format(first_line(exc)))
        return linked
    return out


def _agreement(fp32_path, int8_path, input_name, batch):
    """Top-1 agreement (%) and max |difference| of the first output on one calibration batch."""
    a = _session(fp32_path, "ORT_ENABLE_ALL", threads=1).run(None, {input_name: batch})[0]
    b = _session(int8_path, "ORT_ENABLE_ALL", threads=1).run(None, {input_name: batch})[0]
    a = a.reshape(len(batch), -1)
    b = b.reshape(len(batch), -1)
    agree = 100.0 * float(np.mean(np.argmax(a, axis=1) == np.argmax(b, axis=1)))
    return agree, float(np.max(np.abs(a - b)))


def prepare_int8_onnx(
    onnx_path,
    onnx_sha256,
    source,
    cache_dir,
    algorithm=DEFAULT_ALGORITHM,
    options=None,
    node_macs=None,
    force=False,
):
    """Quantize ``onnx_path`` to int8 with calibration ``source`` (or take it from the cache).

    Returns ``(quantized_path, info)``; ``info`` (also the manifest beside the file) holds
    ``cache`` ('hit' or 'built'), ``fingerprint``, ``algorithm``, ``options``, ``calibration``
    (source description), ``precision_effective``, ``int8_mac_fraction``, ``int8_kernels``,
    ``float_mac_kernels``, ``kept_float``, ``fp32_top1_agreement`` (% of one calibration batch
    whose top-1 class matches fp32), ``calibrate_s`` and ``notes`` (caveats to store with results).

    Raises UnsupportedPrecision when onnxruntime cannot quantize the model or no layer runs in
    int8, UsageError for unusable calibration data.
    """
    opts = quantization_options(algorithm, options)
    path = int8_model_path(cache_dir, onnx_sha256, source.fingerprint, opts)
    if not force:
        info = cache.load_verified(path)
        if info is not None:
            info["cache"] = "hit"
            if source.synthetic:
                LOG.warning("int8 model calibrated on SYNTHETIC data: %s", path)
            return path, info
    info = _build(onnx_path, onnx_sha256, source, path, opts, node_macs)
    info["cache"] = "built"
    return path, info


def _build(onnx_path, onnx_sha256, source, path, opts, node_macs):
    import onnx

    q = _import_quantization()
    started = time.time()
    model = onnx.load(onnx_path, load_external_data=False)
    input_name, dims = model_input(model, source.shape, onnx_path)
    del model
    fixed_batch = dims[0] if dims and dims[0] else None
    batch_size = fixed_batch or min(CALIB_BATCH, source.count)
    source.check_batch_size(batch_size)
    notes = []
    workdir = tempfile.mkdtemp(prefix=".build-", dir=os.path.dirname(path))
    try:
        model_in = _preprocess_model(q, onnx_path, workdir, notes)
        out = os.path.join(workdir, "int8.onnx")
        # Histogram calibrators stack the batches, so they need equal ones; MinMax takes any.
        equal_batches = bool(fixed_batch) or opts["algorithm"] != "minmax"
        reader = make_data_reader(source, input_name, batch_size, drop_last=equal_batches)
        LOG.info(
            "calibrating int8 for %s on %d image(s) from %s (%s, onnxruntime %s)",
            os.path.basename(onnx_path), source.count, source.ref, opts["algorithm"], ort_version(),
        )
        try:
            _quantize(q, model_in, out, reader, opts, workdir)
        except (EdgebenchError, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # the quantizer raises assorted errors on graphs it cannot handle
            hint = ""
            if opts["algorithm"] != "minmax":
                # onnxruntime 1.10's histogram calibrators leave the graph outputs without ranges.
                hint = "; --calib-algorithm minmax may work"
            raise UnsupportedPrecision(
                "onnxruntime {} cannot quantize {} to int8: {}: {}{}".format(
                    ort_version(), os.path.basename(onnx_path), type(exc).__name__, first_line(exc), hint
                )
            )
        try:
            report = int8_execution_report(out, node_macs)
        except Exception as exc:
            raise UnsupportedPrecision(
                "the int8 model onnxruntime produced does not load: {}".format(first_line(exc))
            )
        if report["int8_kernels"] == 0:
            raise UnsupportedPrecision(
                "no layer of {} runs in int8 on the CPU provider after quantization (float MAC layers: "
                "{})".format(os.path.basename(onnx_path), ", ".join(report["kept_float"]) or "none")
            )
        first = source.first_batch(batch_size)
        agreement, max_diff = _agreement(onnx_path, out, input_name, first)
        notes = source.warnings() + notes
        if report["precision_effective"] == "mixed":
            notes.append(
                "int8 covers {:.0%} of the {} (float: {})".format(
                    report["int8_mac_fraction"],
                    "MACs" if report["fraction_basis"] == "macs" else "MAC layers",
                    ", ".join(report["kept_float"]),
                )
            )
        manifest = {
            "model_sha256": onnx_sha256,
            "model_path": os.path.abspath(onnx_path),
            "fingerprint": source.fingerprint,
            "algorithm": opts["algorithm"],
            "options": opts,
            "recipe": RECIPE_VERSION,
            "onnxruntime": ort_version(),
            "onnx": onnx.__version__,
            "calibration": source.describe(),
            "calibration_batch_size": batch_size,
            "calibration_images_fed": reader.images_read,
            "calibrate_s": round(time.time() - started, 3),
            "fp32_top1_agreement": agreement,
            "fp32_max_abs_diff": max_diff,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "notes": notes,
        }
        manifest.update(report)
        return cache.commit(out, path, manifest)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------------------- engine integration


def preprocess_for(model_name=None, input_shape=None, preprocess_dict=None, model_source="zoo"):
    """The Preprocess for a model, or None when its input is not an image (arrays only).

    An explicit ``preprocess_dict`` wins; then the zoo entry of ``model_name`` (zoo models only);
    then ImageNet-style defaults for a 1- or 3-channel C x H x W ``input_shape``.
    """
    from edgebench.calibration.preprocess import Preprocess

    if preprocess_dict:
        return Preprocess.from_dict(preprocess_dict)
    if model_name and model_source == "zoo":
        from edgebench.models.registry import ZOO

        spec = ZOO.get(model_name)
        if spec is not None:
            return Preprocess.from_spec(spec)
    if input_shape is not None and len(input_shape) == 3 and int(input_shape[0]) in (1, 3):
        return Preprocess.for_input_shape(input_shape)
    return None


def onnx_input_shape(onnx_path):
    """Per-image shape of the first graph input (0 for a symbolic dimension)."""
    import onnx

    model = onnx.load(onnx_path, load_external_data=False)
    init_names = set(i.name for i in model.graph.initializer)
    for vi in model.graph.input:
        if vi.name not in init_names:
            return [int(d.dim_value) if d.HasField("dim_value") else 0 for d in vi.type.tensor_type.shape.dim][1:]
    raise UsageError("{} has no input".format(onnx_path))


def source_for_spec(spec):
    """Open the calibration source an EngineSpec's options name (see prepare_int8_onnx_for_spec)."""
    options = spec.options
    ref = options.calib_data
    if not ref:
        raise UsageError(
            "int8 needs calibration data: pass --calib-data DIR (a folder of images), FILE.npy/.npz, "
            "'digits' or 'synthetic'"
        )
    shape = options.input_shape or onnx_input_shape(spec.onnx_path)
    pre = preprocess_for(
        spec.model, shape, options.calib_preprocess, options.model_source or "zoo"
    )
    return open_calibration_source(
        ref,
        preprocess=pre,
        limit=int(options.calib_images or DEFAULT_CALIB_IMAGES),
        shape=None if pre is not None else shape,
        seed=int(options.calib_seed or 0),
    )


def prepare_int8_onnx_for_spec(spec):
    """The ONNX Runtime backend's hook for ``precision == "int8"``: returns the quantized path.

    Reads ``spec.options``: ``calib_data`` (required), ``calib_images`` (default 500),
    ``calib_algorithm`` (minmax), ``calib_preprocess`` (a ``Preprocess.to_dict()``; default from
    the zoo entry ``spec.model`` when ``model_source`` is ``zoo``, else ImageNet defaults for
    ``input_shape``), ``calib_seed`` (synthetic data), ``int8_options`` (overrides of
    DEFAULT_OPTIONS) and ``node_macs`` (MAC-weighted int8 fraction). The manifest with the
    calibration details is ``read_int8_info(path)``.
    """
    options = spec.options
    source = source_for_spec(spec)
    path, _ = prepare_int8_onnx(
        spec.onnx_path,
        spec.onnx_sha256,
        source,
        spec.cache_dir,
        algorithm=options.calib_algorithm or DEFAULT_ALGORITHM,
        options=options.int8_options,
        node_macs=options.node_macs,
    )
    return path
