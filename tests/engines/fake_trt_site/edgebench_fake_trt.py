"""FAKE tensorrt, pycuda, cuda-python (cuda.cudart) and torch2trt - NOT NVIDIA's libraries.

This machine has no GPU, no CUDA and no TensorRT. These stand-ins let the TensorRT and torch2trt
backends' logic run: version dispatch, builder flags, optimization profiles, calibration, the engine
cache, buffers, CUDA-event timing plumbing and the per-layer profiler. **Every number they produce
is invented** (a fixed cost per layer and per byte on a fake GPU clock); nothing measured on them
may be presented as a measurement. Device names start with "FAKE".

TensorRT behaviours copied, per API generation (``make_world(version=...)``):

* 8.2 style (7.1-8.4): ``create_network`` needs ``1 << EXPLICIT_BATCH`` or the ONNX parser fails;
  ``config.max_workspace_size`` (``set_memory_pool_limit`` from 8.4 only); ``build_engine`` and
  ``build_serialized_network`` (the latter from 8.0); binding-index I/O (``num_bindings``,
  ``get_binding_*``, ``set_binding_shape``) and ``execute_async_v2``; **no** ``execute_async_v3``,
  ``set_tensor_address`` or ``num_io_tensors`` (AttributeError, as the real bindings).
* 8.5/8.6: both the binding API and the name API (``set_input_shape``, ``set_tensor_address``,
  ``execute_async_v3``, ``get_tensor_*``).
* 10 style: ``EXPLICIT_BATCH`` ignored; **no** ``build_engine``, ``max_workspace_size`` (setting it
  raises AttributeError), binding indices or ``execute_async_v2``; ``IParserError.node_name()`` and
  ``node_operator()`` exist.
* 11: no ``platform_has_fast_fp16/int8`` and no ``BuilderFlag.FP16/INT8``.
* Parser errors carry node indices ("In node 3 (importFancy): UNSUPPORTED_NODE: ..."); a network
  with runtime dimensions and no optimization profile fails to build with TensorRT's message; int8
  without a calibrator fails ("no scaling factors detected"); a plan from another TensorRT version,
  another GPU or garbage bytes deserializes to None with an error logged; out-of-profile input
  shapes are rejected (False); ``execute_*`` returns False when an input shape is missing.
* ``platform_has_fast_int8`` is False on the "nano"/"tx1"/"tx2" GPUs (sm_53/sm_62), True on
  "xavier"/"orin"; ``platform_has_fast_fp16`` True on all.
* pybind's rule that a Python subclass of ``ILogger``/``IProfiler`` must call the base ``__init__``.

pycuda: ``init``, ``Device`` (``name``, ``compute_capability``, ``retain_primary_context``,
``make_context``), a context stack (``mem_alloc`` without a current context raises LogicError, as
pycuda does), ``pagelocked_empty`` (async copies insist on page-locked host memory),
``memcpy_*``, ``Stream``, ``Event`` (``time_since`` fails on an event never recorded).
cuda-python: the ``cudart`` calls the backend uses, returning ``(cudaError_t, value...)`` tuples.
torch2trt (needs real torch, CPU only): ``torch2trt(module, inputs, ...)`` returning a ``TRTModule``
around a fake engine, and ``TRTModule(engine=, input_names=, output_names=)``.

Checked against the real modules (tests/engines/trt_api/*.json, written by tools/trt_api_manifest.py
from TensorRT 8.5.2.2, 8.6.1, 10.3.0 and 10.13.3.9; tests/engines/test_trt_fake_api.py): every
class, member and enum value defined here for a version exists in the real module of that version.
What that check and the real 8.5.2.2 wheel (tests/engines/real_trt/) showed, and the fake now does:

* the parser error class is ``trt.ParserError`` (not ``IParserError``); ``node_name()`` and
  ``node_operator()`` only from 10; the engine/context/config/network classes are exported under
  their real names (``ICudaEngine``, ``IExecutionContext``, ``IBuilderConfig``, ...);
* calibrators have ``get_algorithm()`` returning ``trt.CalibrationAlgoType`` (no ``algorithm``);
* ``BuilderFlag.STRICT_TYPES`` is gone from 10; ``has_implicit_batch_dimension`` (network and
  engine) and ``all_binding_shapes_specified`` stay in 10; ``set_optimization_profile_async``
  exists from 8.0; the profiler reports from the async calls too;
* ``DataType`` per version (UINT8 8.5, FP8 8.6, BF16/INT64/INT4 10, FP4/E8M0 10.8) with the
  ``trt.float32``-style aliases, and engine I/O in the ONNX file's types, not always FLOAT;
* ``trt.nptype`` of 8.2-8.5 raises AttributeError with numpy >= 1.24 (``np.bool``);
* no GPU (``gpu="none"``): ``Builder``/``Runtime`` log "CUDA initialization failure with error: 35"
  as a WARNING and raise ``TypeError: pybind11::init(): factory function returned nullptr`` (never
  None); pycuda does not import; every cudart call raises ``RuntimeError: Failed to dlopen
  libcuda.so.1`` (cuda-python 11.8);
* a Python exception escaping a calibrator callback: 8.2/8.3 ``CalibratorTerminate`` (the real one
  aborts the process); 8.4+ printed and taken as the end of the data;
* ``OnnxParser.parse(model, path)``: external weights load only with the model's path;
* torch2trt: 0.4 builds static shapes (``inputs[0:max_batch_size]``) and copies C x H x W calibration
  items into a buffer of ``int8_calib_batch_size`` images; the v0.5.0 release fails on TensorRT 10
  (``config.max_workspace_size``); ``use_master()`` makes it the master branch, which works.

Install per test with ``tests/engines/trt_fakes.py`` (``monkeypatch.setitem(sys.modules, ...)``), or
in a child process through ``PYTHONPATH=tests/engines/fake_trt_site`` (its ``tensorrt``/``pycuda``/
``cuda``/``torch2trt`` packages read ``EDGEBENCH_FAKE_TRT_VERSION`` and ``EDGEBENCH_FAKE_TRT_GPU``;
``EDGEBENCH_FAKE_TRT_BUILD_LOG`` names a file that gets one line per engine build).
"""
import ctypes
import importlib.machinery
import json
import os
import re
import sys
import types

import numpy as np

PLAN_MAGIC = b"FAKETRT1\n"
H2D_BYTES_PER_MS = 4.0e6  # invented copy speed of the fake GPU
D2D_BYTES_PER_MS = 1.0e7  # invented device-to-device copy speed
LAYER_MS = 0.02  # invented cost of one layer for one image

GPUS = {
    "nano": ("FAKE NVIDIA Tegra X1", (5, 3), True, False),
    "tx1": ("FAKE NVIDIA Tegra X1", (5, 3), True, False),
    "tx2": ("FAKE NVIDIA Tegra X2", (6, 2), True, False),
    "xavier": ("FAKE Xavier", (7, 2), True, True),
    "orin": ("FAKE Orin", (8, 7), True, True),
    "none": (None, None, False, False),  # TensorRT installed, no GPU or driver (this machine, with the real wheel)
}
# What the real 8.5.2.2 bindings and cuda-python 11.8 do here without a driver (tests/engines/real_trt/)
NO_GPU_TRT_WARNINGS = ("Unable to determine GPU memory usage",
                       "CUDA initialization failure with error: 35. Please check your CUDA installation:  "
                       "http://docs.nvidia.com/cuda/cuda-installation-guide-linux/index.html")
NO_GPU_TRT_ERROR = "pybind11::init(): factory function returned nullptr"
NO_GPU_CUDART_ERROR = "Failed to dlopen libcuda.so.1"

# ONNX elem_type -> the TensorRT DataType the parser gives the network input/output
ONNX_TRT_TYPES = {1: "FLOAT", 10: "HALF", 3: "INT8", 6: "INT32", 9: "BOOL", 2: "UINT8", 7: "INT64", 16: "BF16"}
NUMPY_OF_TRT = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "BOOL": np.bool_,
                "UINT8": np.uint8, "INT64": np.int64}


class CalibratorTerminate(BaseException):
    """TensorRT 8.2/8.3: a Python exception escaping a calibrator callback reaches C++ with no handler and
    ends in std::terminate (SIGABRT; python/src/infer/pyInt8.cpp has no try/catch before 8.4). The fake
    raises this instead of aborting the test process; glue code must never let it happen."""

