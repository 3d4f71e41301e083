"""TensorRT's Python API across versions: one version helper, one capability table, thin wrappers.

Every version-dependent call edgebench makes into TensorRT goes through this module, and every
decision here comes from the *parsed* version tuple (``version_tuple``), never from comparing version
strings ("10.0" < "5.1" as text) and never from probing attributes. What exists where (read from
``python/src/infer/pyCore.cpp`` and ``python/src/parsers/pyOnnx.cpp`` of NVIDIA/TensorRT's release
branches; 7.1 from its C++ headers):

=====================================  =====  =======  =====  ========  ======  ======
call                                    7.1   8.0-8.3   8.4   8.5/8.6    10.x    11.x
=====================================  =====  =======  =====  ========  ======  ======
``create_network(1 << EXPLICIT_BATCH)``  yes    yes      yes    yes     ignored  n/a
``config.max_workspace_size``            yes    yes      yes    yes       -       -
``config.set_memory_pool_limit``          -      -       yes    yes      yes     yes
``builder.build_engine``                 yes    yes      yes    yes       -       -
``builder.build_serialized_network``      -     yes      yes    yes      yes     yes
timing cache (``create_timing_cache``)    -     yes      yes    yes      yes     yes
engine inspector, ``DETAILED``            -     8.2+     yes    yes      yes     yes
bindings + ``execute_async_v2``          yes    yes      yes    yes       -       -
names + ``set_tensor_address`` + v3       -      -        -     yes      yes     yes
``IParserError.node_name()``              -      -        -      -       yes     yes
``BuilderFlag.FP16`` / ``INT8``          yes    yes      yes    yes      yes      -
=====================================  =====  =======  =====  ========  ======  ======

TensorRT 11 dropped the FP16/INT8 builder flags (networks are strongly typed: the precision comes
from the ONNX file), so edgebench refuses it with a clear message until someone needs it.

Nothing here imports tensorrt: callers pass the module in, so tests can hand in a fake.
"""
import logging
import re

from edgebench.errors import BackendUnavailable, EdgebenchError

LOG = logging.getLogger("edgebench.engines.tensorrt")

OLDEST_SUPPORTED = (7, 1)  # JetPack 4.4
FIRST_UNSUPPORTED = (11,)  # no FP16/INT8 builder flags

OOM_HINTS = ("out of memory", "outofmemory", "failed to allocate", "cudaerrormemoryallocation",
             "insufficient memory", "bad_alloc")


def version_tuple(version):
    """'8.2.1.8' -> (8, 2, 1, 8); '10.3.0.30' -> (10, 3, 0, 30); () when there are no digits.

    Compare the tuples (``>= (8, 5)``), never the strings.
    """
    return tuple(int(part) for part in re.findall(r"\d+", str(version or ""))[:4])


class UnsupportedTensorRT(EdgebenchError):
    """The installed TensorRT is too old or too new for edgebench."""


class TrtApi(object):
    """Which TensorRT calls exist, decided once from the version tuple (see the module table)."""

    def __init__(self, version):
        self.version_text = str(version)
        self.version = version_tuple(version)
        v = self.version
        self.explicit_batch_flag = v < (10,)
        self.memory_pool_limit = v >= (8, 4)
        self.serialized_build = v >= (8, 0)
        self.timing_cache = v >= (8, 0)
        self.inspector = v >= (8, 2)
        self.tensor_io = v >= (8, 5)
        self.parser_node_names = v >= (10,)
        self.parser_path = v >= (8,)
        self.precision_flags = v < FIRST_UNSUPPORTED

    def __repr__(self):
        return "TrtApi({!r})".format(self.version_text)

    @property
    def label(self):
        return "TensorRT {}".format(self.version_text)

    def unsupported_reason(self):
        """None when edgebench can drive this TensorRT, else one line saying why and what to do."""
        if not self.version:
            return "cannot tell the TensorRT version ({!r}); reinstall TensorRT's Python bindings".format(
                self.version_text)
        if self.version >= FIRST_UNSUPPORTED:
            return (
                "unsupported TensorRT version {}: TensorRT 11 removed the FP16/INT8 builder flags (networks are "
                "strongly typed) and edgebench does not drive it yet; use TensorRT 8.2-10.x (JetPack 4.6-6) or "
                "--backend onnxruntime".format(self.version_text)
            )
        if self.version < OLDEST_SUPPORTED:
            return (
                "unsupported TensorRT version {}: edgebench needs TensorRT 7.1 or newer (JetPack 4.4+); upgrade "
                "JetPack or use --backend onnxruntime".format(self.version_text)
            )
        return None

    def check_supported(self):
        reason = self.unsupported_reason()
        if reason:
            raise UnsupportedTensorRT(reason)
        return self


