"""The environment a run was measured in: host, OS, Python, library versions and the board.

:func:`collect_environment` is stored with every run. :func:`comparable_keys` picks the part that
must agree before two runs are compared or merged (like pyperf's checked metadata): a Nano at 5W
with floating clocks and a Nano at MAXN with jetson_clocks are different machines for our purpose.
Everything is read under the filesystem root, except what describes the running interpreter
(Python and its packages). Host facts fall back to the ``platform`` module only on the real root,
so a fake board tree never borrows this machine's kernel or hostname.
"""
import os
import platform
import socket
import sys

from edgebench.platform import sysfs, versions

SCHEMA_VERSION = 1

# key -> how a difference is described to people
COMPARABLE_KEYS = (
    ("board", "board"),
    ("power_mode", "power mode (nvpmodel)"),
    ("clocks_locked", "clocks locked (jetson_clocks)"),
    ("jetpack", "JetPack"),
    ("tensorrt", "TensorRT"),
    ("cpu", "CPU"),
)

# (implementer, part) from /proc/cpuinfo -> core name (Arm's and NVIDIA's published part numbers)
ARM_CORES = {
    (0x41, 0xD03): "ARM Cortex-A53",
    (0x41, 0xD07): "ARM Cortex-A57",
    (0x41, 0xD08): "ARM Cortex-A72",
    (0x41, 0xD0B): "ARM Cortex-A76",
    (0x41, 0xD0C): "ARM Neoverse-N1",
    (0x41, 0xD42): "ARM Cortex-A78AE",
    (0x41, 0xD4F): "ARM Neoverse-V2",
    (0x4E, 0x003): "NVIDIA Denver 2",
    (0x4E, 0x004): "NVIDIA Carmel",
}


def _parse_int(text):
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        return None


def parse_cpuinfo(text):
    """``/proc/cpuinfo`` -> ``{"cpu": model string or None, "processors": count}``.

    x86 kernels give ``model name``; arm64 kernels give implementer/part codes, mapped to core names
    (a TX2 reads "2x NVIDIA Denver 2 + 4x ARM Cortex-A57").
    """
    processors = 0
    model_names = []
    cores = []
    implementer = None
    hardware = None
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        value = value.strip()
        if key == "processor":
            processors += 1
        elif key == "model name" and value:
            model_names.append(value)
        elif key == "cpu implementer":
            implementer = _parse_int(value)
        elif key == "cpu part":
            part = _parse_int(value)
            name = ARM_CORES.get((implementer, part))
            if name is None and part is not None:
                name = "ARM core implementer {} part {}".format(
                    hex(implementer) if implementer is not None else "?", hex(part))
            if name:
                cores.append(name)
        elif key == "hardware" and value:
            hardware = value
    cpu = None
    if cores:
        counts = []
        for name in cores:
            if name not in counts:
                counts.append(name)
        if len(counts) == 1:
            cpu = counts[0]
        else:
            cpu = " + ".join("{}x {}".format(cores.count(name), name) for name in counts)
    elif model_names:
        cpu = model_names[0]
    elif hardware:
        cpu = hardware
    return {"cpu": cpu, "processors": processors}


def count_cpu_list(text):
    """``"0-3,6"`` (sysfs CPU list) -> 5; None when unparsable."""
    if not text:
        return None
    total = 0
    try:
        for chunk in text.strip().split(","):
            if "-" in chunk:
                low, high = chunk.split("-", 1)
                total += int(high) - int(low) + 1
            elif chunk:
                total += 1
    except ValueError:
        return None
    return total or None


def parse_os_release(text):
    """``/etc/os-release`` -> ``PRETTY_NAME`` (or ``NAME VERSION``), None when absent."""
    values = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"').strip("'")
    if values.get("PRETTY_NAME"):
        return values["PRETTY_NAME"]
    name = " ".join(part for part in (values.get("NAME"), values.get("VERSION")) if part)
    return name or None