SUPPORTED_OPS = frozenset((
    "Conv", "Relu", "Gemm", "MatMul", "GlobalAveragePool", "Flatten", "Reshape", "BatchNormalization", "Add",
    "MaxPool", "AveragePool", "Concat", "Softmax", "ReduceSum", "ReduceMean", "Transpose", "Mul", "Clip",
    "Sigmoid", "Identity", "Dropout", "Constant", "Cast", "Pad", "Shape", "Gather", "Unsqueeze", "Squeeze",
    "LRN", "Sub", "Div", "QuantizeLinear", "DequantizeLinear",
))


def version_tuple(text):
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:4])


# ----------------------------------------------------------------------------- pybind-like enums


class _EnumValue(int):
    def __new__(cls, value, name, owner, plain_str=False):
        obj = int.__new__(cls, value)
        obj.name = name
        obj._owner = owner
        obj._plain = plain_str
        return obj

    def __repr__(self):
        return "<{}.{}: {}>".format(self._owner, self.name, int(self))

    def __str__(self):
        return self.name if self._plain else "{}.{}".format(self._owner, self.name)

    __hash__ = int.__hash__


def _enum(owner, names, plain_str=False):
    ns = type(owner, (object,), {"_fake_enum": True})
    for value, name in enumerate(names):
        if name:
            setattr(ns, name, _EnumValue(value, name, owner, plain_str))
    return ns


class FakeCudaError(Exception):
    pass


# ----------------------------------------------------------------------------- the fake GPU


class _Stream(object):
    def __init__(self, world, handle):
        self.world = world
        self.handle = handle
        self.clock_ms = 0.0

    def advance(self, ms):
        self.clock_ms += float(ms)


class World(object):
    """One fake GPU shared by the fake tensorrt, pycuda, cudart and torch2trt of a process."""

    def __init__(self, version="8.2.1.8", gpu="nano", build_log=None):
        self.version_text = version
        self.version = version_tuple(version)
        self.gpu_key = gpu
        self.gpu_name, self.capability, self.fast_fp16, self.fast_int8 = GPUS[gpu]
        self.has_gpu = self.gpu_name is not None
        self.memory = {}  # device address -> bytearray
        self.freed = set()
        self._next_address = 0x7F0000000000
        self.streams = {0: _Stream(self, 0)}
        self.contexts = []
        self.builds = []
        self.deserializations = 0
        self.build_log = build_log
        self.torch2trt_calls = []
        self.trt = make_tensorrt(self)
        self.pycuda, self.driver = make_pycuda(self)
        self.cuda, self.cudart = make_cuda_python(self)
        self._torch2trt = None

    # device memory
    def alloc(self, nbytes):
        address = self._next_address
        self._next_address += (int(nbytes) + 0xFFFF) & ~0xFFF
        self.memory[address] = bytearray(int(nbytes))
        return address

    def free(self, address):
        self.freed.add(int(address))
        if int(address) in self.memory:
            self.memory[int(address)] = bytearray()  # the bytes go; the address stays known as freed

    def buffer(self, address, nbytes=None):
        address = int(address)
        if address not in self.memory or address in self.freed:
            raise FakeCudaError("invalid device pointer 0x{:x} (not allocated, or freed)".format(address))
        buf = self.memory[address]
        if nbytes is not None and nbytes > len(buf):
            raise FakeCudaError("access of {} bytes beyond an allocation of {}".format(nbytes, len(buf)))
        return buf

    def new_stream(self):
        handle = 0x5000 + len(self.streams)
        stream = _Stream(self, handle)
        self.streams[handle] = stream
        return stream

    def stream(self, handle):
        handle = int(handle or 0)
        if handle not in self.streams:
            raise FakeCudaError("invalid stream handle {}".format(handle))
        return self.streams[handle]

    def log_build(self, record):
        self.builds.append(record)
        if self.build_log:
            with open(self.build_log, "a") as fh:
                fh.write(json.dumps(record) + "\n")

    @property
    def torch2trt(self):
        if self._torch2trt is None:
            self._torch2trt = make_torch2trt(self)
        return self._torch2trt

    def modules(self):
        """{module name: module} to put in sys.modules. A real cuda-python may be installed (torch's CUDA
        wheels bring cuda-bindings): its ``cuda.bindings`` is blocked (None) so the fake ``cuda.cudart``
        is the one found."""
        return {
            "tensorrt": self.trt,
            # without a driver pycuda does not import (its _driver extension links libcuda.so.1)
            "pycuda": self.pycuda if self.has_gpu else None,
            "pycuda.driver": self.driver if self.has_gpu else None,
            "cuda": self.cuda,
            "cuda.cudart": self.cudart,
            "cuda.bindings": None,
            "cuda.bindings.runtime": None,
        }


def _module(name, doc):
    module = types.ModuleType(name)
    module.__doc__ = "FAKE {} for edgebench tests: {}".format(name, doc)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    return module


# ----------------------------------------------------------------------------- tensorrt