class TensorRTUnusable(BackendUnavailable):
    """TensorRT imports but cannot create a Builder or Runtime here (no GPU, no driver)."""


NO_GPU_ADVICE = ("TensorRT needs an NVIDIA GPU with its CUDA driver (check nvidia-smi, or tegrastats on a "
                 "Jetson); on this machine use --backend onnxruntime")


def one_line(texts, limit=400):
    """Messages (possibly multi-line) joined on one line, each trimmed."""
    parts = [" ".join(str(t).split()) for t in texts if str(t).strip()]
    line = "; ".join(parts)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def create(trt, api, logger, kind):
    """``trt.Builder(logger)`` or ``trt.Runtime(logger)`` (``kind``), or TensorRTUnusable with TensorRT's reason.

    Without a usable GPU the real bindings log "CUDA initialization failure with error: 35" and the
    constructor raises ``TypeError: pybind11::init(): factory function returned nullptr``; it never
    returns None (checked against the 8.5.2.2 wheel, tests/engines/real_trt/). The error carries what
    TensorRT logged, not pybind's words.
    """
    factory = getattr(trt, kind)
    try:
        obj = factory(logger)
    except (TypeError, RuntimeError) as exc:
        obj, failure = None, first_line(exc)
    else:
        failure = "returned None"
    if obj is None:
        # 8.5 logs its reason as a WARNING ("CUDA initialization failure with error: 35"), after
        # "Unable to determine GPU memory usage" warnings: keep errors, else the warnings that say failure
        errors, warnings = logger.take_errors(), logger.take_warnings()
        failing = [w for w in warnings if "fail" in w.lower() or "error" in w.lower()]
        reason = one_line(errors or failing or warnings) or failure
        raise TensorRTUnusable("{} cannot create a {}: {}. {}".format(api.label, kind, reason, NO_GPU_ADVICE))
    return obj


def first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:400] if text else type(exc).__name__


def looks_like_oom(text):
    text = str(text).lower()
    return any(hint in text for hint in OOM_HINTS)


# ----------------------------------------------------------------------------- logger and profiler


def make_logger(trt):
    """A TensorRT logger that keeps what TensorRT says, so errors can be reported with the reason.

    Errors and warnings are kept (``errors``, ``warnings``) and passed to Python logging; info and
    verbose messages are dropped. Keep the logger alive as long as any TensorRT object made with it.
    """

    class CapturingLogger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors = []
            self.warnings = []

        def log(self, severity, msg):
            level = int(severity)
            if level <= int(trt.ILogger.Severity.ERROR):
                self.errors.append(str(msg))
                LOG.error("TensorRT: %s", msg)
            elif level == int(trt.ILogger.Severity.WARNING):
                self.warnings.append(str(msg))
                LOG.debug("TensorRT warning: %s", msg)

        def take_errors(self):
            errors, self.errors = self.errors, []
            return errors

        def take_warnings(self):
            warnings, self.warnings = self.warnings, []
            return warnings

    return CapturingLogger()


def make_profiler(trt):
    """An ``IProfiler`` that collects per-layer times (ms) of every synchronous ``execute_v2`` call.

    ``order`` keeps the layer names in execution order; ``times[name]`` lists one time per run.
    """

    class CollectingProfiler(trt.IProfiler):
        def __init__(self):
            trt.IProfiler.__init__(self)
            self.order = []
            self.times = {}

        def report_layer_time(self, layer_name, ms):
            name = str(layer_name)
            if name not in self.times:
                self.times[name] = []
                self.order.append(name)
            self.times[name].append(float(ms))

    return CollectingProfiler()


# ----------------------------------------------------------------------------- network and parser


