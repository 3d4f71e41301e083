"""A sweep plan: which models, backend, precisions and batch sizes, and how to time them.

The CLI and the agent build the same plan; it is validated before anything is measured or any file
is touched, and it round-trips through JSON (the agent's job files are plans).
"""
import math
import os
import re
from dataclasses import MISSING, dataclass, field, fields
from typing import List, Optional

from edgebench.engines.base import PRECISIONS
from edgebench.errors import UsageError

MAX_BATCH = 4096
MAX_SECONDS = 7 * 24 * 3600.0  # durations, warm-up and idle baseline
MAX_POINT_TIMEOUT_S = 7 * 24 * 3600.0
MAX_ITERATIONS = 10 ** 7
MAX_THREADS = 1024
MAX_MEMORY_MB = 1 << 24  # 16 TB
MAX_CALIB_IMAGES = 10 ** 6
CALIB_ALGORITHMS = ("minmax", "entropy", "percentile")
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 64)


def parse_batches(text):
    """Parse ``1-64`` (powers of two), ``1..8`` (every integer), ``1,2,4`` or combinations.

    >>> parse_batches("1-16")
    [1, 2, 4, 8, 16]
    >>> parse_batches("1..4,8")
    [1, 2, 3, 4, 8]
    """
    values = set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(-?\d+)\s*(\.\.|-)\s*(-?\d+)$", part)
        try:
            if m:
                lo, sep, hi = int(m.group(1)), m.group(2), int(m.group(3))
                _check_batch(lo, text)
                _check_batch(hi, text)
                if hi < lo:
                    raise UsageError("batch range {!r} goes backwards; write {}{}{}".format(part, hi, sep, lo))
                if sep == "..":
                    values.update(range(lo, hi + 1))
                else:
                    b = lo
                    while b <= hi:
                        values.add(b)
                        b *= 2
                    values.add(hi)
            else:
                b = int(part)
                _check_batch(b, text)
                values.add(b)
        except ValueError:
            raise UsageError(
                "cannot read batch sizes {!r}: use e.g. 1-64 (powers of two), 1..8 or 1,2,4".format(text)
            )
    if not values:
        raise UsageError("no batch sizes in {!r}".format(text))
    return sorted(values)


def _check_batch(b, text):
    if b <= 0 or b > MAX_BATCH:
        raise UsageError("batch size {} in {!r} is out of range: use 1..{}".format(b, text, MAX_BATCH))


def parse_precisions(values):
    out = []
    for value in values:
        for p in str(value).split(","):
            p = p.strip().lower()
            if not p:
                continue
            if p not in PRECISIONS:
                raise UsageError("unknown engine precision {!r}; choose from {}".format(p, ", ".join(PRECISIONS)))
            if p not in out:
                out.append(p)
    return out


