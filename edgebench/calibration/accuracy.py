"""Accuracy of a compiled engine on labelled data: top-1 and top-5 over real images.

``evaluate(session_or_callable, data, batch_size)`` runs every labelled batch through
``session.infer(batch)`` (or ``fn(batch)``) and compares the first output's arg-max with the
labels. The last batch is padded to ``batch_size`` (repeating its last image; the padded rows are
ignored) so fixed-batch engines work.

Labelled data (``open_labelled_data(ref, ...)``):

* ``digits`` - the fixed 360-image test split of scikit-learn's digits, 1 x 32 x 32 (digits.py);
* a **.npz** file with ``x`` (float, N x C x H x W, preprocessed) and ``y`` (integer class indices);
* an **ImageNet-style folder**: one sub-folder per class holding that class's images. Sub-folders
  named by integers (``0/``, ``281/``) give those class indices, so a subset of classes can be
  evaluated; otherwise the sorted folder names are the classes 0..K-1, which requires one folder
  per model class (ImageNet synset folders ``n01440764/`` ... sort into the standard order).

Each data set has a fingerprint (SHA-256 of names, contents, labels, preprocessing, limit), stored
as ``data_fingerprint`` with the accuracy.
"""
import hashlib
import json
import logging
import os
import re

import numpy as np

from edgebench.calibration.preprocess import UndecodableImage, decode_image, is_image_name
from edgebench.calibration.sources import evenly_spaced, load_array_file
from edgebench.errors import UsageError

LOG = logging.getLogger("edgebench.calibration")

DIGITS = "digits"


class LabelledData(object):
    """A deterministic sequence of (image float32 C x H x W, label int)."""

    kind = None

    def __init__(self, ref):
        self.ref = str(ref)
        self.name = str(ref)
        self.count = 0
        self.shape = None
        self.fingerprint = None
        self.max_label = -1
        self.skipped = []
        self.used = 0

    def load(self, index):
        raise NotImplementedError

    def label(self, index):
        raise NotImplementedError

    def item_name(self, index):
        return "#{}".format(index)

    def batches(self, batch_size):
        """Yield (x float32 B x C x H x W, y int64 B); undecodable images are skipped and counted."""
        self.skipped = []
        self.used = 0
        xs, ys = [], []
        for index in range(self.count):
            try:
                image = self.load(index)
            except UndecodableImage as exc:
                self.skipped.append((self.item_name(index), str(exc)))
                LOG.warning("skipping %s: cannot decode it (%s)", self.item_name(index), exc)
                continue
            xs.append(image)
            ys.append(self.label(index))
            self.used += 1
            if len(xs) == batch_size:
                yield np.stack(xs), np.asarray(ys, dtype=np.int64)
                xs, ys = [], []
        if xs:
            yield np.stack(xs), np.asarray(ys, dtype=np.int64)

    def check_classes(self, num_classes):
        if num_classes is not None and self.max_label >= num_classes:
            raise UsageError(
                "{} has labels up to {} but the model has {} classes (0..{}); use data labelled for "
                "this model".format(self.name, self.max_label, num_classes, num_classes - 1)
            )

    def describe(self):
        return {
            "kind": self.kind,
            "name": self.name,
            "samples": self.count,
            "used": self.used,
            "skipped": len(self.skipped),
            "fingerprint": self.fingerprint,
        }


def _digest(header):
    digest = hashlib.sha256()
    digest.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return digest