def make_tensorrt(world):
    v = world.version
    trt = _module("tensorrt", "see tests/engines/fake_trt_site/edgebench_fake_trt.py")
    trt.__version__ = world.version_text
    trt.fake_world = world

    Severity = _enum("Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])
    ErrorCode = _enum("ErrorCode", ["SUCCESS", "INTERNAL_ERROR", "MEM_ALLOC_FAILED", "MODEL_DESERIALIZE_FAILED",
                                    "INVALID_VALUE", "INVALID_GRAPH", "INVALID_NODE", "UNSUPPORTED_GRAPH",
                                    "UNSUPPORTED_NODE"], plain_str=True)
    trt.ErrorCode = ErrorCode
    flag_names = ["EXPLICIT_BATCH"] + (["EXPLICIT_PRECISION"] if v < (10,) else ["STRONGLY_TYPED"])
    trt.NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", flag_names)
    # STRICT_TYPES is gone from 10 (tests/engines/trt_api/tensorrt-10.3.0.json); a None keeps the numbering
    builder_flags = ["FP16", "INT8", "DEBUG", "GPU_FALLBACK", "STRICT_TYPES" if v < (10,) else None, "REFIT",
                     "DISABLE_TIMING_CACHE", "TF32"]
    if v >= FIRST_WITHOUT_PRECISION_FLAGS:
        builder_flags = [None, None] + builder_flags[2:]
    trt.BuilderFlag = _enum("BuilderFlag", builder_flags)
    if v >= (8, 4):
        trt.MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM", "DLA_LOCAL_DRAM",
                                                      "DLA_GLOBAL_DRAM"])
    # the real numbering; UINT8 from 8.5, FP8 from 8.6, BF16/INT64/INT4 from 9-10, FP4/E8M0 from 10.8
    data_types = ["FLOAT", "HALF", "INT8", "INT32", "BOOL"] + (["UINT8"] if v >= (8, 5) else [])
    if v >= (8, 6):
        data_types.append("FP8")
    if v >= (10,):
        data_types += ["BF16", "INT64", "INT4"]
    if v >= (10, 8):
        data_types += ["FP4", "E8M0"]
    trt.DataType = _enum("DataType", data_types)
    for name, alias in (("FLOAT", "float32"), ("HALF", "float16"), ("INT8", "int8"), ("INT32", "int32"),
                        ("BOOL", "bool"), ("UINT8", "uint8")):
        if hasattr(trt.DataType, name):
            setattr(trt, alias, getattr(trt.DataType, name))
    trt.CalibrationAlgoType = _enum("CalibrationAlgoType", ["LEGACY_CALIBRATION", "ENTROPY_CALIBRATION",
                                                            "ENTROPY_CALIBRATION_2", "MINMAX_CALIBRATION"])
    if v >= (8, 5):
        trt.TensorIOMode = _enum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])
    if v >= (8, 2):
        trt.ProfilingVerbosity = _enum("ProfilingVerbosity", ["LAYER_NAMES_ONLY", "NONE", "DETAILED"])
        trt.LayerInformationFormat = _enum("LayerInformationFormat", ["ONELINE", "JSON"])

    np_types = {0: np.float32, 1: np.float16, 2: np.int8, 3: np.int32, 4: np.bool_, 5: np.uint8}
    numpy_version = version_tuple(np.__version__)

    def nptype(dtype):
        # 8.2-8.5 build {..., bool: np.bool, ...} on every call; numpy 1.24 removed np.bool, so every call
        # fails (python/packaging/tensorrt/__init__.py of release/8.5; the real 8.5.2.2 wheel does this)
        if v < (8, 6) and numpy_version >= (1, 24):
            raise AttributeError("module 'numpy' has no attribute 'bool'.")
        if int(dtype) not in np_types:
            raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")
        return np_types[int(dtype)]

    def volume(shape):
        out = 1
        for d in shape:
            out *= int(d)
        return out

    trt.nptype = nptype
    trt.volume = volume

    class ILogger(object):
        def __init__(self):
            self._trt_base_init = True

        def log(self, severity, msg):
            raise NotImplementedError

    ILogger.Severity = Severity

    class Logger(ILogger):
        INTERNAL_ERROR = Severity.INTERNAL_ERROR
        ERROR = Severity.ERROR
        WARNING = Severity.WARNING
        INFO = Severity.INFO
        VERBOSE = Severity.VERBOSE

        def __init__(self, min_severity=Severity.WARNING):
            ILogger.__init__(self)
            self.min_severity = min_severity

        def log(self, severity, msg):
            if int(severity) <= int(self.min_severity):
                sys.stderr.write("[FAKE TRT] {}\n".format(msg))

    def check_logger(logger):
        if not getattr(logger, "_trt_base_init", False):
            raise TypeError("tensorrt.tensorrt.ILogger.__init__() must be called when overriding __init__")
        if not world.has_gpu:  # Builder(logger) / Runtime(logger) with no GPU: log, then raise (never None)
            for text in NO_GPU_TRT_WARNINGS:
                logger.log(Severity.WARNING, text)
            raise TypeError(NO_GPU_TRT_ERROR)

    class IProfiler(object):
        def __init__(self):
            self._trt_base_init = True

        def report_layer_time(self, layer_name, ms):
            raise NotImplementedError

    trt.ILogger = ILogger
    trt.Logger = Logger
    trt.IProfiler = IProfiler

    class IInt8Calibrator(object):
        _algorithm = "LEGACY_CALIBRATION"
        _cache_name = "Legacy"  # the calibration table's header names the algorithm

        def __init__(self):
            self._trt_base_init = True

        def get_algorithm(self):
            return getattr(trt.CalibrationAlgoType, self._algorithm)

    class IInt8EntropyCalibrator2(IInt8Calibrator):
        _algorithm, _cache_name = "ENTROPY_CALIBRATION_2", "EntropyCalibration2"

    class IInt8MinMaxCalibrator(IInt8Calibrator):
        _algorithm, _cache_name = "MINMAX_CALIBRATION", "MinMaxCalibration"

    class IInt8EntropyCalibrator(IInt8Calibrator):
        _algorithm, _cache_name = "ENTROPY_CALIBRATION", "EntropyCalibration"

    trt.IInt8Calibrator = IInt8Calibrator
    trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2
    trt.IInt8MinMaxCalibrator = IInt8MinMaxCalibrator
    trt.IInt8EntropyCalibrator = IInt8EntropyCalibrator

    # --------------------------------------------------------------- network and parser

    class ITensor(object):
        def __init__(self, name, shape, dtype):
            self.name = name
            self.shape = tuple(shape)
            self.dtype = dtype

    class ILayer(object):
        def __init__(self, name, kind, nodes):
            self.name = name
            self.type = kind
            self.nodes = nodes

    class INetworkDefinition(object):
        def __init__(self, flags):
            self.flags = int(flags)
            self.inputs = []
            self.outputs = []
            self.layers = []

        @property
        def _explicit(self):
            return v >= (10,) or bool(self.flags & (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)))

        num_inputs = property(lambda self: len(self.inputs))
        num_outputs = property(lambda self: len(self.outputs))
        num_layers = property(lambda self: len(self.layers))

        def get_input(self, i):
            return self.inputs[i]

        def get_output(self, i):
            return self.outputs[i]

        def get_layer(self, i):
            return self.layers[i]

    # kept in 10.x (always False there): tests/engines/trt_api/tensorrt-10.3.0.json
    INetworkDefinition.has_implicit_batch_dimension = property(lambda self: not self._explicit)

    class IParserError(object):
        def __init__(self, code, desc, node=-1, func="parseGraph", node_name="", node_operator=""):
            self._code, self._desc, self._node, self._func = code, desc, node, func
            self._node_name, self._node_operator = node_name, node_operator

        def code(self):
            return self._code

        def desc(self):
            return self._desc

        def node(self):
            return self._node

        def func(self):
            return self._func

        def file(self):
            return "ModelImporter.cpp"

        def line(self):
            return 0

        def __str__(self):
            return "In node {} ({}): {}: {}".format(self._node, self._func, self._code, self._desc)

    if v >= (10,):
        IParserError.node_name = lambda self: self._node_name
        IParserError.node_operator = lambda self: self._node_operator

    def _trt_type(value_info):
        name = ONNX_TRT_TYPES.get(int(value_info.type.tensor_type.elem_type), "FLOAT")
        if v < (10,) and name == "INT64":
            name = "INT32"  # TensorRT 8 casts INT64 I/O down to INT32 (with a warning)
        return getattr(trt.DataType, name, None)  # None: a type this version does not have

    def _dims(value_info):
        dims = []
        for d in value_info.type.tensor_type.shape.dim:
            dims.append(int(d.dim_value) if d.HasField("dim_value") else -1)
        return dims

    class OnnxParser(object):
        def __init__(self, network, logger):
            check_logger(logger)
            self.network = network
            self.logger = logger
            self.errors = []

        @property
        def num_errors(self):
            return len(self.errors)

        def get_error(self, i):
            return self.errors[i]

        def clear_errors(self):
            self.errors = []

        def parse(self, model, path=None):
            import onnx

            try:
                proto = onnx.load_model_from_string(bytes(model))
            except Exception as exc:
                self.errors.append(IParserError(ErrorCode.MODEL_DESERIALIZE_FAILED,
                                                "Failed to parse ONNX model: {}".format(exc)))
                return False
            if not self.network._explicit:
                self.errors.append(IParserError(
                    ErrorCode.INVALID_VALUE,
                    "Assertion failed: !mImporterCtx.network()->hasImplicitBatchDimension() && \"This version of "
                    "the ONNX parser only supports TensorRT INetworkDefinitions with an explicit batch dimension. "
                    "Please ensure the network was created using the EXPLICIT_BATCH NetworkDefinitionCreationFlag.\""))
                return False
            graph = proto.graph
            base = os.path.dirname(str(path)) if path else None
            for tensor in graph.initializer:
                if tensor.data_location != 1:  # TensorProto.EXTERNAL
                    continue
                location = dict((e.key, e.value) for e in tensor.external_data).get("location", "")
                if base is None or not os.path.exists(os.path.join(base, location)):
                    self.errors.append(IParserError(
                        ErrorCode.INVALID_GRAPH, "Failed to import initializer {}: cannot open external data file "
                        "{!r} (pass the model path to parse())".format(tensor.name, location)))
                    return False
            for index, node in enumerate(graph.node):
                if node.op_type not in SUPPORTED_OPS or (node.domain not in ("", "ai.onnx")):
                    self.errors.append(IParserError(
                        ErrorCode.UNSUPPORTED_NODE,
                        "No importer registered for op: {}. Attempting to import as plugin.".format(node.op_type),
                        node=index, func="importFallbackPluginImporter", node_name=node.name,
                        node_operator=node.op_type))
            if self.errors:
                return False
            initializers = set(i.name for i in graph.initializer)
            for vi in list(graph.input) + list(graph.output):
                if vi.name not in initializers and _trt_type(vi) is None:
                    self.errors.append(IParserError(ErrorCode.UNSUPPORTED_GRAPH, "{}: ONNX type {} is not supported "
                                                    "by TensorRT {}".format(vi.name, vi.type.tensor_type.elem_type,
                                                                           world.version_text)))
                    return False
            for vi in graph.input:
                if vi.name not in initializers:
                    self.network.inputs.append(ITensor(vi.name, _dims(vi), _trt_type(vi)))
            for vi in graph.output:
                self.network.outputs.append(ITensor(vi.name, _dims(vi), _trt_type(vi)))
            nodes = list(graph.node)
            consumed = set()
            for i, node in enumerate(nodes):
                if i in consumed:
                    continue
                name = node.name or "{}_{}".format(node.op_type, i)
                members = [node]
                if node.op_type in ("Conv", "Gemm") and i + 1 < len(nodes):
                    nxt = nodes[i + 1]
                    if nxt.op_type == "Relu" and nxt.input and nxt.input[0] in node.output:
                        members.append(nxt)
                        consumed.add(i + 1)
                        name = "{} + {}".format(name, nxt.name or "Relu_{}".format(i + 1))
                self.network.layers.append(ILayer(name, node.op_type, [m.op_type for m in members]))
            return True

        def parse_from_file(self, path):
            with open(path, "rb") as fh:
                return self.parse(fh.read(), path)

    trt.OnnxParser = OnnxParser
    # the real module exports these classes under these names (tests/engines/trt_api/*.json)
    trt.ITensor, trt.ILayer, trt.INetworkDefinition, trt.ParserError = ITensor, ILayer, INetworkDefinition, IParserError

    # --------------------------------------------------------------- builder

    class IOptimizationProfile(object):
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, min, opt, max):  # noqa: A002 - TensorRT's argument names
            lo, mid, hi = tuple(int(d) for d in min), tuple(int(d) for d in opt), tuple(int(d) for d in max)
            if not (len(lo) == len(mid) == len(hi)) or any(not (a <= b <= c) for a, b, c in zip(lo, mid, hi)):
                raise ValueError("IOptimizationProfile::setDimensions: min <= opt <= max violated for {}".format(name))
            self.shapes[name] = (lo, mid, hi)

        def get_shape(self, name):
            return list(self.shapes[name])

    class ITimingCache(object):
        def __init__(self, data):
            self.entries = set()
            if data:
                text = bytes(data).decode("utf-8", "replace")
                header, _, body = text.partition("\n")
                self.header = header
                self.entries = set(line for line in body.splitlines() if line)
            else:
                self.header = "FAKE-TIMING-CACHE {} {}".format(world.version_text, world.gpu_name)

        def serialize(self):
            return HostMemory((self.header + "\n" + "\n".join(sorted(self.entries))).encode("utf-8"))

    class HostMemory(bytes):
        @property
        def nbytes(self):
            return len(self)

    trt.IHostMemory = HostMemory

    config_attrs = {"int8_calibrator", "default_device_type", "DLA_core", "avg_timing_iterations"}
    if v < (10,):
        config_attrs.add("max_workspace_size")
    if v >= (8, 2):
        config_attrs.add("profiling_verbosity")

    class IBuilderConfig(object):
        _fake_attributes = frozenset(config_attrs)  # served by __getattr__; checked against the manifests

        def __init__(self):
            object.__setattr__(self, "_values", {"int8_calibrator": None, "max_workspace_size": 0,
                                                 "profiling_verbosity": None})
            object.__setattr__(self, "flags", {int(trt.BuilderFlag.TF32)})
            object.__setattr__(self, "profiles", [])
            object.__setattr__(self, "calibration_profile", None)
            object.__setattr__(self, "pool_limits", {})
            object.__setattr__(self, "timing_cache", None)

        def __getattr__(self, name):
            if name in config_attrs:
                return self._values.get(name)
            raise AttributeError("'tensorrt.tensorrt.IBuilderConfig' object has no attribute '{}'".format(name))

        def __setattr__(self, name, value):
            if name not in config_attrs:
                raise AttributeError("'tensorrt.tensorrt.IBuilderConfig' object has no attribute '{}'".format(name))
            self._values[name] = value

        def set_flag(self, flag):
            self.flags.add(int(flag))

        def clear_flag(self, flag):
            self.flags.discard(int(flag))

        def get_flag(self, flag):
            return int(flag) in self.flags

        def add_optimization_profile(self, profile):
            self.profiles.append(profile)
            return len(self.profiles) - 1

        num_optimization_profiles = property(lambda self: len(self.profiles))

        def set_calibration_profile(self, profile):
            object.__setattr__(self, "calibration_profile", profile)
            return True

        def get_calibration_profile(self):
            return self.calibration_profile

        def set_memory_pool_limit(self, pool, size):
            self.pool_limits[int(pool)] = int(size)

        def get_memory_pool_limit(self, pool):
            return self.pool_limits.get(int(pool), 0)

        def create_timing_cache(self, data):
            return ITimingCache(data)

        def set_timing_cache(self, cache, ignore_mismatch):
            expected = "FAKE-TIMING-CACHE {} {}".format(world.version_text, world.gpu_name)
            if cache.header != expected and not ignore_mismatch:
                return False
            object.__setattr__(self, "timing_cache", cache)
            return True

        def get_timing_cache(self):
            return self.timing_cache

    if v < (8, 4):
        del IBuilderConfig.set_memory_pool_limit, IBuilderConfig.get_memory_pool_limit
    if v < (8, 0):
        del IBuilderConfig.create_timing_cache, IBuilderConfig.set_timing_cache, IBuilderConfig.get_timing_cache

    def workspace_of(config):
        if v >= (8, 4) and int(trt.MemoryPoolType.WORKSPACE) in config.pool_limits:
            return config.pool_limits[int(trt.MemoryPoolType.WORKSPACE)]
        if v < (10,):
            return config.max_workspace_size
        return None

    class Builder(object):
        def __init__(self, logger):
            check_logger(logger)
            self.logger = logger
            self._max_batch_size = 1

        def create_network(self, flags=0):
            return INetworkDefinition(flags)

        def create_builder_config(self):
            return IBuilderConfig()

        def create_optimization_profile(self):
            return IOptimizationProfile()

        def _error(self, text):
            self.logger.log(Severity.ERROR, text)
            return None

        def _build(self, network, config):
            precision = "fp32"
            flags = config.flags
            if v < FIRST_WITHOUT_PRECISION_FLAGS:
                if int(trt.BuilderFlag.INT8) in flags and world.fast_int8:
                    precision = "int8"
                elif int(trt.BuilderFlag.FP16) in flags and world.fast_fp16:
                    precision = "fp16"
                if int(trt.BuilderFlag.INT8) in flags and not world.fast_int8:
                    self.logger.log(Severity.WARNING, "Int8 not supported on this platform; ignored")
            if not network.num_layers:
                return self._error("Network must have at least one output")
            profile = config.profiles[0] if config.profiles else None
            dynamic = [t for t in network.inputs if any(d < 0 for d in t.shape)]
            if dynamic and profile is None:
                return self._error("4: [network.cpp::validate::2965] Error Code 4: Internal Error (Network has "
                                   "dynamic or shape inputs, but no optimization profile has been defined.)")
            for t in dynamic:
                if profile is None or t.name not in profile.shapes:
                    return self._error("4: [network.cpp::validate] Error Code 4: Internal Error ({}: dynamic input "
                                       "is missing dimensions in profile 0.)".format(t.name))
            calibration = None
            if precision == "int8":
                calibrator = config.int8_calibrator
                if calibrator is None:
                    return self._error("1: Unexpected exception Calibration failure occurred with no scaling "
                                       "factors detected. This could be due to no int8 calibrator or insufficient "
                                       "custom scales for network layers.")
                calibration = self._calibrate(calibrator, network, config, profile)
                if calibration is None:
                    return self._error("1: Unexpected exception Calibration failure occurred with no scaling "
                                       "factors detected.")
            workspace = workspace_of(config)
            cache = config.timing_cache if v >= (8, 0) else None
            hits = 0
            layers = []
            for layer in network.layers:
                key = "{}|{}|{}".format(layer.name, precision, layer.type)
                if cache is not None:
                    if key in cache.entries:
                        hits += 1
                    cache.entries.add(key)
                mac = layer.type in ("Conv", "Gemm", "MatMul")
                layer_precision = precision if (mac or precision == "fp16") else "fp32"
                layers.append({"name": layer.name, "type": layer.type, "nodes": layer.nodes,
                               "precision": layer_precision})
            detailed = v >= (8, 2) and config.profiling_verbosity is not None and \
                int(config.profiling_verbosity) == int(trt.ProfilingVerbosity.DETAILED)
            plan = {
                "tensorrt": world.version_text,
                "gpu": world.gpu_name,
                "inputs": [[t.name, list(t.shape)] for t in network.inputs],
                "outputs": [[t.name, list(t.shape)] for t in network.outputs],
                "dtypes": dict((t.name, t.dtype.name) for t in network.inputs + network.outputs),
                "profile": dict((k, [list(s) for s in val]) for k, val in profile.shapes.items()) if profile else {},
                "layers": layers,
                "precision": precision,
                "detailed": bool(detailed),
                "workspace": workspace,
                "calibration": calibration,
            }
            world.log_build({"precision": precision, "workspace": workspace, "timing_cache_hits": hits,
                             "profile": plan["profile"], "flags": sorted(flags), "network_flags": network.flags,
                             "layers": len(layers), "calibration": calibration})
            return HostMemory(PLAN_MAGIC + json.dumps(plan).encode("utf-8"))

        def _callback(self, fn, *args):
            """(result, failed) of a calibrator callback, as TensorRT's trampolines treat an exception:
            8.2/8.3 std::terminate; 8.4+ print it and go on as if the callback returned None."""
            try:
                return fn(*args), False
            except Exception as exc:
                if v < (8, 4):
                    raise CalibratorTerminate("terminate called after throwing an instance of "
                                              "'pybind11::error_already_set': {}".format(exc))
                sys.stderr.write("[FAKE TRT] Error in {}: {}: {}\n".format(fn.__name__, type(exc).__name__, exc))
                return None, True

        def _calibrate(self, calibrator, network, config, profile):
            cached, _ = self._callback(calibrator.read_calibration_cache)
            if cached:
                return "cache"
            batch = int(calibrator.get_batch_size())
            calib_profile = config.calibration_profile or profile
            names = [t.name for t in network.inputs]
            shape = None
            if calib_profile is not None and names[0] in calib_profile.shapes:
                lo, opt, hi = calib_profile.shapes[names[0]]
                if lo != hi:
                    self.logger.log(Severity.ERROR, "calibration profile must have min = opt = max")
                    return None
                shape = opt
            else:
                shape = (batch,) + tuple(network.inputs[0].shape[1:])
            nbytes = int(np.prod(shape)) * 4
            batches = 0
            while True:
                pointers, _ = self._callback(calibrator.get_batch, names)
                if not pointers:
                    break
                world.buffer(pointers[0], nbytes)  # TensorRT reads a whole batch from the pointer
                batches += 1
            if not batches:
                return None
            table = "TRT-{}{}{}-{}\n".format(world.version[0], world.version[1], "01", calibrator._cache_name)
            table += "".join("{}: 3c010a14\n".format(t.name) for t in network.inputs + network.outputs)
            self._callback(calibrator.write_calibration_cache, table.encode("ascii"))
            return "{} batches of {}".format(batches, list(shape))

        def build_serialized_network(self, network, config):
            return self._build(network, config)

        def build_engine(self, network, config):
            plan = self._build(network, config)
            if plan is None:
                return None
            return Runtime(self.logger).deserialize_cuda_engine(plan)

    if v < (8, 0):
        del Builder.build_serialized_network
    if v >= (10,):
        del Builder.build_engine
    if v < FIRST_WITHOUT_PRECISION_FLAGS:
        Builder.platform_has_fast_fp16 = property(lambda self: world.fast_fp16)
        Builder.platform_has_fast_int8 = property(lambda self: world.fast_int8)
    if v < (10,):
        Builder.max_batch_size = property(lambda self: self._max_batch_size,
                                          lambda self, value: setattr(self, "_max_batch_size", value))
    trt.Builder = Builder

    # --------------------------------------------------------------- runtime, engine, context

    class Runtime(object):
        def __init__(self, logger):
            check_logger(logger)
            self.logger = logger

        def deserialize_cuda_engine(self, data):
            data = bytes(data)
            if not data.startswith(PLAN_MAGIC):
                self.logger.log(Severity.ERROR, "1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: "
                                "Serialization (Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic "
                                "tag does not match)")
                return None
            try:
                plan = json.loads(data[len(PLAN_MAGIC):].decode("utf-8"))
            except ValueError:
                self.logger.log(Severity.ERROR, "1: [stdArchiveReader.cpp] Error Code 1: Serialization (truncated "
                                "or corrupt plan)")
                return None
            if plan.get("tensorrt") != world.version_text:
                text = ("6: The engine plan file is not compatible with this version of TensorRT, expecting "
                        "library version {} got {}, please rebuild.".format(world.version_text, plan.get("tensorrt")))
                self.logger.log(Severity.ERROR, text)
                return None
            if plan.get("gpu") != world.gpu_name:
                text = "6: The engine plan file is generated on an incompatible device ({}); please rebuild.".format(
                    plan.get("gpu"))
                self.logger.log(Severity.ERROR, text)
                return None
            world.deserializations += 1
            return ICudaEngine(plan, data)

    trt.Runtime = Runtime
    trt.IOptimizationProfile, trt.ITimingCache, trt.IBuilderConfig = IOptimizationProfile, ITimingCache, IBuilderConfig

    class ICudaEngine(object):
        def __init__(self, plan, data):
            self.plan = plan
            self._data = data
            self.io = [(name, tuple(shape), True) for name, shape in plan["inputs"]] + \
                      [(name, tuple(shape), False) for name, shape in plan["outputs"]]

        num_layers = property(lambda self: len(self.plan["layers"]))
        num_optimization_profiles = property(lambda self: 1 if self.plan["profile"] else 0)
        device_memory_size = property(lambda self: 1 << 20)
        name = "fake-engine"

        def serialize(self):
            return HostMemory(self._data)

        def create_execution_context(self):
            return IExecutionContext(self)

        def _index(self, name):
            for i, (n, _, _) in enumerate(self.io):
                if n == name:
                    return i
            return -1

        def _profile_shape(self, name):
            shapes = self.plan["profile"].get(name)
            return [tuple(s) for s in shapes] if shapes else None

        # binding API (< 10)
        num_bindings = property(lambda self: len(self.io))
        max_batch_size = property(lambda self: 1)
        has_implicit_batch_dimension = property(lambda self: False)

        def get_binding_name(self, i):
            return self.io[i][0]

        def get_binding_index(self, name):
            return self._index(name)

        def binding_is_input(self, i):
            if isinstance(i, str):
                i = self._index(i)
            return self.io[i][2]

        def get_binding_shape(self, i):
            if isinstance(i, str):
                i = self._index(i)
            return self.io[i][1]

        def _dtype(self, name):
            return getattr(trt.DataType, self.plan.get("dtypes", {}).get(name, "FLOAT"))

        def get_binding_dtype(self, i):
            return self._dtype(self.io[i][0])

        def get_profile_shape(self, profile_index, binding):
            name = binding if isinstance(binding, str) else self.io[binding][0]
            return self._profile_shape(name)

        # name API (8.5+)
        num_io_tensors = property(lambda self: len(self.io))

        def get_tensor_name(self, i):
            return self.io[i][0]

        def get_tensor_mode(self, name):
            i = self._index(name)
            if i < 0:
                return trt.TensorIOMode.NONE
            return trt.TensorIOMode.INPUT if self.io[i][2] else trt.TensorIOMode.OUTPUT

        def get_tensor_shape(self, name):
            return self.io[self._index(name)][1]

        def get_tensor_dtype(self, name):
            return self._dtype(name)

        def get_tensor_profile_shape(self, name, profile_index):
            return self._profile_shape(name)

        def create_engine_inspector(self):
            return EngineInspector(self)

    if v >= (10,):
        for attr in ("num_bindings", "max_batch_size", "get_binding_name", "get_binding_index", "binding_is_input",
                     "get_binding_shape", "get_binding_dtype", "get_profile_shape"):  # not has_implicit_batch_dimension
            delattr(ICudaEngine, attr)
    if v < (8, 5):
        for attr in ("num_io_tensors", "get_tensor_name", "get_tensor_mode", "get_tensor_shape", "get_tensor_dtype",
                     "get_tensor_profile_shape"):
            delattr(ICudaEngine, attr)
    if v < (8, 2):
        delattr(ICudaEngine, "create_engine_inspector")

    class EngineInspector(object):
        def __init__(self, engine):
            self.engine = engine

        def _layer(self, layer):
            if not self.engine.plan["detailed"]:
                return layer["name"]
            fmt = {"fp32": "Row major linear FP32", "fp16": "Channel major FP16 format where channel % 8 == 0",
                   "int8": "Thirty-two wide channel vectorized row major Int8 format"}[layer["precision"]]
            kind = {"Conv": "CaskConvolution", "Gemm": "CaskGemmMatrixMultiply", "MatMul": "MatrixMultiply"}.get(
                layer["type"], layer["type"])
            return {"Name": layer["name"], "LayerType": kind,
                    "Inputs": [{"Name": "in", "Location": "Device", "Format/Datatype": fmt}],
                    "Outputs": [{"Name": "out", "Location": "Device", "Format/Datatype": fmt}],
                    "TacticName": "fake_tactic"}

        def get_layer_information(self, index, fmt):
            return json.dumps(self._layer(self.engine.plan["layers"][index]))

        def get_engine_information(self, fmt):
            return json.dumps({"Layers": [self._layer(layer) for layer in self.engine.plan["layers"]],
                               "Bindings": [name for name, _, _ in self.engine.io]})

    class IExecutionContext(object):
        def __init__(self, engine):
            self.engine = engine
            self.shapes = {}
            self.addresses = {}
            self._profiler = None
            self._active_profile = 0
            self.executions = 0

        @property
        def profiler(self):
            return self._profiler

        @profiler.setter
        def profiler(self, value):
            if value is not None and not getattr(value, "_trt_base_init", False):
                raise TypeError("tensorrt.tensorrt.IProfiler.__init__() must be called when overriding __init__")
            self._profiler = value

        def _logger_error(self, text):
            sys.stderr.write("[FAKE TRT] {}\n".format(text))
            return False

        def _set_shape(self, name, shape):
            shape = tuple(int(d) for d in shape)
            i = self.engine._index(name)
            if i < 0 or not self.engine.io[i][2]:
                return self._logger_error("3: setInputShape: no input named {}".format(name))
            dims = self.engine.io[i][1]
            if len(shape) != len(dims):
                return self._logger_error("3: setInputShape: wrong rank for {}".format(name))
            bounds = self.engine._profile_shape(name)
            if bounds is not None:
                lo, _, hi = bounds
                for k, d in enumerate(shape):
                    if not lo[k] <= d <= hi[k]:
                        return self._logger_error(
                            "3: [executionContext.cpp::setInputShape] Error Code 3: API Usage Error (Supplied binding "
                            "dimension [{}] for bindings[{}] exceed min ~ max range at index {}, maximum dimension in "
                            "profile is {}, minimum dimension in profile is {}, but supplied dimension is {}.)".format(
                                ",".join(str(x) for x in shape), i, k, hi[k], lo[k], d))
            self.shapes[name] = shape
            return True

        def _shape(self, name):
            i = self.engine._index(name)
            name_, dims, is_input = self.engine.io[i]
            if is_input:
                return self.shapes.get(name, dims)
            if dims and dims[0] < 0:
                first = self.engine.io[0][0]
                batch_shape = self.shapes.get(first, self.engine.io[0][1])
                return (batch_shape[0],) + tuple(dims[1:])
            return dims

        def _ready(self):
            for name, _, is_input in self.engine.io:
                if is_input and any(d < 0 for d in self._shape(name)):
                    return self._logger_error("3: [executionContext.cpp::enqueueInternal] Error Code 3: API Usage "
                                              "Error (Parameter check failed, condition: inputDimensionSpecified "
                                              "&& inputShapesSpecified. input {} shape not specified)".format(name))
            return True

        def _compute(self, pointers, stream):
            if not self._ready():
                return False
            try:
                first_in = self.engine.io[0]
                in_shape = self._shape(first_in[0])
                in_type = np.dtype(NUMPY_OF_TRT[self.engine._dtype(first_in[0]).name])
                nbytes = int(np.prod(in_shape)) * in_type.itemsize
                raw = bytes(world.buffer(pointers[0], nbytes)[:nbytes])
                x = np.frombuffer(raw, dtype=in_type).reshape(in_shape).astype(np.float32)
                for i, (name, _, is_input) in enumerate(self.engine.io):
                    itemsize = np.dtype(NUMPY_OF_TRT[self.engine._dtype(name).name]).itemsize
                    if is_input:
                        world.buffer(pointers[i], int(np.prod(self._shape(name))) * itemsize)
                        continue
                    shape = self._shape(name)
                    out = _fake_output(x, shape)
                    raw = out.astype(NUMPY_OF_TRT[self.engine._dtype(name).name]).tobytes()
                    buf = world.buffer(pointers[i], len(raw))
                    buf[: len(raw)] = raw
            except FakeCudaError as exc:
                return self._logger_error("1: [fake] illegal memory access: {}".format(exc))
            batch = in_shape[0] if in_shape else 1
            scale = {"fp32": 1.0, "fp16": 0.5, "int8": 0.25}[self.engine.plan["precision"]]
            per_layer = LAYER_MS * max(1, batch) * scale
            stream.advance(per_layer * len(self.engine.plan["layers"]))
            self.executions += 1
            if self._profiler is not None:  # the real profiler reports from the async calls too
                for layer in self.engine.plan["layers"]:
                    self._profiler.report_layer_time(layer["name"], per_layer)
            return True

        def execute_v2(self, bindings):
            return self._compute(list(bindings), world.stream(0))

        # binding API (< 10)
        def set_binding_shape(self, index, shape):
            return self._set_shape(self.engine.io[index][0], shape)

        def get_binding_shape(self, index):
            return self._shape(self.engine.io[index][0])

        @property
        def all_binding_shapes_specified(self):
            return all(not any(d < 0 for d in self._shape(n)) for n, _, inp in self.engine.io if inp)

        def execute_async_v2(self, bindings, stream_handle):
            return self._compute(list(bindings), world.stream(stream_handle))

        # name API (8.5+)
        def set_input_shape(self, name, shape):
            return self._set_shape(name, shape)

        def get_tensor_shape(self, name):
            return self._shape(name)

        def set_tensor_address(self, name, address):
            if self.engine._index(name) < 0:
                return self._logger_error("3: setTensorAddress: no tensor named {}".format(name))
            self.addresses[name] = int(address)
            return True

        def get_tensor_address(self, name):
            return self.addresses.get(name, 0)

        def execute_async_v3(self, stream_handle):
            missing = [n for n, _, _ in self.engine.io if n not in self.addresses]
            if missing:
                return self._logger_error("3: enqueueV3: no address set for {}".format(", ".join(missing)))
            return self._compute([self.addresses[n] for n, _, _ in self.engine.io], world.stream(stream_handle))

        def set_optimization_profile_async(self, index, stream_handle):
            self._active_profile = int(index)
            return True

    trt.ICudaEngine, trt.EngineInspector, trt.IExecutionContext = ICudaEngine, EngineInspector, IExecutionContext
    if v < (10,):
        IExecutionContext.active_optimization_profile = property(
            lambda self: self._active_profile, lambda self, value: setattr(self, "_active_profile", int(value)))
    else:
        IExecutionContext.active_optimization_profile = property(lambda self: self._active_profile)
        # all_binding_shapes_specified stays in 10.x
        for attr in ("set_binding_shape", "get_binding_shape", "execute_async_v2"):
            delattr(IExecutionContext, attr)
    if v < (8, 5):
        for attr in ("set_input_shape", "get_tensor_shape", "set_tensor_address", "get_tensor_address",
                     "execute_async_v3"):
            delattr(IExecutionContext, attr)
    if v < (8, 0):  # set_optimization_profile_async exists from 8.0 (pyCore.cpp of release/8.0)
        delattr(IExecutionContext, "set_optimization_profile_async")

    return trt


