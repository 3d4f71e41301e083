"""Ask the real pip what it picks for edgebench on each JetPack Python.

Helpers for tests/install: find the interpreters, keep one small venv per interpreter (only pip in
it; Python 3.6 gets pip 21.3.1, the last release for 3.6, the one a JetPack 4.6 user installs with
``python3 -m pip install --upgrade "pip<22"``), read the core requirements out of ``setup.py``
without running it, evaluate their environment markers for a target board, and run ``pip download``
against PyPI itself (``--isolated``: this machine's pip configuration, find-links and local indexes
are ignored, so the answer is what a board gets). pip's HTTP cache (``~/.cache/pip``) is kept, so a
repeat run downloads nothing new.
"""
import ast
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SETUP_PY = os.path.join(REPO, "setup.py")
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")
INDEX_URL = "https://pypi.org/simple"
CACHE = os.environ.get("EDGEBENCH_VENV_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                "edgebench-venvs")
PIP_TIMEOUT_S = 900
# pip's own cache for these checks: its HTTP cache makes repeat runs fast; its wheels/ folder (wheels
# pip built from sdists) is emptied before each run, so a wheel built once can never hide an sdist.
PIP_CACHE = os.path.join(CACHE, "pipcheck-cache")
PIP_ISOLATION = ["--isolated", "--index-url", INDEX_URL, "--cache-dir", PIP_CACHE]

# The JetPack Pythons: (python_version, env var that may name the interpreter, JetPack release).
TARGETS = (
    ("3.6", "PYTHON36", "JetPack 4.6 (Ubuntu 18.04)"),
    ("3.8", "PYTHON38", "JetPack 5 (Ubuntu 20.04)"),
    ("3.10", "PYTHON310", "JetPack 6 (Ubuntu 22.04)"),
)
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")


def find_interpreter(version, env_var):
    """The interpreter for ``"3.6"``: $PYTHON36, else the newest pyenv ``3.6.*``, else None."""
    named = os.environ.get(env_var)
    if named:
        return named
    found = sorted(glob.glob(os.path.join(PYENV, "versions", version + ".*", "bin", "python")),
                   key=lambda p: [int(x) for x in re.findall(r"\d+", p.split("/versions/")[1].split("/")[0])])
    if found:
        return found[-1]
    on_path = shutil.which("python" + version)
    return on_path


def run(argv, **kw):
    """Run ``argv`` and return ``(returncode, stdout+stderr text)``."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, **kw)
    out, _ = proc.communicate(timeout=PIP_TIMEOUT_S)
    return proc.returncode, out


def forget_built_wheels():
    shutil.rmtree(os.path.join(PIP_CACHE, "wheels"), ignore_errors=True)


def pip_venv(interpreter):
    """A cached venv holding only pip (``pip<22`` on 3.6); returns its python."""
    code, version = run([interpreter, "-c", "import sys; print(sys.version)"])
    assert code == 0, version
    key = hashlib.sha256(version.encode()).hexdigest()[:12]
    directory = os.path.join(CACHE, "pipcheck-{}".format(key))
    python = os.path.join(directory, "bin", "python")
    if not os.path.isfile(os.path.join(directory, ".complete")):
        shutil.rmtree(directory, ignore_errors=True)
        code, out = run([interpreter, "-m", "venv", directory])
        assert code == 0, out
        if version.startswith("3.6"):
            code, out = run([python, "-m", "pip", "install", "-q"] + PIP_ISOLATION + ["--upgrade", "pip<22"])
            assert code == 0, out
        open(os.path.join(directory, ".complete"), "w").close()
    return python


def core_requirements():
    """The ``CORE`` list of ``setup.py``, read as a literal (setup.py is not run)."""
    with open(SETUP_PY) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CORE" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no CORE = [...] list")


def marker_environment(python_version, machine):
    """PEP 508 marker values of a CPython ``python_version`` on Linux ``machine``."""
    return {
        "python_version": python_version,
        "python_full_version": python_version + ".0",
        "implementation_name": "cpython",
        "implementation_version": python_version + ".0",
        "platform_python_implementation": "CPython",
        "platform_machine": machine,
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
    }


def requirements_for(requirements, python_version, machine="aarch64"):
    """``requirements`` whose markers hold on the target, with the markers dropped."""
    from pip._vendor.packaging.requirements import Requirement  # pip is the one resolver that matters

    kept = []
    env = marker_environment(python_version, machine)
    for text in requirements:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(env):
            req.marker = None
            kept.append(str(req))
    return kept


def downloaded(directory):
    """``{project: filename}`` of what pip saved in ``directory``."""
    picked = {}
    for name in sorted(os.listdir(directory)):
        project = re.split(r"-\d", name, maxsplit=1)[0].lower().replace("_", "-")
        picked[project] = name
    return picked


def sdists(picked):
    return sorted(name for name in picked.values() if name.endswith(SDIST_SUFFIXES))


def pip_download(python, target_dir, args):
    """``pip download -d target_dir ARGS`` against PyPI only; returns ``(code, output)``."""
    forget_built_wheels()
    argv = [python, "-m", "pip", "download"] + PIP_ISOLATION + ["--progress-bar", "off", "-d",
                                                                str(target_dir)] + list(args)
    return run(argv, cwd=REPO)


def pypi_reachable(timeout_s=15.0):
    """None when PyPI answers, else the reason it does not."""
    try:
        from urllib.request import urlopen
        with urlopen(INDEX_URL + "/pip/", timeout=timeout_s) as reply:
            reply.read(64)
        return None
    except Exception as err:  # noqa: BLE001 -- any failure means "unreachable" here
        return "{}: {}".format(type(err).__name__, err)


if __name__ == "__main__":  # pragma: no cover -- a manual look: python tests/install/pipcheck.py
    for version, env_var, jetpack in TARGETS:
        print(version, jetpack, find_interpreter(version, env_var))
        print("  aarch64:", requirements_for(core_requirements(), version))
    sys.exit(0)
