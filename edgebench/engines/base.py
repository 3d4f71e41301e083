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
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

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


@dataclass
class EngineOptions(object):
    """Every engine option a backend reads, each with its one default (JSON types only).

    The sweep fills them from the plan (sweep/runner.py ``Sweep.job_for``); a backend reads the
    fields it knows and refuses (preflight) the ones that do not apply to it. An unknown key in a
    dict is an error, not ignored: an option nobody reads is a bug.
    """

    # what the model is (from models/): MACs per node for the precision verdict, per-image shape
    node_macs: Dict[str, int] = field(default_factory=dict)
    input_shape: Optional[List[int]] = None
    model_source: str = "zoo"  # zoo | onnx
    weights: Optional[str] = None  # a local state dict (torch2trt rebuilds the zoo module with it)
    # int8 calibration (calibration/)
    calib_data: Optional[str] = None
    calib_images: int = 500
    calib_algorithm: str = "minmax"  # ONNX Runtime: minmax | entropy | percentile
    calib_preprocess: Optional[Dict[str, Any]] = None
    calib_seed: int = 0
    int8_options: Optional[Dict[str, Any]] = None  # extra ONNX Runtime quantizer options
    # measurement
    layers: bool = False  # per-layer profile after the timed loop
    # TensorRT (and torch2trt)
    no_transfers: bool = False
    shared_profile: bool = False
    shared_profile_max: int = 64
    workspace_mb: Optional[int] = None  # None: the backend's default (1024)
    tf32: bool = True
    int8_fp16_fallback: bool = True
    trt_calib_algorithm: Optional[str] = None  # None: entropy2
    cuda_api: Optional[str] = None  # None: pycuda where importable, else cuda-python

    @classmethod
    def from_dict(cls, data):
        known = set(f.name for f in fields(cls))
        unknown = sorted(set(data or {}) - known)
        if unknown:
            raise ValueError("unknown engine options: {} (known: {})".format(", ".join(unknown), ", ".join(
                sorted(known))))
        return cls(**dict((k, v) for k, v in (data or {}).items() if v is not None))

    def to_dict(self):
        return dict((f.name, getattr(self, f.name)) for f in fields(self))


@dataclass
class EngineSpec(object):
    """Everything needed to build and load one engine. JSON-serialisable (no pickle): ``to_dict`` and
    ``from_dict`` are the one place it becomes JSON and comes back."""

    onnx_path: str
    onnx_sha256: Optional[str]
    model: str
    precision: str
    batch_size: int
    cache_dir: str
    threads: Optional[int] = None
    providers: Optional[List[str]] = None
    options: EngineOptions = field(default_factory=EngineOptions)

    def __post_init__(self):
        self.onnx_path = str(self.onnx_path)
        self.batch_size = int(self.batch_size)
        self.cache_dir = str(self.cache_dir)
        self.providers = list(self.providers) if self.providers else None
        if not isinstance(self.options, EngineOptions):
            self.options = EngineOptions.from_dict(self.options)

    def to_dict(self):
        data = dict((f.name, getattr(self, f.name)) for f in fields(self))
        data["options"] = self.options.to_dict()
        return data

    @classmethod
    def from_dict(cls, data):
        return cls(**dict((f.name, data.get(f.name)) for f in fields(cls) if f.name in data))

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

    @classmethod
    def check_usable(cls):
        """Preflight, in the parent before any point is stored: raise ``BackendUnavailable`` (a
        UsageError: exit status 2, one line) when the backend is installed but cannot run on this
        machine (TensorRT without a GPU). May take a second; backends that always run do nothing."""
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
