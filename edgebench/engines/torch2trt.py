"""torch2trt backend: the zoo's torch module converted directly by NVIDIA-AI-IOT/torch2trt.

Only zoo models: torch2trt converts a torch module by tracing it, so a user's ONNX file has nothing
to convert (``--backend tensorrt`` builds ONNX files). The module is built exactly as the ONNX
export builds it (``edgebench.models.export.build_module`` with ``torch.manual_seed(0)`` and the same
constant-tensor perturbation, or the ``weights`` option), moved to the GPU and converted:

* fp32: plain conversion; fp16: ``fp16_mode=True``; int8: ``int8_mode=True`` with
  ``int8_calib_dataset`` from ``edgebench.calibration`` (and ``fp16_mode`` for fallback layers, as
  the TensorRT backend does). The GPU must report fast fp16/int8 (``platform_has_fast_*``), else the
  point is ``unsupported`` with the reason, as on the TensorRT backend.
* Batch: torch2trt 0.5+ builds explicit-batch engines with one profile min = opt = max = the point's
  batch (``min_shapes``/``opt_shapes``/``max_shapes``; ``shared_profile``: 1..max). torch2trt 0.4
  (the last release for JetPack 4.6 users) builds an explicit-batch engine with the example input's
  full *static* shape: ``max_batch_size`` only cuts the example (``inputs[0:max_batch_size]``, default
  1), so it gets ``max_batch_size`` = the point's batch, every batch size is its own engine and a
  shared profile is refused. Its int8 calibrator copies each dataset item into one C x H x W slot
  of a buffer of ``int8_calib_batch_size`` images that TensorRT reads as one engine batch, so items
  are single C x H x W images and ``int8_calib_batch_size`` is the engine's batch (torch2trt
  v0.4.0, ``torch2trt/torch2trt.py`` and ``torch2trt/calibration.py``). The choice is made from
  torch2trt's parsed version tuple.
* TensorRT 10: the v0.5.0 *release* sets ``config.max_workspace_size`` and calls
  ``builder.build_engine``, both gone from 10; torch2trt's master (also "0.5.0") calls
  ``build_serialized_network``. The release is recognised from its source and refused with that
  reason (``release_lacks_trt10``) instead of a conversion error.
* Modules run on a CUDA stream of their own (``torch.cuda.Stream``): ``TRTModule.forward`` enqueues
  on the current stream, and ``execute_async_v3`` on the default stream adds
  ``cudaDeviceSynchronize()`` calls (its docstring says so).
* Its points are labelled: they are timed through ``TRTModule.forward`` (PyTorch allocates the
  outputs and sets binding shapes on every call), so they carry PyTorch's per-call overhead that the
  tensorrt backend's points do not; compare them with each other, not one-to-one.

The converted engine is cached like TensorRT plans, under ``<cache_dir>/engines/torch2trt/``: the
plan (``module_trt.engine.serialize()``) plus a manifest with the input and output names; a cache
hit deserializes it and wraps it in ``torch2trt.TRTModule`` - no pickle, no torch.save. The key
covers the zoo entry, weights, torch/torchvision/torch2trt/TensorRT versions, GPU, precision,
batch profile, workspace and calibration data.

Timing is the TensorRT backend's: ``run()`` copies the bound batch from page-locked host memory to
the GPU, calls the module, copies the output back, with CUDA events (``torch.cuda.Event``, blocking)
around each step; ``no_transfers`` calls the module only. Same columns, same worker, same store.
"""
import logging
import os
import time

from edgebench.engines import layer_profile, trt_compat
from edgebench.engines.base import PRECISIONS, Backend, EngineInfo, EngineSpec
from edgebench.engines.engine_cache import PlanCache
from edgebench.engines.tensorrt import (
    MB,
    NO_FAST_FP16_REASON,
    NO_FAST_INT8_REASON,
    CudaEventSession,
    TrtOptions,
    gpu_label,
)
from edgebench.errors import BackendUnavailable, EdgebenchError, UnsupportedPrecision
from edgebench.platform.versions import importable

LOG = logging.getLogger("edgebench.engines.torch2trt")

