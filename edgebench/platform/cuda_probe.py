"""Is there a usable CUDA device here? Asked through the CUDA Python bindings, in a child process.

TensorRT's Python module imports on any x86_64 machine (the pip wheel ships ``libnvinfer``), but
nothing runs without an NVIDIA GPU and its driver: cuda-python raises ``RuntimeError: Failed to
dlopen libcuda.so.1``, pycuda's ``cuInit`` fails, and TensorRT logs "CUDA initialization failure with
error: 35". ``probe_device()`` asks the same bindings the TensorRT backend uses (pycuda, or
cuda-python), without creating a CUDA context (pycuda: ``cuInit`` + ``cuDeviceGetCount``;
cuda-python: ``cudaGetDeviceCount`` + ``cudaGetDeviceProperties``), in a child process so that
the caller (the sweep's parent, the agent, ``doctor``) never loads the driver or holds GPU memory,
and a crashing driver cannot take it down. The answer is memoised per process.

``python -m edgebench.platform.cuda_probe [--prefer pycuda|cuda-python]`` prints the probe as JSON:
``{"ok", "binding", "devices", "name", "compute_capability", "reasons"}``.
"""
import json
import os
import subprocess
import sys

PROBE_TIMEOUT_S = 120
BINDINGS = ("pycuda", "cuda-python")

_MEMO = {}


def _probe_pycuda():
    import pycuda.driver as cuda

    cuda.init()
    count = int(cuda.Device.count())
    if count < 1:
        raise RuntimeError("cuDeviceGetCount found no CUDA device")
    device = cuda.Device(0)
    return count, str(device.name()), [int(x) for x in device.compute_capability()]


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
    return count, str(name).strip(), [int(props.major), int(props.minor)]


def probe_here(prefer=None):
    """The probe in this process: a dict (see the module docstring). Never raises."""
    order = [prefer] if prefer in BINDINGS else list(BINDINGS)
    reasons = []
    for binding in order:
        try:
            count, name, capability = (_probe_pycuda if binding == "pycuda" else _probe_cuda_python)()
        except ImportError as exc:
            reasons.append("{} is not installed ({})".format(binding, exc))
            continue
        except Exception as exc:  # every vendor failure is an answer here
            text = " ".join(str(exc).split()) or "no reason given"
            reasons.append("{}: {}: {}".format(binding, type(exc).__name__, text))
            continue
        return {"ok": True, "binding": binding, "devices": count, "name": name, "compute_capability": capability,
                "reasons": reasons}
    return {"ok": False, "binding": None, "devices": 0, "name": None, "compute_capability": None,
            "reasons": reasons}


def _child_env():
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def probe_device(prefer=None, timeout_s=PROBE_TIMEOUT_S):
    """``probe_here`` in a child process of this interpreter (memoised per ``prefer``). Never raises."""
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
        result = {"ok": False, "binding": None, "devices": 0, "name": None, "compute_capability": None,
                  "reasons": [str(exc)]}
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
