"""What the real pip installs for edgebench on each JetPack Python: wheels only, never an sdist.

Real pip, real PyPI (``--isolated``: this machine's find-links and local indexes do not count):

* on the host interpreters 3.6, 3.8 and 3.10, ``pip download -d DIR .`` without ``--only-binary``
  (which would silently skip an sdist and hide the problem) must save no sdist;
* for the boards, ``pip download --only-binary=:all: --platform manylinux2014_aarch64
  --python-version X --implementation cp`` of the core requirements (markers evaluated for aarch64
  and that Python) must resolve. ``X`` is the patch release JetPack's Ubuntu ships (3.6.9, 3.8.10,
  3.10.12): rich 12.6.0 declares ``Requires-Python >=3.6.3``, so a bare ``--python-version 36``
  (= 3.6.0) reports a failure no board has;
* the same with the platform tags pip on the board itself accepts (``manylinux_2_17`` up to the
  glibc of JetPack's Ubuntu: 2.27, 2.31, 2.35, 2.39 for JetPack 4.6, 5, 6, 7), which is what a
  board really picks (onnxruntime's newer aarch64 wheels are ``manylinux_2_27``/``_2_28`` only,
  so manylinux2014 alone falls back to onnxruntime 1.16.3 on 3.8/3.10 and finds none for 3.12);
* a plain ``pip install -e .`` into a bare Python 3.6 venv installs wheels only and
  ``edgebench sweep --model X.onnx`` runs.

The slow tests skip (with the reason) only when PyPI cannot be reached.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pipcheck  # noqa: E402

BOARD_PYTHONS = (("3.6", "3.6.9"), ("3.8", "3.8.10"), ("3.10", "3.10.12"))
# (Python, its patch release on the board, glibc minor of JetPack's Ubuntu): 18.04, 20.04, 22.04, 24.04
JETPACK_BOARDS = (("3.6", "3.6.9", 27), ("3.8", "3.8.10", 31), ("3.10", "3.10.12", 35), ("3.12", "3.12.3", 39))


@pytest.fixture(scope="module")
def pypi():
    if sys.version_info < (3, 7):
        # tools/test runs the suite once per interpreter; these checks drive every interpreter's pip
        # in subprocesses, so running them from the 3.6 pass too would only repeat them.
        pytest.skip("run once, from the current-Python pass (they start each Python's pip themselves)")
    reason = pipcheck.pypi_reachable()
    if reason:
        pytest.skip("PyPI is unreachable ({}); the wheel-resolution checks need it".format(reason))


def _interpreter(version):
    env_var = {"3.6": "PYTHON36", "3.8": "PYTHON38", "3.10": "PYTHON310", "3.12": "PYTHON312"}[version]
    found = pipcheck.find_interpreter(version, env_var)
    if not found:
        pytest.fail("no Python {} interpreter: install it (pyenv install {}) or set {}".format(
            version, version, env_var))
    return found


def _requirement_names(requirements):
    return [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requirements]


# -- what setup.py asks for, per target (fast) ----------------------------------------------------

@pytest.mark.parametrize("version", ["3.6", "3.8", "3.10", "3.12"])
def test_core_names_each_requirement_once_per_python(version):
    names = _requirement_names(pipcheck.requirements_for(pipcheck.core_requirements(), version))
    assert len(names) == len(set(names)), names


def test_python36_gets_onnx_below_112_which_is_its_last_wheel():
    reqs = pipcheck.requirements_for(pipcheck.core_requirements(), "3.6")
    assert [r for r in reqs if r.startswith("onnx") and not r.startswith("onnxruntime")] == ["onnx<1.12,>=1.11.0"]


def test_python38_onnx_is_not_capped():
    reqs = pipcheck.requirements_for(pipcheck.core_requirements(), "3.8")
    assert "onnx>=1.11.0" in reqs


@pytest.mark.parametrize("version,expected", [("3.6", True), ("3.10", True), ("3.11", False)])
def test_tomli_is_required_only_before_311(version, expected):
    names = _requirement_names(pipcheck.requirements_for(pipcheck.core_requirements(), version))
    assert ("tomli" in names) is expected


# -- the real pip ------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.6", "3.8", "3.10"])
def test_host_pip_download_fetches_no_sdist(version, pypi, tmp_path):
    python = pipcheck.pip_venv(_interpreter(version))
    code, out = pipcheck.pip_download(python, tmp_path / "d", ["."])
    assert code == 0, out[-4000:]
    picked = pipcheck.downloaded(str(tmp_path / "d"))
    assert "onnx" in picked and "numpy" in picked, sorted(picked)
    assert pipcheck.sdists(picked) == [], "pip on {} picked sdists: {}".format(version, pipcheck.sdists(picked))


@pytest.mark.slow
@pytest.mark.parametrize("version,full_version", BOARD_PYTHONS)
def test_aarch64_core_resolves_to_manylinux2014_wheels(version, full_version, pypi, tmp_path):
    python = pipcheck.pip_venv(_interpreter(version))
    reqs = pipcheck.requirements_for(pipcheck.core_requirements(), version, machine="aarch64")
    code, out = pipcheck.pip_download(python, tmp_path / "d", [
        "--only-binary=:all:", "--platform", "manylinux2014_aarch64", "--python-version", full_version,
        "--implementation", "cp"] + reqs)
    assert code == 0, out[-4000:]
    picked = pipcheck.downloaded(str(tmp_path / "d"))
    missing = [name for name in _requirement_names(reqs) if name not in picked]
    assert missing == [], "resolved without: {}".format(missing)
    assert all("aarch64" in f or f.endswith("-none-any.whl") for f in picked.values()), picked


@pytest.mark.slow
@pytest.mark.parametrize("version,full_version,glibc_minor", JETPACK_BOARDS)
def test_aarch64_core_resolves_with_the_tags_the_board_accepts(version, full_version, glibc_minor, pypi, tmp_path):
    python = pipcheck.pip_venv(_interpreter(version))
    reqs = pipcheck.requirements_for(pipcheck.core_requirements(), version, machine="aarch64")
    platforms = []
    for minor in range(glibc_minor, 16, -1):
        platforms += ["--platform", "manylinux_2_{}_aarch64".format(minor)]
    code, out = pipcheck.pip_download(python, tmp_path / "d", ["--only-binary=:all:"] + platforms + [
        "--platform", "manylinux2014_aarch64", "--python-version", full_version, "--implementation", "cp"] + reqs)
    assert code == 0, out[-4000:]
    picked = pipcheck.downloaded(str(tmp_path / "d"))
    assert [name for name in _requirement_names(reqs) if name not in picked] == []


@pytest.mark.slow
def test_bare_python36_venv_installs_only_wheels_and_sweeps(pypi, tmp_path):
    interpreter = _interpreter("3.6")
    source = tmp_path / "src"  # a copy, so that `pip install -e` writes its egg-info outside the repo
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(os.path.join(pipcheck.REPO, name), str(source / name))
    shutil.copytree(os.path.join(pipcheck.REPO, "edgebench"), str(source / "edgebench"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = tmp_path / "venv"
    code, out = pipcheck.run([interpreter, "-m", "venv", str(venv)])
    assert code == 0, out
    python = str(venv / "bin" / "python")
    # The venv's own pip (18.1 on 3.6.15) predates manylinux2014 tags; JetPack's is 9.0.1. The README
    # tells users to upgrade to the last pip for 3.6 first, as here.
    code, out = pipcheck.run([python, "-m", "pip", "install", "-q"] + pipcheck.PIP_ISOLATION + ["--upgrade", "pip<22"])
    assert code == 0, out[-4000:]
    pipcheck.forget_built_wheels()
    code, log = pipcheck.run([python, "-m", "pip", "install"] + pipcheck.PIP_ISOLATION + ["-e", str(source)])
    assert code == 0, log[-4000:]
    fetched = re.findall(r"^\s*(?:Downloading|Using cached|Processing)\s+(\S+)", log, re.M)
    built = re.findall(r"^\s*(?:Building wheel for|Running setup\.py install for)\s+(\S+)", log, re.M)
    assert [f for f in fetched if f.endswith(pipcheck.SDIST_SUFFIXES)] == [], fetched
    assert [b for b in built if b != "edgebench"] == [], built
    code, versions = pipcheck.run([python, "-c", "import onnx, onnxruntime, numpy; "
                                   "print(onnx.__version__, onnxruntime.__version__, numpy.__version__)"])
    assert code == 0 and versions.split()[0] == "1.11.0", versions

    import onnx_models
    model = onnx_models.conv_net(tmp_path / "tiny.onnx")
    proc = subprocess.Popen(
        [str(venv / "bin" / "edgebench"), "sweep", "--model", model, "--batches", "1,2", "--duration", "0.05",
         "--iterations", "3", "--warmup-ms", "0", "--out", str(tmp_path / "r")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, cwd=str(tmp_path))
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-4000:]
    assert os.listdir(str(tmp_path / "r")), out[-4000:]