EXPLICIT_BATCH_FROM = (0, 5)  # torch2trt 0.5.0: min/opt/max shapes; 0.4.x: static shapes (max_batch_size cuts)
TRT10_MARKER = "build_serialized_network"  # in torch2trt() of torch2trt's master, not in the v0.5.0 release
LABEL_NOTE = ("timed through torch2trt's TRTModule.forward (PyTorch allocates outputs and sets binding shapes each "
              "call): includes PyTorch overhead the tensorrt backend does not have; compare with torch2trt points, "
              "not one-to-one with --backend tensorrt")
ZOO_ONLY = (
    "torch2trt converts zoo models only ({} is a user ONNX model): use --backend tensorrt to build an ONNX "
    "file with TensorRT"
)


def _dist_version(module, *dists):
    import sys

    loaded = sys.modules.get(module)
    if loaded is not None and getattr(loaded, "__version__", None):
        return str(loaded.__version__)
    try:
        from edgebench.platform.versions import distribution_version

        return distribution_version(*dists)
    except Exception:  # a broken metadata file must not break the probe
        return None


def torch2trt_version():
    return _dist_version("torch2trt", "torch2trt")


def _torch2trt_source(module=None):
    """The source text of torch2trt's ``torch2trt()`` (from the loaded module, else from its file without
    importing it); None when it cannot be read."""
    import inspect

    if module is not None:
        try:
            return inspect.getsource(module.torch2trt)
        except (TypeError, OSError, AttributeError):
            return None
    import importlib.util

    try:
        spec = importlib.util.find_spec("torch2trt")
        folder = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else None
        if not folder:
            return None
        with open(os.path.join(folder, "torch2trt.py")) as fh:
            return fh.read()
    except (ImportError, ValueError, OSError, IndexError):
        return None


def release_lacks_trt10(trt_version, module=None):
    """One line when the installed torch2trt cannot build on this TensorRT (the v0.5.0 release on 10+), else None."""
    if trt_compat.version_tuple(trt_version) < (10,):
        return None
    source = _torch2trt_source(module)
    if source is None or TRT10_MARKER in source:
        return None
    return ("torch2trt {} is the v0.5.0 release, which sets config.max_workspace_size and calls "
            "builder.build_engine - both removed in TensorRT {}: install torch2trt from its master branch "
            "(pip3 install git+https://github.com/NVIDIA-AI-IOT/torch2trt) or use --backend tensorrt".format(
                torch2trt_version() or "?", trt_version))


class TorchCuda(object):
    """The few torch.cuda calls the session needs, on GPU 0 (a test replaces it with a CPU stand-in)."""

    def __init__(self, torch):
        self.torch = torch
        if not torch.cuda.is_available():
            raise EdgebenchError(
                "torch has no CUDA here (torch.cuda.is_available() is False): install NVIDIA's torch wheel for "
                "your JetPack (see docs/jetson.md) or use --backend tensorrt")
        self.device = torch.device("cuda", 0)

    def name(self):
        return str(self.torch.cuda.get_device_name(0))

    def capability(self):
        major, minor = self.torch.cuda.get_device_capability(0)
        return int(major), int(minor)

    def to_device(self, tensor):
        return tensor.to(self.device)

    def new_stream(self):
        return self.torch.cuda.Stream(device=self.device)

    def on_stream(self, stream):
        """A context manager: CUDA work (TRTModule.forward, copies, events) goes on ``stream``."""
        return self.torch.cuda.stream(stream)

    def pinned(self, tensor):
        return tensor.pin_memory()

    def event(self):
        return self.torch.cuda.Event(enable_timing=True, blocking=True)

    def record(self, event):
        event.record()  # on the current stream: the session's own (see on_stream)

    def wait(self, event):
        event.synchronize()

    def elapsed_ms(self, start, end):
        return float(start.elapsed_time(end))

    def synchronize(self):
        self.torch.cuda.synchronize()


def _cuda_device(torch):
    return TorchCuda(torch)


class _BatchedCalibDataset(object):
    """torch2trt's ``int8_calib_dataset`` with items of ``batch`` images (the engine's profile shape)."""

    def __init__(self, single, batch, torch):
        self.single = single
        self.batch = int(batch)
        self.torch = torch

    def __len__(self):
        return len(self.single) // self.batch

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = index * self.batch
        images = [self.single[start + i][0] for i in range(self.batch)]
        return [self.torch.cat(images, 0)]


