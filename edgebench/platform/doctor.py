"""``edgebench doctor``: is this machine ready to benchmark, and what fixes it if not.

Each check is a small class in the style of pyperf's ``system`` operations: ``available()`` says
whether it applies here (the nvpmodel check does not apply to a laptop), ``show()`` returns a
:class:`CheckResult` with a level (ok, info, warning, error), what was found, and the command that
fixes a problem. ``doctor`` exits 0 when no check reports an error. Nothing here imports a vendor
library: packages are probed with ``importlib.util.find_spec`` and their metadata, and power sensors
only by the presence of their sysfs directories (the readers live in ``edgebench.power``). The one
exception is the optional ``jtop`` check: when jetson-stats' service is running it connects through
:mod:`edgebench.platform.jetson_stats` to show jtop's board power next to edgebench's.

``edgebench doctor --json`` prints one object (``schema_version`` 1):

* ``summary`` (str), ``jetson`` (bool), ``ok`` (no errors), ``exit_status`` (0/1), ``errors``,
  ``warnings`` (counts), ``root`` (the filesystem root read);
* ``board``: None, or :func:`edgebench.platform.board.detect_board`'s dict (``model``, ``name``,
  ``soc``, ``gpu_arch``, ``compute_capability``, ``fast_fp16``, ``fast_int8``, ``precision_source``,
  ``l4t``, ``jetpack``, ``jetpack_source``, ``jetpack_note``, ``nvpmodel``, ``clocks_locked``,
  ``clocks``, ...);
* ``host`` (``host``, ``machine``, ``cpu``, ``cores``, ``cores_online``, ``memory_total_mb``, ``os``,
  ``kernel``), ``python`` (``version``, ``implementation``, ``executable``);
* ``packages``: ``{tensorrt, pycuda, cuda-python, onnxruntime, onnx, torch, torchvision, torch2trt:
  {"available", "version", "module", "location"}}``;
* ``precision``: ``{"fast_fp16", "fast_int8", "source"}`` (None/None on a machine that is not a Jetson);
* ``power_sources``: ``[{"kind", "url", "path", ...}]`` (sensor directories found, none opened);
* ``checks``: ``[{"name", "title", "level": "ok"|"info"|"warning"|"error", "state", "advice",
  "details"}]`` in report order.
"""
import os
import platform
import sys

from edgebench.platform import sysfs
from edgebench.platform.board import detect_board
from edgebench.platform.environment import describe_host
from edgebench.platform.gpu import read_gpu_load
from edgebench.platform.memory import read_meminfo
from edgebench.platform.root import resolve_root, under
from edgebench.platform.thermal import sample_thermal
from edgebench.platform.versions import (
    cuda_version,
    cudnn_version,
    dpkg_version,
    python_package,
    tensorrt_version,
    upstream_version,
)

SCHEMA_VERSION = 1

OK, INFO, WARNING, ERROR = "ok", "info", "warning", "error"
LEVELS = (OK, INFO, WARNING, ERROR)

# L4T major release -> the system Python that JetPack's apt-installed bindings (TensorRT) are built for.
SYSTEM_PYTHON_BY_L4T = {"32": "3.6", "34": "3.8", "35": "3.8", "36": "3.10"}

LOW_MEMORY_MB = 512
BUSY_GPU_PERCENT = 20.0


class CheckResult(object):
    """What one check found: ``level``, ``state`` (what is there), ``advice`` (command that fixes it)."""

    def __init__(self, level, state, advice=None, details=None):
        assert level in LEVELS, level
        self.level = level
        self.state = state
        self.advice = advice
        self.details = details or {}