@dataclass
class SweepPlan(object):
    """A sweep: what to measure and how. Every field is a JSON type; the defaults here are the only ones
    (the ``sweep``/``submit`` flags and plan files take theirs from :func:`default`)."""

    models: List[str] = field(default_factory=list)
    weights: Optional[str] = None
    backend: str = "auto"
    precisions: List[str] = field(default_factory=lambda: ["fp32"])
    batch_sizes: List[int] = field(default_factory=lambda: list(DEFAULT_BATCHES))
    iterations: int = 10
    duration_s: float = 3.0
    max_duration_s: Optional[float] = 60.0
    unstable_cv: float = 0.05  # a point whose latency CV exceeds this is shown as unstable
    warmup_s: float = 0.2
    memory_limit_mb: Optional[int] = None
    threads: Optional[int] = None
    providers: Optional[List[str]] = None
    point_timeout_s: float = 1800.0
    # one worker for an engine's rising batches (opt-in: on vgg16 its peaks drifted 10 % and moved the knee)
    reuse_worker: bool = False
    power: str = "none"
    idle_s: float = 10.0
    power_calibration: Optional[str] = None  # a calibration file; None: the board's stored one, if any
    root: Optional[str] = None
    cache_dir: Optional[str] = None
    calib_data: Optional[str] = None
    calib_images: int = 500
    calib_algorithm: str = "minmax"
    lock_clocks: bool = False
    power_mode: Optional[str] = None  # an nvpmodel id or name (MAXN) for the sweep, put back after
    # TensorRT engine options (the ONNX Runtime backend refuses the ones that do not apply to it)
    no_transfers: bool = False
    layers: bool = False
    shared_profile: bool = False
    workspace_mb: Optional[int] = None
    tf32: bool = True
    int8_fp16_fallback: bool = True
    trt_calib_algorithm: Optional[str] = None  # None: entropy2, TensorRT's recommended calibrator
    cuda_api: Optional[str] = None  # None: pycuda where importable, else cuda-python

    def __post_init__(self):
        for f in fields(self):  # a None from JSON or a flag left unset means "the default"
            value = getattr(self, f.name)
            if value is None:
                value = default(f.name)
            setattr(self, f.name, list(value) if isinstance(value, (list, tuple)) else value)

    def validate(self):
        """Raise UsageError with one clear line if the plan cannot run; return self.

        The one validator for every way a plan arrives (flags, --plan files, the socket, the spool):
        every field has its JSON type, numbers are finite and bounded, model lists are not empty and a
        model named twice is measured once."""
        self._check_types()
        if not self.models:
            raise UsageError("no models to sweep: pass --models NAME[,NAME...] or --model FILE.onnx")
        self.models = _unique(self.models)  # twice the same model would store two rows per point key
        self.precisions = parse_precisions(self.precisions)
        if not self.precisions:
            raise UsageError("no engine precision given: --engine fp32|fp16|int8")
        batches = []
        for b in self.batch_sizes:
            if isinstance(b, bool) or not isinstance(b, int):
                raise UsageError("batch sizes must be whole numbers, got {!r}".format(b))
            _check_batch(b, str(self.batch_sizes))
            batches.append(b)
        if not batches:
            raise UsageError("no batch sizes: pass --batches SPEC such as 1-64")
        self.batch_sizes = sorted(set(batches))
        if not self.power:
            raise UsageError("--power must be a power source URL (auto, none, ina3221, serial://..., sim://...)")
        check_power_url(self.power)
        for name, flag in (("duration_s", "--duration"), ("warmup_s", "--warmup-ms"), ("idle_s", "--idle-seconds")):
            if not _non_negative(getattr(self, name)) or getattr(self, name) > MAX_SECONDS:
                raise UsageError("{} ({}) must be a number of seconds from 0 to {:g}".format(name, flag, MAX_SECONDS))
        _check_count(self.iterations, "--iterations", 1, MAX_ITERATIONS)
        if not _non_negative(self.unstable_cv) or not 0 < self.unstable_cv < 10:
            raise UsageError("--unstable-cv must be a fraction above 0 (0.05 is 5%), got {!r}".format(self.unstable_cv))
        if self.max_duration_s is not None:
            if not _non_negative(self.max_duration_s) or self.max_duration_s <= 0 or \
                    self.max_duration_s > MAX_SECONDS:
                raise UsageError("--max-duration must be positive and at most {:g} s".format(MAX_SECONDS))
            if self.max_duration_s < self.duration_s:
                raise UsageError(
                    "--max-duration ({:g} s) is shorter than --duration ({:g} s); raise --max-duration".format(
                        self.max_duration_s, self.duration_s
                    )
                )
        if not _non_negative(self.point_timeout_s) or not 0 < self.point_timeout_s <= MAX_POINT_TIMEOUT_S:
            raise UsageError("--point-timeout must be a number of seconds above 0 and at most {:g}".format(
                MAX_POINT_TIMEOUT_S))
        if self.memory_limit_mb is not None:
            _check_count(self.memory_limit_mb, "--memory-limit-mb", 64, MAX_MEMORY_MB)
        if self.workspace_mb is not None:
            _check_count(self.workspace_mb, "--workspace-mb", 1, MAX_MEMORY_MB)
        if self.threads is not None:
            _check_count(self.threads, "--threads", 1, MAX_THREADS)
        if self.calib_algorithm not in CALIB_ALGORITHMS:
            raise UsageError("--calib-algorithm must be one of {}".format(", ".join(CALIB_ALGORITHMS)))
        if "int8" in self.precisions and not self.calib_data:
            raise UsageError(
                "--engine int8 needs calibration data: --calib-data DIR (a folder of images), FILE.npy/.npz, "
                "'digits' or 'synthetic' (timing only: int8 accuracy is then meaningless)"
            )
        _check_count(self.calib_images, "--calib-images", 1, MAX_CALIB_IMAGES)
        if self.power_mode is not None and not self.power_mode.strip():
            raise UsageError("--power-mode must be an nvpmodel mode id or name (e.g. 0 or MAXN)")
        from edgebench.calibration.trt_calibrator import TRT_ALGORITHMS
        from edgebench.engines.cuda_api import CHOICES as CUDA_APIS

        if self.cuda_api is not None and self.cuda_api not in CUDA_APIS:
            raise UsageError("--cuda-api must be one of {}".format(", ".join(CUDA_APIS)))
        if self.trt_calib_algorithm is not None and self.trt_calib_algorithm not in TRT_ALGORITHMS:
            raise UsageError("--trt-calib-algorithm must be one of {}".format(", ".join(TRT_ALGORITHMS)))
        if self.weights and len(self.models) != 1:
            raise UsageError("--weights applies to exactly one model; pass a single --models NAME")
        if self.weights and not os.path.isfile(self.weights):
            raise UsageError("weights file {} does not exist".format(self.weights))
        return self

    def _check_types(self):
        """Each field has its JSON type (a plan file or a socket request can hold anything)."""
        for name, kinds in _FIELD_TYPES:
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if kinds is bool:
                if not isinstance(value, bool):
                    raise UsageError("{} must be true or false, got {}".format(name, _short(value)))
            elif kinds is list:
                if not isinstance(value, list):
                    raise UsageError("{} must be a list, got {}".format(name, _short(value)))
                if name != "batch_sizes":
                    for item in value:
                        _check_text(name, item, "a list of text")
            elif kinds is str:
                _check_text(name, value, "text")
            elif kinds is int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise UsageError("{} must be a whole number, got {}".format(name, _short(value)))
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UsageError("{} must be a finite number, got {}".format(name, _short(value)))

    def points(self):
        """(model, precision, batch) in measuring order: model, then precision, then rising batch."""
        return [(m, p, b) for m in self.models for p in self.precisions for b in self.batch_sizes]

    def to_dict(self):
        return dict((f.name, getattr(self, f.name)) for f in fields(self))

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise UsageError("a sweep plan must be a JSON object")
        unknown = set(data) - set(FIELD_NAMES)
        if unknown:
            names = sorted(n if re.match(r"^\w+$", str(n)) else repr(n) for n in unknown)
            more = ", ..." if len(names) > 8 else ""
            raise UsageError("unknown plan fields: {}{}".format(", ".join(names[:8]), more))
        return cls(**data).validate()