class ArrayLabelled(LabelledData):
    kind = "array"

    def __init__(self, ref, x, y, shape, limit=None, name=None, content_hash=None):
        super(ArrayLabelled, self).__init__(ref)
        self.name = name or str(ref)
        from edgebench.calibration.sources import check_array

        x = check_array(x, shape, self.name, "x")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x):
            raise UsageError(
                "{}: 'y' must be one integer label per row of 'x' ({} rows), got shape {}".format(
                    self.name, len(x), "x".join(str(d) for d in y.shape)
                )
            )
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
                y = y.astype(np.int64)
            else:
                raise UsageError("{}: labels 'y' must be integer class indices, got {}".format(self.name, y.dtype))
        if len(y) and y.min() < 0:
            raise UsageError("{}: labels must be class indices >= 0, found {}".format(self.name, int(y.min())))
        self.shape = tuple(shape)
        self.indices = evenly_spaced(len(x), limit)
        self.count = len(self.indices)
        self._x = x
        self._y = y.astype(np.int64)
        self.max_label = int(self._y[self.indices].max()) if self.count else -1
        digest = _digest({"kind": self.kind, "limit": limit, "rows": len(x), "shape": list(shape)})
        if content_hash is None:
            digest.update(np.ascontiguousarray(x, dtype="<f4").tobytes())
            digest.update(np.ascontiguousarray(self._y, dtype="<i8").tobytes())
        else:
            digest.update(content_hash.encode("ascii"))
        self.fingerprint = digest.hexdigest()

    def load(self, index):
        image = np.asarray(self._x[self.indices[index]], dtype=np.float32)
        if image.ndim == len(self.shape) - 1:
            image = image[None]
        return np.ascontiguousarray(image)

    def label(self, index):
        return int(self._y[self.indices[index]])

    def item_name(self, index):
        return "{}[{}]".format(os.path.basename(self.name), self.indices[index])


_INT_NAME = re.compile(r"^\d+$")