def create_network(trt, api, builder):
    """An explicit-batch network: the creation flag where TensorRT < 10 needs it, 0 from 10 on."""
    if api.explicit_batch_flag:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    else:
        flags = 0
    return builder.create_network(flags)


def _onnx_nodes(onnx_path):
    """[(name, op_type)] of the top-level ONNX graph, in order; [] if it cannot be read."""
    try:
        import onnx

        model = onnx.load(onnx_path, load_external_data=False)
        return [(node.name, node.op_type) for node in model.graph.node]
    except Exception as exc:  # only used to name nodes in an error message
        LOG.debug("cannot read node names from %s: %s", onnx_path, exc)
        return []


def describe_parser_error(api, error, nodes):
    """One line for one ``IParserError``, naming the ONNX node (by name and operator)."""
    code = str(error.code()).split(".")[-1].lstrip("k") if error.code() is not None else "ERROR"
    index = int(error.node())
    name = op = None
    if api.parser_node_names:
        name = error.node_name() or None
        op = error.node_operator() or None
    if name is None and 0 <= index < len(nodes):
        name, op = nodes[index]
    if index < 0 and name is None:
        where = "graph"
    else:
        where = "node #{}{}{}".format(
            index, " {!r}".format(name) if name else "", " ({})".format(op) if op else "")
    return "{}: {}: {}".format(where, code, error.desc().strip())


def parse_onnx(trt, api, network, logger, onnx_path):
    """Parse ``onnx_path`` into ``network``; EdgebenchError listing every parser error by node."""
    with open(onnx_path, "rb") as fh:
        data = fh.read()
    parser = trt.OnnxParser(network, logger)
    # the path lets the parser find external weights (model.onnx + model.onnx.data, as torch.onnx.export
    # writes models over 2 GB): ``parse(model, path=None)`` in the real 8.5.2.2 module's docstring
    ok = parser.parse(data, str(onnx_path)) if api.parser_path else parser.parse(data)
    count = int(parser.num_errors)
    if ok and not count:
        return parser
    nodes = _onnx_nodes(onnx_path)
    errors = [describe_parser_error(api, parser.get_error(i), nodes) for i in range(count)]
    if not errors:
        errors = logger.take_errors() or ["the parser gave no reason"]
    raise EdgebenchError(
        "{} cannot parse {} ({} error{}): {}. Re-export the model with an opset and operators this TensorRT "
        "supports, or measure it with --backend onnxruntime".format(
            api.label, onnx_path, len(errors), "" if len(errors) == 1 else "s", "; ".join(errors))
    )


def network_inputs(network):
    """[(name, dims as a tuple, -1 for a runtime dimension)] of the network's inputs."""
    out = []
    for i in range(int(network.num_inputs)):
        tensor = network.get_input(i)
        out.append((tensor.name, tuple(int(d) for d in tensor.shape)))
    return out


# ----------------------------------------------------------------------------- builder config


def set_workspace(trt, api, config, workspace_bytes):
    """The builder's workspace limit: ``set_memory_pool_limit`` from 8.4, ``max_workspace_size`` before."""
    workspace_bytes = int(workspace_bytes)
    if api.memory_pool_limit:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    else:
        config.max_workspace_size = workspace_bytes


def profile_shapes(inputs, batch, image_shape=None, shared_max=None, shared_opt=None):
    """{input name: (min, opt, max)} for the network ``inputs`` ([(name, dims)]).

    One profile per engine, min = opt = max = ``batch`` (what a deployment builds); with
    ``shared_max`` one profile 1..shared_max with opt ``shared_opt`` (default shared_max). Only the
    batch axis may be a runtime dimension; the others come from the network or ``image_shape``.
    Inputs without runtime dimensions need no profile and are left out.
    """
    shapes = {}
    for position, (name, dims) in enumerate(inputs):
        if not dims or all(d >= 0 for d in dims):
            if dims and dims[0] not in (batch, -1):
                raise EdgebenchError(
                    "input {!r} has a fixed batch of {} but this point needs {}: re-export the model with a "
                    "dynamic batch axis".format(name, dims[0], batch))
            continue
        rest = list(dims[1:])
        if any(d < 0 for d in rest):
            if position == 0 and image_shape and len(image_shape) == len(rest):
                rest = [int(d) if d < 0 else d for d in image_shape]
            else:
                raise EdgebenchError(
                    "input {!r} has runtime dimensions besides the batch ({}); edgebench builds fixed image "
                    "shapes: re-export the model with a fixed input size".format(name, dims))
        if shared_max is not None:
            lo, opt, hi = 1, int(shared_opt or shared_max), int(shared_max)
        else:
            lo = opt = hi = int(batch)
        if dims[0] >= 0:  # fixed batch, runtime image dims
            lo = opt = hi = int(dims[0])
        shapes[name] = (tuple([lo] + rest), tuple([opt] + rest), tuple([hi] + rest))
    return shapes


