"""Installed distribution versions without importing the distributions (torch takes seconds)."""
import os
import re
import sys

_NORMALISE = re.compile(r"[-_.]+")


def _norm(name):
    return _NORMALISE.sub("_", name).lower()


def dist_version(name):
    """Version string of installed distribution ``name`` (e.g. ``"torch"``), or None."""
    try:
        from importlib import metadata  # Python 3.8+
    except ImportError:
        metadata = None
    if metadata is not None:
        try:
            return metadata.version(name)
        except Exception:  # PackageNotFoundError, or a broken dist-info
            return None
    wanted = _norm(name)
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for fname in names:
            for suffix in (".dist-info", ".egg-info"):
                if not fname.endswith(suffix):
                    continue
                stem = fname[: -len(suffix)]
                dist, _, version = stem.partition("-")
                if _norm(dist) == wanted and version:
                    return version.split("-")[0]
    return None
