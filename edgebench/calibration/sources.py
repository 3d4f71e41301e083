"""Calibration data: where INT8 calibration batches come from, and what identifies them.

``open_calibration_source(ref, preprocess, limit=500)`` accepts

* a **folder of images** (jpg, png, ...; searched recursively, hidden files ignored), decoded and
  preprocessed with ``preprocess`` (see ``preprocess.py``);
* a **.npy** file, or a **.npz** file with an ``x`` array (or a single array), holding tensors that
  are already preprocessed: float, shape N x C x H x W (N x H x W for one-channel models);
* ``digits`` - the training split of scikit-learn's bundled digits (1 x 32 x 32; see digits.py);
* ``synthetic`` - random normal tensors. INT8 ranges taken from noise have nothing to do with real
  inputs: this is for plumbing and timing only, and says so loudly.

Order is deterministic: files are sorted by relative path, then ``limit`` of them are taken evenly
spaced over the whole list (so a folder-per-class tree contributes every class, not the first one).
A file that cannot be decoded is skipped and counted (``source.skipped``).

The **fingerprint** (SHA-256 hex) covers the kind, the selected items' names and contents, the
preprocessing parameters and the requested count: any change to the data that would change the
calibration changes it, and it keys every calibration cache.
"""
import hashlib
import json
import logging
import os

import numpy as np

from edgebench.calibration import DEFAULT_CALIB_IMAGES
from edgebench.calibration.preprocess import Preprocess, UndecodableImage, decode_image, is_image_name
from edgebench.errors import UsageError

LOG = logging.getLogger("edgebench.calibration")

FEW_IMAGES_WARNING = 20  # fewer calibration images than this gets a warning
FINGERPRINT_VERSION = 1
SYNTHETIC = "synthetic"
DIGITS = "digits"
SYNTHETIC_WARNING = (
    "SYNTHETIC calibration data: int8 ranges come from random noise, so int8 accuracy and any "
    "int8-vs-fp32 comparison of accuracy are meaningless; pass --calib-data with real images"
)


