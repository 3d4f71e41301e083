"""ONNX Runtime backend: the embedded default engine, on the CPU of any machine.

Precisions:

* ``fp32`` - the ONNX file as exported.
* ``fp16`` - the graph converted to float16 with float32 inputs and outputs kept (Cast nodes at the
  edges), cached in the engine cache. ONNX Runtime quietly computes layers in fp32 when the
  provider has no fp16 kernel for them (it inserts Casts; the CPU provider on x86 has none for
  Conv or Gemm). We detect that from the graph the session actually runs and store it:
  ``precision_effective`` and ``fp16_mac_fraction`` say what really ran, and the point's note says
  so - an fp16 number is never silently an fp32 number.
* ``int8`` - static QDQ quantization from calibration data (``edgebench.calibration``).

fp16 and int8 models are prepared ahead (:meth:`OnnxRuntimeBackend.prepare`): the sweep converts
them once per model and precision in a build process of its own, before the batch workers, and
records ``build_s``, ``engine_cache_hit`` and ``engine_size_mb``; the workers load the cached file and
the cached precision report, so the conversion is never charged to batch 1's load time or memory.

Providers: TensorRT and CUDA execution providers are used when present (onnxruntime-gpu), else the
CPU provider. ``spec.providers`` overrides the choice.
"""
import logging
import os
import tempfile
import time

from edgebench._files import atomic_write_bytes, atomic_write_json, read_json
from edgebench._helpers import first_line, is_oom_text
from edgebench.engines.base import Backend, EngineInfo, Session, precision_verdict
from edgebench.errors import EdgebenchError, UnsupportedPrecision
from edgebench.platform.versions import distribution_version, importable

LOG = logging.getLogger(__name__)

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
MAC_OP_TYPES = ("Conv", "ConvTranspose", "Gemm", "MatMul", "FusedConv", "FusedGemm", "FusedMatMul",
                "QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger")
_FP16, _FP32, _INT8, _UINT8, _DOUBLE = 10, 1, 3, 2, 11  # onnx TensorProto element types


def _ort_version():
    return distribution_version("onnxruntime", "onnxruntime-gpu")


