"""``lenet5_digits``: a real, offline accuracy check - LeNet-5 trained on scikit-learn's digits.

Data: the 1,797 8x8 digits bundled with scikit-learn (``sklearn.datasets.load_digits``, values
0..16, white ink on black), scaled to [0, 1], upsampled to 32x32 by bilinear interpolation (pixel
centres aligned, as ``torch.nn.functional.interpolate(..., align_corners=False)``), then normalised
with ``DIGITS_MEAN``/``DIGITS_STD``. A fixed permutation (``numpy.random.RandomState(2016)``, stable
across numpy versions) puts the first 360 images in the **test** split and the other 1,437 in the
**train** split. INT8 calibration uses the train split, accuracy the test split, so they never
overlap.

Model: LeNet-5 as ``edgebench.models.defs.LeNet5`` (1x32x32 -> Conv 6@5x5 -> ReLU -> MaxPool 2 ->
Conv 16@5x5 -> ReLU -> MaxPool 2 -> FC 400-120-84-10), trained with torch on the CPU: fixed seeds,
one thread, deterministic algorithms, a fixed shuffle; a few seconds. The trained weights are cached
as ``<cache_dir>/models/lenet5_digits-<recipe16>.npz`` (plain arrays, no pickle) with a JSON manifest
recording the recipe, versions and the test accuracy torch measured.

Nothing here imports torch or scikit-learn at import time.
"""
import hashlib
import logging
import os
import tempfile
import time

import numpy as np

from edgebench.calibration import cache
from edgebench.calibration.digits_recipe import (  # noqa: F401 - re-exported
    DIGITS_MEAN,
    DIGITS_STD,
    IMAGE_SIZE,
    MODEL_NAME,
    NUM_CLASSES,
    RECIPE,
    SPLIT_SEED,
    TEST_SIZE,
    recipe_key,
)
from edgebench.errors import UsageError

LOG = logging.getLogger("edgebench.calibration")

_SPLITS = {}  # split name -> (x, y), computed once per process


def interpolation_matrix(n_in, n_out):
    """(n_out, n_in) bilinear weights with pixel centres aligned (align_corners=False)."""
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        src = (i + 0.5) * n_in / float(n_out) - 0.5
        src = min(max(src, 0.0), n_in - 1.0)
        lo = int(np.floor(src))
        hi = min(lo + 1, n_in - 1)
        frac = src - lo
        weights[i, lo] += 1.0 - frac
        weights[i, hi] += frac
    return weights


def upsample(images, size=IMAGE_SIZE):
    """(N, h, w) -> (N, size, size) by separable bilinear interpolation."""
    rows = interpolation_matrix(images.shape[1], size)
    cols = interpolation_matrix(images.shape[2], size)
    return np.einsum("ij,njk,lk->nil", rows, images, cols)


def _load_sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UsageError(
            "the digits data set comes with scikit-learn: pip install scikit-learn "
            "(scikit-learn==0.24.2 on Python 3.6)"
        )
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def digits_split(split):
    """(x float32 N x 1 x 32 x 32 normalised, y int64 N) of the ``train`` or ``test`` split."""
    if split not in ("train", "test"):
        raise ValueError("split must be 'train' or 'test', not {!r}".format(split))
    if split not in _SPLITS:
        data, target = _load_sklearn_digits()
        images = upsample(data.reshape(-1, 8, 8) / 16.0)
        images = (images - DIGITS_MEAN[0]) / DIGITS_STD[0]
        x = images.astype(np.float32)[:, None, :, :]
        order = np.random.RandomState(SPLIT_SEED).permutation(len(x))
        test, train = order[:TEST_SIZE], order[TEST_SIZE:]
        _SPLITS["test"] = (np.ascontiguousarray(x[test]), target[test].copy())
        _SPLITS["train"] = (np.ascontiguousarray(x[train]), target[train].copy())
    return _SPLITS[split]


def split_hash(split):
    """SHA-256 of a split's arrays (identifies the data in fingerprints)."""
    x, y = digits_split(split)
    digest = hashlib.sha256(("digits-" + split).encode("ascii"))
    digest.update(np.ascontiguousarray(x, dtype="<f4").tobytes())
    digest.update(np.ascontiguousarray(y, dtype="<i8").tobytes())
    return digest.hexdigest()


def weights_path(cache_dir):
    directory = os.path.join(str(cache_dir), "models")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            "cannot create {} ({}); pass --cache-dir DIR".format(directory, exc.strerror or exc)
        )
    return os.path.join(directory, "{}-{}.npz".format(MODEL_NAME, recipe_key()[:16]))


# ----------------------------------------------------------------------------- torch side


