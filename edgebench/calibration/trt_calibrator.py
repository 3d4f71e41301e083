"""TensorRT INT8 calibration: a calibrator factory for the TensorRT backend, and torch2trt's dataset.

``make_int8_calibrator(source, batch_size, cache_path)`` returns an instance of a subclass of
``tensorrt.IInt8EntropyCalibrator2`` (or the MinMax / legacy entropy calibrator) that

* reports ``get_batch_size()`` = the engine's batch size,
* fills one device buffer per ``get_batch(names)`` with the next batch of ``source`` (pycuda
  ``mem_alloc`` + ``memcpy_htod``) and returns ``[int(pointer)]``; ``None`` when the data is used up
  (a partial last batch is dropped: TensorRT needs full batches),
* reads and writes TensorRT's calibration cache at ``cache_path`` -
  ``<cache_dir>/calibration/trt-<algorithm>-<model16>-<data16>.cache`` (``trt_cache_path``), the
  same layout and rules as the ONNX Runtime int8 cache: written atomically with a manifest, verified
  before reuse, deleted with a warning when corrupt, never written after a failed calibration.

tensorrt and pycuda are imported inside the factory. A CUDA context must be current (the backend
creates it, e.g. ``import pycuda.autoinit``). For an explicit-batch network with a dynamic batch
axis the backend must also set a calibration profile fixed at ``batch_size``
(``config.set_calibration_profile(profile)``). Exceptions cannot cross TensorRT's callbacks
cleanly, so data errors are kept in ``calibrator.error``; after a failed build call
``calibrator.raise_if_failed()`` to surface them (a UsageError saying what to fix).

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


def trt_cache_path(cache_dir, onnx_sha256, fingerprint, algorithm=DEFAULT_TRT_ALGORITHM):
    if algorithm not in TRT_ALGORITHMS:
        raise UsageError(
            "unknown TensorRT calibrator {!r}; choose one of {}".format(algorithm, ", ".join(sorted(TRT_ALGORITHMS)))
        )
    return os.path.join(
        cache.calibration_dir(cache_dir),
        "trt-{}-{}-{}.cache".format(algorithm, cache.short_hash(onnx_sha256, 16), cache.short_hash(fingerprint, 16)),
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


def _import_cuda_driver():
    try:
        import pycuda.driver as cuda
    except ImportError:
        raise UnsupportedPrecision("int8 calibration on TensorRT needs pycuda: pip3 install pycuda")
    return cuda


def make_int8_calibrator(source, batch_size, cache_path, algorithm=DEFAULT_TRT_ALGORITHM):
    """A TensorRT INT8 calibrator over ``source`` (see the module docstring)."""
    trt = _import_tensorrt()
    cuda = _import_cuda_driver()
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
    batch_size = int(batch_size)
    source.check_batch_size(batch_size)

    class EdgebenchCalibrator(base):
        def __init__(self):
            base.__init__(self)
            self.batch_size = batch_size
            self.cache_path = cache_path
            self.algorithm = algorithm
            self.source = source
            self.error = None
            self.batches_served = 0
            self.cache_hit = False
            self._batches = None
            self._device = None
            self._nbytes = 0
            self._started = None

        def get_batch_size(self):
            return self.batch_size

        def get_batch(self, names, *unused):
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
                return None
            except UsageError as exc:
                self.error = exc
                return None
            batch = np.ascontiguousarray(batch, dtype=np.float32)
            if self._device is None:
                self._nbytes = batch.nbytes
                self._device = cuda.mem_alloc(self._nbytes)
            cuda.memcpy_htod(self._device, batch)
            self.batches_served += 1
            return [int(self._device)]

        def read_calibration_cache(self):
            data = read_trt_cache(self.cache_path)
            self.cache_hit = data is not None
            if data is not None:
                LOG.info("using the TensorRT calibration cache %s", self.cache_path)
            return data

        def write_calibration_cache(self, data):
            data = bytes(data)
            if self.error is not None or not self.batches_served:
                LOG.warning("not caching TensorRT calibration: the calibration did not complete")
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
            if self.error is not None:
                raise self.error

        def free(self):
            if self._device is not None:
                self._device.free()
                self._device = None

    return EdgebenchCalibrator()


class Torch2trtCalibDataset(object):
    """torch2trt's ``int8_calib_dataset`` over a calibration source.

    ``len(ds)`` is the number of selected items; ``ds[i]`` is ``[tensor]`` with the image as a
    1 x C x H x W float32 tensor on ``device``. An item that cannot be decoded is replaced by the
    next decodable one (wrapping around), so every index returns an image.
    """

    def __init__(self, source, device="cuda"):
        self.source = source
        self.device = device

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
            return [torch.from_numpy(image[None].copy()).to(self.device)]
        raise UsageError("calibration data {} has no decodable image".format(self.source.ref))