class Torch2TRTBackend(Backend):
    name = "torch2trt"
    precisions = PRECISIONS

    @classmethod
    def is_available(cls):
        if not all(importable(m) for m in ("torch2trt", "torch", "tensorrt")):
            return False
        from edgebench.engines.tensorrt import _installed_version

        version = _installed_version()
        return version is None or (trt_compat.TrtApi(version).unsupported_reason() is None and
                                   release_lacks_trt10(version) is None)

    @classmethod
    def unavailable_reason(cls):
        missing = [m for m in ("torch2trt", "torch", "tensorrt") if not importable(m)]
        if missing:
            return ("{} not importable: install TensorRT (JetPack), NVIDIA's torch wheel for Jetson and torch2trt "
                    "from github.com/NVIDIA-AI-IOT/torch2trt; or use --backend tensorrt / onnxruntime".format(
                        ", ".join(missing)))
        from edgebench.engines.tensorrt import _installed_version

        version = _installed_version()
        return (trt_compat.TrtApi(version).unsupported_reason() or release_lacks_trt10(version) or
                "torch2trt is not available")

    @classmethod
    def version(cls):
        return torch2trt_version()

    def load(self, spec):
        if spec.precision not in PRECISIONS:
            raise UnsupportedPrecision("precision {!r} is not supported by torch2trt".format(spec.precision))
        zoo = zoo_entry(spec)
        options = TrtOptions(spec)
        try:
            import tensorrt as trt
            import torch
        except ImportError as exc:
            raise EdgebenchError("torch2trt needs torch and tensorrt: {}".format(exc))
        api = trt_compat.TrtApi(getattr(trt, "__version__", "")).check_supported()
        import torch2trt as t2t_module

        refusal = release_lacks_trt10(api.version_text, t2t_module)
        if refusal:
            raise BackendUnavailable(refusal)
        state = _Torch2trtLoad(trt, api, torch, spec, options, zoo)
        try:
            return state.load()
        except (EdgebenchError, MemoryError):
            raise
        except Exception as exc:  # torch, torch2trt or TensorRT: translate, keep the stage
            text = trt_compat.first_line(exc)
            if trt_compat.looks_like_oom(text):
                raise MemoryError("torch2trt while {}: {}".format(state.stage, text))
            raise EdgebenchError("torch2trt failed while {}: {}: {}".format(state.stage, type(exc).__name__, text))


def zoo_entry(spec):
    """The zoo ModelSpec for ``spec``; UnsupportedPrecision for anything but a zoo model."""
    from edgebench.models.registry import ZOO

    source = spec.options.model_source or "zoo"
    if source != "zoo" or spec.model not in ZOO:
        raise UnsupportedPrecision(ZOO_ONLY.format(spec.model))
    return ZOO[spec.model]