def _threads_default():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    precisions = ("fp32", "fp16", "int8")
    prepared_ahead = ("fp16", "int8")

    @classmethod
    def is_available(cls):
        return importable("onnxruntime")

    @classmethod
    def unavailable_reason(cls):
        return "onnxruntime is not installed: pip install onnxruntime"

    @classmethod
    def version(cls):
        return _ort_version()

    # -------------------------------------------------------------------------------- building

    def _engine_dir(self, spec):
        path = os.path.join(spec.cache_dir, "engines", "onnxruntime")
        os.makedirs(path, exist_ok=True)
        return path

    def _fp16_model_path(self, spec):
        """Convert (once, cached) the fp32 ONNX file to fp16 with fp32 inputs and outputs."""
        path = self._fp16_path(spec)
        if os.path.exists(path):
            return path
        import onnx

        try:
            from onnxruntime.transformers import float16
        except ImportError as exc:
            raise UnsupportedPrecision(
                "this onnxruntime has no float16 converter (onnxruntime.transformers.float16): {}".format(exc)
            )
        model = onnx.load(spec.onnx_path)
        try:
            converted = float16.convert_float_to_float16(model, keep_io_types=True)
        except Exception as exc:  # the converter raises assorted errors on unusual graphs
            raise UnsupportedPrecision("fp16 conversion failed: {}".format(first_line(exc)))
        atomic_write_bytes(path, converted.SerializeToString())
        return path

    def _int8_model_path(self, spec):
        try:
            from edgebench.calibration import ort_int8
        except ImportError:
            raise UnsupportedPrecision("int8 is not yet supported on the onnxruntime backend")
        return ort_int8.prepare_int8_onnx_for_spec(spec)

    def prepare(self, spec):
        """Convert (fp16) or quantize (int8) ``spec``'s model into the engine cache and classify what its
        layers will run in; return the build columns. A cached model is a hit with ``build_s`` None."""
        started, started_wall = time.perf_counter(), time.time()
        hit = self._cached_model_exists(spec)
        path = self.model_path(spec)
        if hit is None:  # int8: the quantized file's name depends on the calibration; it was there before
            hit = os.path.getmtime(path) < started_wall - 1.0
        self.effective_precision(spec, path, self.providers(spec))
        return {
            "build_s": None if hit else time.perf_counter() - started,
            "engine_cache_hit": 1 if hit else 0,
            "engine_size_mb": round(os.path.getsize(path) / (1024.0 * 1024.0), 3),
        }

    def _cached_model_exists(self, spec):
        if spec.precision == "fp16":
            return os.path.exists(self._fp16_path(spec))
        if spec.precision == "int8":
            return None  # known only once the calibration's fingerprint names the file
        return True

    def _fp16_path(self, spec):
        return os.path.join(
            self._engine_dir(spec), "{}-fp16-ort{}.onnx".format(spec.onnx_sha256[:16], _ort_version())
        )

    def model_path(self, spec):
        if spec.precision == "fp32":
            return spec.onnx_path
        if spec.precision == "fp16":
            return self._fp16_model_path(spec)
        if spec.precision == "int8":
            return self._int8_model_path(spec)
        raise UnsupportedPrecision("precision {!r} is not supported by onnxruntime".format(spec.precision))

    def providers(self, spec):
        import onnxruntime as ort

        available = ort.get_available_providers()
        if spec.providers:
            missing = [p for p in spec.providers if p not in available]
            if missing:
                raise EdgebenchError(
                    "onnxruntime provider(s) {} not available here (available: {})".format(
                        ", ".join(missing), ", ".join(available)
                    )
                )
            return list(spec.providers)
        chosen = [p for p in PREFERRED_PROVIDERS if p in available]
        return chosen or ["CPUExecutionProvider"]

    def _session_options(self, spec, threads):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return opts

    # -------------------------------------------------------------------------------- effective precision

    def effective_precision(self, spec, model_path, providers):
        """What the MAC-bearing layers run in, read from the graph ONNX Runtime really executes.

        fp16: the graph at ORT_DISABLE_ALL (cast insertion happens; names survive). int8: the graph at
        ORT_ENABLE_EXTENDED, where QDQ pairs fuse into int8 kernels (edgebench.calibration.ort_int8).
        Cached per (model file, providers, onnxruntime version) next to the engine files.
        """
        if spec.precision == "fp32":
            return {"precision_effective": "fp32", "fp16_mac_fraction": 0.0, "kept_fp32": []}
        key = "{}-{}-{}".format(os.path.basename(model_path), "+".join(providers), _ort_version())
        cache_path = os.path.join(self._engine_dir(spec), "precision-" + _safe(key) + ".json")
        cached = read_json(cache_path)
        if cached is not None:
            return cached
        node_macs = spec.options.node_macs or {}
        if spec.precision == "int8":
            from edgebench.calibration import ort_int8

            report = ort_int8.int8_execution_report(model_path, node_macs, providers)
            result = {
                "precision_effective": report["precision_effective"],
                "fp16_mac_fraction": report["int8_mac_fraction"],
                "kept_fp32": report.get("kept_float") or [],
            }
        else:
            result = _detect_precision(model_path, providers, node_macs, spec.precision)
        atomic_write_json(cache_path, result)
        return result

    # -------------------------------------------------------------------------------- loading

    def load(self, spec):
        import onnxruntime as ort

        started_wall = time.time()
        cached = spec.precision != "fp32" and self._cached_model_exists(spec)
        model_path = self.model_path(spec)
        if cached is None:
            cached = os.path.getmtime(model_path) < started_wall - 1.0
        providers = self.providers(spec)
        threads = int(spec.threads or _threads_default())
        try:
            sess = ort.InferenceSession(model_path, self._session_options(spec, threads), providers=providers)
        except Exception as exc:  # onnxruntime's pybind exception types are not importable by name
            text = first_line(exc)
            if spec.precision != "fp32" and ("NOT_IMPLEMENTED" in text or "Could not find an implementation" in text):
                raise UnsupportedPrecision("{} on {}: {}".format(spec.precision, providers[0], text))
            if is_oom_text(text):
                raise MemoryError(text)
            raise EdgebenchError("onnxruntime could not load {}: {}".format(model_path, text))
        prec = self.effective_precision(spec, model_path, providers)
        used = sess.get_providers()
        notes = []
        calibration_fingerprint = None
        if spec.precision == "int8":
            from edgebench.calibration import ort_int8

            manifest = ort_int8.read_int8_info(model_path) or {}
            notes.extend(manifest.get("notes") or [])
            calibration_fingerprint = manifest.get("fingerprint")
        if spec.precision != "fp32" and prec["precision_effective"] == "fp32":
            notes.append(
                "{} has no {} kernels for the MAC layers here: onnxruntime inserted casts and computed "
                "them in fp32 ({} kept)".format(used[0], spec.precision, ", ".join(prec["kept_fp32"]) or "all")
            )
        elif prec["precision_effective"] == "mixed":
            notes.append(
                "{:.0%} of MACs ran in {}; {} computed in fp32 by {}".format(
                    prec["fp16_mac_fraction"], spec.precision, ", ".join(prec["kept_fp32"]), used[0]
                )
            )
        info = EngineInfo(
            provider=used[0] if used else None,
            precision_effective=prec["precision_effective"],
            fp16_mac_fraction=prec["fp16_mac_fraction"],
            threads=threads if used and used[0] == "CPUExecutionProvider" else None,
            notes=notes,
            calibration_fingerprint=calibration_fingerprint,
        )
        session = OrtSession(sess, spec, info)
        if spec.precision != "fp32":  # the converted model: a hit when the build step prepared it
            session.engine_columns = {
                "build_s": None,  # a conversion done here (no build step ran) is in load_s
                "engine_cache_hit": 1 if cached else 0,
                "engine_size_mb": round(os.path.getsize(model_path) / (1024.0 * 1024.0), 3),
            }
        if spec.options.layers:
            session.make_profiling_session = _profiling_session_factory(
                model_path, providers, self._session_options(spec, threads))
        return session


