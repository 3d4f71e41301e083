"""Helpers for the TensorRT / torch2trt tests: install the FAKE libraries of fake_trt_site/ per test.

The fakes (``fake_trt_site/edgebench_fake_trt.py``) are NOT NVIDIA's libraries; see their docstring
for what they copy. ``install`` puts one fake GPU's ``tensorrt``, ``pycuda``, ``pycuda.driver``,
``cuda`` and ``cuda.cudart`` into ``sys.modules`` with ``monkeypatch.setitem`` (undone after the
test); the real site-packages are never touched. ``FAKE_SITE`` goes on a child's PYTHONPATH for
tests that run the real worker process.
"""
import importlib.util
import os
import sys

from edgebench.engines.base import EngineSpec
from edgebench.models.prepare import sha256_file

FAKE_SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_trt_site")
_IMPL = "edgebench_fake_trt"


def fake_lib():
    """The fake implementation module, loaded from its file (not via sys.path, so that
    ``import tensorrt`` elsewhere in this process never finds a fake by accident)."""
    if _IMPL in sys.modules:
        return sys.modules[_IMPL]
    spec = importlib.util.spec_from_file_location(_IMPL, os.path.join(FAKE_SITE, _IMPL + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[_IMPL] = module
    spec.loader.exec_module(module)
    return module


def install(monkeypatch, version="8.2.1.8", gpu="orin", cuda=("pycuda", "cuda-python"), torch2trt=False):
    """Install a fresh fake world; return it (``world.trt``, ``world.builds``, ...).

    ``cuda`` lists which CUDA bindings are importable; the others import as missing.
    """
    world = fake_lib().World(version=version, gpu=gpu)
    for name, module in world.modules().items():
        top = name.split(".")[0]
        wanted = {"pycuda": "pycuda" in cuda, "cuda": "cuda-python" in cuda}.get(top, True)
        monkeypatch.setitem(sys.modules, name, module if wanted else None)
    for name in [n for n in sys.modules if n.startswith(("tensorrt.", "pycuda.", "cuda.", "torch2trt."))]:
        if name not in world.modules():
            monkeypatch.setitem(sys.modules, name, None)  # submodules of a real installation stay out
    if torch2trt:
        monkeypatch.setitem(sys.modules, "torch2trt", world.torch2trt)
    return world


def spec_for(onnx_path, cache_dir, precision="fp32", batch=2, model="tiny", **options):
    options.setdefault("input_shape", [3, 16, 16])
    return EngineSpec(onnx_path, sha256_file(onnx_path), model, precision, batch, cache_dir, options=options)


def child_env(version="8.2.1.8", gpu="orin", build_log=None):
    """Environment variables that make a child process import the fakes (tests only)."""
    env = {
        "EDGEBENCH_FAKE_TRT_VERSION": version,
        "EDGEBENCH_FAKE_TRT_GPU": gpu,
        "PYTHONPATH": FAKE_SITE + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
    }
    if build_log:
        env["EDGEBENCH_FAKE_TRT_BUILD_LOG"] = str(build_log)
    return env


def tiny_torch_net(cache_dir=None, classes=10):
    """A small torch CNN for torch2trt tests (a zoo builder ``python:trt_fakes:tiny_torch_net``)."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))