class DoctorContext(object):
    """Facts shared by the checks, gathered once."""

    def __init__(self, root=None, runner=None, use_jtop=None):
        self.root = resolve_root(root)
        # jtop's service describes the real board only, so a fake tree (--root) does not ask it
        self.use_jtop = sysfs.is_real_root(root) if use_jtop is None else use_jtop
        self.board = detect_board(root, runner=runner)
        self.jetson = self.board is not None
        self.host = describe_host(root)
        self._packages = {}

    def package(self, key):
        if key not in self._packages:
            self._packages[key] = python_package(key)
        return self._packages[key]

    @property
    def l4t_major(self):
        l4t = (self.board or {}).get("l4t")
        return l4t.split(".")[0] if l4t else None

    @property
    def nvidia_driver(self):
        """A discrete NVIDIA GPU's driver is loaded (never true on a Jetson, whose GPU is integrated)."""
        return sysfs.exists(self.root, "/proc/driver/nvidia/version")

    def tensorrt_major(self):
        version = tensorrt_version(self.root)[0]
        try:
            return int(version.split(".")[0]) if version else None
        except ValueError:
            return None


class Check(object):
    """One line of the doctor's report."""

    name = ""
    title = ""

    def __init__(self, context):
        self.ctx = context

    def available(self):
        return True

    def show(self):
        raise NotImplementedError


def _yes_no(value):
    return {True: "yes", False: "no"}.get(value, "unknown")


class BoardCheck(Check):
    name, title = "board", "Board"

    def show(self):
        board = self.ctx.board
        host = self.ctx.host
        if board is None:
            facts = ", ".join(part for part in (host.get("machine"), host.get("cpu")) if part)
            return CheckResult(INFO, "not a Jetson" + (" ({})".format(facts) if facts else ""),
                               details={"machine": host.get("machine"), "cpu": host.get("cpu")})
        state = board["name"]
        if board.get("model") and board["model"] != board["name"]:
            state += " ({})".format(board["model"])
        if board.get("soc"):
            state += ", {} {} sm_{}".format(board["soc"], board["gpu_arch"],
                                            board["compute_capability"].replace(".", ""))
        level = OK if board.get("soc") else WARNING
        advice = None if board.get("soc") else (
            "the SoC could not be identified; check /proc/device-tree/compatible")
        return CheckResult(level, state, advice,
                           details={"model": board.get("model"), "soc": board.get("soc")})


class JetPackCheck(Check):
    name, title = "jetpack", "L4T / JetPack"

    def available(self):
        return self.ctx.jetson

    def show(self):
        board = self.ctx.board
        if not board.get("l4t"):
            return CheckResult(WARNING, "L4T release unknown",
                               "no /etc/nv_tegra_release and no nvidia-l4t-core package: "
                               "is this a JetPack image?")
        state = "L4T {}".format(board["l4t"])
        if board.get("jetpack"):
            state += ", JetPack {}".format(board["jetpack"])
            if board.get("jetpack_note"):
                return CheckResult(INFO, state + " (uncertain: {})".format(board["jetpack_note"]))
            return CheckResult(OK, state, details={"source": board.get("jetpack_source")})
        return CheckResult(WARNING, state + ", JetPack unknown ({})".format(board.get("jetpack_note")),
                           "apt-cache show nvidia-jetpack  # lists the JetPack versions for this image")


class PythonCheck(Check):
    name, title = "python", "Python"

    def show(self):
        version = platform.python_version()
        state = "{} ({})".format(version, platform.python_implementation())
        system_python = SYSTEM_PYTHON_BY_L4T.get(self.ctx.l4t_major)
        running = "{}.{}".format(*sys.version_info[:2])
        if self.ctx.jetson and system_python and running != system_python:
            return CheckResult(
                WARNING, state,
                "JetPack's TensorRT bindings are built for Python {0}: run edgebench with "
                "/usr/bin/python{0}".format(system_python), details={"executable": sys.executable})
        return CheckResult(OK, state, details={"executable": sys.executable})


class PackageCheck(Check):
    """A Python package found by ``find_spec`` + metadata; subclasses say how bad its absence is."""

    key = ""

    def found(self):
        info = self.ctx.package(self.key)
        if info["available"]:
            return CheckResult(OK, info["version"] or "installed (version unknown)", details=info)
        return None


