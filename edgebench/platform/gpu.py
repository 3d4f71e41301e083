"""The Jetson's integrated GPU: its devfreq node (frequencies) and its load.

The GPU's devfreq device is named after its DT node, which changed across SoCs and JetPacks:
``57000000.gpu`` (TX1/Nano), ``17000000.gp10b`` (TX2), ``17000000.gv11b`` (Xavier),
``17000000.ga10b`` (Orin, JetPack 5) and ``17000000.gpu`` (Orin, JetPack 6). Its ``load`` file
holds 0..1000 (tenths of a percent) and lives in the device directory: ``/sys/devices/gpu.0/load``
on JetPack 4 boards, ``/sys/devices/platform/gpu.0/load`` on JetPack 5,
``/sys/devices/platform/bus@0/17000000.gpu/load`` on Orin with JetPack 6.
"""
import os
import re

from edgebench.platform import sysfs
from edgebench.platform.root import under

GPU_DEVFREQ_RE = re.compile(r"(^|\.)(gpu|gp10b|gv11b|ga10b|gb10b)$|^gpu-gpc-\d+$")
GPU_OF_NODE_NAMES = ("gpu", "gp10b", "gv11b", "ga10b", "gb10b")

GPU_LOAD_PATHS = (
    "/sys/devices/gpu.0/load",
    "/sys/devices/platform/gpu.0/load",
    "/sys/devices/platform/bus@0/17000000.gpu/load",
    "/sys/devices/17000000.gv11b/load",
    "/sys/devices/17000000.gp10b/load",
    "/sys/devices/17000000.ga10b/load",
    "/sys/devices/platform/17000000.ga10b/load",
    "/sys/devices/platform/17000000.gv11b/load",
)


def gpu_devfreq_dirs(root=None):
    """Board paths of the GPU's devfreq directories (``/sys/class/devfreq/57000000.gpu``)."""
    found = []
    for path in sysfs.glob_board(root, "/sys/class/devfreq/*"):
        name = os.path.basename(path)
        node = sysfs.read_text(root, path + "/device/of_node/name")
        if GPU_DEVFREQ_RE.search(name) or (node and node in GPU_OF_NODE_NAMES):
            found.append(path)
    return found


def read_gpu_frequencies(root=None):
    """``{"name", "min_hz", "max_hz", "cur_hz", "governor"}`` of the first GPU devfreq node, or None."""
    for path in gpu_devfreq_dirs(root):
        min_hz = sysfs.read_int(root, path + "/min_freq")
        max_hz = sysfs.read_int(root, path + "/max_freq")
        if min_hz is None or max_hz is None:
            continue
        return {
            "name": os.path.basename(path),
            "min_hz": min_hz,
            "max_hz": max_hz,
            "cur_hz": sysfs.read_int(root, path + "/cur_freq"),
            "governor": sysfs.read_text(root, path + "/governor"),
        }
    return None


def gpu_load_path(root=None):
    """The board path of the GPU load file, or None when this board has none."""
    for path in GPU_LOAD_PATHS:
        if sysfs.exists(root, path):
            return path
    for devfreq in gpu_devfreq_dirs(root):
        path = devfreq + "/device/load"
        if os.path.exists(under(root, path)):
            return path
    return None


def read_gpu_load(root=None, path=None):
    """GPU load in percent (0..100), or None when there is no readable load file.

    Pass ``path`` from :func:`gpu_load_path` when sampling often, to skip the search.
    """
    path = path or gpu_load_path(root)
    if path is None:
        return None
    value = sysfs.read_int(root, path)
    if value is None:
        return None
    return value / 10.0
