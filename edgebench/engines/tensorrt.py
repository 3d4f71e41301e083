"""TensorRT backend: ONNX -> TensorRT plan (cached) -> timed inference with CUDA events.

Build (on a cache miss):

* ``OnnxParser`` into an explicit-batch network; every parser error is reported with the ONNX node
  (index, name, operator), not just "failed".
* Builder config: workspace limit (``workspace_mb`` option, default 1024), DETAILED profiling
  verbosity where available (the engine inspector then says which precision each layer runs in),
  precision flags only where the GPU has fast kernels: ``builder.platform_has_fast_fp16`` /
  ``platform_has_fast_int8``. TX1 and Nano (Maxwell sm_53) have fast fp16 but no fast int8: an
  int8 point there is ``unsupported`` with that reason, never silently an fp32 build.
* One optimization profile per engine with min = opt = max = the point's batch size (what a
  deployment builds). ``shared_profile`` builds one engine for batches 1..``shared_profile_max``
  (default 64, opt = max) and every point reuses it.
* int8: the ``IInt8EntropyCalibrator2`` from ``edgebench.calibration.trt_calibrator`` over the
  ``calib_data`` of the sweep, with its calibration cache; the calibration profile is fixed at the
  calibration batch. fp16 kernels are allowed too (``int8_fp16_fallback``, default on) so layers
  without an int8 kernel fall back to fp16 rather than fp32.
* A timing cache per GPU and TensorRT version is read before and written after every build.

Engine cache: ``edgebench.engines.engine_cache`` under ``<cache_dir>/engines/tensorrt/``; a hit
skips the build (``build_s`` NULL, ``engine_cache_hit`` 1); a plan TensorRT cannot deserialize is
deleted with a warning and rebuilt.

Timing (trtexec's definitions, named by clock):

* ``gpu_compute_*_ms``: CUDA events around the enqueue, per call (GPU clock);
* ``h2d_median_ms`` / ``d2h_median_ms``: CUDA events around the copies of all inputs / outputs;
* host latency per call: the worker's monotonic-clock loop around ``run()`` (H2D + compute + D2H
  + launch and synchronisation overhead); images/s from the worker's wall time.

``run()`` enqueues copy-in, inference and copy-out on one stream and waits on a blocking-sync event
(no spinning, as trtexec by default). With the ``no_transfers`` option (``--no-transfers``) it
enqueues the inference only, on inputs already on the device; the compute start event is then
recorded on a stream kept busy by a device-to-device copy (sized to outlast the host's enqueue, see
``next_pad_bytes``), so ``gpu_compute_*_ms`` excludes host launch time: on an idle stream the start
event fires at once and a launch-bound network's "GPU time" is really the host's enqueue time.
Statistics cover the calls after ``begin_timed_window()`` (the worker calls it before its timed
loop); without that call every call but the first is summarised.

``layers`` option (``--layers``): after the timed loop an ``IProfiler`` is attached and the
engine is run synchronously (``execute_v2``) ``PROFILE_RUNS`` times; the per-layer profile is
stored as ``layers_json`` (format in ``edgebench.engines.layer_profile``).

Options read from ``spec.options`` (:class:`~edgebench.engines.base.EngineOptions`):
``no_transfers``, ``layers``, ``shared_profile``, ``shared_profile_max``, ``workspace_mb``,
``cuda_api`` (pycuda | cuda-python), ``tf32`` (default true: TensorRT's default on Ampere),
``int8_fp16_fallback``, ``trt_calib_algorithm`` (entropy2 | minmax | entropy),
``calib_data``/``calib_images``/``calib_preprocess`` (see calibration), ``input_shape`` (per-image
shape), ``node_macs`` (MAC weights for the precision report).

tensorrt, pycuda and cuda-python are imported inside ``load`` only.
"""
import logging
import os
import time

from edgebench.engines import layer_profile, trt_compat
from edgebench.engines.base import PRECISIONS, Backend, EngineInfo, Session, precision_verdict
from edgebench.engines.engine_cache import PlanCache
from edgebench.errors import EdgebenchError, UnsupportedPrecision

LOG = logging.getLogger("edgebench.engines.tensorrt")