def add_profile(builder, config, shapes):
    """Add one optimization profile with ``shapes``; return it (None when nothing is dynamic)."""
    if not shapes:
        return None
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in sorted(shapes.items()):
        profile.set_shape(name, lo, opt, hi)
    index = config.add_optimization_profile(profile)
    if index is not None and int(index) < 0:
        raise EdgebenchError("TensorRT rejected the optimization profile {}".format(shapes))
    return profile


def build_plan(api, builder, network, config):
    """Build and serialize: ``build_serialized_network`` (8.0+), ``build_engine`` + ``serialize`` before.

    Returns the plan (a buffer) or None when TensorRT failed (its logger says why).
    """
    if api.serialized_build:
        return builder.build_serialized_network(network, config)
    engine = builder.build_engine(network, config)
    if engine is None:
        return None
    try:
        return engine.serialize()
    finally:
        del engine


# ----------------------------------------------------------------------------- engine I/O

# TensorRT DataType name -> numpy dtype name, edgebench's own table. ``trt.nptype`` is not used: in
# 8.2-8.5 it builds a dict holding ``np.bool``, which numpy 1.24 removed, so with numpy >= 1.24 every
# call raises AttributeError, even for FLOAT (python/packaging/tensorrt/__init__.py of
# NVIDIA/TensorRT's release/8.5 branch; checked against the real 8.5.2.2 wheel in
# tests/engines/real_trt/). Names, not values, are matched: the enum's numbering grew across versions
# (FP8 in 8.6, BF16/INT64/INT4 in 9-10, FP4 in 10.8).
NUMPY_DTYPES = {
    "FLOAT": "float32",
    "HALF": "float16",
    "INT8": "int8",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "UINT8": "uint8",
}
NO_NUMPY_DTYPES = ("BF16", "FP8", "INT4", "FP4", "E8M0")


def dtype_name(trt_dtype):
    """'FLOAT' for ``trt.DataType.FLOAT`` (pybind's ``.name``, else the text after the last dot)."""
    name = getattr(trt_dtype, "name", None)
    if not isinstance(name, str) or not name:
        name = str(trt_dtype).split(".")[-1]
    return name.upper()


def numpy_dtype(trt_dtype):
    """The numpy dtype of a TensorRT ``DataType``; EdgebenchError for one numpy cannot hold."""
    import numpy as np

    name = dtype_name(trt_dtype)
    if name in NUMPY_DTYPES:
        return np.dtype(NUMPY_DTYPES[name])
    if name in NO_NUMPY_DTYPES:
        raise EdgebenchError(
            "engine I/O tensor of TensorRT type {} has no numpy equivalent; re-export the model with "
            "float32/float16 inputs and outputs".format(name))
    raise EdgebenchError("unknown TensorRT data type {!r}; edgebench knows {}".format(
        str(trt_dtype), ", ".join(sorted(NUMPY_DTYPES) + list(NO_NUMPY_DTYPES))))



class IoTensor(object):
    """One engine input or output: name, binding index, direction, numpy dtype, engine dims."""

    __slots__ = ("name", "index", "is_input", "dtype", "dims", "shape")

    def __init__(self, name, index, is_input, dtype, dims):
        self.name = name
        self.index = index
        self.is_input = is_input
        self.dtype = dtype
        self.dims = dims
        self.shape = None  # the concrete shape once input shapes are set

    def __repr__(self):
        return "IoTensor({!r}, {}, {}, {})".format(self.name, "in" if self.is_input else "out", self.dtype, self.shape)


