"""TensorRT INT8 calibration: a calibrator factory for the TensorRT backend, and torch2trt's dataset.

``make_int8_calibrator(source, batch_size, cache_path)`` returns an instance of a subclass of
``tensorrt.IInt8EntropyCalibrator2`` (or the MinMax / legacy entropy calibrator) that

* reports ``get_batch_size()`` = the engine's batch size,
* fills one device buffer per ``get_batch(names)`` with the next batch of ``source`` (through the
  backend's CUDA API - pycuda or cuda-python - or pycuda directly) and returns ``[int(pointer)]``;
  ``None`` when the data is used up (a partial last batch is dropped: TensorRT needs full batches),
* reads and writes TensorRT's calibration cache at ``cache_path`` -
  ``<cache_dir>/calibration/trt-<algorithm>-<trt version>-<model16>-<data16>.cache``
  (``trt_cache_path``), the same layout and rules as the ONNX Runtime int8 cache: written atomically
  with a manifest, verified before reuse, deleted with a warning when corrupt, and written only
  after a calibration that served every full batch of the data without an error.

tensorrt (and pycuda when no CUDA API is passed) are imported inside the factory. A CUDA context
must be current (the backend creates it). For an explicit-batch network with a dynamic batch axis
the backend must also set a calibration profile fixed at ``batch_size``
(``config.set_calibration_profile(profile)``). No exception may cross TensorRT's callbacks (8.2
aborts the process; 8.4+ prints it and takes it as the end of the data), so every callback catches
everything, keeps it in ``calibrator.error`` and returns None; after the build the backend calls
``calibrator.raise_if_failed()``, which raises a UsageError naming the data source's error.

Implicit INT8 calibration is deprecated from TensorRT 10.1 ("superseded by explicit
quantization") and gone from TensorRT 11; it still works on 8.x (JetPack 4.6 / 5) and 10.x.

torch2trt takes ``int8_calib_dataset``: ``Torch2trtCalibDataset(source)`` adapts a source
(``dataset[i]`` -> ``[tensor of shape 1 x C x H x W]`` on the CUDA device).
"""
import logging
import os
import time

import numpy as np

from edgebench.calibration import cache
from edgebench.errors import UnsupportedPrecision, UsageError

LOG = logging.getLogger("edgebench.calibration")

TRT_ALGORITHMS = {
    "entropy2": "IInt8EntropyCalibrator2",
    "minmax": "IInt8MinMaxCalibrator",
    "entropy": "IInt8EntropyCalibrator",
}
DEFAULT_TRT_ALGORITHM = "entropy2"
CACHE_MAGIC = b"TRT-"  # TensorRT's calibration cache starts "TRT-<version>-<algorithm>\n"


def trt_version_tuple(version):
    """'8.2.1.8' -> (8, 2, 1, 8): the one TensorRT version helper (edgebench.engines.trt_compat)."""
    from edgebench.engines.trt_compat import version_tuple

    return version_tuple(version)


def trt_cache_path(cache_dir, onnx_sha256, fingerprint, algorithm=DEFAULT_TRT_ALGORITHM, trt_version=None):
    """``<cache_dir>/calibration/trt-<algorithm>-<trt version>-<model16>-<data16>.cache``.

    The TensorRT version is part of the key: a calibration table from another TensorRT is not reused
    (TensorRT itself rejects one whose header names another version, and scales may change)."""
    if algorithm not in TRT_ALGORITHMS:
        raise UsageError(
            "unknown TensorRT calibrator {!r}; choose one of {}".format(algorithm, ", ".join(sorted(TRT_ALGORITHMS)))
        )
    version = ".".join(str(part) for part in trt_version_tuple(trt_version)[:3]) or "unknown"
    return os.path.join(
        cache.calibration_dir(cache_dir),
        "trt-{}-{}-{}-{}.cache".format(algorithm, version, cache.short_hash(onnx_sha256, 16),
                                       cache.short_hash(fingerprint, 16)),
    )


