"""A sweep plan: which models, backend, precisions and batch sizes, and how to time them.

The CLI and the agent build the same plan; it is validated before anything is measured or any file
is touched, and it round-trips through JSON (the agent's job files are plans).
"""
import os
import re
from dataclasses import MISSING, dataclass, field, fields
from typing import List, Optional

from edgebench.engines.base import PRECISIONS
from edgebench.errors import UsageError

MAX_BATCH = 4096
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
        """Raise UsageError with one clear line if the plan cannot run; return self."""
        if not self.models:
            raise UsageError("no models to sweep: pass --models NAME[,NAME...] or --model FILE.onnx")
        if not isinstance(self.models, list) or not all(isinstance(m, str) and m for m in self.models):
            raise UsageError("models must be a list of zoo names or ONNX paths")
        self.precisions = parse_precisions(self.precisions)
        if not self.precisions:
            raise UsageError("no engine precision given: --engine fp32|fp16|int8")
        batches = []
        for b in self.batch_sizes:
            if isinstance(b, bool) or not isinstance(b, int):
                raise UsageError("batch sizes must be whole numbers, got {!r}".format(b))
            _check_batch(b, str(self.batch_sizes))
            batches.append(b)
        self.batch_sizes = sorted(set(batches))
        if not isinstance(self.power, str) or not self.power:
            raise UsageError("--power must be a power source URL (auto, none, ina3221, serial://..., sim://...)")
        check_power_url(self.power)
        for name in ("duration_s", "warmup_s", "idle_s"):
            if not _non_negative(getattr(self, name)):
                raise UsageError("{} must be zero or positive".format(name))
        if not isinstance(self.iterations, int) or isinstance(self.iterations, bool) or self.iterations < 1:
            raise UsageError("--iterations must be at least 1")
        if not _non_negative(self.unstable_cv) or not 0 < self.unstable_cv < 10:
            raise UsageError("--unstable-cv must be a fraction above 0 (0.05 is 5%), got {!r}".format(self.unstable_cv))
        if self.max_duration_s is not None:
            if not _non_negative(self.max_duration_s) or self.max_duration_s <= 0:
                raise UsageError("--max-duration must be positive")
            if self.max_duration_s < self.duration_s:
                raise UsageError(
                    "--max-duration ({:g} s) is shorter than --duration ({:g} s); raise --max-duration".format(
                        self.max_duration_s, self.duration_s
                    )
                )
        if self.memory_limit_mb is not None and (
            not isinstance(self.memory_limit_mb, int) or self.memory_limit_mb < 64
        ):
            raise UsageError("--memory-limit-mb must be a whole number of at least 64")
        if self.workspace_mb is not None and (not isinstance(self.workspace_mb, int) or self.workspace_mb < 1):
            raise UsageError("--workspace-mb must be a positive whole number")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise UsageError("--threads must be at least 1")
        if "int8" in self.precisions and not self.calib_data:
            raise UsageError(
                "--engine int8 needs calibration data: --calib-data DIR (a folder of images), FILE.npy/.npz, "
                "'digits' or 'synthetic' (timing only: int8 accuracy is then meaningless)"
            )
        if not isinstance(self.calib_images, int) or isinstance(self.calib_images, bool) or self.calib_images < 1:
            raise UsageError("--calib-images must be at least 1")
        if self.power_mode is not None and (not isinstance(self.power_mode, str) or not self.power_mode.strip()):
            raise UsageError("--power-mode must be an nvpmodel mode id or name (e.g. 0 or MAXN)")
        for name in ("lock_clocks", "no_transfers", "layers", "shared_profile", "tf32", "int8_fp16_fallback"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError("{} must be true or false".format(name))
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
            raise UsageError("unknown plan fields: {}".format(", ".join(sorted(unknown))))
        return cls(**data).validate()


FIELD_NAMES = tuple(f.name for f in fields(SweepPlan))


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


def _non_negative(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and value == value