def engine_io(trt, api, engine):
    """The engine's I/O tensors in binding order: by name from 8.5, by binding index before."""
    out = []
    if api.tensor_io:
        for i in range(int(engine.num_io_tensors)):
            name = engine.get_tensor_name(i)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            dtype = numpy_dtype(engine.get_tensor_dtype(name))
            out.append(IoTensor(name, i, is_input, dtype, tuple(int(d) for d in engine.get_tensor_shape(name))))
    else:
        for i in range(int(engine.num_bindings)):
            name = engine.get_binding_name(i)
            dtype = numpy_dtype(engine.get_binding_dtype(i))
            dims = tuple(int(d) for d in engine.get_binding_shape(i))
            out.append(IoTensor(name, i, bool(engine.binding_is_input(i)), dtype, dims))
    return out


def set_input_shapes(api, context, io, shapes):
    """Give the context each input's concrete shape and fill in every tensor's ``shape``.

    ``shapes``: {input name: shape}; inputs not named keep their engine dims.
    """
    for t in io:
        if not t.is_input:
            continue
        shape = tuple(int(d) for d in shapes.get(t.name, t.dims))
        if any(d < 0 for d in shape):
            raise EdgebenchError("no shape for engine input {!r} ({})".format(t.name, t.dims))
        if any(d < 0 for d in t.dims):
            ok = context.set_input_shape(t.name, shape) if api.tensor_io else context.set_binding_shape(t.index, shape)
            if ok is False:
                raise EdgebenchError("TensorRT rejected shape {} for input {!r}".format(shape, t.name))
        t.shape = shape
    for t in io:
        if t.is_input:
            continue
        if api.tensor_io:
            shape = tuple(int(d) for d in context.get_tensor_shape(t.name))
        else:
            shape = tuple(int(d) for d in context.get_binding_shape(t.index))
        if any(d < 0 for d in shape):
            raise EdgebenchError("TensorRT could not infer the shape of output {!r} ({})".format(t.name, shape))
        t.shape = shape
    return io


def make_executor(api, context, io, pointers, stream_handle):
    """A no-argument callable that enqueues one inference on ``stream_handle``; returns its status.

    8.5+: tensor addresses are set once, then ``execute_async_v3``; before: ``execute_async_v2``
    with the binding list. ``pointers`` are device addresses in ``io`` order.
    """
    stream_handle = int(stream_handle)
    if api.tensor_io:
        for t, ptr in zip(io, pointers):
            if context.set_tensor_address(t.name, int(ptr)) is False:
                raise EdgebenchError("TensorRT rejected the device address of {!r}".format(t.name))
        execute = context.execute_async_v3

        def run():
            return execute(stream_handle)

        return run
    bindings = [0] * len(io)
    for t, ptr in zip(io, pointers):
        bindings[t.index] = int(ptr)
    execute = context.execute_async_v2

    def run_v2():
        return execute(bindings, stream_handle)

    return run_v2


def binding_list(io, pointers):
    """Device addresses in binding order, for the synchronous ``execute_v2`` (all versions)."""
    bindings = [0] * len(io)
    for t, ptr in zip(io, pointers):
        bindings[t.index] = int(ptr)
    return bindings


# ----------------------------------------------------------------------------- inspector


def set_detailed_verbosity(trt, api, config):
    """Ask for per-layer detail in the plan (layer types and formats for the engine inspector)."""
    if api.inspector:
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        return True
    return False


def engine_layers(trt, api, engine):
    """Per-layer information from the engine inspector: a list of dicts (``Name``, ``LayerType``,
    ``Inputs``... when the plan was built with DETAILED verbosity, else just ``Name``), or None when
    this TensorRT has no inspector."""
    import json

    if not api.inspector:
        return None
    try:
        inspector = engine.create_engine_inspector()
        text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
        data = json.loads(text)
    except Exception as exc:  # the inspector is diagnostic only
        LOG.debug("engine inspector failed: %s", exc)
        return None
    layers = data.get("Layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        return None
    out = []
    for layer in layers:
        if isinstance(layer, dict):
            out.append(layer)
        else:
            out.append({"Name": str(layer)})
    return out