class ImageFolderLabelled(LabelledData):
    kind = "images"

    def __init__(self, root, preprocess, limit=None, num_classes=None):
        super(ImageFolderLabelled, self).__init__(root)
        self.root = os.path.abspath(root)
        self.preprocess = preprocess
        self.shape = preprocess.shape
        classes = []
        for entry in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, entry)
            if entry.startswith(".") or not os.path.isdir(path):
                continue
            files = sorted(f for f in os.listdir(path) if is_image_name(f) and os.path.isfile(os.path.join(path, f)))
            if files:
                classes.append((entry, files))
        if not classes:
            loose = [f for f in os.listdir(self.root) if is_image_name(f)]
            raise UsageError(
                "no class folders with images under {}{}; accuracy needs one sub-folder per class "
                "(e.g. {}/281/cat.jpg), a .npz with x and y, or 'digits'".format(
                    root, " (found {} loose image(s))".format(len(loose)) if loose else "", root
                )
            )
        names = [name for name, _ in classes]
        if all(_INT_NAME.match(n) for n in names):
            labels = [int(n) for n in names]
            self.label_rule = "folder names are class indices"
        else:
            if num_classes is not None and len(names) != num_classes:
                raise UsageError(
                    "{} has {} class folders but the model has {} classes: sorted folder names map to "
                    "class indices only with one folder per class; to evaluate a subset, name the "
                    "folders by class index (e.g. 281/)".format(root, len(names), num_classes)
                )
            labels = list(range(len(names)))
            self.label_rule = "sorted folder names are classes 0..{}".format(len(names) - 1)
        items = []
        for (name, files), label in zip(classes, labels):
            for f in files:
                items.append((name + "/" + f, label))
        selected = [items[i] for i in evenly_spaced(len(items), limit)]
        self.items = selected
        self.count = len(selected)
        self.max_label = max(label for _, label in selected)
        digest = _digest({"kind": self.kind, "limit": limit, "preprocess": preprocess.to_dict()})
        for rel, label in selected:
            digest.update("\0{}\0{}\0".format(rel, label).encode("utf-8", "surrogateescape"))
            try:
                with open(os.path.join(self.root, rel), "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
            except OSError as exc:
                raise UsageError("cannot read {}: {}".format(os.path.join(root, rel), exc.strerror or exc))
        self.fingerprint = digest.hexdigest()

    def load(self, index):
        return decode_image(os.path.join(self.root, self.items[index][0]), self.preprocess)

    def label(self, index):
        return self.items[index][1]

    def item_name(self, index):
        return self.items[index][0]


def open_labelled_data(ref, preprocess=None, shape=None, limit=None, num_classes=None):
    """Open labelled data ``ref`` (``digits``, FILE.npz, or a folder per class) for a model whose
    per-image input is ``preprocess.shape`` (or ``shape``). UsageError with the fix on bad input."""
    if limit is not None and int(limit) <= 0:
        raise UsageError("--limit must be a positive number, got {}".format(limit))
    if shape is None:
        if preprocess is None:
            raise ValueError("open_labelled_data needs preprocess or shape")
        shape = preprocess.shape
    shape = tuple(int(d) for d in shape)
    ref = str(ref)
    if ref == DIGITS:
        from edgebench.calibration import digits

        x, y = digits.digits_split("test")
        if tuple(x.shape[1:]) != shape:
            raise UsageError(
                "the digits data are 1x32x32 images but the model takes {}; use lenet5_digits or a "
                "model with a 1x32x32 input".format("x".join(str(d) for d in shape))
            )
        data = ArrayLabelled(DIGITS, x, y, shape, limit, name="digits (test split)",
                             content_hash=digits.split_hash("test"))
    elif not os.path.exists(ref):
        raise UsageError(
            "labelled data {} does not exist; pass a folder with one sub-folder per class, a .npz "
            "with x and y, or 'digits'".format(ref)
        )
    elif os.path.isdir(ref):
        if preprocess is None:
            raise UsageError(
                "this model's input ({}) is not an image; pass labelled tensors as a .npz with x and "
                "y".format("x".join(str(d) for d in shape))
            )
        data = ImageFolderLabelled(ref, preprocess, limit, num_classes)
    elif ref.lower().endswith(".npz"):
        x, _ = load_array_file(ref, keys=("x",))
        y, _ = _load_key(ref, "y")
        data = ArrayLabelled(os.path.abspath(ref), x, y, shape, limit, name=ref)
    else:
        raise UsageError(
            "labelled data {} is neither a folder per class, a .npz with x and y, nor 'digits'".format(ref)
        )
    data.check_classes(num_classes)
    return data


def _load_key(path, key):
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise UsageError(
                    "{} has no '{}' array (it holds {}); save labels with np.savez(path, x=..., y=...)".format(
                        path, key, ", ".join(archive.files) or "nothing"
                    )
                )
            return archive[key], key
    except (OSError, ValueError) as exc:
        raise UsageError("cannot read {} as a .npz file: {}".format(path, exc))


def evaluate(model, data, batch_size=32, num_classes=None):
    """Top-1/top-5 accuracy (%) of ``model`` on labelled ``data``.

    ``model`` is a Session (``infer(batch) -> first output``) or a callable with the same contract.
    Returns ``{"top1", "top5" (None with fewer than 5 classes), "samples", "skipped"}``.
    Raises UsageError if a label is outside the model's outputs or the output is not one row of
    class scores per image.
    """
    infer = getattr(model, "infer", model)
    batch_size = int(batch_size)
    if batch_size <= 0:
        raise UsageError("batch size must be positive, got {}".format(batch_size))
    data.check_classes(num_classes)
    top1 = top5 = samples = 0
    classes = None
    for x, y in data.batches(batch_size):
        n = len(x)
        if n < batch_size:
            x = np.concatenate([x, np.repeat(x[-1:], batch_size - n, axis=0)])
        out = np.asarray(infer(x))
        if out.ndim < 2 or out.shape[0] < n:
            raise UsageError(
                "the model's first output has shape {}; accuracy needs one row of class scores per "
                "image".format("x".join(str(d) for d in out.shape))
            )
        out = out[:n].reshape(n, -1).astype(np.float64)
        classes = out.shape[1]
        if int(y.max()) >= classes:
            raise UsageError(
                "{} has label {} but the model has {} outputs; use data labelled for this model".format(
                    data.name, int(y.max()), classes
                )
            )
        top1 += int(np.sum(np.argmax(out, axis=1) == y))
        if classes >= 5:
            best5 = np.argpartition(-out, 4, axis=1)[:, :5]
            top5 += int(np.sum(np.any(best5 == y[:, None], axis=1)))
        samples += n
    if samples == 0:
        raise UsageError(
            "no labelled image of {} could be decoded ({} skipped)".format(data.name, len(data.skipped))
        )
    return {
        "top1": 100.0 * top1 / samples,
        "top5": 100.0 * top5 / samples if classes is not None and classes >= 5 else None,
        "samples": samples,
        "skipped": len(data.skipped),
    }