class _Torch2trtLoad(object):
    def __init__(self, trt, api, torch, spec, options, zoo):
        self.trt = trt
        self.api = api
        self.torch = torch
        self.spec = spec
        self.options = options
        self.zoo = zoo
        self.stage = "starting"
        self.logger = trt_compat.make_logger(trt)
        self.device = None
        self.gpu = None
        self.calibration = None
        self.version = trt_compat.version_tuple(torch2trt_version() or "0.5")

    def image_shape(self):
        return tuple(int(d) for d in (self.options.input_shape or self.zoo.input_shape))

    def check_precision(self):
        if self.spec.precision == "fp32":
            return
        builder = self.trt.Builder(self.logger)
        if self.spec.precision == "int8" and not builder.platform_has_fast_int8:
            raise UnsupportedPrecision(NO_FAST_INT8_REASON.format(gpu=self.gpu))
        if self.spec.precision == "fp16" and not builder.platform_has_fast_fp16:
            raise UnsupportedPrecision(NO_FAST_FP16_REASON.format(gpu=self.gpu))
        self.fast_fp16 = bool(builder.platform_has_fast_fp16)

    def key_material(self):
        weights = self.spec.options.weights
        weights_sha = None
        if weights:
            from edgebench._files import sha256_file

            weights_sha = sha256_file(weights)
        return {
            "zoo": {"name": self.zoo.name, "builder": self.zoo.builder, "kwargs": self.zoo.builder_kwargs},
            "image_shape": list(self.image_shape()),
            "weights": weights_sha,
            "precision": self.spec.precision,
            "batch": self.options.batch_label(self.spec.batch_size),
            "torch": _dist_version("torch", "torch"),
            "torchvision": _dist_version("torchvision", "torchvision"),
            "torch2trt": torch2trt_version(),
            "tensorrt": self.api.version_text,
            "gpu": self.gpu,
            "builder": self.options.builder_material(),
            "calibration": self.calibration[1] if self.calibration else None,
        }

    def load(self):
        spec, options = self.spec, self.options
        self.stage = "opening the GPU with torch"
        self.device = _cuda_device(self.torch)
        self.gpu = gpu_label(self.device.name(), self.device.capability())
        self.fast_fp16 = False
        self.stage = "checking the GPU's precisions"
        self.check_precision()
        if spec.precision == "int8":
            from edgebench.calibration.ort_int8 import source_for_spec

            self.stage = "opening the calibration data"
            calib_spec = EngineSpec.from_dict(spec.to_dict())
            if not calib_spec.options.input_shape:
                calib_spec.options.input_shape = list(self.image_shape())  # no ONNX file needed
            source = source_for_spec(calib_spec)
            self.calibration = (source, {"data": source.fingerprint, "images": source.count})
        cache = PlanCache(spec.cache_dir, "torch2trt")
        plan_path = cache.plan_path(spec.model, spec.precision, options.batch_label(spec.batch_size),
                                    self.key_material())
        module = None
        build_s = None
        self.stage = "reading the engine cache"
        plan = cache.load(plan_path)
        if plan is not None:
            module = self.from_plan(plan, cache.manifest(plan_path) or {})
            del plan
            if module is None:
                cache.discard(plan_path, "TensorRT could not deserialize it ({})".format(
                    "; ".join(self.logger.take_errors()) or "no reason given"))
        cache_hit = module is not None
        if module is None:
            started = time.perf_counter()
            module = self.convert()
            build_s = time.perf_counter() - started
            self.stage = "writing the engine cache"
            cache.store(plan_path, module.engine.serialize(), {
                "model": spec.model, "precision": spec.precision, "key": self.key_material(),
                "build_s": round(build_s, 3), "gpu": self.gpu,
                "input_names": list(module.input_names), "output_names": list(module.output_names),
            })
        self.stage = "binding the batch"
        session = Torch2TRTSession(self, module)
        session.engine_columns = {
            "build_s": build_s,
            "engine_cache_hit": 1 if cache_hit else 0,
            "engine_size_mb": round(os.path.getsize(plan_path) / MB, 3),
        }
        session.info = self.engine_info(module)
        return session

    def from_plan(self, plan, manifest):
        from torch2trt import TRTModule

        self.stage = "deserializing the cached engine"
        runtime = self.trt.Runtime(self.logger)
        engine = runtime.deserialize_cuda_engine(plan)
        if engine is None:
            return None
        module = TRTModule(engine=engine, input_names=manifest.get("input_names") or ["input_0"],
                           output_names=manifest.get("output_names") or ["output_0"])
        module._edgebench_runtime = runtime  # the engine must not outlive its runtime
        return module

    def build_torch_module(self):
        from edgebench.models import export

        weights = self.spec.options.weights
        self.stage = "building the zoo module"
        self.torch.manual_seed(0)
        module = export.build_module(self.zoo.builder, self.zoo.builder_kwargs, cache_dir=self.spec.cache_dir)
        if weights:
            export.load_weights(module, weights)
        else:
            export.perturb_constant_tensors(module)
        return module.eval()

    def conversion_kwargs(self):
        spec, options = self.spec, self.options
        shape = self.image_shape()
        kwargs = {
            "fp16_mode": spec.precision == "fp16" or (
                spec.precision == "int8" and options.int8_fp16_fallback and self.fast_fp16),
            "int8_mode": spec.precision == "int8",
            "max_workspace_size": options.workspace_mb * 1024 * 1024,
            "log_level": self.trt.Logger.ERROR,
        }
        if self.version >= EXPLICIT_BATCH_FROM:
            if options.shared_profile:
                high = options.shared_profile_max
                kwargs.update(min_shapes=[(1,) + shape], opt_shapes=[(high,) + shape], max_shapes=[(high,) + shape])
            calib_batch = options.shared_profile_max if options.shared_profile else spec.batch_size
        else:  # 0.4: static shapes; max_batch_size cuts the example, so it is the point's batch
            if options.shared_profile:
                raise EdgebenchError(
                    "torch2trt {} builds static shapes (the example input's, cut to max_batch_size): one engine "
                    "per batch size, no shared profile; drop --shared-profile or install torch2trt 0.5+".format(
                        torch2trt_version() or "0.4"))
            kwargs["max_batch_size"] = spec.batch_size
            calib_batch = 1
            if spec.precision == "int8":
                kwargs["int8_calib_batch_size"] = spec.batch_size  # its buffer is read as one engine batch
        if spec.precision == "int8":
            from edgebench.calibration.trt_calibrator import Torch2trtCalibDataset

            single = Torch2trtCalibDataset(self.calibration[0], device=self.device.device,
                                           batch_axis=self.version >= EXPLICIT_BATCH_FROM)
            if self.version < EXPLICIT_BATCH_FROM and len(single) < spec.batch_size:
                raise EdgebenchError("int8 calibration at batch {} needs at least {} images; got {}".format(
                    spec.batch_size, spec.batch_size, len(single)))
            if calib_batch > 1:
                if len(single) < calib_batch:
                    raise EdgebenchError("int8 calibration at batch {} needs at least {} images; got {}".format(
                        calib_batch, calib_batch, len(single)))
                kwargs["int8_calib_dataset"] = _BatchedCalibDataset(single, calib_batch, self.torch)
            else:
                kwargs["int8_calib_dataset"] = single
        return kwargs

    def convert(self):
        from torch2trt import torch2trt

        torch = self.torch
        module = self.build_torch_module()
        self.stage = "moving the module to the GPU"
        module = self.device.to_device(module)
        example = self.device.to_device(torch.randn((self.spec.batch_size,) + self.image_shape()))
        kwargs = self.conversion_kwargs()
        self.stage = "converting with torch2trt"
        with torch.no_grad():
            try:
                converted = torch2trt(module, [example], **kwargs)
            except (EdgebenchError, MemoryError):
                raise
            except Exception as exc:  # unsupported layers surface as assorted errors
                text = trt_compat.first_line(exc)
                if trt_compat.looks_like_oom(text):
                    raise MemoryError("torch2trt ran out of memory converting {}: {}".format(self.spec.model, text))
                raise EdgebenchError(
                    "torch2trt could not convert {} ({}): {}: {}; torch2trt may lack a converter for one of its "
                    "layers - measure it with --backend tensorrt (ONNX)".format(
                        self.spec.model, self.spec.precision, type(exc).__name__, text))
        if getattr(converted, "engine", None) is None:
            raise EdgebenchError("torch2trt built no engine for {} ({}): {}".format(
                self.spec.model, self.spec.precision, "; ".join(self.logger.take_errors()) or
                "see the TensorRT log above"))
        del module
        return converted

    def engine_info(self, module):
        spec = self.spec
        notes = ["converted from the torch module by torch2trt {}".format(torch2trt_version() or "?"), LABEL_NOTE]
        if self.version < EXPLICIT_BATCH_FROM:
            notes.append("torch2trt 0.4: a static-shape engine for batch {} only".format(spec.batch_size))
        layers = trt_compat.engine_layers(self.trt, self.api, module.engine)
        from edgebench.engines.tensorrt import classify_trt_layers

        report = classify_trt_layers(layers, {}, spec.precision)
        if spec.precision == "fp32":
            effective, fraction = "fp32", 0.0
        elif report is None:
            effective, fraction = None, None
            notes.append("torch2trt builds without DETAILED profiling verbosity: which precision each layer runs "
                         "in is unknown; TensorRT picked per layer among the allowed precisions")
        else:
            effective, fraction = report["precision_effective"], report["fp16_mac_fraction"]
        if self.options.no_transfers:
            notes.append("--no-transfers: inputs stay on the GPU; latency excludes host<->device copies")
        return EngineInfo(provider=self.gpu, precision_effective=effective, fp16_mac_fraction=fraction,
                          threads=None, notes=notes,
                          calibration_fingerprint=self.calibration[1]["data"] if self.calibration else None)