class TensorRTCheck(PackageCheck):
    name, title, key = "tensorrt", "TensorRT", "tensorrt"

    def show(self):
        result = self.found()
        if result:
            return result
        system_version, source = tensorrt_version(self.ctx.root)
        if self.ctx.jetson:
            bindings = dpkg_version(self.ctx.root, "python3-libnvinfer")
            if bindings:
                return CheckResult(
                    ERROR, "TensorRT {} is installed for the system Python (python3-libnvinfer) but "
                    "this interpreter cannot import it".format(upstream_version(bindings)),
                    "run edgebench with /usr/bin/python3, or make the venv with: "
                    "python3 -m venv --system-site-packages VENV")
            state = "Python bindings missing"
            if system_version:
                state += " (TensorRT {} libraries found via {})".format(system_version, source)
            return CheckResult(ERROR, state, "sudo apt install python3-libnvinfer")
        level = WARNING if self.ctx.nvidia_driver else INFO
        return CheckResult(level, "not installed: the TensorRT backend is unavailable here; ONNX Runtime "
                           "is used", "pip install tensorrt  # needs an NVIDIA GPU with its driver")


class CudaBindingsCheck(PackageCheck):
    """pycuda or cuda-python moves buffers for TensorRT; one of them is enough."""

    other = ""
    install = ""

    def preferred(self):
        # TensorRT 10's samples switched from pycuda to cuda-python.
        major = self.ctx.tensorrt_major()
        return "cuda-python" if major is not None and major >= 10 else "pycuda"

    def show(self):
        result = self.found()
        if result:
            return result
        other = self.ctx.package(self.other)
        state = "not installed"
        if other["available"]:
            return CheckResult(INFO, state + " ({} is, which is enough)".format(self.other))
        if self.ctx.jetson and self.preferred() == self.key:
            return CheckResult(ERROR, state + ": the TensorRT backend needs pycuda or cuda-python",
                               self.install)
        return CheckResult(INFO, state, self.install)


class PycudaCheck(CudaBindingsCheck):
    name, title, key, other = "pycuda", "pycuda", "pycuda", "cuda-python"
    install = "PATH=/usr/local/cuda/bin:$PATH pip3 install pycuda"


class CudaPythonCheck(CudaBindingsCheck):
    name, title, key, other = "cuda-python", "cuda-python", "cuda-python", "pycuda"
    install = "pip3 install cuda-python"


class CudaDeviceCheck(Check):
    """TensorRT imports on any x86_64 machine; is there a GPU and driver for it? (the sweep's preflight)"""

    name, title = "cuda_device", "CUDA device"

    def available(self):
        return bool(self.ctx.package("tensorrt")["available"])

    def show(self):
        from edgebench.platform.cuda_probe import describe_failure, probe_device

        result = probe_device()
        if result["ok"]:
            capability = result.get("compute_capability") or ["?", "?"]
            memory = ""
            if result.get("memory_total_mb"):
                memory = ", {:.0f} MB{}".format(result["memory_total_mb"], " ({:.0f} MB free)".format(
                    result["memory_free_mb"]) if result.get("memory_free_mb") is not None else "")
            return CheckResult(OK, "{} (sm_{}{}){}, {} device(s), via {}".format(
                result["name"], capability[0], capability[1], memory, result["devices"], result["binding"]),
                details=result)
        return CheckResult(
            ERROR if self.ctx.jetson else WARNING,
            "TensorRT is installed but {}: `--backend tensorrt` is refused here".format(describe_failure(result)),
            "install the NVIDIA driver (check nvidia-smi, or tegrastats on a Jetson) and pycuda or cuda-python; "
            "or use --backend onnxruntime", details=result)