DEFAULT_WORKSPACE_MB = 1024
PAD_START_BYTES = 1 << 20  # --no-transfers: the device copy that keeps the stream busy during the enqueue
PAD_MAX_BYTES = 32 << 20
PAD_MARGIN = 1.5
SHARED_PROFILE_MAX = 64
DEFAULT_TRT_CALIB_ALGORITHM = "entropy2"
MB = 1024.0 * 1024.0
NO_FAST_INT8_REASON = (
    "int8 is not supported on {gpu}: TensorRT reports no fast int8 kernels on this GPU "
    "(platform_has_fast_int8 is False; Maxwell sm_53 in Jetson TX1/Nano and Pascal sm_62 in TX2 lack the "
    "int8 dot-product instructions); measure fp16 there"
)
NO_FAST_FP16_REASON = (
    "fp16 is not supported on {gpu}: TensorRT reports no fast fp16 kernels on this GPU "
    "(platform_has_fast_fp16 is False); measure fp32 there"
)


def _installed_version():
    """TensorRT's version without importing it (or from the module when it is already imported)."""
    import sys

    module = sys.modules.get("tensorrt")
    if module is not None:
        return getattr(module, "__version__", None)
    try:
        from edgebench.platform.versions import python_package

        return python_package("tensorrt")["version"]
    except Exception:  # a broken metadata file must not break the probe
        return None


def _import_tensorrt():
    try:
        import tensorrt
    except ImportError as exc:
        raise EdgebenchError(
            "cannot import tensorrt ({}): on a Jetson install python3-libnvinfer (JetPack); elsewhere use "
            "--backend onnxruntime".format(exc))
    return tensorrt


class TrtOptions(object):
    """The engine options this backend reads, validated, with its own defaults filled in."""

    def __init__(self, spec):
        options = spec.options
        self.no_transfers = bool(options.no_transfers)
        self.layers = bool(options.layers)
        self.shared_profile = bool(options.shared_profile)
        self.shared_profile_max = int(options.shared_profile_max or SHARED_PROFILE_MAX)
        self.workspace_mb = int(options.workspace_mb or DEFAULT_WORKSPACE_MB)
        self.cuda_api = options.cuda_api or None
        self.tf32 = bool(options.tf32)
        self.int8_fp16_fallback = bool(options.int8_fp16_fallback)
        self.calib_algorithm = options.trt_calib_algorithm or DEFAULT_TRT_CALIB_ALGORITHM
        self.input_shape = [int(d) for d in (options.input_shape or [])] or None
        self.node_macs = options.node_macs or {}
        if self.workspace_mb <= 0:
            raise EdgebenchError("workspace_mb must be positive, got {}".format(self.workspace_mb))
        if self.shared_profile and spec.batch_size > self.shared_profile_max:
            raise EdgebenchError("batch {} is larger than the shared profile's maximum {}".format(
                spec.batch_size, self.shared_profile_max))

    def batch_label(self, batch):
        return "1-{}".format(self.shared_profile_max) if self.shared_profile else str(int(batch))

    def builder_material(self):
        return {
            "workspace_mb": self.workspace_mb,
            "shared_profile": [1, self.shared_profile_max] if self.shared_profile else None,
            "tf32": self.tf32,
            "int8_fp16_fallback": self.int8_fp16_fallback,
            "verbosity": "detailed",
        }


def check_cuda_usable(backend_name, prefer=None):
    """Refuse a GPU backend when the CUDA bindings find no usable GPU and driver (probed in a child)."""
    from edgebench.platform.cuda_probe import describe_failure, probe_device

    result = probe_device(prefer)
    if not result["ok"]:
        raise trt_compat.TensorRTUnusable(
            "--backend {} needs an NVIDIA GPU with its CUDA driver, and there is {}; use --backend onnxruntime on "
            "this machine".format(backend_name, describe_failure(result)))
    return result


def next_pad_bytes(pad_bytes, pad_ms, enqueue_ms, limit=PAD_MAX_BYTES):
    """The busy-stream copy's size for the next call: grown (by the measured copy rate, with a margin)
    when the last copy ended before the host finished enqueueing, else unchanged; at most ``limit``."""
    if pad_ms >= enqueue_ms or pad_bytes >= limit:
        return pad_bytes
    rate = pad_bytes / max(pad_ms, 1e-3)  # bytes per ms
    wanted = int(rate * enqueue_ms * PAD_MARGIN)
    return int(min(limit, max(2 * pad_bytes, wanted)))


def gpu_label(name, capability):
    return "{} (sm_{}{})".format(name, capability[0], capability[1])