def describe_host(root=None):
    """Host facts: ``host``, ``machine``, ``cpu``, ``cores``, ``cores_online``, ``memory_total_mb``,
    ``os``, ``kernel``."""
    from edgebench.platform.memory import read_meminfo

    real = sysfs.is_real_root(root)
    cpuinfo = parse_cpuinfo(sysfs.read_text(root, "/proc/cpuinfo"))
    cores = count_cpu_list(sysfs.read_text(root, "/sys/devices/system/cpu/present"))
    online = count_cpu_list(sysfs.read_text(root, "/sys/devices/system/cpu/online"))
    if cores is None:
        cores = cpuinfo["processors"] or (os.cpu_count() if real else None)
    host = sysfs.read_text(root, "/proc/sys/kernel/hostname") or sysfs.read_text(root, "/etc/hostname")
    kernel = sysfs.read_text(root, "/proc/sys/kernel/osrelease")
    if real:
        host = host or socket.gethostname()
        kernel = kernel or platform.release()
    return {
        "host": host or None,
        "machine": platform.machine() if real else None,
        "cpu": cpuinfo["cpu"],
        "cores": cores,
        "cores_online": online or cpuinfo["processors"] or None,
        "memory_total_mb": read_meminfo(root)["total_mb"],
        "os": parse_os_release(sysfs.read_text(root, "/etc/os-release")),
        "kernel": kernel or None,
    }


def collect_versions(root=None):
    """``{package: version or None}`` plus ``cuda``, ``cudnn`` and ``edgebench``; no vendor imports.

    ``tensorrt`` is the TensorRT installed on the machine (the Python bindings' version, else the
    Debian package's), since that is what builds the engines.
    """
    from edgebench import __version__

    found = versions.package_versions()
    found["tensorrt"] = versions.tensorrt_version(root)[0]
    found["cuda"] = versions.cuda_version(root)[0]
    found["cudnn"] = versions.cudnn_version(root)[0]
    found["edgebench"] = __version__
    return found


def collect_environment(root=None, runner=None):
    """Everything a run records about where it ran (JSON-safe dict).

    Keys: ``schema_version``, ``root``, ``host``, ``machine``, ``cpu``, ``cores``, ``cores_online``,
    ``memory_total_mb``, ``os``, ``kernel``, ``python``, ``python_implementation``,
    ``python_executable``, ``versions`` (numpy, onnx, onnxruntime, torch, torchvision, tensorrt,
    pycuda, cuda-python, torch2trt, cuda, cudnn, edgebench: version strings or None) and ``board``:
    None on a machine that is not a Jetson, else :func:`edgebench.platform.board.detect_board`'s dict
    (model, name, soc, gpu_arch, l4t, jetpack, nvpmodel, clocks_locked, ...).
    """
    from edgebench.platform.board import detect_board
    from edgebench.platform.root import resolve_root

    env = {"schema_version": SCHEMA_VERSION, "root": resolve_root(root)}
    env.update(describe_host(root))
    board = detect_board(root, runner=runner)
    if env["machine"] is None and board is not None:
        env["machine"] = "aarch64"
    env.update({
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
        "versions": collect_versions(root),
        "board": board,
    })
    return env


def comparable_keys(env):
    """The metadata that must agree before two runs are compared or merged.

    ``{"board": device-tree model or None, "power_mode": nvpmodel name or None, "clocks_locked":
    True/False/None, "jetpack": str or None, "tensorrt": str or None, "cpu": str or None}``. ``cpu``
    is what tells two non-Jetson hosts apart.
    """
    env = env or {}
    board = env.get("board") or {}
    power_mode = board.get("nvpmodel") or {}
    return {
        "board": board.get("model") or board.get("name"),
        "power_mode": power_mode.get("name"),
        "clocks_locked": board.get("clocks_locked"),
        "jetpack": board.get("jetpack"),
        "tensorrt": (env.get("versions") or {}).get("tensorrt"),
        "cpu": env.get("cpu"),
    }


def _show(value):
    if value is None:
        return "unknown"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def diff_comparable(keys_a, keys_b, labels=("A", "B")):
    """Human-readable differences between two :func:`comparable_keys` results (empty when they agree).

    A value known on one side and unknown on the other is a difference: the runs cannot be shown
    to be comparable.
    """
    differences = []
    for key, description in COMPARABLE_KEYS:
        left, right = keys_a.get(key), keys_b.get(key)
        if left != right:
            differences.append("{} differs: {} ({}) vs {} ({})".format(
                description, _show(left), labels[0], _show(right), labels[1]))
    return differences


def diff_environments(env_a, env_b, labels=("A", "B")):
    """Human-readable differences in the comparable metadata of two :func:`collect_environment` dicts."""
    return diff_comparable(comparable_keys(env_a), comparable_keys(env_b), labels)