FIRST_WITHOUT_PRECISION_FLAGS = (11,)


def _fake_output(x, shape):
    """The fake network's answer: per image, the mean of its input plus 0, 1, 2, ... per output value."""
    shape = tuple(int(d) for d in shape)
    if not shape:
        return np.asarray(x.sum(), dtype=np.float32)
    batch = shape[0]
    means = x.reshape(x.shape[0], -1).mean(axis=1) if x.ndim else np.zeros(batch)
    rest = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    out = means[:batch, None] + np.arange(rest, dtype=np.float32)[None, :]
    return out.reshape(shape).astype(np.float32)


# ----------------------------------------------------------------------------- pycuda


def make_pycuda(world):
    pycuda = _module("pycuda", "page-locked host arrays and a fake GPU's memory, streams and events")
    driver = _module("pycuda.driver", "fake CUDA driver")
    pycuda.driver = driver
    pycuda.VERSION = (2022, 2, 2)

    class Error(Exception):
        pass

    class LogicError(Error):
        pass

    class MemoryError_(Error):
        pass

    MemoryError_.__name__ = "MemoryError"
    driver.Error = Error
    driver.LogicError = LogicError
    driver.MemoryError = MemoryError_
    driver.initialised = False

    def need_context():
        if not world.contexts:
            raise LogicError("explicit_context_dependent failed: invalid device context - no currently active "
                             "context?")

    def init(flags=0):
        driver.initialised = True

    class Context(object):
        def __init__(self, device, primary):
            self.device = device
            self.primary = primary
            self.detached = False

        def push(self):
            world.contexts.append(self)

        def pop(self):
            if not world.contexts or world.contexts[-1] is not self:
                raise LogicError("cuCtxPopCurrent failed: invalid context")
            world.contexts.pop()

        def detach(self):
            self.detached = True

        @staticmethod
        def synchronize():
            pass

    class Device(object):
        def __init__(self, index):
            if not driver.initialised:
                raise LogicError("cuDeviceGet failed: initialization error (call pycuda.driver.init() first)")
            if index != 0:
                raise LogicError("cuDeviceGet failed: invalid device ordinal")
            self.index = index

        @staticmethod
        def count():
            return 1

        def name(self):
            return world.gpu_name

        def compute_capability(self):
            return world.capability

        def total_memory(self):
            return 4 << 30

        def retain_primary_context(self):
            return Context(self, True)

        def make_context(self, flags=0):
            context = Context(self, False)
            context.push()
            return context

    class DeviceAllocation(object):
        def __init__(self, nbytes):
            self.address = world.alloc(nbytes)
            self.nbytes = nbytes

        def __int__(self):
            return self.address

        __index__ = __int__

        def free(self):
            world.free(self.address)

    class PagelockedArray(np.ndarray):
        pass

    def mem_alloc(nbytes):
        need_context()
        if nbytes > (4 << 30):
            raise MemoryError_("cuMemAlloc failed: out of memory")
        return DeviceAllocation(int(nbytes))

    def pagelocked_empty(shape, dtype, order="C", mem_flags=0):
        need_context()
        return np.empty(shape, dtype=dtype, order=order).view(PagelockedArray)

    def _is_pinned(array):
        while array is not None:
            if isinstance(array, PagelockedArray):
                return True
            array = getattr(array, "base", None)
            if not isinstance(array, np.ndarray):
                return False
        return False

    class Stream(object):
        def __init__(self, flags=0):
            need_context()
            self._stream = world.new_stream()
            self.handle = self._stream.handle

        def synchronize(self):
            pass

        def is_done(self):
            return True

    def _stream_of(stream):
        return world.stream(stream.handle if stream is not None else 0)

    class event_flags(object):
        DEFAULT = 0
        BLOCKING_SYNC = 1
        DISABLE_TIMING = 2
        INTERPROCESS = 4

    class Event(object):
        def __init__(self, flags=0):
            need_context()
            self.flags = flags
            self.clock_ms = None

        def record(self, stream=None):
            self.clock_ms = _stream_of(stream).clock_ms
            return self

        def synchronize(self):
            return self

        def query(self):
            return True

        def time_since(self, other):
            if self.clock_ms is None or other.clock_ms is None or self.flags & 2 or other.flags & 2:
                raise LogicError("cuEventElapsedTime failed: invalid resource handle")
            return self.clock_ms - other.clock_ms

        def time_till(self, other):
            return other.time_since(self)

    def memcpy_htod(dest, src):
        data = np.ascontiguousarray(src).tobytes()
        world.buffer(int(dest), len(data))[: len(data)] = data

    def memcpy_dtoh(dest, src):
        raw = world.buffer(int(src), dest.nbytes)
        dest.reshape(-1).view(np.uint8)[...] = np.frombuffer(bytes(raw[: dest.nbytes]), dtype=np.uint8)

    def memcpy_htod_async(dest, src, stream=None):
        if not _is_pinned(src):
            raise LogicError("memcpy_htod_async: the host array must be page-locked (pagelocked_empty)")
        memcpy_htod(dest, src)
        _stream_of(stream).advance(src.nbytes / H2D_BYTES_PER_MS)

    def memcpy_dtoh_async(dest, src, stream=None):
        if not _is_pinned(dest):
            raise LogicError("memcpy_dtoh_async: the host array must be page-locked (pagelocked_empty)")
        memcpy_dtoh(dest, src)
        _stream_of(stream).advance(dest.nbytes / H2D_BYTES_PER_MS)

    def memcpy_dtod_async(dest, src, size, stream=None):
        data = bytes(world.buffer(int(src), int(size))[: int(size)])
        world.buffer(int(dest), int(size))[: int(size)] = data
        _stream_of(stream).advance(int(size) / D2D_BYTES_PER_MS)

    def mem_get_info():
        return (2 << 30, 4 << 30)

    for name, value in list(locals().items()):
        if name in ("Context", "Device", "DeviceAllocation", "Stream", "Event", "event_flags", "init", "mem_alloc",
                    "pagelocked_empty", "memcpy_htod", "memcpy_dtoh", "memcpy_htod_async", "memcpy_dtoh_async",
                    "memcpy_dtod_async",
                    "mem_get_info", "PagelockedArray"):
            setattr(driver, name, value)
    return pycuda, driver