class TensorRTBackend(Backend):
    name = "tensorrt"
    precisions = PRECISIONS

    @classmethod
    def is_available(cls):
        from edgebench.platform.versions import importable

        if not importable("tensorrt"):
            return False
        version = _installed_version()
        return version is None or trt_compat.TrtApi(version).unsupported_reason() is None

    @classmethod
    def unavailable_reason(cls):
        version = _installed_version()
        if version is not None:
            reason = trt_compat.TrtApi(version).unsupported_reason()
            if reason:
                return reason
        return ("tensorrt is not installed: on a Jetson sudo apt install python3-libnvinfer (JetPack) and "
                "pip3 install pycuda; elsewhere use --backend onnxruntime")

    @classmethod
    def version(cls):
        return _installed_version()

    @classmethod
    def check_usable(cls):
        """TensorRTUnusable (exit 2) when no CUDA GPU and driver answer the CUDA bindings here."""
        check_cuda_usable(cls.name)

    # ----------------------------------------------------------------------------------- load

    def load(self, spec):
        if spec.precision not in PRECISIONS:
            raise UnsupportedPrecision("precision {!r} is not supported by tensorrt".format(spec.precision))
        options = TrtOptions(spec)
        trt = _import_tensorrt()
        api = trt_compat.TrtApi(getattr(trt, "__version__", "")).check_supported()
        from edgebench.engines.cuda_api import open_cuda

        cuda = open_cuda(options.cuda_api)
        state = _LoadState(trt, api, cuda, spec, options)
        try:
            return state.load()
        except (EdgebenchError, MemoryError):
            state.abandon()
            raise
        except Exception as exc:  # a vendor exception: translate, keep the stage
            state.abandon()
            text = trt_compat.first_line(exc)
            if trt_compat.looks_like_oom(text):
                raise MemoryError("{} while {}: {}".format(api.label, state.stage, text))
            raise EdgebenchError("{} failed while {}: {}: {}".format(api.label, state.stage, type(exc).__name__,
                                                                   text))