def evenly_spaced(total, limit):
    """Indices of ``limit`` items spread evenly over ``total`` (all of them if limit >= total)."""
    if limit is None or limit >= total:
        return list(range(total))
    return [int(i * total // limit) for i in range(limit)]


def _hash_file(path, digest=None, chunk=1 << 20):
    digest = digest or hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest


def _fingerprint(header, items=()):
    digest = hashlib.sha256()
    header = dict(header, fingerprint_version=FINGERPRINT_VERSION)
    digest.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    for name, content_hash in items:
        digest.update(b"\0")
        digest.update(name.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
        digest.update(content_hash.encode("ascii"))
    return digest.hexdigest()


class CalibrationSource(object):
    """A deterministic, finite sequence of preprocessed images (float32, C x H x W).

    Subclasses set ``kind``, ``shape``, ``count`` (items selected), ``fingerprint`` and implement
    ``load(i)`` and ``item_name(i)``.
    """

    kind = None
    synthetic = False

    def __init__(self, ref, requested):
        self.ref = str(ref)
        self.requested = requested
        self.count = 0
        self.shape = None
        self.fingerprint = None
        self.skipped = []  # (item name, reason) of items that could not be decoded
        self.used = 0  # images yielded by the last full pass

    def load(self, index):
        raise NotImplementedError

    def item_name(self, index):
        return "#{}".format(index)

    def iter_images(self):
        """Yield every decodable image once, in order; undecodable ones are skipped and counted
        (``skipped``, ``used`` describe the last pass)."""
        self.skipped = []
        self.used = 0
        for index in range(self.count):
            try:
                image = self.load(index)
            except UndecodableImage as exc:
                self.skipped.append((self.item_name(index), str(exc)))
                LOG.warning("skipping %s: cannot decode it (%s)", self.item_name(index), exc)
                continue
            self.used += 1
            yield image

    def _decodable(self):
        """Decodable images in order, without touching the pass counters."""
        for index in range(self.count):
            try:
                yield self.load(index)
            except UndecodableImage:
                continue

    def check_batch_size(self, batch_size):
        if self.count < batch_size:
            raise UsageError(
                "calibration data {} has {} image(s), fewer than one batch of {}; add images, raise "
                "--calib-images, or calibrate with a smaller batch".format(self.ref, self.count, batch_size)
            )

    def batches(self, batch_size, drop_last=False):
        """Yield float32 arrays of ``batch_size`` images (the last one smaller unless ``drop_last``).

        Raises UsageError when not even one batch can be filled.
        """
        batch_size = int(batch_size)
        self.check_batch_size(batch_size)
        buf = []
        produced = 0
        for image in self.iter_images():
            buf.append(image)
            if len(buf) == batch_size:
                produced += 1
                yield np.stack(buf)
                buf = []
        if buf and not drop_last:
            produced += 1
            yield np.stack(buf)
        if not produced:
            raise UsageError(
                "calibration data {} gave {} decodable image(s) ({} could not be decoded), fewer than "
                "one batch of {}; add images that can be decoded".format(
                    self.ref, self.used, len(self.skipped), batch_size
                )
            )

    def first_batch(self, batch_size):
        """The first batch of up to ``batch_size`` decodable images (for quick output checks)."""
        buf = []
        for image in self._decodable():
            buf.append(image)
            if len(buf) == batch_size:
                break
        if not buf:
            raise UsageError("calibration data {} has no decodable image".format(self.ref))
        return np.stack(buf)

    def warnings(self):
        """Caveats to store with results that used this source."""
        out = []
        if self.synthetic:
            out.append(SYNTHETIC_WARNING)
        elif self.count < FEW_IMAGES_WARNING:
            out.append(
                "only {} calibration image(s): int8 ranges from so few may not cover real inputs "
                "(about 500 are usual)".format(self.count)
            )
        if self.skipped:
            out.append("{} calibration file(s) could not be decoded and were skipped".format(len(self.skipped)))
        return out

    def describe(self):
        return {
            "kind": self.kind,
            "ref": self.ref,
            "requested": self.requested,
            "selected": self.count,
            "used": self.used,
            "skipped": len(self.skipped),
            "skipped_items": [name for name, _ in self.skipped[:20]],
            "shape": list(self.shape) if self.shape else None,
            "fingerprint": self.fingerprint,
            "synthetic": self.synthetic,
        }


class ImageFolderSource(CalibrationSource):
    kind = "images"

    def __init__(self, folder, preprocess, limit=DEFAULT_CALIB_IMAGES):
        super(ImageFolderSource, self).__init__(folder, limit)
        self.folder = os.path.abspath(folder)
        self.preprocess = preprocess
        self.shape = preprocess.shape
        names = list_images(self.folder)
        if not names:
            raise UsageError(
                "no images (.jpg, .png, ...) found under {}; pass a folder of images, a .npy/.npz file "
                "of preprocessed tensors, or 'synthetic'".format(folder)
            )
        self.total = len(names)
        self.names = [names[i] for i in evenly_spaced(len(names), limit)]
        self.count = len(self.names)
        items = []
        for name in self.names:
            path = os.path.join(self.folder, name)
            try:
                items.append((name, _hash_file(path).hexdigest()))
            except OSError as exc:
                raise UsageError("cannot read {}: {}".format(path, exc.strerror or exc))
        self.fingerprint = _fingerprint(
            {"kind": self.kind, "requested": limit, "preprocess": preprocess.to_dict()}, items
        )

    def item_name(self, index):
        return self.names[index]

    def load(self, index):
        return decode_image(os.path.join(self.folder, self.names[index]), self.preprocess)


def list_images(folder):
    """Image files under ``folder`` (recursive), as sorted '/'-separated relative paths."""
    found = []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, folder)
        for name in filenames:
            if is_image_name(name):
                found.append(name if rel == "." else os.path.join(rel, name).replace(os.sep, "/"))
    return sorted(found)


class ArraySource(CalibrationSource):
    """Preprocessed tensors from a .npy or .npz file (or an in-memory array)."""

    kind = "array"

    def __init__(self, ref, array, shape, limit, content_hash, key=None):
        super(ArraySource, self).__init__(ref, limit)
        array = check_array(array, shape, ref, key)
        self.shape = tuple(shape)
        self.indices = evenly_spaced(len(array), limit)
        self.count = len(self.indices)
        self._array = array
        self.fingerprint = _fingerprint(
            {"kind": self.kind, "requested": limit, "key": key, "shape": list(self.shape), "rows": len(array)},
            [("data", content_hash)],
        )

    def load(self, index):
        image = np.asarray(self._array[self.indices[index]], dtype=np.float32)
        if image.ndim == len(self.shape) - 1:
            image = image[None]
        if not np.all(np.isfinite(image)):
            raise UsageError(
                "{} row {} holds NaN or infinite values; calibration tensors must be finite".format(
                    self.ref, self.indices[index]
                )
            )
        return np.ascontiguousarray(image)

    def item_name(self, index):
        return "{}[{}]".format(os.path.basename(self.ref), self.indices[index])


def _shape_text(shape):
    return "x".join(str(d) for d in shape)


def check_array(array, shape, ref, key=None):
    """Validate an N x C x H x W float array against the model's per-image ``shape``."""
    what = "{}{}".format(ref, "[{!r}]".format(key) if key else "")
    if array.dtype.kind != "f":
        raise UsageError(
            "{} holds {} values; calibration arrays must be preprocessed float tensors (normalised, "
            "N x {}), or pass a folder of images".format(what, array.dtype, _shape_text(shape))
        )
    per_image = tuple(array.shape[1:])
    grey_ok = len(shape) == 3 and shape[0] == 1 and per_image == tuple(shape[1:])
    if array.ndim < 2 or (per_image != tuple(shape) and not grey_ok):
        raise UsageError(
            "{} has shape {} but the model takes N x {}; save arrays of that shape, or pass a folder "
            "of images to be resized".format(what, _shape_text(array.shape), _shape_text(shape))
        )
    if len(array) == 0:
        raise UsageError("{} holds no rows".format(what))
    return array


def load_array_file(path, keys=("x",)):
    """(array, key) from a .npy file or a .npz archive (the first of ``keys`` present, or its only array)."""
    try:
        if path.lower().endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.files)
                key = next((k for k in keys if k in names), None)
                if key is None:
                    if len(names) != 1:
                        raise UsageError(
                            "{} holds arrays {}; name the calibration tensors 'x' (np.savez(path, x=...))".format(
                                path, ", ".join(names) or "(none)"
                            )
                        )
                    key = names[0]
                return archive[key], key
        return np.load(path, mmap_mode="r", allow_pickle=False), None
    except UsageError:
        raise
    except (OSError, ValueError) as exc:
        raise UsageError("cannot read {} as a numpy array file: {}".format(path, exc))


class SyntheticSource(CalibrationSource):
    kind = SYNTHETIC
    synthetic = True

    def __init__(self, shape, limit=DEFAULT_CALIB_IMAGES, seed=0):
        super(SyntheticSource, self).__init__(SYNTHETIC, limit)
        self.shape = tuple(int(d) for d in shape)
        self.count = int(limit or DEFAULT_CALIB_IMAGES)
        self.seed = int(seed)
        self.fingerprint = _fingerprint(
            {"kind": self.kind, "requested": self.count, "shape": list(self.shape), "seed": self.seed}
        )

    def load(self, index):
        rng = np.random.RandomState((self.seed * 1000003 + index) % (2 ** 32))
        return rng.standard_normal(self.shape).astype(np.float32)


def open_calibration_source(ref, preprocess=None, limit=DEFAULT_CALIB_IMAGES, shape=None, seed=0):
    """Open calibration data ``ref`` for a model whose per-image input is ``preprocess.shape``
    (or ``shape`` when only arrays are acceptable). Raises UsageError with the fix on bad input."""
    if limit is not None and int(limit) <= 0:
        raise UsageError("--calib-images must be a positive number, got {}".format(limit))
    limit = int(limit) if limit is not None else None
    if shape is None:
        if preprocess is None:
            raise ValueError("open_calibration_source needs preprocess or shape")
        shape = preprocess.shape
    shape = tuple(int(d) for d in shape)
    ref = str(ref)
    if ref == SYNTHETIC:
        LOG.warning("%s", SYNTHETIC_WARNING)
        return SyntheticSource(shape, limit, seed)
    if ref == DIGITS:
        from edgebench.calibration import digits

        x, _ = digits.digits_split("train")
        return ArraySource(DIGITS, x, shape, limit, digits.split_hash("train"), key="train")
    if not os.path.exists(ref):
        raise UsageError(
            "calibration data {} does not exist; pass a folder of images, a .npy/.npz file, 'digits' "
            "or 'synthetic'".format(ref)
        )
    if os.path.isdir(ref):
        if preprocess is None:
            raise UsageError(
                "this model's input ({}) is not an image; pass preprocessed tensors as a .npy/.npz "
                "file".format(_shape_text(shape))
            )
        return ImageFolderSource(ref, preprocess, limit)
    if ref.lower().endswith((".npy", ".npz")):
        array, key = load_array_file(ref)
        return ArraySource(os.path.abspath(ref), array, shape, limit, _hash_file(ref).hexdigest(), key=key)
    raise UsageError(
        "calibration data {} is neither a folder of images nor a .npy/.npz file".format(ref)
    )


def check_calibration_ref(ref):
    """Cheap up-front check of ``--calib-data`` (before a sweep starts); UsageError if unusable."""
    ref = str(ref)
    if ref in (SYNTHETIC, DIGITS):
        return
    if not os.path.exists(ref):
        raise UsageError(
            "calibration data {} does not exist; pass a folder of images, a .npy/.npz file, 'digits' "
            "or 'synthetic'".format(ref)
        )
    if os.path.isdir(ref):
        names = list_images(ref)
        if not names:
            raise UsageError("no images (.jpg, .png, ...) found under {}".format(ref))
        _check_some_image_decodes(ref, names)
    elif not ref.lower().endswith((".npy", ".npz")):
        raise UsageError("calibration data {} is neither a folder of images nor a .npy/.npz file".format(ref))


def _check_some_image_decodes(folder, names):
    """UsageError before the run when not one image under ``folder`` decodes (stops at the first that does;
    the undecodable ones among the rest are skipped with a warning during calibration)."""
    from edgebench.calibration.preprocess import import_pil

    Image = import_pil()
    first_error = None
    for name in names:
        try:
            with Image.open(os.path.join(folder, name)) as img:
                img.load()
            return
        except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, DecompressionBombError...
            first_error = first_error or "{}: {}: {}".format(name, type(exc).__name__, str(exc).strip()[:120])
    raise UsageError("none of the {} images under {} can be decoded ({}); pass a folder of real images, a "
                     ".npy/.npz file, 'digits' or 'synthetic'".format(len(names), folder, first_error))


__all__ = [
    "DEFAULT_CALIB_IMAGES",
    "SYNTHETIC_WARNING",
    "ArraySource",
    "CalibrationSource",
    "ImageFolderSource",
    "Preprocess",
    "SyntheticSource",
    "check_calibration_ref",
    "open_calibration_source",
]
