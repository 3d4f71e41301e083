"""FAKE tensorrt for edgebench's child-process tests (PYTHONPATH=tests/engines/fake_trt_site): not NVIDIA's.

Importing it replaces itself in sys.modules with the fake from edgebench_fake_trt.py; configured by
EDGEBENCH_FAKE_TRT_VERSION and EDGEBENCH_FAKE_TRT_GPU.
"""
import edgebench_fake_trt

edgebench_fake_trt.install_into_sys_modules()