def _import_torch():
    try:
        import torch
    except ImportError:
        raise UsageError(
            "training lenet5_digits needs torch: pip install 'edgebench[zoo]' (or use a machine with "
            "torch and copy the exported ONNX file)"
        )
    return torch


class _Deterministic(object):
    """Single thread, fixed seeds, deterministic kernels; restores the previous settings."""

    def __init__(self, torch):
        self.torch = torch

    def __enter__(self):
        torch = self.torch
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self.det = None
        if hasattr(torch, "are_deterministic_algorithms_enabled"):
            self.det = torch.are_deterministic_algorithms_enabled()
            torch.use_deterministic_algorithms(True)
        torch.manual_seed(RECIPE["torch_seed"])
        return self

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.threads)
        if self.det is not None:
            self.torch.use_deterministic_algorithms(self.det)
        return False


def _accuracy_torch(torch, model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
    return 100.0 * float((logits.argmax(1).numpy() == y).mean())


def train_lenet5_digits():
    """Train LeNet-5 on the digits train split; return (module in eval mode, metadata dict)."""
    torch = _import_torch()
    from edgebench.models.defs import LeNet5

    x_train, y_train = digits_split("train")
    x_test, y_test = digits_split("test")
    started = time.time()
    with _Deterministic(torch):
        model = LeNet5(num_classes=NUM_CLASSES)
        optim = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"])
        loss_fn = torch.nn.CrossEntropyLoss()
        shuffle = np.random.RandomState(RECIPE["shuffle_seed"])
        xt = torch.from_numpy(x_train)
        yt = torch.from_numpy(y_train)
        bs = RECIPE["batch_size"]
        for _ in range(RECIPE["epochs"]):
            model.train()
            order = torch.from_numpy(shuffle.permutation(len(x_train)))
            for start in range(0, len(order), bs):
                idx = order[start:start + bs]
                optim.zero_grad()
                loss = loss_fn(model(xt[idx]), yt[idx])
                loss.backward()
                optim.step()
        test_top1 = _accuracy_torch(torch, model, x_test, y_test)
        train_top1 = _accuracy_torch(torch, model, x_train, y_train)
    meta = {
        "model": MODEL_NAME,
        "recipe": RECIPE,
        "recipe_key": recipe_key(),
        "train_s": round(time.time() - started, 3),
        "test_top1": test_top1,
        "train_top1": train_top1,
        "test_samples": int(len(y_test)),
        "train_samples": int(len(y_train)),
        "digits_test_sha256": split_hash("test"),
        "torch": getattr(torch, "__version__", None),
        "numpy": np.__version__,
    }
    return model, meta


def _save_state(model, meta, path):
    arrays = dict((name, t.detach().cpu().numpy()) for name, t in model.state_dict().items())
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=os.path.dirname(path))
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        return cache.commit(tmp, path, meta)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load_state(torch, model, path):
    with np.load(path, allow_pickle=False) as archive:
        state = dict((name, torch.from_numpy(archive[name].copy())) for name in archive.files)
    model.load_state_dict(state, strict=True)


def build_lenet5_digits(cache_dir, recipe=None, **_ignored):
    """The trained LeNet-5 (eval mode): loaded from the cache, or trained once and cached.

    ``recipe`` is the zoo entry's recipe key (it only keys the ONNX cache); a mismatch with this
    code's recipe means a stale zoo entry and is refused.
    """
    if recipe is not None and recipe != recipe_key()[:16]:
        raise UsageError(
            "lenet5_digits recipe {} does not match this edgebench ({}); clear the model cache".format(
                recipe, recipe_key()[:16]
            )
        )
    torch = _import_torch()
    from edgebench.models.defs import LeNet5

    path = weights_path(cache_dir)
    meta = cache.load_verified(path)
    if meta is not None:
        model = LeNet5(num_classes=NUM_CLASSES)
        try:
            _load_state(torch, model, path)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            cache.discard([path, cache.manifest_path(path)], "cannot load the weights: {}".format(exc))
            meta = None
        else:
            model.eval()
            return model
    LOG.info("training %s on scikit-learn digits (first use; a few seconds)", MODEL_NAME)
    model, meta = train_lenet5_digits()
    _save_state(model, meta, path)
    LOG.info("%s: %.2f%% top-1 on the %d test digits (torch, fp32), trained in %.1f s",
             MODEL_NAME, meta["test_top1"], meta["test_samples"], meta["train_s"])
    model.eval()
    return model


def training_metadata(cache_dir):
    """The manifest of the cached trained weights (test_top1, train_s, ...) or None."""
    return cache.read_json(cache.manifest_path(weights_path(cache_dir)))