FIELD_NAMES = tuple(f.name for f in fields(SweepPlan))
_OPTIONAL = ("weights", "max_duration_s", "memory_limit_mb", "threads", "providers", "root", "cache_dir",
             "calib_data", "power_mode", "power_calibration", "workspace_mb", "trt_calib_algorithm", "cuda_api")
_FIELD_TYPES = (
    ("models", list), ("weights", str), ("backend", str), ("precisions", list), ("batch_sizes", list),
    ("iterations", int), ("duration_s", float), ("max_duration_s", float), ("warmup_s", float),
    ("memory_limit_mb", int), ("threads", int), ("providers", list), ("point_timeout_s", float), ("reuse_worker", bool),
    ("power", str), ("idle_s", float), ("root", str), ("cache_dir", str), ("calib_data", str),
    ("calib_images", int), ("calib_algorithm", str), ("lock_clocks", bool), ("power_mode", str),
    ("no_transfers", bool), ("layers", bool), ("shared_profile", bool), ("workspace_mb", int), ("tf32", bool),
    ("int8_fp16_fallback", bool), ("trt_calib_algorithm", str), ("cuda_api", str), ("unstable_cv", float),
    ("power_calibration", str),
)
assert sorted(name for name, _ in _FIELD_TYPES) == sorted(FIELD_NAMES)


def models_from_flags(model_groups, model_files, default_models):
    """The models of ``--models A,B`` (repeatable) and ``--model FILE`` (repeatable); ``default_models``
    when neither flag is given. A flag given with nothing in it is refused (not the default set)."""
    models = []
    for group in model_groups or []:
        models.extend(m.strip() for m in group.split(",") if m.strip())
    models.extend(m for m in model_files or [] if m.strip())
    if models:
        return models
    if model_groups or model_files:
        given = ", ".join(repr(g) for g in list(model_groups or []) + list(model_files or []))
        raise UsageError("--models/--model {} names no model; pass --models NAME[,NAME...], or leave both flags "
                         "out for the default set".format(given))
    return list(default_models)


def default(name):
    """The default of plan field ``name`` (None when it has none)."""
    for f in fields(SweepPlan):
        if f.name == name:
            if f.default_factory is not MISSING:
                return f.default_factory()
            return None if f.default is MISSING else f.default
    raise KeyError(name)


def check_power_url(url):
    """Reject a malformed power URL (PowerSourceError, exit 2) without opening the source."""
    if url and url != "none":
        from edgebench.power.url import parse_url

        parse_url(url)


def _unique(items):
    seen = set()
    return [i for i in items if not (i in seen or seen.add(i))]


def _check_count(value, flag, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise UsageError("{} must be a whole number from {} to {}, got {}".format(flag, lo, hi, _short(value)))


def _check_text(name, value, what):
    if not isinstance(value, str) or not value or "\x00" in value:
        raise UsageError("{} must be {} (non-empty, no NUL), got {}".format(name, what, _short(value)))


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _non_negative(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and value == value
