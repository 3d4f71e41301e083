"""Versions of Python packages and NVIDIA libraries, found without importing them.

Importing torch or tensorrt takes seconds on a Nano and can initialise CUDA, so nothing here imports
a vendor module. Python packages are found with ``importlib.util.find_spec`` (which does not execute
a top-level package) and versioned from their distribution metadata: ``importlib.metadata`` on
3.8+, the ``importlib_metadata`` backport when installed, else a scan of ``sys.path`` for
``<name>-<version>.dist-info`` / ``.egg-info``. On a Jetson the TensorRT bindings come from the
``python3-libnvinfer`` Debian package, which may ship no dist metadata, so the version is also read
from the module's own ``__init__.py`` text and from ``<root>/var/lib/dpkg/status``. CUDA and cuDNN
are read from ``<root>/usr/local/cuda/version.{json,txt}``, dpkg, and the library headers.
"""
import importlib.util
import json
import os
import re
import sys

from edgebench.platform import sysfs
from edgebench.platform.root import under

DPKG_STATUS_PATH = "/var/lib/dpkg/status"

# name shown to users -> (module to probe, distribution names in order of preference)
PYTHON_PACKAGES = {
    "numpy": ("numpy", ("numpy",)),
    "onnx": ("onnx", ("onnx",)),
    "onnxruntime": ("onnxruntime", ("onnxruntime", "onnxruntime-gpu", "onnxruntime-training",
                                    "ort-nightly", "ort-nightly-gpu")),
    "torch": ("torch", ("torch",)),
    "torchvision": ("torchvision", ("torchvision",)),
    "tensorrt": ("tensorrt", ("tensorrt", "tensorrt-cu12", "tensorrt-cu13", "tensorrt-cu11",
                              "tensorrt-cu12-bindings", "tensorrt-cu13-bindings")),
    "pycuda": ("pycuda", ("pycuda",)),
    "cuda-python": ("cuda", ("cuda-python", "cuda-bindings")),
    "torch2trt": ("torch2trt", ("torch2trt",)),
}

# Debian packages that carry each library, in order of preference (JetPack 4 .. 6 names).
DPKG_TENSORRT = ("tensorrt", "libnvinfer10", "libnvinfer8", "libnvinfer7", "nvidia-tensorrt")
DPKG_TENSORRT_PYTHON = ("python3-libnvinfer",)
DPKG_CUDNN = ("libcudnn9-cuda-12", "libcudnn8", "libcudnn7")
DPKG_CUDA_PREFIX = "cuda-cudart-"

TENSORRT_HEADERS = ("/usr/include/aarch64-linux-gnu/NvInferVersion.h",
                    "/usr/include/x86_64-linux-gnu/NvInferVersion.h", "/usr/include/NvInferVersion.h")
CUDNN_HEADERS = ("/usr/include/cudnn_version.h", "/usr/include/aarch64-linux-gnu/cudnn_version_v9.h",
                 "/usr/include/aarch64-linux-gnu/cudnn_version_v8.h",
                 "/usr/include/x86_64-linux-gnu/cudnn_version_v8.h",
                 "/usr/local/cuda/include/cudnn_version.h")

