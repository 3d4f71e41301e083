"""Is there a usable CUDA device here? Asked through the CUDA Python bindings, in a child process.

TensorRT's Python module imports on any x86_64 machine (the pip wheel ships ``libnvinfer``), but
nothing runs without an NVIDIA GPU and its driver: cuda-python raises ``RuntimeError: Failed to
dlopen libcuda.so.1``, pycuda's ``cuInit`` fails, and TensorRT logs "CUDA initialization failure with
error: 35". ``probe_device()`` asks the same bindings the TensorRT backend uses (pycuda, or
cuda-python), without creating a CUDA context (pycuda: ``cuInit`` + ``cuDeviceGetCount``;
cuda-python: ``cudaGetDeviceCount`` + ``cudaGetDeviceProperties``), in a child process so that
the caller (the sweep's parent, the agent, ``doctor``) never loads the driver or holds GPU memory,
and a crashing driver cannot take it down. A usable device is memoised per process.

On a machine with a discrete GPU the probe also reads, where the bindings give them, the device's
memory (cuda-python: ``cudaMemGetInfo``, which makes the child's primary context; pycuda: the total
only, no context) and NVML's view (``nvidia-ml-py``): SM and memory clocks (current and maximum),
the active clock throttle reasons, temperature, enforced power limit and memory. On a Jetson NVML
has none of this (the integrated GPU is not an NVML device) and the answer says so.

``python -m edgebench.platform.cuda_probe [--prefer pycuda|cuda-python]`` prints the probe as JSON:
``{"ok", "binding", "devices", "name", "compute_capability", "memory_total_mb", "memory_free_mb",
"nvml", "reasons"}``; ``nvml`` is None when nvidia-ml-py is absent, ``{"error": ...}`` when NVML
cannot start, else ``{"name", "sm_clock_mhz", "sm_clock_max_mhz", "mem_clock_mhz",
"mem_clock_max_mhz", "throttle_reasons", "temperature_c", "power_limit_w", "memory_total_mb",
"memory_used_mb"}``.
"""
import json
import os
import subprocess
import sys

PROBE_TIMEOUT_S = 120
BINDINGS = ("pycuda", "cuda-python")
MB = 1024.0 * 1024.0

# nvmlClocksThrottleReasons bits (NVML API reference, nvml.h)
THROTTLE_REASONS = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)

_MEMO = {}


def _probe_pycuda():
    import pycuda.driver as cuda

    cuda.init()
    count = int(cuda.Device.count())
    if count < 1:
        raise RuntimeError("cuDeviceGetCount found no CUDA device")
    device = cuda.Device(0)
    memory = {"memory_total_mb": round(device.total_memory() / MB, 1), "memory_free_mb": None}
    return count, str(device.name()), [int(x) for x in device.compute_capability()], memory


def _probe_cuda_python():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python 12.6+
    except ImportError:
        from cuda import cudart

    result = cudart.cudaGetDeviceCount()
    err, count = result[0], int(result[1])
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError("cudaGetDeviceCount failed: {}".format(getattr(err, "name", err)))
    if count < 1:
        raise RuntimeError("cudaGetDeviceCount found no CUDA device")
    err, props = cudart.cudaGetDeviceProperties(0)[:2]
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError("cudaGetDeviceProperties failed: {}".format(getattr(err, "name", err)))
    name = props.name
    if isinstance(name, bytes):
        name = name.split(b"\0", 1)[0].decode("utf-8", "replace")
    memory = {"memory_total_mb": None, "memory_free_mb": None}
    result = cudart.cudaMemGetInfo()
    if result[0] == cudart.cudaError_t.cudaSuccess:
        memory = {"memory_free_mb": round(int(result[1]) / MB, 1), "memory_total_mb": round(int(result[2]) / MB, 1)}
    return count, str(name).strip(), [int(props.major), int(props.minor)], memory


def throttle_reasons(mask):
    """Names of the set bits of an NVML clocks-throttle-reasons mask."""
    return [name for bit, name in THROTTLE_REASONS if int(mask) & bit]


