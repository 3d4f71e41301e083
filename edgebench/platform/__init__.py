"""The machine we run on: filesystem root, board detection, versions, clocks, environment.

Everything here reads files under a filesystem root (``--root``/``EDGEBENCH_ROOT``, default ``/``)
and uses only the standard library, so importing it is cheap on a Nano. Public API:

* :func:`collect_environment` -- run metadata (host, CPU, memory, OS, Python, library versions, board)
* :func:`detect_board` -- the Jetson (model, SoC, L4T, JetPack, nvpmodel, clocks) or None
* :func:`comparable_keys`, :func:`diff_environments`, :func:`diff_comparable` -- may two runs be merged?
* :func:`read_meminfo`, :func:`read_process_memory` -- memory in MB (shared CPU/GPU RAM on a Jetson)
* :func:`sample_thermal`, :func:`throttle_delta`, :func:`thermal_zones` -- per-point thermal sampling
* :func:`read_gpu_load`, :func:`gpu_load_path` -- GPU load in percent
* :func:`read_power_mode`, :func:`read_clock_state`, :class:`ClockLock` -- nvpmodel and jetson_clocks
"""
from edgebench.platform.board import detect_board, identify_board
from edgebench.platform.clocks import ClockLock, ClockLockError, read_clock_state, read_power_mode
from edgebench.platform.environment import (
    collect_environment,
    comparable_keys,
    diff_comparable,
    diff_environments,
)
from edgebench.platform.gpu import gpu_load_path, read_gpu_load
from edgebench.platform.memory import read_meminfo, read_process_memory
from edgebench.platform.root import resolve_root, under
from edgebench.platform.thermal import sample_thermal, thermal_zones, throttle_delta

__all__ = [
    "ClockLock",
    "ClockLockError",
    "collect_environment",
    "comparable_keys",
    "detect_board",
    "diff_comparable",
    "diff_environments",
    "gpu_load_path",
    "identify_board",
    "read_clock_state",
    "read_gpu_load",
    "read_meminfo",
    "read_power_mode",
    "read_process_memory",
    "resolve_root",
    "sample_thermal",
    "thermal_zones",
    "throttle_delta",
    "under",
]