class NvmlGpuCheck(Check):
    """A discrete GPU's clocks, throttling, temperature and power limit, from NVML (nvidia-ml-py)."""

    name, title = "nvml_gpu", "GPU clocks (NVML)"

    def available(self):
        return self.ctx.nvidia_driver

    def show(self):
        from edgebench.platform.cuda_probe import probe_device

        nvml = probe_device().get("nvml")
        if nvml is None:
            return CheckResult(INFO, "nvidia-ml-py is not installed: no clocks, throttling or nvml power source",
                               "pip3 install nvidia-ml-py")
        if nvml.get("error"):
            return CheckResult(WARNING, "NVML does not start: {}".format(nvml["error"]),
                               "check the NVIDIA driver with nvidia-smi")
        parts = ["SM {}/{} MHz".format(nvml.get("sm_clock_mhz"), nvml.get("sm_clock_max_mhz")),
                 "memory {}/{} MHz".format(nvml.get("mem_clock_mhz"), nvml.get("mem_clock_max_mhz"))]
        if nvml.get("temperature_c") is not None:
            parts.append("{} C".format(nvml["temperature_c"]))
        if nvml.get("power_limit_w") is not None:
            parts.append("power limit {:.0f} W".format(nvml["power_limit_w"]))
        throttled = [r for r in nvml.get("throttle_reasons") or [] if r != "gpu_idle"]
        if throttled:
            return CheckResult(WARNING, "; ".join(parts) + "; throttled: " + ", ".join(throttled),
                               "cool the GPU or raise its power limit (nvidia-smi -pl) before measuring",
                               details=nvml)
        top = nvml.get("sm_clock_max_mhz")
        advice = None
        if top and nvml.get("sm_clock_mhz") != top:
            advice = "hold the clocks during a sweep: sudo nvidia-smi --lock-gpu-clocks={0},{0} (undo: sudo " \
                     "nvidia-smi --reset-gpu-clocks)".format(top)
        return CheckResult(OK, "; ".join(parts), advice, details=nvml)


class OnnxRuntimeCheck(PackageCheck):
    name, title, key = "onnxruntime", "ONNX Runtime", "onnxruntime"

    def show(self):
        return self.found() or CheckResult(
            ERROR, "not installed: edgebench's default engine is missing", "pip3 install onnxruntime")


class OnnxCheck(PackageCheck):
    name, title, key = "onnx", "onnx", "onnx"

    def show(self):
        return self.found() or CheckResult(ERROR, "not installed (a core dependency)", "pip3 install onnx")


class TorchCheck(PackageCheck):
    name, title, key = "torch", "PyTorch", "torch"

    def advice(self):
        board = self.ctx.board or {}
        if self.ctx.jetson:
            return ("install NVIDIA's PyTorch wheel for JetPack {} (see 'PyTorch for Jetson' on the NVIDIA "
                    "developer forums)".format(board.get("jetpack") or "of this board"))
        return "pip install 'edgebench[zoo]'"

    def show(self):
        return self.found() or CheckResult(
            WARNING, "not installed: zoo models cannot be exported to ONNX here (ONNX files still run)",
            self.advice())


class TorchvisionCheck(TorchCheck):
    name, title, key = "torchvision", "torchvision", "torchvision"

    def advice(self):
        if self.ctx.jetson:
            return "build torchvision from source at the tag matching the installed torch"
        return "pip install 'edgebench[zoo]'"


class Torch2trtCheck(PackageCheck):
    name, title, key = "torch2trt", "torch2trt", "torch2trt"

    def show(self):
        return self.found() or CheckResult(
            INFO, "not installed (optional backend)",
            "git clone https://github.com/NVIDIA-AI-IOT/torch2trt && cd torch2trt && "
            "python3 setup.py install --user")


class CudaCheck(Check):
    name, title = "cuda", "CUDA"

    def show(self):
        version, source = cuda_version(self.ctx.root)
        if version:
            return CheckResult(OK, "{} ({})".format(version, source))
        if self.ctx.jetson:
            return CheckResult(WARNING, "no CUDA toolkit under /usr/local/cuda",
                               "sudo apt install nvidia-jetpack")
        return CheckResult(INFO, "no CUDA toolkit under /usr/local/cuda")


