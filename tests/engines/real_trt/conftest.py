"""The real TensorRT Python bindings (NVIDIA's tensorrt 8.5.2.2 wheel), no GPU.

``tools/test --trt`` runs this folder in a Python 3.8 venv built from ``requirements/ci-trt.txt``
(the wheel ships libnvinfer; cuDNN 8 and cuBLAS 11 come from NVIDIA's cu11 wheels). Anywhere the
module cannot be imported every test here skips, saying why (and why the venv could not be built,
when tools/test says so in EDGEBENCH_REAL_TRT_INSTALL_ERROR).
"""
import os

import pytest


def _import_real_tensorrt():
    try:
        import tensorrt
    except ImportError as exc:  # not installed, or libcudnn.so.8 / libcublas.so.11 missing
        return None, "{}: {}".format(type(exc).__name__, exc)
    if "FAKE" in (tensorrt.__doc__ or ""):
        return None, "the FAKE tensorrt of tests/engines/fake_trt_site is on sys.path"
    return tensorrt, None


REAL_TRT, WHY_NOT = _import_real_tensorrt()


def pytest_collection_modifyitems(config, items):
    if REAL_TRT is not None:
        return
    why = os.environ.get("EDGEBENCH_REAL_TRT_INSTALL_ERROR") or WHY_NOT
    skip = pytest.mark.skip(reason="the real TensorRT bindings cannot be imported here ({}); run tools/test "
                                   "--trt".format(why))
    for item in items:
        if "real_trt" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture
def trt():
    return REAL_TRT
