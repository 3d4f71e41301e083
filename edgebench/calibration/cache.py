"""Calibration caches: plain files under ``<cache_dir>/calibration/``, written atomically.

One artifact per (model hash, calibration-data fingerprint, algorithm[, options, versions])::

    ort-int8-<model16>-<key16>.onnx   ONNX Runtime QDQ model, with a .json manifest beside it
    trt-<algorithm>-<model16>-<data16>.cache   TensorRT's calibration cache bytes

Rules every writer here follows:

* write to a temporary file in the same directory and ``os.replace`` it into place, so a crash or a
  failed calibration never leaves a partial file under the final name;
* a manifest (``.json``) is written last and carries the artifact's SHA-256; an artifact without a
  matching manifest is corrupt;
* a corrupt file is deleted with a warning and rebuilt, never trusted.

Nothing is pickled.
"""
import hashlib
import json
import logging
import os

from edgebench._files import atomic_write_bytes, atomic_write_json, read_json, sha256_file  # noqa: F401
from edgebench.errors import UsageError

LOG = logging.getLogger("edgebench.calibration")

SUBDIR = "calibration"
CACHE_FILE_MODE = 0o644
STALE_BUILD_S = 6 * 3600  # leftovers of a killed build older than this are removed


def calibration_dir(cache_dir):
    """``<cache_dir>/calibration``, created if needed; UsageError if it cannot be."""
    path = os.path.join(str(cache_dir), SUBDIR)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            "cannot create the calibration cache directory {} ({}); pass --cache-dir DIR".format(
                path, exc.strerror or exc
            )
        )
    remove_stale_builds(path)
    return path


def remove_stale_builds(directory, max_age_s=STALE_BUILD_S):
    """Delete temporary files and build directories a killed process left behind (old ones only,
    so a build running in another process is never touched)."""
    import shutil
    import time

    now = time.time()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith((".build-", ".tmp-")):
            continue
        path = os.path.join(directory, name)
        try:
            if now - os.path.getmtime(path) < max_age_s:
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            continue


def short_hash(text, length=16):
    """First ``length`` hex digits of a hex digest (or of the SHA-256 of any other string)."""
    text = str(text)
    if len(text) >= length and all(c in "0123456789abcdef" for c in text[:length]):
        return text[:length]
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def key_of(material):
    """SHA-256 of a JSON-serialisable dict, canonically encoded."""
    blob = json.dumps(material, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def discard(paths, reason):
    """Delete a corrupt cache entry (all of its files) with a warning saying it will be rebuilt."""
    paths = [p for p in paths if p and os.path.exists(p)]
    if not paths:
        return
    LOG.warning("calibration cache %s is corrupt (%s); deleting it and rebuilding", paths[0], reason)
    for path in paths:
        try:
            os.unlink(path)
        except OSError as exc:
            LOG.warning("could not delete %s: %s", path, exc.strerror or exc)


def manifest_path(artifact_path):
    return os.path.splitext(artifact_path)[0] + ".json"


def load_verified(artifact_path):
    """The manifest of a cached artifact if the artifact is intact, else None.

    A present but unusable entry (no manifest, unreadable manifest, size or SHA-256 mismatch) is
    discarded with a warning. A missing artifact is simply a cache miss.
    """
    manifest = manifest_path(artifact_path)
    if not os.path.exists(artifact_path):
        if os.path.exists(manifest):
            discard([manifest], "manifest without its artifact")
        return None
    info = read_json(manifest)
    if info is None:
        discard([artifact_path, manifest], "missing or unreadable manifest")
        return None
    try:
        size = os.path.getsize(artifact_path)
        digest = sha256_file(artifact_path)
    except OSError as exc:
        discard([artifact_path, manifest], "unreadable: {}".format(exc.strerror or exc))
        return None
    if info.get("artifact_size") != size or info.get("artifact_sha256") != digest:
        discard([artifact_path, manifest], "contents do not match the manifest")
        return None
    return info


def commit(tmp_artifact, artifact_path, manifest):
    """Move a finished artifact into place, then write its manifest (the commit marker)."""
    manifest = dict(manifest)
    manifest["artifact_size"] = os.path.getsize(tmp_artifact)
    manifest["artifact_sha256"] = sha256_file(tmp_artifact)
    manifest["artifact"] = os.path.basename(artifact_path)
    os.chmod(tmp_artifact, CACHE_FILE_MODE)
    os.replace(tmp_artifact, artifact_path)
    atomic_write_json(manifest_path(artifact_path), manifest)
    return manifest
