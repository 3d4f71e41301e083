"""`doctor` on machines with TensorRT: the CUDA device the bindings find (or why none), and a discrete
GPU's clocks and throttling from NVML. The GPU is the FAKE one of fake_trt_site and fake_nvml_site
(child processes, PYTHONPATH); the real no-driver case is in real_trt/."""
import os

import pytest
import trt_fakes

from edgebench.platform import cuda_probe
from edgebench.platform.doctor import diagnose

FAKE_NVML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_nvml_site")


@pytest.fixture
def gpu_machine(monkeypatch, tmp_path):
    """A root with a discrete GPU's driver file; the FAKE tensorrt/pycuda/cudart in child processes."""
    def make(gpu="orin", nvml=True, **env):
        monkeypatch.setattr(cuda_probe, "_MEMO", {})
        world = trt_fakes.install(monkeypatch, version="8.5.2.2", gpu=gpu)  # doctor sees tensorrt installed
        for name, value in trt_fakes.child_env(version="8.5.2.2", gpu=gpu).items():
            monkeypatch.setenv(name, value)
        if nvml:
            monkeypatch.setenv("PYTHONPATH", FAKE_NVML + os.pathsep + os.environ["PYTHONPATH"])
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        root = tmp_path / "root"
        (root / "proc" / "driver" / "nvidia").mkdir(parents=True)
        (root / "proc" / "driver" / "nvidia" / "version").write_text("NVRM version: FAKE 550.54\n")
        monkeypatch.setattr("edgebench.platform.doctor.python_package", lambda key: {
            "available": key == "tensorrt", "version": world.version_text if key == "tensorrt" else None,
            "module": key, "location": None})
        return str(root)
    return make


def _check(root, name):
    return dict((c["name"], c) for c in diagnose(root)["checks"])[name]


def test_throttle_reason_bits_decode_to_nvml_names():
    assert cuda_probe.throttle_reasons(0x4 | 0x40) == ["sw_power_cap", "hw_thermal_slowdown"]


def test_doctor_names_the_cuda_device_and_its_memory(gpu_machine):
    check = _check(gpu_machine(), "cuda_device")
    assert (check["level"], "FAKE Orin (sm_87), 4096 MB" in check["state"]) == ("ok", True)


def test_doctor_says_tensorrt_is_refused_without_a_gpu(gpu_machine):
    check = _check(gpu_machine(gpu="none"), "cuda_device")
    assert check["level"] == "warning" and "Failed to dlopen libcuda.so.1" in check["state"]


def test_doctor_shows_nvml_clocks_of_a_discrete_gpu(gpu_machine):
    check = _check(gpu_machine(), "nvml_gpu")
    assert (check["level"], check["state"].startswith("SM 1410/1695 MHz; memory 6251/6251 MHz")) == ("ok", True)


def test_doctor_says_how_to_hold_the_clocks(gpu_machine):
    assert "--lock-gpu-clocks=1695,1695" in _check(gpu_machine(), "nvml_gpu")["advice"]


def test_doctor_warns_when_nvml_reports_throttling(gpu_machine):
    check = _check(gpu_machine(EDGEBENCH_FAKE_NVML_THROTTLE="0x4"), "nvml_gpu")
    assert check["level"] == "warning" and "throttled: sw_power_cap" in check["state"]


def test_doctor_without_nvidia_ml_py_says_how_to_install_it(gpu_machine):
    assert _check(gpu_machine(nvml=False), "nvml_gpu")["advice"] == "pip3 install nvidia-ml-py"


def test_doctor_when_nvml_cannot_start_says_so(gpu_machine):
    check = _check(gpu_machine(EDGEBENCH_FAKE_NVML="nodriver"), "nvml_gpu")
    assert check["level"] == "warning" and "NVML Shared Library Not Found" in check["state"]