class CudnnCheck(Check):
    name, title = "cudnn", "cuDNN"

    def show(self):
        version, source = cudnn_version(self.ctx.root)
        if version:
            return CheckResult(OK, "{} ({})".format(version, source))
        if self.ctx.jetson:
            return CheckResult(WARNING, "not found", "sudo apt install nvidia-jetpack")
        return CheckResult(INFO, "not found")


class PrecisionCheck(Check):
    name, title = "precision", "Fast FP16 / INT8"

    def show(self):
        precision = precision_support(self.ctx.board)
        state = "fast fp16 {}, fast int8 {} ({})".format(
            _yes_no(precision["fast_fp16"]), _yes_no(precision["fast_int8"]), precision["source"])
        return CheckResult(INFO if precision["fast_fp16"] is None else OK, state, details=precision)


class PowerModeCheck(Check):
    name, title = "nvpmodel", "Power mode (nvpmodel)"

    def available(self):
        return self.ctx.jetson

    def show(self):
        mode = self.ctx.board.get("nvpmodel")
        if not mode and self.ctx.board.get("name") == "Jetson TX1":
            return CheckResult(INFO, "none: the Jetson TX1 has no nvpmodel power modes")
        if not mode:
            return CheckResult(WARNING, "unknown: no nvpmodel binary, /var/lib/nvpmodel/status or "
                               "/etc/nvpmodel.conf",
                               "sudo nvpmodel -q  # shows the mode; needs JetPack's tools")
        state = "{} (id {}, from {})".format(mode.get("name") or "?", mode.get("id"), mode.get("source"))
        fastest = mode.get("fastest_id")
        if fastest is None:
            return CheckResult(INFO, state + "; no MAXN mode listed", details=mode)
        if mode.get("id") == fastest:
            return CheckResult(OK, state, details=mode)
        return CheckResult(WARNING, state + "; not the fastest mode ({})".format(
            mode["modes"].get(str(fastest), fastest)), "sudo nvpmodel -m {}".format(fastest), details=mode)


class ClocksCheck(Check):
    name, title = "clocks", "Clocks locked (jetson_clocks)"

    def available(self):
        return self.ctx.jetson

    def show(self):
        state = self.ctx.board.get("clocks") or {}
        unknown = state.get("unknown") or []
        note = "; {} not readable (needs root)".format(", ".join(unknown).upper()) if unknown else ""
        if state.get("locked") is None:
            return CheckResult(WARNING, "unknown: no cpufreq or GPU devfreq files" + note,
                               "sudo jetson_clocks", details=state)
        if state["locked"]:
            return CheckResult(OK, "yes" + note, details=state)
        return CheckResult(WARNING, "no: {} frequency scaling".format(", ".join(state["unlocked"]).upper())
                           + note, "sudo jetson_clocks", details=state)


class PowerSourcesCheck(Check):
    name, title = "power_sources", "Power sensors"

    def show(self):
        sources = find_power_sources(self.ctx.root)
        if not sources:
            if self.ctx.jetson:
                state = "no INA3221 found under /sys/bus/i2c/drivers"
                if self.ctx.board.get("name") == "Jetson Nano":
                    state += " (the Nano 2GB has none)"
                return CheckResult(WARNING, state,
                                   "pass --power serial://... for an external meter, or --power none")
            return CheckResult(INFO, "none found", "pass --power serial://... for an external meter, or "
                               "--power none")
        state = "; ".join("{} ({})".format(source["kind"], source["path"]) for source in sources)
        unreadable = [source for source in sources if source.get("readable") is False]
        if unreadable:
            return CheckResult(WARNING, state + "; RAPL energy counters are readable only by root",
                               "sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj  # or run as root",
                               details={"sources": sources})
        return CheckResult(OK, state, details={"sources": sources})