class _LoadState(object):
    """One load: keeps the TensorRT objects alive and knows how far it got (for error messages)."""

    def __init__(self, trt, api, cuda, spec, options):
        self.trt = trt
        self.api = api
        self.cuda = cuda
        self.spec = spec
        self.options = options
        self.stage = "starting"
        self.logger = trt_compat.make_logger(trt)
        self.builder = None
        self.runtime = None
        self.engine = None
        self.context = None
        self.gpu = None
        self.calibration = None

    def get_builder(self):
        if self.builder is None:
            self.stage = "creating the builder"
            self.builder = trt_compat.create(self.trt, self.api, self.logger, "Builder")
        return self.builder

    def check_precision(self):
        builder = self.get_builder()
        if self.spec.precision == "int8" and not builder.platform_has_fast_int8:
            raise UnsupportedPrecision(NO_FAST_INT8_REASON.format(gpu=self.gpu))
        if self.spec.precision == "fp16" and not builder.platform_has_fast_fp16:
            raise UnsupportedPrecision(NO_FAST_FP16_REASON.format(gpu=self.gpu))

    def open_calibration(self):
        """(source, calibration cache path, key material) for int8."""
        try:
            from edgebench.calibration.ort_int8 import source_for_spec
            from edgebench.calibration.trt_calibrator import trt_cache_path
        except ImportError as exc:
            raise UnsupportedPrecision("int8 needs calibration data support (edgebench.calibration): {}".format(exc))
        self.stage = "opening the calibration data"
        source = source_for_spec(self.spec)
        algorithm = self.options.calib_algorithm
        path = trt_cache_path(self.spec.cache_dir, self.spec.onnx_sha256, source.fingerprint, algorithm,
                              self.api.version_text)
        material = {"data": source.fingerprint, "algorithm": algorithm, "images": source.count}
        return source, path, material

    def key_material(self):
        capability = self.cuda.compute_capability()
        return {
            "onnx_sha256": self.spec.onnx_sha256,
            "precision": self.spec.precision,
            "batch": self.options.batch_label(self.spec.batch_size),
            "image_shape": self.options.input_shape,
            "tensorrt": self.api.version_text,
            "gpu": self.cuda.device_name(),
            "compute_capability": "{}.{}".format(*capability),
            "builder": self.options.builder_material(),
            "calibration": self.calibration[2] if self.calibration else None,
        }

    def load(self):
        trt, spec, options = self.trt, self.spec, self.options
        self.stage = "querying the GPU"
        self.gpu = gpu_label(self.cuda.device_name(), self.cuda.compute_capability())
        if spec.precision == "int8":
            self.check_precision()  # before touching calibration data: a Nano says "unsupported" first
            self.calibration = self.open_calibration()
        cache = PlanCache(spec.cache_dir, "tensorrt")
        plan_path = cache.plan_path(spec.model, spec.precision, options.batch_label(spec.batch_size),
                                    self.key_material())
        self.stage = "creating the runtime"
        self.runtime = trt_compat.create(trt, self.api, self.logger, "Runtime")
        build_s = None
        self.stage = "reading the engine cache"
        plan = cache.load(plan_path)
        if plan is not None:
            self.stage = "deserializing the cached engine"
            self.engine = self.runtime.deserialize_cuda_engine(plan)
            del plan
            if self.engine is None:
                cache.discard(plan_path, "TensorRT could not deserialize it ({})".format(
                    "; ".join(self.logger.take_errors()) or "no reason given"))
        cache_hit = self.engine is not None
        if not cache_hit:
            started = time.perf_counter()
            plan = self.build(cache)
            build_s = time.perf_counter() - started
            self.builder = None  # the builder's memory goes before the engine's (4 GB boards)
            self.stage = "writing the engine cache"
            cache.store(plan_path, plan, {
                "model": spec.model, "precision": spec.precision, "key": self.key_material(),
                "build_s": round(build_s, 3), "gpu": self.gpu,
            })
            self.stage = "deserializing the new engine"
            self.engine = self.runtime.deserialize_cuda_engine(plan)
            del plan
            if self.engine is None:
                raise EdgebenchError("{} built a plan it cannot deserialize: {}".format(
                    self.api.label, "; ".join(self.logger.take_errors()) or "no reason given"))
        self.builder = None
        size_mb = os.path.getsize(plan_path) / MB
        session = self.make_session()
        session.engine_columns = {
            "build_s": build_s,
            "engine_cache_hit": 1 if cache_hit else 0,
            "engine_size_mb": round(size_mb, 3),
        }
        session.plan_path = plan_path
        return session

    # ------------------------------------------------------------------------------- build

    def build(self, cache):
        trt, api, spec, options = self.trt, self.api, self.spec, self.options
        builder = self.get_builder()
        if spec.precision != "fp32":
            self.check_precision()
        self.stage = "parsing the ONNX model"
        network = trt_compat.create_network(trt, api, builder)
        parser = trt_compat.parse_onnx(trt, api, network, self.logger, spec.onnx_path)
        self.stage = "configuring the builder"
        config = builder.create_builder_config()
        trt_compat.set_workspace(trt, api, config, options.workspace_mb * 1024 * 1024)
        trt_compat.set_detailed_verbosity(trt, api, config)
        if not options.tf32:
            config.clear_flag(trt.BuilderFlag.TF32)
        if spec.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif spec.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            if options.int8_fp16_fallback and builder.platform_has_fast_fp16:
                config.set_flag(trt.BuilderFlag.FP16)
        inputs = trt_compat.network_inputs(network)
        shapes = trt_compat.profile_shapes(
            inputs, spec.batch_size, options.input_shape,
            shared_max=options.shared_profile_max if options.shared_profile else None)
        trt_compat.add_profile(builder, config, shapes)
        calibrator = None
        if spec.precision == "int8":
            calibrator = self.make_calibrator(builder, config, inputs, shapes)
        timing_path = None
        if api.timing_cache:
            timing_path = cache.timing_cache_path(self.gpu, api.version_text)
            self.attach_timing_cache(config, cache.read_bytes(timing_path))
        self.stage = "building the engine"
        try:
            plan = trt_compat.build_plan(api, builder, network, config)
        finally:
            if calibrator is not None:
                calibrator.free()
        if calibrator is not None:
            calibrator.raise_if_failed()
        if plan is None:
            errors = self.logger.take_errors()
            text = "; ".join(errors) or "TensorRT gave no reason"
            if trt_compat.looks_like_oom(text):
                raise MemoryError("{} ran out of memory building {} ({}, batch {}): {}".format(
                    self.api.label, spec.model, spec.precision, spec.batch_size, text))
            raise EdgebenchError("{} could not build {} ({}, batch {}): {}".format(
                self.api.label, spec.model, spec.precision, spec.batch_size, text))
        if timing_path is not None:
            self.save_timing_cache(config, timing_path)
        del parser, network
        return plan

    def make_calibrator(self, builder, config, inputs, shapes):
        from edgebench.calibration.trt_calibrator import make_int8_calibrator

        source, cache_path, _ = self.calibration
        batch = self.spec.batch_size if not self.options.shared_profile else min(8, self.options.shared_profile_max)
        self.stage = "preparing int8 calibration"
        calibrator = make_int8_calibrator(source, batch, cache_path, self.options.calib_algorithm, cuda=self.cuda)
        config.int8_calibrator = calibrator
        if shapes:
            profile = builder.create_optimization_profile()
            for name, (lo, _, _) in sorted(shapes.items()):
                fixed = tuple([batch] + list(lo[1:]))
                profile.set_shape(name, fixed, fixed, fixed)
            config.set_calibration_profile(profile)
        return calibrator

    def attach_timing_cache(self, config, data):
        cache = config.create_timing_cache(data or b"")
        if not config.set_timing_cache(cache, False):
            LOG.warning("the TensorRT timing cache does not match this GPU or version; starting a new one")
            config.set_timing_cache(config.create_timing_cache(b""), True)

    def save_timing_cache(self, config, path):
        try:
            data = config.get_timing_cache().serialize()
            PlanCache.write_bytes(path, data)
        except Exception as exc:  # a timing cache is an optimisation; never fail a point for it
            LOG.warning("could not save the TensorRT timing cache %s: %s", path, exc)

    # ------------------------------------------------------------------------------- session

    def make_session(self):
        trt, api, spec, options = self.trt, self.api, self.spec, self.options
        self.stage = "creating the execution context"
        context = self.engine.create_execution_context()
        if context is None:
            raise MemoryError("{} could not create an execution context for {} batch {} (device memory?): {}".format(
                api.label, spec.model, spec.batch_size, "; ".join(self.logger.take_errors()) or "no reason given"))
        self.context = context
        self.stage = "binding inputs and outputs"
        io = trt_compat.engine_io(trt, api, self.engine)
        shapes = {}
        for position, t in enumerate(x for x in io if x.is_input):
            if t.dims and t.dims[0] >= 0 and t.dims[0] != spec.batch_size:
                raise EdgebenchError(
                    "engine input {!r} has a fixed batch of {} but this point needs {}: re-export the model with a "
                    "dynamic batch axis".format(t.name, t.dims[0], spec.batch_size))
            if any(d < 0 for d in t.dims):
                rest = list(t.dims[1:])
                if any(d < 0 for d in rest) and position == 0 and options.input_shape:
                    rest = list(options.input_shape)
                shapes[t.name] = tuple([spec.batch_size] + rest)
        trt_compat.set_input_shapes(api, context, io, shapes)
        self.stage = "allocating buffers"
        session = TrtSession(self, io)
        self.stage = "reading layer information"
        layers = trt_compat.engine_layers(trt, api, self.engine)
        session.info = self.engine_info(layers)
        session.inspector_layers = layers
        return session

    def engine_info(self, layers):
        spec = self.spec
        notes = []
        report = classify_trt_layers(layers, self.options.node_macs, spec.precision)
        if spec.precision == "fp32":
            effective, fraction = "fp32", 0.0
            major = self.cuda.compute_capability()[0]
            if major >= 8 and self.options.tf32:
                notes.append("fp32 engine with TensorRT's default TF32 tensor-core kernels allowed on this Ampere "
                             "GPU (options tf32=false to forbid)")
        elif report is None:
            effective, fraction = None, None
            notes.append("{} cannot report which precision each layer runs in (engine inspector with DETAILED "
                         "verbosity is 8.2+); TensorRT picked per layer among the allowed precisions".format(
                             self.api.label))
        else:
            effective, fraction = report["precision_effective"], report["fp16_mac_fraction"]
            if effective != spec.precision:
                notes.append("{:.0%} of MACs ran in {}; TensorRT chose higher precision for {}".format(
                    fraction, spec.precision, ", ".join(report["kept"]) or "some layers"))
        if spec.precision == "int8" and self.options.int8_fp16_fallback:
            notes.append("int8 engine with fp16 allowed for layers without int8 kernels")
        if self.options.shared_profile:
            notes.append("shared engine: one optimization profile for batches 1..{}".format(
                self.options.shared_profile_max))
        if self.options.no_transfers:
            notes.append("--no-transfers: inputs stay on the GPU; latency excludes host<->device copies; GPU "
                         "compute is timed on a stream kept busy by a device copy while the inference is "
                         "enqueued, so it excludes host launch time (and latency includes that copy)")
        return EngineInfo(provider=self.gpu, precision_effective=effective, fp16_mac_fraction=fraction,
                          threads=None, notes=notes,
                          calibration_fingerprint=self.calibration[2]["data"] if self.calibration else None)

    def abandon(self):
        self.context = None
        self.engine = None
        self.runtime = None
        self.builder = None
        self.cuda.close()