_VERSION_ASSIGN_RE = re.compile(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", re.M)


def canonical_name(name):
    """PEP 503 normalisation: ``Cuda_Python`` and ``cuda.python`` are ``cuda-python``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _metadata_module():
    try:
        import importlib.metadata as metadata  # Python 3.8+
        return metadata
    except ImportError:
        pass
    try:
        import importlib_metadata as metadata  # the backport, when installed
        return metadata
    except ImportError:
        return None


def _version_from_metadata_file(path):
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                line = raw.decode("utf-8", "replace")
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break
    except (OSError, IOError):
        return None
    return None


def scan_distribution_version(name, path=None):
    """Version of distribution ``name`` found by listing ``path`` (default ``sys.path``) entries.

    Recognises ``<name>-<version>.dist-info``, ``<name>-<version>[-pyX.Y].egg-info`` and a bare
    ``<name>.egg-info`` (development installs, version read from its ``PKG-INFO``).
    """
    wanted = canonical_name(name)
    for entry in path if path is not None else sys.path:
        entry = entry or "."
        try:
            names = os.listdir(entry)
        except (OSError, IOError):
            continue
        for item in names:
            base, ext = os.path.splitext(item)
            if ext not in (".dist-info", ".egg-info"):
                continue
            parts = base.split("-")
            if canonical_name(parts[0]) != wanted:
                continue
            if ext == ".dist-info":
                version = _version_from_metadata_file(os.path.join(entry, item, "METADATA"))
                return version or (parts[1] if len(parts) > 1 else None)
            meta = os.path.join(entry, item)
            meta = os.path.join(meta, "PKG-INFO") if os.path.isdir(meta) else meta
            version = _version_from_metadata_file(meta)
            return version or (parts[1] if len(parts) > 1 else None)
    return None


def distribution_version(*names):
    """Version of the first installed distribution among ``names``, or None."""
    metadata = _metadata_module()
    for name in names:
        if metadata is not None:
            try:
                return metadata.version(name)
            except Exception:  # PackageNotFoundError, or a broken METADATA file
                pass
        version = scan_distribution_version(name)
        if version:
            return version
    return None


def find_module(module):
    """The module's spec without importing it (None when absent or when probing fails).

    ``find_spec`` of a top-level name never executes the package; a dotted name would import
    its parents, so callers only pass top-level names.
    """
    if module in sys.modules:
        loaded = sys.modules[module]
        if loaded is None:  # an import of it is blocked (sys.modules[name] = None)
            return None
        return getattr(loaded, "__spec__", None) or True
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):
        return None


def importable(module):
    """True when top-level ``module`` can be imported here (checked without importing it)."""
    return find_module(module) is not None


def _version_from_source(spec):
    """Read ``__version__ = "..."`` from a package's ``__init__.py`` (or ``version.py``) text."""
    origin = getattr(spec, "origin", None)
    locations = list(getattr(spec, "submodule_search_locations", None) or [])
    candidates = []
    if origin and origin.endswith(".py"):
        candidates.append(origin)
    for location in locations:
        candidates.append(os.path.join(location, "version.py"))
        candidates.append(os.path.join(location, "__init__.py"))
    for candidate in candidates:
        try:
            with open(candidate, "rb") as handle:
                text = handle.read(65536).decode("utf-8", "replace")
        except (OSError, IOError):
            continue
        match = _VERSION_ASSIGN_RE.search(text)
        if match:
            return match.group(1)
    return None


def python_package(key):
    """``{"available", "version", "module", "location"}`` for a key of :data:`PYTHON_PACKAGES`."""
    module, dists = PYTHON_PACKAGES[key]
    spec = find_module(module)
    available = spec is not None
    version = distribution_version(*dists) if available else None
    if available and version is None and spec is not True:
        version = _version_from_source(spec)
    location = None
    if available and spec is not True:
        location = getattr(spec, "origin", None)
        if location in (None, "namespace"):
            locations = list(getattr(spec, "submodule_search_locations", None) or [])
            location = locations[0] if locations else None
    return {"available": available, "version": version, "module": module, "location": location}


def package_versions(keys=None):
    """``{name: version or None}`` for the Python packages edgebench cares about."""
    keys = keys or ("numpy", "onnx", "onnxruntime", "torch", "torchvision", "tensorrt", "pycuda",
                    "cuda-python", "torch2trt")
    result = {}
    for key in keys:
        info = python_package(key)
        result[key] = info["version"] if info["available"] else None
    return result


_DPKG_CACHE = {}


def _is_installed(status):
    """dpkg's ``Status:`` is "want flag state"; only the state ``installed`` counts."""
    return bool(status) and status.split()[-1] == "installed"


def read_dpkg_status(root=None):
    """``{package: version}`` for packages dpkg lists as installed under ``root`` (cached by mtime)."""
    path = under(root, DPKG_STATUS_PATH)
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    key = (path, stat.st_mtime, stat.st_size)
    if key in _DPKG_CACHE:
        return _DPKG_CACHE[key]
    installed = {}
    package = version = status = None
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                if raw in (b"\n", b"\r\n"):
                    if package and version and _is_installed(status):
                        installed[package] = version
                    package = version = status = None
                elif raw.startswith(b"Package:"):
                    package = raw[8:].strip().decode("utf-8", "replace")
                elif raw.startswith(b"Version:"):
                    version = raw[8:].strip().decode("utf-8", "replace")
                elif raw.startswith(b"Status:"):
                    status = raw[7:].strip().decode("utf-8", "replace")
    except (OSError, IOError):
        return {}
    if package and version and _is_installed(status):
        installed[package] = version
    _DPKG_CACHE.clear()
    _DPKG_CACHE[key] = installed
    return installed


def dpkg_find(root, *packages):
    """``(package, version)`` of the first of ``packages`` dpkg lists as installed, or ``(None, None)``."""
    status = read_dpkg_status(root)
    for package in packages:
        if package in status:
            return package, status[package]
    return None, None


def dpkg_version(root, *packages):
    """Version of the first of ``packages`` installed according to dpkg under ``root``."""
    return dpkg_find(root, *packages)[1]


def upstream_version(debian_version):
    """``"8.2.1-1+cuda10.2"`` -> ``"8.2.1"``; ``"1:2.3-4"`` -> ``"2.3"``."""
    if not debian_version:
        return None
    version = debian_version.split(":", 1)[-1]
    return version.split("-", 1)[0].split("+", 1)[0]


def _header_version(root, paths, names):
    for path in paths:
        text = sysfs.read_text(root, path)
        if not text:
            continue
        numbers = []
        for name in names:
            match = re.search(r"#define\s+{}\s+(\d+)".format(name), text)
            if not match:
                break
            numbers.append(match.group(1))
        if len(numbers) == len(names):
            return ".".join(numbers), path
    return None, None


def tensorrt_version(root=None):
    """``(version, source)`` of TensorRT: Python bindings, then dpkg, then ``NvInferVersion.h``."""
    info = python_package("tensorrt")
    if info["available"] and info["version"]:
        return info["version"], "python package"
    package, deb = dpkg_find(root, *(DPKG_TENSORRT + DPKG_TENSORRT_PYTHON))
    if deb:
        return upstream_version(deb), "dpkg " + package
    for names in (("NV_TENSORRT_MAJOR", "NV_TENSORRT_MINOR", "NV_TENSORRT_PATCH"),
                  ("TRT_MAJOR_ENTERPRISE", "TRT_MINOR_ENTERPRISE", "TRT_PATCH_ENTERPRISE")):
        version, path = _header_version(root, TENSORRT_HEADERS, names)
        if version:
            return version, path
    return None, None


def cuda_version(root=None):
    """``(version, source)`` of the CUDA toolkit under ``root`` (``/usr/local/cuda``), or dpkg."""
    text = sysfs.read_text(root, "/usr/local/cuda/version.json")
    if text:
        try:
            version = json.loads(text).get("cuda", {}).get("version")
        except (ValueError, AttributeError):
            version = None
        if version:
            return version, "/usr/local/cuda/version.json"
    text = sysfs.read_text(root, "/usr/local/cuda/version.txt")
    if text:
        match = re.search(r"CUDA Version\s+(\d+(?:\.\d+)*)", text)
        if match:
            return match.group(1), "/usr/local/cuda/version.txt"
    status = read_dpkg_status(root)
    cudart = sorted(name for name in status if name.startswith(DPKG_CUDA_PREFIX))
    if cudart:
        return upstream_version(status[cudart[-1]]), "dpkg " + cudart[-1]
    return None, None


def cudnn_version(root=None):
    """``(version, source)`` of cuDNN: dpkg first, then ``cudnn_version.h``."""
    package, deb = dpkg_find(root, *DPKG_CUDNN)
    if deb:
        return upstream_version(deb), "dpkg " + package
    version, path = _header_version(root, CUDNN_HEADERS, ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"))
    return version, path
