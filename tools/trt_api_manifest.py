#!/usr/bin/env python3
"""Write the API manifest of a real TensorRT Python module: its classes and their members, its enums
and their values, its functions. tests/engines/test_trt_fake_api.py checks the FAKE tensorrt
(tests/engines/fake_trt_site) against these manifests, so the fake never offers a name the real
module of that version lacks.

Two ways to get the real module (one manifest per run; each run in a fresh interpreter):

* the ``tensorrt`` this interpreter imports (NVIDIA's full 8.5 wheel imports without a GPU)::

      ~/.cache/edgebench-venvs/ci-trt-*/bin/python tools/trt_api_manifest.py

* a bindings-only wheel from PyPI (``tensorrt-bindings`` 8.6, ``tensorrt-cu12-bindings`` 10.x,
  cp38 wheels: run with Python 3.8). Their ``libnvinfer`` comes in a ``-libs`` wheel from NVIDIA's
  own index, which these machines cannot reach, so this script compiles a stub library (cc) that
  exports the C entry points the bindings link against (``createInferBuilder_INTERNAL`` and
  friends, all returning NULL) under each needed soname, preloads it, and imports the bindings for
  introspection only::

      /root/.pyenv/versions/3.8.18/bin/python tools/trt_api_manifest.py --wheel tensorrt-cu12-bindings==10.3.0

Output: ``tests/engines/trt_api/tensorrt-<version>.json`` (``--out DIR`` to change the folder).
Needs pip (to download a wheel), cc and nm (binutils) for ``--wheel``.
"""
import argparse
import ctypes
import glob
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "tests", "engines", "trt_api")


def _is_enum(obj):
    return isinstance(obj, type) and hasattr(obj, "__members__")


def _members(cls):
    return sorted(name for name in dir(cls) if not name.startswith("_"))


def manifest_of(module, source):
    """{"version", "source", "classes": {name: [members]}, "enums": {name: [values]}, "functions", "constants"}."""
    classes, enums, functions, constants = {}, {}, [], []
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if _is_enum(obj):
            enums[name] = sorted(obj.__members__)
        elif isinstance(obj, type):
            classes[name] = _members(obj)
            for inner in _members(obj):
                nested = getattr(obj, inner, None)
                if _is_enum(nested):
                    enums["{}.{}".format(name, inner)] = sorted(nested.__members__)
        elif callable(obj):
            functions.append(name)
        elif not isinstance(obj, type(sys)):
            constants.append(name)
    return {"version": str(getattr(module, "__version__", "")), "source": source, "classes": classes,
            "enums": enums, "functions": functions, "constants": constants}


STUB_SYMBOL_RE = re.compile(r"^\s+U ([A-Za-z][A-Za-z0-9_]*|_ZN\d+nv[A-Za-z0-9_]*)$")  # C, or C++ in nv* namespaces


def _undefined_entry_points(so_path):
    """The symbols the bindings import from libnvinfer & co: plain C ones and C++ ones of NVIDIA's
    namespaces (8.6: ``nvcaffeparser1::createCaffeParser``); not libc's, libstdc++'s or Python's."""
    out = subprocess.check_output(["nm", "-D", "--undefined-only", so_path], universal_newlines=True)
    names = []
    for line in out.splitlines():
        match = STUB_SYMBOL_RE.match(line)
        if match and not match.group(1).startswith(("Py", "_Py")):
            names.append(match.group(1))
    return sorted(set(names))


def _needed_nvidia_libs(so_path):
    out = subprocess.check_output(["readelf", "-d", so_path], universal_newlines=True)
    return [n for n in re.findall(r"Shared library: \[([^\]]+)\]", out) if n.startswith("libnv")]


def _build_stubs(so_path, workdir):
    """Compile one stub per needed soname, exporting every entry point as a function returning NULL."""
    symbols = _undefined_entry_points(so_path)
    source = os.path.join(workdir, "stub.c")
    with open(source, "w") as fh:
        fh.write("/* Introspection-only stand-in for libnvinfer & co: every entry point returns NULL. */\n")
        for symbol in symbols:
            fh.write("void *{}(void) {{ return 0; }}\n".format(symbol))
    paths = []
    for soname in _needed_nvidia_libs(so_path):
        path = os.path.join(workdir, soname)
        subprocess.check_call(["cc", "-shared", "-fPIC", "-Wl,-soname," + soname, "-o", path, source])
        paths.append(path)
    return paths, symbols


def module_from_wheel(requirement, workdir):
    """Download a bindings-only wheel, stub its libraries, import it; return (module, source text)."""
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", workdir, requirement])
    wheels = glob.glob(os.path.join(workdir, "*.whl"))
    if len(wheels) != 1:
        raise SystemExit("expected one wheel for {}, got {}".format(requirement, wheels))
    site = os.path.join(workdir, "site")
    with zipfile.ZipFile(wheels[0]) as archive:
        archive.extractall(site)
    packages = [d for d in os.listdir(site) if os.path.exists(os.path.join(site, d, "__init__.py"))]
    if len(packages) != 1:
        raise SystemExit("expected one package in {}, got {}".format(wheels[0], packages))
    package = packages[0]
    binding = glob.glob(os.path.join(site, package, "tensorrt*.so"))[0]
    stubs, symbols = _build_stubs(binding, workdir)
    for path in stubs:
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    sys.path.insert(0, site)
    module = importlib.import_module(package)
    source = "{} (PyPI wheel {}), imported with a stub {} exporting {}".format(
        requirement, os.path.basename(wheels[0]), "/".join(os.path.basename(p) for p in stubs), ", ".join(symbols))
    return module, source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", help="a bindings-only requirement, e.g. tensorrt-cu12-bindings==10.3.0")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for tensorrt-<version>.json")
    args = parser.parse_args(argv)
    if args.wheel:
        workdir = tempfile.mkdtemp(prefix="trt-manifest-")
        module, source = module_from_wheel(args.wheel, workdir)
    else:
        import tensorrt as module

        source = "tensorrt=={} (PyPI wheel, with libnvinfer), imported without a GPU".format(module.__version__)
    manifest = manifest_of(module, source)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "tensorrt-{}.json".format(manifest["version"]))
    with open(path, "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print("{}: {} classes, {} enums, {} functions".format(
        path, len(manifest["classes"]), len(manifest["enums"]), len(manifest["functions"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
