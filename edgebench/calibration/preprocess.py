"""Image preprocessing shared by calibration and accuracy: decode, resize, crop, normalise.

The default is the ImageNet recipe torchvision's reference evaluation uses: resize the shorter side
to ``resize`` (256 for a 224 crop) with bilinear filtering, centre-crop to the model's input size,
scale to [0, 1], subtract ``mean`` and divide by ``std`` per channel, lay out as C x H x W float32.
Grey models (``channels=1``) decode to one luminance channel.

Pillow is imported only when an image is decoded (``pip install pillow``).
"""
import numpy as np

from edgebench.errors import UsageError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GREY_MEAN = (0.449,)  # the mean of the ImageNet channel means, for one-channel models
GREY_STD = (0.226,)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".webp", ".tif", ".tiff")


class UndecodableImage(Exception):
    """An image file that cannot be decoded; sources skip it and count it."""


def import_pil():
    try:
        from PIL import Image
    except ImportError:
        raise UsageError(
            "reading images needs Pillow: pip install pillow (Pillow==8.4.0 on Python 3.6), or pass "
            "preprocessed arrays as a .npy/.npz file"
        )
    return Image


class Preprocess(object):
    """How images become model inputs. Plain values only; JSON round-trips.

    ``size`` is (height, width) of the model input, ``resize`` the shorter side before the centre
    crop (None: resize straight to ``size``), ``mean``/``std`` one value per channel (a single
    value is used for every channel).
    """

    __slots__ = ("size", "channels", "mean", "std", "resize")

    def __init__(self, size, channels=3, mean=None, std=None, resize="auto"):
        if isinstance(size, int):
            size = (size, size)
        self.size = (int(size[0]), int(size[1]))
        self.channels = int(channels)
        if self.channels not in (1, 3):
            raise UsageError(
                "image preprocessing makes 1 (grey) or 3 (RGB) channels, not {}; pass preprocessed "
                "arrays as a .npy/.npz file for other inputs".format(self.channels)
            )
        if mean is None:
            mean = GREY_MEAN if self.channels == 1 else IMAGENET_MEAN
        if std is None:
            std = GREY_STD if self.channels == 1 else IMAGENET_STD
        self.mean = self._per_channel(mean, "mean")
        self.std = self._per_channel(std, "std")
        if any(s <= 0 for s in self.std):
            raise UsageError("std values must be positive, got {}".format(list(self.std)))
        if resize == "auto":
            resize = int(round(min(self.size) * 256.0 / 224.0))
        self.resize = int(resize) if resize else None
        if self.resize is not None and self.resize < max(self.size):
            raise UsageError(
                "resize (shorter side {}) is smaller than the {}x{} crop; use a resize of at least "
                "{}".format(self.resize, self.size[0], self.size[1], max(self.size))
            )

    def _per_channel(self, values, what):
        values = tuple(float(v) for v in values)
        if len(values) == 1:
            values = values * self.channels
        if len(values) != self.channels:
            raise UsageError(
                "{} has {} values but the model takes {} channel(s)".format(what, len(values), self.channels)
            )
        return values

    @property
    def shape(self):
        """Per-image tensor shape (C, H, W)."""
        return (self.channels, self.size[0], self.size[1])

    def to_dict(self):
        return {
            "size": list(self.size),
            "channels": self.channels,
            "mean": list(self.mean),
            "std": list(self.std),
            "resize": self.resize,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(data["size"], data.get("channels", 3), data.get("mean"), data.get("std"), data.get("resize"))

    @classmethod
    def from_spec(cls, spec):
        """From a zoo ``ModelSpec`` (input_shape, mean, std, resize_size)."""
        channels, height, width = spec.input_shape
        return cls((height, width), channels, spec.mean, spec.std, spec.resize_size)

    @classmethod
    def for_input_shape(cls, shape):
        """Defaults for a user ONNX model from its per-image input shape (C, H, W)."""
        if len(shape) != 3:
            raise UsageError(
                "the model input has shape {}; images need a C x H x W input, so pass preprocessed "
                "arrays as a .npy/.npz file".format("x".join(str(d) for d in shape))
            )
        channels, height, width = (int(d) for d in shape)
        return cls((height, width), channels)

    def __eq__(self, other):
        return isinstance(other, Preprocess) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "Preprocess({})".format(self.to_dict())


def _resample_bilinear(Image):
    return getattr(Image, "Resampling", Image).BILINEAR


def decode_image(path, pre):
    """Decode one image file into a float32 C x H x W array; UndecodableImage if it cannot be."""
    Image = import_pil()
    try:
        with Image.open(path) as img:
            img = img.convert("L" if pre.channels == 1 else "RGB")
            img.load()
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, DecompressionBombError...
        text = str(exc).strip().splitlines()
        raise UndecodableImage("{}: {}".format(type(exc).__name__, text[0] if text else "cannot decode"))
    return _to_tensor(img, pre, Image)


def _to_tensor(img, pre, Image):
    height, width = pre.size
    bilinear = _resample_bilinear(Image)
    if pre.resize is None:
        img = img.resize((width, height), bilinear)
    else:
        w, h = img.size
        # Shorter side to ``resize``, the longer in proportion (truncated, as torchvision does).
        if w <= h:
            new_w, new_h = pre.resize, int(pre.resize * h / w)
        else:
            new_w, new_h = int(pre.resize * w / h), pre.resize
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), bilinear)
        left = int(round((new_w - width) / 2.0))
        top = int(round((new_h - height) / 2.0))
        img = img.crop((left, top, left + width, top + height))
    arr = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    if arr.ndim == 2:
        arr = arr[None, :, :]
    else:
        arr = arr.transpose(2, 0, 1)
    mean = np.asarray(pre.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(pre.std, dtype=np.float32).reshape(-1, 1, 1)
    return np.ascontiguousarray((arr - mean) / std, dtype=np.float32)


def is_image_name(name):
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)
