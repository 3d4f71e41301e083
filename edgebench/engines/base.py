"""The engine backend protocol.

A backend turns an ONNX file into something that runs one batch per call. The parent process only
asks a backend whether it is available; everything that loads vendor libraries (onnxruntime,
tensorrt, pycuda, torch) happens inside the worker process that measures one point.

Lifecycle inside a worker::

    backend = get_backend("onnxruntime")        # engines/__init__.py; cheap, no vendor import
    session = backend.load(spec)                # builds (or takes from the cache) and loads
    session.run()                               # one synchronous inference of spec.batch_size
    session.begin_timed_window()                # warm-up is over: per-call device timings restart
    session.infer(x)                            # run real data (accuracy checks), untimed
    session.info                                # what really ran: provider, precision, notes
    session.extra_columns()                     # backend-specific measurement columns
    session.close()

Backends raise ``UnsupportedPrecision`` for a precision they cannot build (the point is stored as
``unsupported`` with the reason) and ``EdgebenchError`` for anything else; never vendor exceptions.
"""
import abc
import json

PRECISIONS = ("fp32", "fp16", "int8")


def precision_verdict(low_macs, full_macs, requested):
    """(precision_effective, fraction) from the MACs that ran in reduced and in full precision.

    ``requested`` when at least 99.9% of the MACs ran reduced, ``fp32`` when at most 0.1% did,
    ``mixed`` in between; the fraction is rounded to 4 places (0.0 when there are no MACs).
    """
    total = low_macs + full_macs
    fraction = float(low_macs) / total if total else 0.0
    if fraction >= 0.999:
        effective = requested
    elif fraction <= 0.001:
        effective = "fp32"
    else:
        effective = "mixed"
    return effective, round(fraction, 4)


class EngineSpec(object):
    """Everything needed to build and load one engine. JSON-serialisable (no pickle)."""

    __slots__ = (
        "onnx_path",
        "onnx_sha256",
        "model",
        "precision",
        "batch_size",
        "cache_dir",
        "threads",
        "providers",
        "options",
    )

    def __init__(
        self,
        onnx_path,
        onnx_sha256,
        model,
        precision,
        batch_size,
        cache_dir,
        threads=None,
        providers=None,
        options=None,
    ):
        self.onnx_path = str(onnx_path)
        self.onnx_sha256 = onnx_sha256
        self.model = model
        self.precision = precision
        self.batch_size = int(batch_size)
        self.cache_dir = str(cache_dir)
        self.threads = threads
        self.providers = list(providers) if providers else None
        self.options = dict(options or {})

    def to_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data):
        return cls(**{name: data.get(name) for name in cls.__slots__})

    def __repr__(self):
        return "EngineSpec({})".format(json.dumps(self.to_dict(), sort_keys=True))


class EngineInfo(object):
    """What actually ran. Stored with the point so nothing is silently different from the request."""

    def __init__(
        self,
        provider=None,
        precision_effective=None,
        fp16_mac_fraction=None,
        threads=None,
        notes=None,
        calibration_fingerprint=None,
    ):
        self.provider = provider
        self.calibration_fingerprint = calibration_fingerprint  # int8: which calibration data built it
        self.precision_effective = precision_effective
        self.fp16_mac_fraction = fp16_mac_fraction
        self.threads = threads
        self.notes = list(notes or [])

    def columns(self):
        return {
            "provider": self.provider,
            "precision_effective": self.precision_effective,
            "fp16_mac_fraction": self.fp16_mac_fraction,
            "threads": self.threads,
            "note": "; ".join(self.notes) if self.notes else None,
        }


class Session(abc.ABC):
    """A loaded engine bound to one batch of input data."""

    info = None  # EngineInfo

    @abc.abstractmethod
    def run(self):
        """Run one inference of the bound batch and wait for it to finish."""

    def infer(self, batch):
        """Run the engine on ``batch`` (float32 NCHW numpy array, at most the engine's batch size)
        and return the first output as a numpy array with one row per input image. Used for
        accuracy and calibration checks; not timed."""
        raise NotImplementedError("{} cannot run arbitrary inputs".format(type(self).__name__))

    def begin_timed_window(self):  # noqa: B027 - optional hook
        """Called right before the timed loop: backends that keep per-call device timings start afresh."""

    def extra_columns(self):
        """Backend-specific measurement columns (e.g. GPU compute time); empty by default."""
        return {}

    def close(self):  # noqa: B027 - optional hook, a no-op unless the backend holds resources
        """Release the engine. Safe to call twice."""


class Backend(abc.ABC):
    """One engine technology. Subclasses must be importable without their vendor library."""

    name = None
    precisions = ("fp32",)

    @classmethod
    @abc.abstractmethod
    def is_available(cls):
        """Cheap probe: can this backend run here? Must not raise."""

    @classmethod
    def unavailable_reason(cls):
        """One line saying why the backend is unavailable and how to fix it."""
        return "{} is not available".format(cls.name)

    @classmethod
    def version(cls):
        """Version string of the vendor library, or None."""
        return None

    # Precisions whose engine is prepared by :meth:`prepare` in a build process of its own, once per
    # model and precision, before the batch workers (which then find it in the engine cache).
    prepared_ahead = ()

    def prepare(self, spec):
        """Build ``spec``'s engine into the cache; return ``build_s``, ``engine_cache_hit``, ``engine_size_mb``."""
        return {}

    @abc.abstractmethod
    def load(self, spec):
        """Build (or fetch from the cache) and load an engine for ``spec``; return a Session."""