# ----------------------------------------------------------------------------- cuda-python


def make_cuda_python(world):
    cuda = _module("cuda", "cuda-python stand-in")
    cudart = _module("cuda.cudart", "the cudart calls edgebench uses, returning (cudaError_t, value...) tuples")
    cuda.cudart = cudart
    cudart.cudaError_t = _enum("cudaError_t", ["cudaSuccess", "cudaErrorInvalidValue", "cudaErrorMemoryAllocation"])
    cudart.cudaMemcpyKind = _enum("cudaMemcpyKind", ["cudaMemcpyHostToHost", "cudaMemcpyHostToDevice",
                                                     "cudaMemcpyDeviceToHost", "cudaMemcpyDeviceToDevice"])
    cudart.cudaEventBlockingSync = 1
    ok = cudart.cudaError_t.cudaSuccess
    bad = cudart.cudaError_t.cudaErrorInvalidValue
    state = {"device": None, "host": {}, "events": {}}

    class Props(object):
        def __init__(self):
            self.name = world.gpu_name.encode("utf-8") + b"\0" * 8
            self.major, self.minor = world.capability

    class Handle(object):
        def __init__(self, value):
            self.value = value

        def __int__(self):
            return self.value

    def cudaSetDevice(index):
        if index != 0:
            return (bad,)
        state["device"] = index
        return (ok,)

    def cudaGetDeviceProperties(index):
        return (ok, Props()) if index == 0 else (bad, None)

    def cudaGetDeviceCount():
        return (ok, 1)

    def cudaMemGetInfo():
        return (ok, 2 << 30, 4 << 30)  # invented: 2 GB free of 4 GB

    def cudaMemcpy(dst, src, nbytes, kind):
        if int(kind) != int(cudart.cudaMemcpyKind.cudaMemcpyHostToDevice):
            return (bad,)
        try:
            world.buffer(int(dst), int(nbytes))[: int(nbytes)] = ctypes.string_at(int(src), int(nbytes))
        except FakeCudaError:
            return (bad,)
        return (ok,)

    def cudaMallocHost(nbytes):
        buf = ctypes.create_string_buffer(int(nbytes))
        address = ctypes.addressof(buf)
        state["host"][address] = buf
        return (ok, address)

    def cudaFreeHost(address):
        state["host"].pop(int(address), None)
        return (ok,)

    def cudaMalloc(nbytes):
        if state["device"] is None:
            return (bad, 0)
        return (ok, world.alloc(int(nbytes)))

    def cudaFree(address):
        world.free(int(address))
        return (ok,)

    def cudaStreamCreate():
        return (ok, Handle(world.new_stream().handle))

    def cudaStreamDestroy(stream):
        return (ok,)

    def cudaStreamSynchronize(stream):
        return (ok,)

    def cudaEventCreateWithFlags(flags):
        event = Handle(0x9000 + len(state["events"]))
        state["events"][event.value] = None
        return (ok, event)

    def cudaEventDestroy(event):
        return (ok,)

    def cudaEventRecord(event, stream):
        state["events"][int(event)] = world.stream(int(stream)).clock_ms
        return (ok,)

    def cudaEventSynchronize(event):
        return (ok,)

    def cudaEventElapsedTime(start, end):
        a, b = state["events"].get(int(start)), state["events"].get(int(end))
        if a is None or b is None:
            return (bad, 0.0)
        return (ok, b - a)

    def _host_known(address, nbytes):
        for start, buf in state["host"].items():
            if start <= address and address + nbytes <= start + len(buf):
                return True
        return False

    def cudaMemcpyAsync(dst, src, nbytes, kind, stream):
        nbytes = int(nbytes)
        try:
            if int(kind) == int(cudart.cudaMemcpyKind.cudaMemcpyHostToDevice):
                if not _host_known(int(src), nbytes):
                    return (bad,)
                world.buffer(int(dst), nbytes)[:nbytes] = ctypes.string_at(int(src), nbytes)
            elif int(kind) == int(cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost):
                if not _host_known(int(dst), nbytes):
                    return (bad,)
                ctypes.memmove(int(dst), bytes(world.buffer(int(src), nbytes)[:nbytes]), nbytes)
            elif int(kind) == int(cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice):
                world.buffer(int(dst), nbytes)[:nbytes] = bytes(world.buffer(int(src), nbytes)[:nbytes])
                world.stream(int(stream)).advance(nbytes / D2D_BYTES_PER_MS)
                return (ok,)
            else:
                return (bad,)
        except FakeCudaError:
            return (bad,)
        world.stream(int(stream)).advance(nbytes / H2D_BYTES_PER_MS)
        return (ok,)

    def no_driver(*args):
        raise RuntimeError(NO_GPU_CUDART_ERROR)  # cuda-python 11.8's cudart on a machine without libcuda.so.1

    for name, value in list(locals().items()):
        if name.startswith("cuda") and callable(value):
            setattr(cudart, name, value if world.has_gpu else no_driver)
    return cuda, cudart