class MemoryCheck(Check):
    name, title = "memory", "Memory"

    def show(self):
        memory = read_meminfo(self.ctx.root)
        if memory["total_mb"] is None:
            return CheckResult(WARNING, "unknown: /proc/meminfo not readable", details=memory)
        state = "{:.0f} MB total, {:.0f} MB available".format(memory["total_mb"], memory["available_mb"])
        if memory["nvmap_used_mb"] is not None:
            state += ", {:.0f} MB held by nvmap (GPU)".format(memory["nvmap_used_mb"])
        if memory["available_mb"] < LOW_MEMORY_MB:
            advice = "close other programs"
            if self.ctx.jetson:
                advice += "; the desktop takes about 1 GB: sudo systemctl isolate multi-user.target"
            return CheckResult(WARNING, state + " (low)", advice, details=memory)
        return CheckResult(OK, state, details=memory)


class ThermalCheck(Check):
    name, title = "thermal", "Temperature / throttling"

    def show(self):
        sample = sample_thermal(self.ctx.root)
        if sample["max_temp_c"] is None and not sample["oc_event_counts"] and not sample["current_alarms"]:
            return CheckResult(INFO, "no thermal zones", details=sample)
        parts = []
        if sample["max_temp_c"] is not None:
            parts.append("max {:.1f} degC".format(sample["max_temp_c"]))
        events = {name: count for name, count in sample["oc_event_counts"].items() if count}
        if events:
            parts.append("over-current throttle events since boot: " + ", ".join(
                "{}={}".format(name, count) for name, count in sorted(events.items())))
        active = sorted(name for name, value in sample["current_alarms"].items() if value)
        if active:
            parts.append("current alarm active: " + ", ".join(active))
            return CheckResult(WARNING, "; ".join(parts),
                               "use a stronger power supply or a lower nvpmodel mode", details=sample)
        return CheckResult(INFO if events else OK, "; ".join(parts), details=sample)


class GpuLoadCheck(Check):
    name, title = "gpu_load", "GPU load now"

    def available(self):
        return self.ctx.jetson

    def show(self):
        load = read_gpu_load(self.ctx.root)
        if load is None:
            return CheckResult(INFO, "no GPU load file")
        state = "{:.0f} %".format(load)
        if load >= BUSY_GPU_PERCENT:
            return CheckResult(WARNING, state + ": another process is using the GPU",
                               "stop other GPU work before measuring (see tegrastats)")
        return CheckResult(OK, state)


# Order is the order of the report. Identity first, then software, then the machine's live state.
class JtopCheck(Check):
    """jetson-stats, when installed: is its service there, and its board power next to ours."""

    name, title = "jtop", "jetson-stats (jtop)"

    def available(self):
        return self.ctx.jetson or jtop_status()["installed"]

    def show(self):
        return jtop_check(self.ctx)


def jtop_status():
    from edgebench.platform import jetson_stats

    return jetson_stats.service_status()


def jtop_check(ctx):
    """The :class:`JtopCheck` result: optional, so never worse than a warning."""
    from edgebench.platform import jetson_stats

    status = jtop_status()
    if not status["installed"]:
        return CheckResult(INFO, "not installed (optional: lets the unprivileged agent lock clocks and set "
                           "the power mode)", "sudo pip3 install -U jetson-stats && sudo usermod -aG jtop $USER")
    version = "jetson-stats {}".format(status["version"] or "(unknown version)")
    if not status["running"] or not status["accessible"]:
        return CheckResult(WARNING, "{} installed, service not usable".format(version), status["reason"],
                           details=status)
    if not ctx.use_jtop:
        return CheckResult(INFO, "{}, service running (not asked: --root is not this board)".format(version),
                           details=status)
    from edgebench.power.ina3221 import INA3221Source

    try:
        with jetson_stats.JtopSession() as session:
            jtop_power = session.board_power()
    except jetson_stats.JtopUnavailable as err:
        return CheckResult(WARNING, "{}, service running but not answering".format(version), str(err),
                           details=status)
    listed = INA3221Source.list_rails(ctx.root)
    rails_w = {rail["rail"]: rail["power_mw"] / 1000.0 for rail in listed["rails"] if rail["power_mw"] is not None}
    comparison = jetson_stats.compare_board_power(jtop_power, rails_w, listed["board_rails"], listed["board_rule"])
    details = dict(status, power=comparison)
    if comparison["jtop_w"] is None or comparison["edgebench_w"] is None:
        return CheckResult(INFO, "{}, service running; no board power to compare".format(version), details=details)
    state = "{}, service running; board power: jtop {:.2f} W ({}), edgebench {:.2f} W; {:+.2f} W: {}".format(
        version, comparison["jtop_w"], " + ".join(comparison["jtop_rails"]), comparison["edgebench_w"],
        comparison["difference_w"], comparison["explanation"])
    return CheckResult(OK, state, details=details)