MAC_LAYER_WORDS = ("convolution", "gemm", "fullyconnected", "matrixmultiply", "matmul", "deconvolution",
                   "convactpool")  # ConvActPool: a convolution fused with its activation and pooling
# Layers that are whole fused subgraphs: Myelin (8.x) / kgen (10.x) "{ForeignNode[a...b]}". They carry
# MACs when a node they hold does.
FUSED_GRAPH_WORDS = ("myelin", "kgen", "foreignnode")
MAC_OP_WORDS = ("conv", "gemm", "matmul", "linear", "fc")


def layer_onnx_nodes(layer_name, node_macs):
    """The ONNX nodes of a layer: its fused parts, with "a...b" (a Myelin range) expanded over
    ``node_macs`` (ordered as the ONNX graph)."""
    names = list(node_macs)
    out = []
    for part in layer_profile.fused_parts(layer_name):
        if "..." in part:
            first, _, last = part.partition("...")
            if first in node_macs and last in node_macs:
                lo, hi = names.index(first), names.index(last)
                out.extend(names[min(lo, hi):max(lo, hi) + 1])
                continue
            out.extend(p for p in (first, last) if p)
            continue
        out.append(part)
    return out


def is_mac_layer(layer_type, layer_name, nodes, node_macs):
    """Does this engine layer compute MACs? By its type, or for a fused subgraph by the nodes it holds."""
    kind = layer_type.lower()
    if any(word in kind for word in MAC_LAYER_WORDS):
        return True
    if not any(word in kind or word in layer_name.lower() for word in FUSED_GRAPH_WORDS):
        return False
    if node_macs:
        return any(int(node_macs.get(n) or 0) > 0 for n in nodes)
    return any(word in n.lower() for n in nodes for word in MAC_OP_WORDS)