def _nvml_facts():
    """NVML's view of GPU 0, or None without nvidia-ml-py, or {"error": ...}."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound without a driver, NotSupported on a Jetson
        return {"error": "{}: {}".format(type(exc).__name__, " ".join(str(exc).split()))}
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        facts = {"name": name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)}
        reasons = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
            pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
        queries = (
            ("sm_clock_mhz", lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM)),
            ("sm_clock_max_mhz", lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)),
            ("mem_clock_mhz", lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM)),
            ("mem_clock_max_mhz", lambda: pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_MEM)),
            ("throttle_reasons", lambda: throttle_reasons(reasons(handle))),
            ("temperature_c", lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
            ("power_limit_w", lambda: pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0),
            ("memory_total_mb", lambda: round(pynvml.nvmlDeviceGetMemoryInfo(handle).total / MB, 1)),
            ("memory_used_mb", lambda: round(pynvml.nvmlDeviceGetMemoryInfo(handle).used / MB, 1)),
        )
        for key, query in queries:
            try:
                facts[key] = query()
            except Exception:  # NVML_ERROR_NOT_SUPPORTED for this field on this GPU
                facts[key] = None
        return facts
    except Exception as exc:
        return {"error": "{}: {}".format(type(exc).__name__, " ".join(str(exc).split()))}
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # shutting down after a failed query
            pass


def probe_here(prefer=None):
    """The probe in this process: a dict (see the module docstring). Never raises."""
    order = [prefer] if prefer in BINDINGS else list(BINDINGS)
    reasons = []
    nvml = _nvml_facts()
    for binding in order:
        try:
            count, name, capability, memory = (_probe_pycuda if binding == "pycuda" else _probe_cuda_python)()
        except ImportError as exc:
            reasons.append("{} is not installed ({})".format(binding, exc))
            continue
        except Exception as exc:  # every vendor failure is an answer here
            text = " ".join(str(exc).split()) or "no reason given"
            reasons.append("{}: {}: {}".format(binding, type(exc).__name__, text))
            continue
        result = {"ok": True, "binding": binding, "devices": count, "name": name, "compute_capability": capability,
                  "nvml": nvml, "reasons": reasons}
        result.update(memory)
        return result
    return _failed(reasons, nvml)


def _failed(reasons, nvml=None):
    return {"ok": False, "binding": None, "devices": 0, "name": None, "compute_capability": None,
            "memory_total_mb": None, "memory_free_mb": None, "nvml": nvml, "reasons": reasons}


def _child_env():
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def probe_device(prefer=None, timeout_s=PROBE_TIMEOUT_S):
    """``probe_here`` in a child process of this interpreter (a success memoised per ``prefer``). Never raises."""
    key = prefer or ""
    if key in _MEMO:
        return dict(_MEMO[key])
    argv = [sys.executable, "-m", "edgebench.platform.cuda_probe"] + (["--prefer", prefer] if prefer else [])
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
                                universal_newlines=True)
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError("the CUDA probe did not answer within {} s".format(timeout_s))
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            tail = " ".join(err.strip().splitlines()[-1:]) or "exit status {}".format(proc.returncode)
            raise RuntimeError("the CUDA probe died ({})".format(tail))
        result = json.loads(lines[-1])
    except (OSError, ValueError, RuntimeError) as exc:
        result = _failed([str(exc)])
    if result.get("ok"):  # a failure is asked again next time (the agent outlives a driver install)
        _MEMO[key] = result
    return dict(result)


def describe_failure(result):
    """One line: why no CUDA device is usable (from a failed probe)."""
    reasons = result.get("reasons") or ["no CUDA Python bindings answered"]
    return "no usable CUDA GPU or driver ({})".format("; ".join(reasons))


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    prefer = args[args.index("--prefer") + 1] if "--prefer" in args[:-1] else None
    sys.stdout.write(json.dumps(probe_here(prefer)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
