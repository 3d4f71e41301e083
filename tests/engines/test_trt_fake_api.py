"""The FAKE tensorrt (fake_trt_site) offers only names the REAL module of the same version has.

The manifests in trt_api/ were written by tools/trt_api_manifest.py from NVIDIA's real modules:
8.5.2.2 from the full PyPI wheel, 8.6.1 / 10.3.0 (JetPack 6) / 10.13.3.9 (JetPack 7) from the
bindings-only wheels imported with a stub libnvinfer. A name the fake defines that the real module
lacks would let the glue pass tests against an API that does not exist.
"""
import glob
import json
import os

import pytest
import trt_fakes

MANIFEST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trt_api")
MANIFESTS = {}
for _path in sorted(glob.glob(os.path.join(MANIFEST_DIR, "tensorrt-*.json"))):
    with open(_path) as _fh:
        _manifest = json.load(_fh)
    MANIFESTS[_manifest["version"]] = _manifest
VERSIONS = sorted(MANIFESTS)
FAKE_ONLY = ("fake_world",)  # the fake's handle on its invented GPU, documented as such


def _fake(version):
    return trt_fakes.fake_lib().World(version=version, gpu="orin").trt


def _is_enum(obj):
    return isinstance(obj, type) and getattr(obj, "_fake_enum", False)


def _public(cls):
    """Public names the fake class itself defines (not those of a builtin base such as bytes)."""
    names = set()
    for klass in cls.__mro__:
        if klass.__module__ != "builtins":
            names.update(n for n in vars(klass) if not n.startswith("_"))
    return names | set(getattr(cls, "_fake_attributes", ()))


def test_manifests_cover_jetpack_5_6_and_7():
    assert {"8.5.2.2", "10.3.0"} <= set(VERSIONS)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_module_level_name_of_the_fake_exists_in_the_real_module(version):
    real = MANIFESTS[version]
    known = set(real["classes"]) | set(real["enums"]) | set(real["functions"]) | set(real["constants"])
    fake = _fake(version)
    names = [n for n in dir(fake) if not n.startswith("_") and n not in FAKE_ONLY]
    assert sorted(n for n in names if n not in known) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_every_member_of_every_fake_class_exists_on_the_real_class(version):
    real = MANIFESTS[version]
    fake = _fake(version)
    missing = {}
    for name in dir(fake):
        obj = getattr(fake, name)
        if name.startswith("_") or not isinstance(obj, type) or _is_enum(obj):
            continue
        extra = sorted(m for m in _public(obj) - set(real["classes"].get(name, ()))
                       if not _is_enum(getattr(obj, m, None)))
        if extra:
            missing[name] = extra
    assert missing == {}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_enum_value_of_the_fake_exists_in_the_real_enum(version):
    real = MANIFESTS[version]
    fake = _fake(version)
    enums = {}
    for name in dir(fake):
        obj = getattr(fake, name)
        if _is_enum(obj):
            enums[name] = obj
        elif isinstance(obj, type):
            enums.update(("{}.{}".format(name, m), getattr(obj, m)) for m in _public(obj)
                         if _is_enum(getattr(obj, m, None)))
    missing = dict((name, sorted(_public(enum) - set(real["enums"].get(name, ())))) for name, enum in enums.items())
    assert dict((k, v) for k, v in missing.items() if v) == {}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fake_exports_the_classes_the_glue_touches(version):
    fake = _fake(version)
    assert all(hasattr(fake, name) for name in ("Builder", "Runtime", "ICudaEngine", "IExecutionContext",
                                                "IBuilderConfig", "INetworkDefinition", "ParserError"))