# ----------------------------------------------------------------------------- torch2trt


def make_torch2trt(world, version="0.5.0"):
    import torch

    trt = world.trt
    module = _module("torch2trt", "converts nothing: wraps the torch module's output shape in a fake engine")
    module.__version__ = version

    class TRTModule(torch.nn.Module):
        def __init__(self, engine=None, input_names=None, output_names=None, input_flattener=None,
                     output_flattener=None):
            super(TRTModule, self).__init__()
            self.engine = engine
            self.context = engine.create_execution_context() if engine is not None else None
            self.input_names = input_names
            self.output_names = output_names

        def forward(self, *inputs):
            x = inputs[0]
            static = int(self.engine.io[0][1][0])
            if static >= 0 and int(x.shape[0]) != static:  # torch2trt 0.4 engines have static shapes
                raise RuntimeError("fake TensorRT: engine built for batch {} was given {}".format(static, x.shape[0]))
            shape = (int(x.shape[0]),) + tuple(self.engine.io[-1][1][1:])
            out = _fake_output(x.detach().cpu().numpy(), shape)
            profiler = self.context.profiler
            if profiler is not None:
                for layer in self.engine.plan["layers"]:
                    profiler.report_layer_time(layer["name"], LAYER_MS)
            return torch.from_numpy(out).to(x.device)

    def _release_0_4_rules(inputs, max_batch_size):
        """torch2trt 0.4.0 (NVIDIA-AI-IOT/torch2trt v0.4.0, torch2trt/torch2trt.py): the example is cut to
        ``inputs[0:max_batch_size]`` (default 1) and the explicit-batch network takes its full static
        shape; min/opt/max shapes do not exist (swallowed by **kwargs)."""
        x = inputs[0][0:max_batch_size or 1]
        return x, (int(x.shape[0]),) * 3

    def _calibrate(call, x, dataset, legacy, calib_batch):
        """What torch2trt's DatasetCalibrator does with the dataset's items (torch2trt/calibration.py):
        0.4 copies each item into one C x H x W slot of a (int8_calib_batch_size, C, H, W) buffer
        (``buffer[i].copy_(tensor)``) that TensorRT reads as one whole engine batch."""
        if dataset is None:
            raise ValueError("fake torch2trt: int8 without a calibration dataset")
        shapes = set(tuple(dataset[i][0].shape) for i in range(len(dataset)))
        call["calib_items"] = len(dataset)
        call["calib_shapes"] = sorted(shapes)
        if legacy:
            slot = tuple(int(d) for d in x.shape[1:])
            if any(shape != slot for shape in shapes):
                raise RuntimeError("output with shape {} doesn't match the broadcast shape {}".format(
                    list(slot), list(sorted(shapes)[0])))
            if calib_batch != int(x.shape[0]):
                raise RuntimeError("fake TensorRT: the calibration buffer holds {} images but the engine reads {} "
                                   "(illegal memory access)".format(calib_batch, int(x.shape[0])))

    def _convert(module_, inputs, input_names, output_names, fp16_mode, max_workspace_size, int8_mode,
                 int8_calib_dataset, min_shapes, opt_shapes, max_shapes, max_batch_size, int8_calib_batch_size,
                 kwargs):
        call = dict(kwargs, fp16_mode=fp16_mode, int8_mode=int8_mode, max_workspace_size=max_workspace_size,
                    min_shapes=min_shapes, opt_shapes=opt_shapes, max_shapes=max_shapes,
                    max_batch_size=max_batch_size, int8_calib_batch_size=int8_calib_batch_size, calib_items=None)
        world.torch2trt_calls.append(call)
        legacy = version_tuple(module.__version__) < (0, 5)
        if legacy:
            x, (lo, opt, hi) = _release_0_4_rules(inputs, max_batch_size)
        else:
            x = inputs[0]
            batch = int(x.shape[0])
            if max_batch_size is not None and not min_shapes:  # 0.5: the legacy argument becomes 1..max
                lo, opt, hi = 1, batch, int(max_batch_size)
            else:
                lo = (min_shapes[0][0] if min_shapes else batch)
                opt = (opt_shapes[0][0] if opt_shapes else batch)
                hi = (max_shapes[0][0] if max_shapes else batch)
        with torch.no_grad():
            y = module_(x)
        if int8_mode:
            _calibrate(call, x, int8_calib_dataset, legacy, int8_calib_batch_size or 1)
        rest_in = [int(d) for d in x.shape[1:]]
        rest_out = [int(d) for d in y.shape[1:]]
        precision = "int8" if int8_mode and world.fast_int8 else ("fp16" if fp16_mode else "fp32")
        plan = {
            "tensorrt": world.version_text, "gpu": world.gpu_name,
            "inputs": [["input_0", ([lo] if legacy else [-1]) + rest_in]],
            "outputs": [["output_0", ([lo] if legacy else [-1]) + rest_out]],
            "profile": {} if legacy else {"input_0": [[lo] + rest_in, [opt] + rest_in, [hi] + rest_in]},
            "layers": [{"name": "{}_{}".format(type(m).__name__, i), "type": type(m).__name__, "nodes": [],
                        "precision": precision} for i, m in enumerate(module_.modules()) if not list(m.children())],
            "precision": precision, "detailed": False, "workspace": max_workspace_size, "calibration": None,
        }
        call["static_shape"] = [int(d) for d in x.shape] if legacy else None
        world.log_build({"torch2trt": True, "precision": precision, "profile": plan["profile"]})
        engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(PLAN_MAGIC + json.dumps(plan).encode("utf-8"))
        return TRTModule(engine=engine, input_names=input_names or ["input_0"],
                         output_names=output_names or ["output_0"])

    def torch2trt(module_, inputs, input_names=None, output_names=None, log_level=None, fp16_mode=False,
                  max_workspace_size=1 << 25, int8_mode=False, int8_calib_dataset=None, min_shapes=None,
                  max_shapes=None, opt_shapes=None, max_batch_size=None, int8_calib_batch_size=None, **kwargs):
        """The v0.5.0 RELEASE: ``config.max_workspace_size = ...`` and ``builder.build_engine(network,
        config)``, both gone from TensorRT 10, so on 10.x it fails with AttributeError."""
        config = trt.Builder(trt.Logger()).create_builder_config()
        config.max_workspace_size = max_workspace_size  # AttributeError on TensorRT 10, as the real release
        return _convert(module_, inputs, input_names, output_names, fp16_mode, max_workspace_size, int8_mode,
                        int8_calib_dataset, min_shapes, opt_shapes, max_shapes, max_batch_size, int8_calib_batch_size,
                        kwargs)

    def torch2trt_master(module_, inputs, input_names=None, output_names=None, log_level=None, fp16_mode=False,
                         max_workspace_size=1 << 25, int8_mode=False, int8_calib_dataset=None, min_shapes=None,
                         max_shapes=None, opt_shapes=None, max_batch_size=None, int8_calib_batch_size=None,
                         **kwargs):
        """torch2trt's master (also "0.5.0"): picks builder.build_serialized_network on TensorRT 10."""
        builder = trt.Builder(trt.Logger())
        build = builder.build_serialized_network  # noqa: F841 - the master's TensorRT 10 path
        return _convert(module_, inputs, input_names, output_names, fp16_mode, max_workspace_size, int8_mode,
                        int8_calib_dataset, min_shapes, opt_shapes, max_shapes, max_batch_size, int8_calib_batch_size,
                        kwargs)

    def use_master():
        """Make this fake torch2trt the master branch rather than the v0.5.0 release."""
        module.torch2trt = torch2trt_master

    module.use_master = use_master
    module.TRTModule = TRTModule
    module.torch2trt = torch2trt
    return module


# ----------------------------------------------------------------------------- child processes


_DEFAULT = []


def default_world():
    """The process-wide world for imports through PYTHONPATH (configured by environment variables)."""
    if not _DEFAULT:
        _DEFAULT.append(World(
            version=os.environ.get("EDGEBENCH_FAKE_TRT_VERSION", "8.2.1.8"),
            gpu=os.environ.get("EDGEBENCH_FAKE_TRT_GPU", "orin"),
            build_log=os.environ.get("EDGEBENCH_FAKE_TRT_BUILD_LOG"),
        ))
    return _DEFAULT[0]


def install_into_sys_modules():
    """Replace the importing package with the fake modules (used by the PYTHONPATH packages)."""
    world = default_world()
    for name, module in world.modules().items():
        sys.modules[name] = module
    return world