def read_trt_cache(cache_path):
    """The cached calibration bytes, or None (missing, or corrupt and deleted with a warning)."""
    manifest = cache.load_verified(cache_path)
    if manifest is None:
        return None
    with open(cache_path, "rb") as fh:
        data = fh.read()
    if not data.startswith(CACHE_MAGIC):
        cache.discard([cache_path, cache.manifest_path(cache_path)], "not a TensorRT calibration cache")
        return None
    return data


def write_trt_cache(cache_path, data, manifest):
    """Store TensorRT's calibration bytes atomically, with a manifest."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".cache", dir=os.path.dirname(cache_path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return cache.commit(tmp, cache_path, manifest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _import_tensorrt():
    try:
        import tensorrt
    except ImportError:
        raise UnsupportedPrecision("int8 calibration on TensorRT needs the tensorrt module (JetPack)")
    return tensorrt


class _Copies(object):
    """Device buffers for the calibration batches: ``alloc(nbytes)``, ``copy(device, host)``, ``free(device)``."""

    def __init__(self, alloc, copy, free):
        self.alloc, self.copy, self.free = alloc, copy, free


def _copies(cuda):
    """Through the backend's CUDA API (pycuda or cuda-python), or pycuda directly when ``cuda`` is None."""
    if cuda is not None:
        return _Copies(cuda.device_alloc, cuda.htod, cuda.device_free)
    try:
        import pycuda.driver as driver
    except ImportError:
        raise UnsupportedPrecision("int8 calibration on TensorRT needs pycuda (pip3 install pycuda) or "
                                   "cuda-python (pip3 install cuda-python)")
    return _Copies(driver.mem_alloc, driver.memcpy_htod, lambda device: device.free())


def describe_error(exc):
    """'TypeError: bad value' (the data source's own words), for the build's error message."""
    if isinstance(exc, UsageError):
        return str(exc)
    return "{}: {}".format(type(exc).__name__, " ".join(str(exc).split()) or "no message")