class Torch2TRTSession(CudaEventSession):
    def __init__(self, state, module):
        torch = state.torch
        self._state = state
        self._torch = torch
        self._device = device = state.device
        self._module = module
        self.batch_size = state.spec.batch_size
        self.options = state.options
        self.engine_columns = {}
        generator = torch.Generator().manual_seed(0)
        host_in = torch.randn((self.batch_size,) + state.image_shape(), generator=generator)
        self._bound = host_in.clone()
        self._host_in = device.pinned(host_in)
        self._stream = device.new_stream()  # not the default stream (see the module docstring)
        with device.on_stream(self._stream):
            self._dev_in = device.to_device(self._host_in)
            with torch.no_grad():
                out = self._first(module(self._dev_in))
        self._host_out = device.pinned(torch.empty(tuple(out.shape), dtype=out.dtype))
        device.synchronize()
        self._events = [device.event() for _ in range(4)]
        self._compute_ms = []
        self._h2d_ms = []
        self._d2h_ms = []
        self._window = None
        self._run = self._run_compute_only if self.options.no_transfers else self._run_with_transfers

    @staticmethod
    def _first(out):
        return out[0] if isinstance(out, (tuple, list)) else out

    def _run_with_transfers(self):
        device, events = self._device, self._events
        device.record(events[0])
        self._dev_in.copy_(self._host_in, non_blocking=True)
        device.record(events[1])
        out = self._first(self._module(self._dev_in))
        device.record(events[2])
        self._host_out.copy_(out, non_blocking=True)
        device.record(events[3])
        device.wait(events[3])
        self._h2d_ms.append(device.elapsed_ms(events[0], events[1]))
        self._compute_ms.append(device.elapsed_ms(events[1], events[2]))
        self._d2h_ms.append(device.elapsed_ms(events[2], events[3]))

    def _run_compute_only(self):
        device, events = self._device, self._events
        device.record(events[1])
        self._module(self._dev_in)
        device.record(events[2])
        device.wait(events[2])
        self._compute_ms.append(device.elapsed_ms(events[1], events[2]))

    def run(self):
        try:
            with self._torch.no_grad(), self._device.on_stream(self._stream):
                self._run()
        except (EdgebenchError, MemoryError):
            raise
        except Exception as exc:  # torch / TensorRT errors
            text = trt_compat.first_line(exc)
            if trt_compat.looks_like_oom(text):
                raise MemoryError(text)
            raise EdgebenchError("torch2trt inference failed: {}: {}".format(type(exc).__name__, text))

    def profile_layers(self, runs=layer_profile.PROFILE_RUNS):
        """Per-layer times: an IProfiler on torch2trt's execution context over ``runs`` synchronised calls."""
        profiler = trt_compat.make_profiler(self._state.trt)
        self._profiler = profiler
        self._module.context.profiler = profiler
        with self._torch.no_grad(), self._device.on_stream(self._stream):
            for _ in range(max(1, int(runs))):
                self._module(self._dev_in)
                self._device.synchronize()
        return layer_profile.summarize(profiler.order, profiler.times, {})

    def infer(self, batch):
        import numpy as np

        torch = self._torch
        batch = np.asarray(batch, dtype=np.float32)
        n = int(batch.shape[0])
        if n > self.batch_size:
            raise EdgebenchError("infer got {} images; this engine takes at most {}".format(n, self.batch_size))
        padded = np.zeros((self.batch_size,) + tuple(batch.shape[1:]), dtype=np.float32)
        padded[:n] = batch
        with torch.no_grad(), self._device.on_stream(self._stream):
            out = self._first(self._module(self._device.to_device(torch.from_numpy(padded))))
            result = out[:n].float().cpu().numpy()
        return result

    def close(self):
        self._module = None
        self._dev_in = None
        self._profiler = None