class CpuLoadCheck(Check):
    """Other processes' CPU load now: a sweep measured under load marks points unstable and runs slower."""

    name, title = "cpu_load", "Other CPU load"

    def available(self):
        from edgebench.platform.cpuload import read_cpu

        return read_cpu(self.ctx.root) is not None

    def show(self):
        from edgebench.platform.cpuload import sample_other_load

        share = sample_other_load(0.5, self.ctx.root)
        state = "{:.0%} of the CPU busy with other processes (0.5 s sample)".format(share or 0.0)
        if share is not None and share >= 0.10:
            return CheckResult(WARNING, state, "stop other work before a sweep (top shows what runs): CPU times "
                               "measured under load are slower and marked unstable", details={"share": share})
        return CheckResult(OK, state, details={"share": share})


CHECKS = (
    BoardCheck,
    JetPackCheck,
    PythonCheck,
    CpuLoadCheck,
    TensorRTCheck,
    PycudaCheck,
    CudaPythonCheck,
    CudaDeviceCheck,
    NvmlGpuCheck,
    OnnxRuntimeCheck,
    OnnxCheck,
    TorchCheck,
    TorchvisionCheck,
    Torch2trtCheck,
    CudaCheck,
    CudnnCheck,
    PrecisionCheck,
    PowerModeCheck,
    ClocksCheck,
    PowerSourcesCheck,
    MemoryCheck,
    ThermalCheck,
    GpuLoadCheck,
    JtopCheck,
)


def precision_support(board):
    """``{"fast_fp16", "fast_int8", "source"}``: from the board's GPU architecture on a Jetson."""
    if board is None:
        return {"fast_fp16": None, "fast_int8": None,
                "source": "not a Jetson; TensorRT's platform_has_fast_fp16/int8 would tell on an NVIDIA GPU"}
    return {"fast_fp16": board.get("fast_fp16"), "fast_int8": board.get("fast_int8"),
            "source": board.get("precision_source")}


def find_power_sources(root=None):
    """Cheap probe of power sensors: which driver directories exist. Does not read a sensor."""
    sources = []
    drivers = (("ina3221x", "ina3221x (JetPack 4 iio driver)"), ("ina3221", "ina3221 (hwmon driver)"),
               ("ina238", "ina238 (hwmon driver, Thor carrier board input)"))
    for driver, kind in drivers:
        path = "/sys/bus/i2c/drivers/" + driver
        devices = sysfs.glob_board(root, path + "/*-*")
        if devices:
            sources.append({"kind": kind, "url": "ina3221", "path": path, "devices": len(devices)})
    for zone in sysfs.glob_board(root, "/sys/class/powercap/intel-rapl:*"):
        if zone.count(":") != 1:  # package zones only (intel-rapl:0), not subzones (intel-rapl:0:0)
            continue
        name = sysfs.read_text(root, zone + "/name") or os.path.basename(zone)
        energy = sysfs.exists(root, zone + "/energy_uj")
        readable = os.access(under(root, zone + "/energy_uj"), os.R_OK)
        sources.append({"kind": "rapl " + name, "url": "rapl", "path": zone,
                        "readable": readable if energy else None})
    if sysfs.exists(root, "/proc/driver/nvidia/version"):
        sources.append({"kind": "nvml (NVIDIA driver loaded)", "url": "nvml", "path": "/proc/driver/nvidia"})
    return sources