def _format_dtype(text):
    text = str(text or "").lower()
    if "int8" in text:
        return "int8"
    if "fp16" in text or "half" in text:
        return "fp16"
    if "fp32" in text or "float" in text or "tf32" in text:
        return "fp32"
    return None


def classify_trt_layers(layers, node_macs, requested):
    """Which precision the MAC-bearing layers of an engine run in, from the engine inspector.

    A layer is MAC-bearing when its LayerType names a convolution (also ``ConvActPool``), GEMM, fully
    connected or matrix multiply, or when it is a fused subgraph (Myelin / kgen ``ForeignNode``)
    holding such a node; its precision is the data type of its first input's format. MACs per layer
    are the sum over the ONNX nodes fused into it (``node_macs``, by node name; 1 when unknown).
    Returns None when the inspector gave no layer types (plan built without DETAILED verbosity).
    """
    if not layers or not any(isinstance(layer, dict) and layer.get("LayerType") for layer in layers):
        return None
    reduced = {"fp16": ("fp16",), "int8": ("int8",)}.get(requested, ())
    low = full = 0
    kept = {}
    for layer in layers:
        layer_type = str(layer.get("LayerType") or "")
        name = str(layer.get("Name") or "")
        parts = layer_onnx_nodes(name, node_macs)
        if not is_mac_layer(layer_type, name, parts, node_macs):
            continue
        inputs = layer.get("Inputs") or []
        fmt = inputs[0].get("Format/Datatype") if inputs and isinstance(inputs[0], dict) else None
        dtype = _format_dtype(fmt)
        macs = sum(int(node_macs.get(p) or 0) for p in parts) or 1
        if dtype in reduced:
            low += macs
        else:
            full += macs
            kept[layer_type] = kept.get(layer_type, 0) + 1
    if not low + full:
        return None
    effective, fraction = precision_verdict(low, full, requested)
    return {
        "precision_effective": effective,
        "fp16_mac_fraction": fraction,
        "kept": ["{} x{}".format(t, n) for t, n in sorted(kept.items())],
    }


def _median(values):
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def _mean(values):
    return sum(values) / float(len(values)) if values else None


