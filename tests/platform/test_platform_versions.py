"""Package and library versions, found without importing vendor modules."""
import sys

import pytest
from platform_trees import dpkg

from edgebench.platform import versions

no_tensorrt_bindings = pytest.mark.skipif(versions.python_package("tensorrt")["available"],
                                          reason="TensorRT bindings installed here")


def make_dist_info(directory, name, version):
    dist = directory / "{}-{}.dist-info".format(name, version)
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: {}\nVersion: {}\n\nbody\n".format(
        name, version))


def test_scan_finds_a_dist_info_version(tmp_path):
    make_dist_info(tmp_path, "foo_bar", "1.2.3")
    assert versions.scan_distribution_version("foo-bar", path=[str(tmp_path)]) == "1.2.3"


def test_scan_reads_the_version_of_a_development_egg_info(tmp_path):
    egg = tmp_path / "widget.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: widget\nVersion: 0.4.1\n")
    assert versions.scan_distribution_version("widget", path=[str(tmp_path)]) == "0.4.1"


def test_scan_returns_none_for_a_missing_distribution(tmp_path):
    assert versions.scan_distribution_version("nothing-here", path=[str(tmp_path)]) is None


def test_distribution_version_of_numpy_matches_its_module():
    import numpy

    assert versions.distribution_version("numpy") == numpy.__version__


def test_python_package_reports_a_missing_module_as_unavailable(monkeypatch):
    monkeypatch.setitem(versions.PYTHON_PACKAGES, "ghost", ("edgebench_no_such_module", ("ghost",)))
    assert versions.python_package("ghost")["available"] is False


def test_python_package_finds_a_package_without_importing_it(tmp_path, monkeypatch):
    package = tmp_path / "edgebench_probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text('__version__ = "9.9.9"\nraise RuntimeError("imported")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(versions.PYTHON_PACKAGES, "probe", ("edgebench_probe_pkg", ("edgebench-probe-pkg",)))
    info = versions.python_package("probe")
    found = (info["available"], info["version"], "edgebench_probe_pkg" in sys.modules)
    assert found == (True, "9.9.9", False)


def test_dpkg_status_skips_packages_whose_config_files_only_remain(fixture_root):
    status = versions.read_dpkg_status(fixture_root("nano_jp46"))
    assert ("libnvinfer8" in status, "libnvinfer7" in status) == (True, False)


def test_upstream_version_drops_the_debian_revision_and_epoch():
    assert versions.upstream_version("8.2.1-1+cuda10.2") == "8.2.1"
    assert versions.upstream_version("1:2.3-4") == "2.3"


@no_tensorrt_bindings
def test_tensorrt_version_comes_from_dpkg_when_the_bindings_are_absent(fixture_root):
    assert versions.tensorrt_version(fixture_root("nano_jp46")) == ("8.2.1", "dpkg libnvinfer8")


@no_tensorrt_bindings
def test_tensorrt_version_comes_from_nvinferversion_h_without_dpkg(make_board):
    header = "#define NV_TENSORRT_MAJOR 8\n#define NV_TENSORRT_MINOR 5\n#define NV_TENSORRT_PATCH 2\n"
    root = make_board({"/usr/include/aarch64-linux-gnu/NvInferVersion.h": header})
    assert versions.tensorrt_version(root) == ("8.5.2", "/usr/include/aarch64-linux-gnu/NvInferVersion.h")


def test_cuda_version_is_read_from_version_txt(fixture_root):
    assert versions.cuda_version(fixture_root("nano_jp46")) == ("10.2.300", "/usr/local/cuda/version.txt")


def test_cuda_version_is_read_from_version_json(fixture_root):
    assert versions.cuda_version(fixture_root("agx_orin_jp6")) == ("12.6.68", "/usr/local/cuda/version.json")


def test_cuda_version_falls_back_to_the_cudart_package(make_board):
    root = make_board(dpkg([("cuda-cudart-11-4", "11.4.298-1")]))
    assert versions.cuda_version(root) == ("11.4.298", "dpkg cuda-cudart-11-4")


def test_cudnn_version_is_read_from_dpkg(fixture_root):
    assert versions.cudnn_version(fixture_root("orin_nx_jp6")) == ("9.3.0.75", "dpkg libcudnn9-cuda-12")


def test_package_versions_lists_every_package_edgebench_reports():
    assert set(versions.package_versions()) == {"numpy", "onnx", "onnxruntime", "torch", "torchvision",
                                                "tensorrt", "pycuda", "cuda-python", "torch2trt"}