def run_checks(context):
    """``[(check, result), ...]`` for every check that applies."""
    results = []
    for check_class in CHECKS:
        check = check_class(context)
        if check.available():
            results.append((check, check.show()))
    return results


def diagnose(root=None, runner=None, use_jtop=None):
    """Run every check; return the documented JSON-safe report (see :func:`report_keys`).

    ``use_jtop``: ask jetson-stats' service (default: only on the real root).
    """
    context = DoctorContext(root, runner=runner, use_jtop=use_jtop)
    results = run_checks(context)
    errors = sum(1 for _, result in results if result.level == ERROR)
    warnings = sum(1 for _, result in results if result.level == WARNING)
    board = context.board
    if board:
        identity = "{}, L4T {}, JetPack {}".format(board["name"], board.get("l4t") or "unknown",
                                                   board.get("jetpack") or "unknown")
    else:
        identity = "not a Jetson"
    summary = "{}: {} error{}, {} warning{}".format(identity, errors, "" if errors == 1 else "s",
                                                     warnings, "" if warnings == 1 else "s")
    packages = {}
    for key in ("tensorrt", "pycuda", "cuda-python", "onnxruntime", "onnx", "torch", "torchvision",
                "torch2trt"):
        packages[key] = context.package(key)
    return {
        "schema_version": SCHEMA_VERSION,
        "summary": summary,
        "jetson": context.jetson,
        "ok": errors == 0,
        "exit_status": 1 if errors else 0,
        "errors": errors,
        "warnings": warnings,
        "root": context.root,
        "board": board,
        "host": context.host,
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "packages": packages,
        "precision": precision_support(board),
        "power_sources": find_power_sources(context.root),
        "checks": [
            {"name": check.name, "title": check.title, "level": result.level, "state": result.state,
             "advice": result.advice, "details": result.details}
            for check, result in results
        ],
    }


def report_keys():
    """The top-level keys of ``edgebench doctor --json`` (kept in step with the README)."""
    return ("schema_version", "summary", "jetson", "ok", "exit_status", "errors", "warnings", "root", "board",
            "host", "python", "packages", "precision", "power_sources", "checks")


LEVEL_STYLE = {OK: ("OK", "green"), INFO: ("info", "cyan"), WARNING: ("WARN", "yellow"),
               ERROR: ("ERROR", "bold red")}


def render(report, console=None):
    """Print the report for people: a table of checks, then the fixes, then a one-line summary."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    board = report["board"]
    if board:
        title = "{} - L4T {} - JetPack {}".format(
            board["name"], board.get("l4t") or "?", board.get("jetpack") or "?")
    else:
        host = report["host"]
        facts = [str(part) for part in (host.get("machine"), host.get("cpu"), host.get("os")) if part]
        title = "not a Jetson - {}".format(", ".join(facts) or "unknown host")
    table = Table(title=Text("edgebench doctor: " + title), title_justify="left", box=None, pad_edge=False)
    table.add_column("Check", no_wrap=True, style="bold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Found")
    fixes = []
    optional = []
    for check in report["checks"]:
        label, style = LEVEL_STYLE[check["level"]]
        table.add_row(Text(check["title"]), Text(label, style=style), Text(check["state"] or ""))
        if check["advice"] and check["level"] in (WARNING, ERROR):
            fixes.append((check, style))
        elif check["advice"] and check["level"] == INFO:
            optional.append((check, style))
    console.print(table)
    for heading, entries in (("To fix:", fixes), ("Optional:", optional)):
        if not entries:
            continue
        console.print()
        console.print(Text(heading, style="bold"))
        for check, style in entries:
            line = Text("  ")
            line.append(check["title"] + ": ", style=style)
            line.append(check["advice"])
            console.print(line)
    console.print()
    style = "bold red" if report["errors"] else ("yellow" if report["warnings"] else "green")
    console.print(Text(report["summary"], style=style))