class CudaEventSession(Session):
    """Per-call CUDA-event times (``_compute_ms``, ``_h2d_ms``, ``_d2h_ms``) and what follows from them.

    Shared by the TensorRT and torch2trt sessions. Subclasses append to the three lists on every
    call and provide ``engine_columns``, ``options`` (with ``layers``), ``info`` and ``profile_layers``.
    """

    _window = None

    def begin_timed_window(self):
        """Summarise only the calls from now on (the worker calls this before its timed loop)."""
        self._window = len(self._compute_ms)

    def _window_values(self, values):
        start = self._window if self._window is not None else min(1, len(values))
        return values[start:]

    def timing_columns(self):
        compute = self._window_values(self._compute_ms)
        return {
            "gpu_compute_median_ms": _median(compute),
            "gpu_compute_mean_ms": _mean(compute),
            "h2d_median_ms": _median(self._window_values(self._h2d_ms)),
            "d2h_median_ms": _median(self._window_values(self._d2h_ms)),
        }

    def extra_columns(self):
        columns = dict(self.engine_columns)
        columns.update(self.timing_columns())
        if self.options.layers:
            try:
                columns["layers_json"] = layer_profile.to_json(self.profile_layers())
            except Exception as exc:  # a profile is a diagnostic: the timed point stays ok
                LOG.warning("per-layer profile failed: %s", exc)
                columns["note"] = "; ".join(self.info.notes + ["per-layer profile failed: {}".format(
                    trt_compat.first_line(exc))])
        return columns


