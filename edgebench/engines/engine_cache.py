"""The engine cache for compiled plans: ``<cache_dir>/engines/<backend>/``.

One plan per key; the key is the SHA-256 of everything that makes a plan different (model bytes,
precision, batch profile, TensorRT version, GPU and compute capability, builder options,
calibration data). Files::

    <model>-<precision>-b<batch>-<key16>.plan    the serialized engine, exactly as TensorRT wrote it
    <model>-<precision>-b<batch>-<key16>.json    manifest: key material, plan size, build time
    timing-<gpu>-trt<version>.cache              TensorRT's timing cache, shared by all builds

Rules: the plan is written to a temporary file and renamed into place, then the manifest (also
atomically); a plan without a manifest, or whose size differs from it, is not trusted. A plan that
TensorRT refuses to deserialize is deleted with a warning and rebuilt by the caller. Plans are not
hashed on every load: a VGG plan is half a gigabyte and a Nano hashes ~200 MB/s.
"""
import hashlib
import json
import logging
import os
import time

from edgebench._files import atomic_write_bytes, atomic_write_json, read_json
from edgebench.errors import UsageError

LOG = logging.getLogger("edgebench.engines")

FORMAT = 1  # bump when the key material or the file layout changes


def safe_name(text, limit=60):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in str(text))[:limit] or "model"


def key_of(material):
    blob = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


class PlanCache(object):
    def __init__(self, cache_dir, backend):
        self.directory = os.path.join(str(cache_dir), "engines", backend)
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as exc:
            raise UsageError("cannot create the engine cache {} ({}); pass --cache-dir DIR".format(
                self.directory, exc.strerror or exc))

    def plan_path(self, model, precision, batch_label, material):
        material = dict(material, format=FORMAT)
        key = key_of(material)
        stem = "{}-{}-b{}-{}".format(safe_name(model), precision, batch_label, key[:16])
        return os.path.join(self.directory, stem + ".plan")

    @staticmethod
    def manifest_path(plan_path):
        return os.path.splitext(plan_path)[0] + ".json"

    def timing_cache_path(self, gpu_label, version):
        name = "timing-{}-trt{}.cache".format(safe_name(gpu_label, 40), safe_name(version))
        return os.path.join(self.directory, name)

    def manifest(self, plan_path):
        return read_json(self.manifest_path(plan_path))

    def load(self, plan_path):
        """The plan bytes when a trusted plan is cached, else None (a bad entry is removed)."""
        manifest = self.manifest(plan_path)
        if manifest is None:
            if os.path.exists(plan_path):
                self.discard(plan_path, "it has no manifest (an interrupted write?)")
            return None
        try:
            size = os.path.getsize(plan_path)
        except OSError:
            self.discard(plan_path, "the plan file is missing")
            return None
        if size != manifest.get("plan_bytes"):
            self.discard(plan_path, "its size ({} bytes) differs from the manifest ({})".format(
                size, manifest.get("plan_bytes")))
            return None
        with open(plan_path, "rb") as fh:
            return fh.read()

    def store(self, plan_path, plan, manifest):
        """Write ``plan`` (bytes or a buffer) then its manifest, each atomically; return the size in bytes."""
        atomic_write_bytes(plan_path, plan)
        size = os.path.getsize(plan_path)
        record = dict(manifest)
        record.update(plan_bytes=size, created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        atomic_write_json(self.manifest_path(plan_path), record)
        return size

    def discard(self, plan_path, reason):
        LOG.warning("discarding cached engine %s: %s; it will be rebuilt", plan_path, reason)
        for path in (plan_path, self.manifest_path(plan_path)):
            try:
                os.unlink(path)
            except OSError:
                pass

    @staticmethod
    def read_bytes(path):
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (OSError, IOError):
            return None

    @staticmethod
    def write_bytes(path, data):
        atomic_write_bytes(path, data)
