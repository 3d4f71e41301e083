"""Engine backends: a registry of names, cheap availability probes, lazy loading.

``auto`` means TensorRT when it is importable (a Jetson with JetPack), else ONNX Runtime, the
embedded default that runs on any CPU. Backend modules import their vendor library only inside
``load``; importing this package never imports onnxruntime, tensorrt or torch.
"""
import importlib

from edgebench.errors import BackendUnavailable, UsageError
from edgebench.platform.versions import importable

# name -> (module, class, vendor module probed for availability, install hint)
_REGISTRY = {
    "onnxruntime": (
        "edgebench.engines.onnxruntime",
        "OnnxRuntimeBackend",
        "onnxruntime",
        "pip install onnxruntime (onnxruntime==1.10.0 on Python 3.6)",
    ),
    "tensorrt": (
        "edgebench.engines.tensorrt",
        "TensorRTBackend",
        "tensorrt",
        "TensorRT comes with JetPack on a Jetson: sudo apt install python3-libnvinfer (and "
        "pip3 install pycuda); on this machine use --backend onnxruntime",
    ),
    "torch2trt": (
        "edgebench.engines.torch2trt",
        "Torch2TRTBackend",
        "torch2trt",
        "install TensorRT (JetPack) and torch2trt from NVIDIA-AI-IOT/torch2trt; on this machine use "
        "--backend onnxruntime",
    ),
}

BACKEND_NAMES = tuple(_REGISTRY)
CHOICES = ("auto",) + BACKEND_NAMES


def backend_class(name):
    """The Backend subclass registered as ``name``; BackendUnavailable if it cannot run here."""
    if name not in _REGISTRY:
        raise UsageError(
            "unknown backend {!r}; choose one of: {}".format(name, ", ".join(CHOICES))
        )
    module_name, class_name, vendor, hint = _REGISTRY[name]
    if not importable(vendor):
        raise BackendUnavailable("backend {!r} is not available: {} is not installed; {}".format(
            name, vendor, hint))
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise BackendUnavailable(
            "backend {!r} is not implemented in this edgebench version; use --backend onnxruntime".format(name)
        )
    cls = getattr(module, class_name)
    if not cls.is_available():
        raise BackendUnavailable("backend {!r} is not available: {}".format(name, cls.unavailable_reason()))
    return cls


def resolve_backend_name(name):
    """Map ``auto`` to the best available backend; validate any other name."""
    if name in (None, "", "auto"):
        for candidate in ("tensorrt", "onnxruntime"):
            try:
                backend_class(candidate).check_usable()  # TensorRT installed without a GPU: ONNX Runtime
                return candidate
            except BackendUnavailable:
                continue
        raise BackendUnavailable("no engine backend is available: pip install onnxruntime")
    backend_class(name)
    return name


def get_backend(name):
    """An instance of the backend called ``name`` (``auto`` allowed)."""
    return backend_class(resolve_backend_name(name))()


def availability():
    """name -> (available, reason or version) for every registered backend; never raises."""
    out = {}
    for name in BACKEND_NAMES:
        try:
            cls = backend_class(name)
            out[name] = (True, cls.version())
        except BackendUnavailable as exc:
            out[name] = (False, str(exc))
    return out