def _safe(text):
    return "".join(c if c.isalnum() or c in "._-+" else "_" for c in text)[:180]


class OrtSession(Session):
    def __init__(self, sess, spec, info):
        import numpy as np

        self._sess = sess
        self.info = info
        self.batch_size = spec.batch_size
        rng = np.random.RandomState(0)
        feed = {}
        for inp in sess.get_inputs():
            shape = [spec.batch_size] + [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape[1:]]
            if "float16" in inp.type:
                feed[inp.name] = rng.standard_normal(shape).astype(np.float16)
            elif "float" in inp.type or "double" in inp.type:
                feed[inp.name] = rng.standard_normal(shape).astype(np.float32 if "float" in inp.type
                                                                    else np.float64)
            else:
                feed[inp.name] = np.zeros(shape, dtype=np.int64)
        self._feed = feed
        self._first_input = sess.get_inputs()[0].name
        self._run = sess.run

    def run(self):
        self._run(None, self._feed)

    def infer(self, batch):
        import numpy as np

        return self._sess.run(None, {self._first_input: np.ascontiguousarray(batch, dtype=np.float32)})[0]

    make_profiling_session = None  # set by load() when spec.options.layers asks for a layer profile
    engine_columns = {}  # build_s / engine_cache_hit / engine_size_mb of a converted model (set by load)

    def extra_columns(self):
        """Engine columns, and ``layers_json`` from a separate profiling session run after the timed loop
        (``--layers``)."""
        if self.make_profiling_session is None:
            return dict(self.engine_columns)
        from edgebench.engines import layer_profile

        try:
            rows = layer_profile.profile_ort_session(self.make_profiling_session, self._feed)
        except Exception as exc:  # a profile is a diagnostic: the timed point stays ok
            LOG.warning("per-layer profile failed: %s", first_line(exc))
            return dict(self.engine_columns, note="; ".join(
                self.info.notes + ["per-layer profile failed: " + first_line(exc)]))
        return dict(self.engine_columns, layers_json=layer_profile.to_json(rows))

    def close(self):
        self._sess = None
        self._run = None


def _profiling_session_factory(model_path, providers, opts):
    """make_session(hook) for layer_profile.profile_ort_session: a second session with the timed
    session's options plus profiling, created only after the timed loop."""

    def make_session(hook):
        import onnxruntime as ort

        hook(opts)
        return ort.InferenceSession(model_path, opts, providers=providers)

    return make_session


def executed_graph(model_path, providers):
    """The graph ONNX Runtime executes for ``model_path``, with node names preserved.

    The session is created with optimizations disabled so names survive; ONNX Runtime still applies
    the cast insertion it needs for layers the provider cannot run in reduced precision.
    """
    import onnx
    import onnxruntime as ort

    fd, tmp = tempfile.mkstemp(prefix=".probe-", suffix=".onnx")
    os.close(fd)
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.optimized_model_filepath = tmp
        ort.InferenceSession(model_path, opts, providers=providers)
        return onnx.load(tmp).graph
    finally:
        os.unlink(tmp)


def _detect_precision(model_path, providers, node_macs, requested):
    return classify_mac_precision(executed_graph(model_path, providers), node_macs, requested)


def classify_mac_precision(graph, node_macs, requested):
    """Classify each MAC-bearing node of ``graph`` by the element type of its first input.

    Types are propagated in node order: graph inputs, initializers and value_info are known, a Cast
    produces its ``to`` type, quantize/dequantize nodes produce uint8/float, and any other node
    produces the type of its first typed input. MACs per node come from the counter (by node name);
    nodes it does not know weigh 1.
    """
    types = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        types[vi.name] = vi.type.tensor_type.elem_type
    for init in graph.initializer:
        types[init.name] = init.data_type
    reduced = {"fp16": (_FP16,), "int8": (_INT8, _UINT8)}.get(requested, (_FP16,))
    low_macs = full_macs = 0
    kept = {}
    for node in graph.node:
        if node.op_type == "Cast":
            to = [a.i for a in node.attribute if a.name == "to"]
            out_type = to[0] if to else None
        elif node.op_type in ("QuantizeLinear", "DynamicQuantizeLinear"):
            out_type = _UINT8
        elif node.op_type == "DequantizeLinear":
            out_type = _FP32
        else:
            out_type = next((types[i] for i in node.input if i and types.get(i)), None)
        for out in node.output:
            if out and not types.get(out):
                types[out] = out_type
        if node.op_type not in MAC_OP_TYPES:
            continue
        in_type = types.get(node.input[0]) if node.input else None
        macs = node_macs.get(node.name) or 1
        if in_type in reduced or node.op_type.startswith("QLinear") or node.op_type.endswith("Integer"):
            low_macs += macs
        else:
            full_macs += macs
            kept[node.op_type] = kept.get(node.op_type, 0) + 1
    effective, fraction = precision_verdict(low_macs, full_macs, requested)
    return {
        "precision_effective": effective,
        "fp16_mac_fraction": fraction,
        "kept_fp32": ["{} x{}".format(op, n) for op, n in sorted(kept.items())],
    }