class TrtSession(CudaEventSession):
    """A deserialized engine with its context, buffers, stream and events, bound to one batch."""

    def __init__(self, state, io):
        import numpy as np

        self._state = state
        self._trt = state.trt
        self._api = state.api
        self._cuda = cuda = state.cuda
        self._context = state.context
        self._io = io
        self.batch_size = state.spec.batch_size
        self.options = state.options
        self.onnx_path = state.spec.onnx_path
        self.engine_columns = {}
        self.inspector_layers = None
        self.plan_path = None
        self._stream = cuda.create_stream()
        self._events = [cuda.create_event() for _ in range(4)]
        rng = np.random.RandomState(0)
        self._host = []
        self._device = []
        for t in io:
            host = cuda.pinned_empty(t.shape, t.dtype)
            if t.is_input and t.dtype.kind == "f":
                host[...] = rng.standard_normal(t.shape).astype(t.dtype)
            else:
                host[...] = 0
            self._host.append(host)
            self._device.append(cuda.device_alloc(host.nbytes))
        self._bound = [h.copy() for h, t in zip(self._host, io) if t.is_input]
        self._inputs = [(d, h) for d, h, t in zip(self._device, self._host, io) if t.is_input]
        self._outputs = [(h, d) for d, h, t in zip(self._device, self._host, io) if not t.is_input]
        for device, host in self._inputs:  # inputs are on the device even with --no-transfers
            cuda.htod_async(device, host, self._stream)
        cuda.sync_stream(self._stream)
        self._execute = trt_compat.make_executor(self._api, self._context, io, self._device,
                                                 cuda.stream_handle(self._stream))
        self._compute_ms = []
        self._h2d_ms = []
        self._d2h_ms = []
        self._window = None
        self._pad_bytes = PAD_START_BYTES
        self._pad = None
        self._pad_covered = []  # per call: did the busy-stream copy outlast the host's enqueue?
        self._run = self._run_compute_only if self.options.no_transfers else self._run_with_transfers

    # ------------------------------------------------------------------------------- timing

    def _enqueue_failed(self):
        errors = self._state.logger.take_errors()
        return EdgebenchError("{} failed to enqueue the inference: {}".format(
            self._api.label, "; ".join(errors) or "execute returned False"))

    def _run_with_transfers(self):
        cuda, stream, (h2d_start, h2d_end, compute_end, d2h_end) = self._cuda, self._stream, self._events
        cuda.record(h2d_start, stream)
        for device, host in self._inputs:
            cuda.htod_async(device, host, stream)
        cuda.record(h2d_end, stream)
        if not self._execute():
            raise self._enqueue_failed()
        cuda.record(compute_end, stream)
        for host, device in self._outputs:
            cuda.dtoh_async(host, device, stream)
        cuda.record(d2h_end, stream)
        cuda.wait_event(d2h_end)
        elapsed = cuda.elapsed_ms
        self._h2d_ms.append(elapsed(h2d_start, h2d_end))
        self._compute_ms.append(elapsed(h2d_end, compute_end))
        self._d2h_ms.append(elapsed(compute_end, d2h_end))

    def _pad_buffers(self):
        if self._pad is None or self._pad[2] != self._pad_bytes:
            if self._pad is not None:
                self._cuda.device_free(self._pad[0])
                self._cuda.device_free(self._pad[1])
            self._pad = (self._cuda.device_alloc(self._pad_bytes), self._cuda.device_alloc(self._pad_bytes),
                         self._pad_bytes)
        return self._pad

    def _run_compute_only(self):
        cuda, stream, (pad_start, start, end, _) = self._cuda, self._stream, self._events
        dst, src, nbytes = self._pad_buffers()
        cuda.record(pad_start, stream)
        cuda.dtod_async(dst, src, nbytes, stream)  # the GPU is busy with this while the host enqueues
        cuda.record(start, stream)
        enqueue_started = time.perf_counter()
        if not self._execute():
            raise self._enqueue_failed()
        enqueue_ms = (time.perf_counter() - enqueue_started) * 1000.0
        cuda.record(end, stream)
        cuda.wait_event(end)
        self._compute_ms.append(cuda.elapsed_ms(start, end))
        pad_ms = cuda.elapsed_ms(pad_start, start)
        self._pad_covered.append(pad_ms >= enqueue_ms)
        self._pad_bytes = next_pad_bytes(nbytes, pad_ms, enqueue_ms)

    def extra_columns(self):
        columns = CudaEventSession.extra_columns(self)
        covered = self._window_values(self._pad_covered)
        if self.options.no_transfers and covered and not all(covered):
            columns["note"] = "; ".join([columns.get("note") or "; ".join(self.info.notes)] + [
                "the busy-stream copy ended before the enqueue in {:.0%} of timed calls: their GPU compute time "
                "includes some host launch time".format(1.0 - sum(covered) / float(len(covered)))])
        return columns

    def run(self):
        try:
            self._run()
        except (EdgebenchError, MemoryError):
            raise
        except Exception as exc:  # pycuda / cuda-python / TensorRT errors
            text = trt_compat.first_line(exc)
            if trt_compat.looks_like_oom(text):
                raise MemoryError(text)
            raise EdgebenchError("{} inference failed: {}: {}".format(self._api.label, type(exc).__name__, text))

    # ------------------------------------------------------------------------------- profile

    def profile_layers(self, runs=layer_profile.PROFILE_RUNS):
        """Per-layer times from an IProfiler over ``runs`` synchronous runs (after the timed loop)."""
        profiler = trt_compat.make_profiler(self._trt)
        self._profiler = profiler  # TensorRT keeps a raw pointer: keep the Python object alive
        self._context.profiler = profiler
        bindings = trt_compat.binding_list(self._io, self._device)
        for _ in range(max(1, int(runs))):
            if not self._context.execute_v2(bindings):
                raise self._enqueue_failed()
        types = {}
        for layer in self.inspector_layers or []:
            if layer.get("LayerType"):
                types[str(layer.get("Name"))] = str(layer["LayerType"])
        missing = [name for name in profiler.order if name not in types]
        if missing:
            op_types = layer_profile.onnx_op_types(self.onnx_path)
            for name in missing:
                types[name] = layer_profile.type_from_onnx(name, op_types)
        return layer_profile.summarize(profiler.order, profiler.times, types)

    # ------------------------------------------------------------------------------- data

    def infer(self, batch):
        import numpy as np

        if not self._inputs:
            raise EdgebenchError("this engine has no inputs")
        batch = np.asarray(batch)
        n = int(batch.shape[0])
        if n > self.batch_size:
            raise EdgebenchError("infer got {} images; this engine takes at most {}".format(n, self.batch_size))
        cuda, stream = self._cuda, self._stream
        device, host = self._inputs[0]
        host[...] = 0
        host[:n] = batch.astype(host.dtype, copy=False)
        try:
            for dev, h in self._inputs:
                cuda.htod_async(dev, h, stream)
            if not self._execute():
                raise self._enqueue_failed()
            for h, dev in self._outputs:
                cuda.dtoh_async(h, dev, stream)
            cuda.sync_stream(stream)
            result = np.array(self._outputs[0][0][:n], copy=True)
        finally:
            host[...] = self._bound[0]
            cuda.htod_async(device, host, stream)
            cuda.sync_stream(stream)
        return result

    def close(self):
        state, self._state = getattr(self, "_state", None), None
        if state is None:
            return
        self._execute = None
        self._context = None
        self._profiler = None
        # host buffers, stream and events are freed while the CUDA context is still current
        self._host = self._device = self._inputs = self._outputs = self._bound = []
        self._stream = None
        self._events = []
        state.abandon()  # TensorRT objects go before the CUDA context
