"""FAKE torch2trt for edgebench's child-process tests (PYTHONPATH=tests/engines/fake_trt_site): not NVIDIA's.

Importing it replaces itself in sys.modules with the fake from edgebench_fake_trt.py (needs torch).
"""
import sys

import edgebench_fake_trt

sys.modules[__name__] = edgebench_fake_trt.install_into_sys_modules().torch2trt