def make_int8_calibrator(source, batch_size, cache_path, algorithm=DEFAULT_TRT_ALGORITHM, cuda=None):
    """A TensorRT INT8 calibrator over ``source`` (see the module docstring).

    ``cuda``: the TensorRT backend's CUDA API (``edgebench.engines.cuda_api``), so calibration works
    with pycuda or cuda-python; None uses pycuda directly.
    """
    trt = _import_tensorrt()
    if algorithm not in TRT_ALGORITHMS:
        raise UsageError(
            "unknown TensorRT calibrator {!r}; choose one of {}".format(algorithm, ", ".join(sorted(TRT_ALGORITHMS)))
        )
    base = getattr(trt, TRT_ALGORITHMS[algorithm], None)
    if base is None:
        raise UnsupportedPrecision(
            "TensorRT {} has no {}".format(getattr(trt, "__version__", "?"), TRT_ALGORITHMS[algorithm])
        )
    if trt_version_tuple(getattr(trt, "__version__", "0")) >= (10, 1):
        LOG.info("TensorRT %s: implicit int8 calibration is deprecated (explicit quantization replaces it)",
                 trt.__version__)
    copies = _copies(cuda)
    batch_size = int(batch_size)
    source.check_batch_size(batch_size)

    class EdgebenchCalibrator(base):
        """Every callback catches everything and returns None: in 8.2 an exception escaping a calibrator
        callback ends in std::terminate (no try/catch in python/src/infer/pyInt8.cpp); from 8.4 the
        trampolines catch, print and treat a failed get_batch as the end of the data, which would build
        an engine on a silently shortened calibration. The error is kept (``error``) and the backend
        raises it after the build (``raise_if_failed``); the cache is written only after a calibration
        that used all of the data."""

        def __init__(self):
            base.__init__(self)
            self.batch_size = batch_size
            self.cache_path = cache_path
            self.algorithm = algorithm
            self.source = source
            self.error = None
            self.cache_write_error = None
            self.batches_served = 0
            self.exhausted = False
            self.cache_hit = False
            self._batches = None
            self._device = None
            self._nbytes = 0
            self._started = None

        def get_batch_size(self):
            return self.batch_size

        def get_batch(self, names, *unused):
            try:
                return self._next_batch(names)
            except BaseException as exc:  # noqa: B036 - nothing may cross TensorRT's callback
                self.error = exc
                return None

        def _next_batch(self, names):
            if self.error is not None:
                return None
            if len(names) != 1:
                self.error = UsageError(
                    "int8 calibration feeds models with one input; this network has {} ({})".format(
                        len(names), ", ".join(names)
                    )
                )
                return None
            if self._batches is None:
                self._started = time.time()
                self._batches = self.source.batches(self.batch_size, drop_last=True)
            try:
                batch = next(self._batches)
            except StopIteration:
                self.exhausted = True
                return None
            batch = np.ascontiguousarray(batch, dtype=np.float32)
            if self._device is None:
                self._nbytes = batch.nbytes
                self._device = copies.alloc(self._nbytes)
            copies.copy(self._device, batch)
            self.batches_served += 1
            return [int(self._device)]

        def read_calibration_cache(self):
            try:
                data = read_trt_cache(self.cache_path)
            except BaseException as exc:  # noqa: B036 - nothing may cross TensorRT's callback
                self.error = exc
                return None
            self.cache_hit = data is not None
            if data is not None:
                LOG.info("using the TensorRT calibration cache %s", self.cache_path)
            return data

        def write_calibration_cache(self, data):
            try:
                self._write(data)
            except BaseException as exc:  # noqa: B036 - a cache that cannot be written only costs a rebuild
                self.cache_write_error = exc
                LOG.warning("could not write the TensorRT calibration cache %s: %s", self.cache_path,
                            describe_error(exc))
            return None

        def complete(self):
            """True when the calibration served every full batch of the data and nothing failed."""
            return self.error is None and self.exhausted and self.batches_served > 0

        def _write(self, data):
            data = bytes(data)
            if not self.complete():
                LOG.warning("not caching TensorRT calibration: it did not complete (%d batch(es) served%s)",
                            self.batches_served, ", " + describe_error(self.error) if self.error else "")
                return
            if not data.startswith(CACHE_MAGIC):
                LOG.warning("not caching TensorRT calibration: TensorRT returned an unexpected cache format")
                return
            write_trt_cache(
                self.cache_path,
                data,
                {
                    "tensorrt": getattr(trt, "__version__", None),
                    "algorithm": self.algorithm,
                    "batch_size": self.batch_size,
                    "batches": self.batches_served,
                    "fingerprint": self.source.fingerprint,
                    "calibration": self.source.describe(),
                    "calibrate_s": round(time.time() - (self._started or time.time()), 3),
                    "notes": self.source.warnings(),
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
            )

        def raise_if_failed(self):
            """After the build: the data source's error, as an edgebench error naming it."""
            error = self.error
            if error is None:
                return
            if isinstance(error, (UsageError, KeyboardInterrupt, SystemExit)):
                raise error
            raise UsageError("int8 calibration stopped after {} batch(es): the calibration data {} failed: {}".format(
                self.batches_served, getattr(self.source, "ref", "?"), describe_error(error)))

        def free(self):
            if self._device is not None:
                device, self._device = self._device, None
                copies.free(device)

    return EdgebenchCalibrator()


class Torch2trtCalibDataset(object):
    """torch2trt's ``int8_calib_dataset`` over a calibration source.

    ``len(ds)`` is the number of selected items; ``ds[i]`` is ``[tensor]`` with the image as a
    1 x C x H x W float32 tensor on ``device`` (``batch_axis=False``: C x H x W, what torch2trt 0.4's
    calibrator copies into one slot of its batch buffer). An item that cannot be decoded is replaced by
    the next decodable one (wrapping around), so every index returns an image.
    """

    def __init__(self, source, device="cuda", batch_axis=True):
        self.source = source
        self.device = device
        self.batch_axis = batch_axis

    def __len__(self):
        return self.source.count

    def __getitem__(self, index):
        from edgebench.calibration.preprocess import UndecodableImage

        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        import torch

        for step in range(len(self)):
            try:
                image = self.source.load((index + step) % len(self))
            except UndecodableImage:
                continue
            return [torch.from_numpy((image[None] if self.batch_axis else image).copy()).to(self.device)]
        raise UsageError("calibration data {} has no decodable image".format(self.source.ref))
