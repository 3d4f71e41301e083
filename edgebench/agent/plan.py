"""A sweep plan: which models, backend, precisions and batch sizes, and how to time them.

The CLI and the agent build the same plan; it is validated before anything is measured or any file
is touched, and it round-trips through JSON (the agent's job files are plans).
"""
import os
import re

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


class SweepPlan(object):
    """A validated sweep. All fields are JSON types."""

    FIELDS = (
        "models",
        "weights",
        "backend",
        "precisions",
        "batch_sizes",
        "iterations",
        "duration_s",
        "max_duration_s",
        "warmup_s",
        "memory_limit_mb",
        "threads",
        "providers",
        "point_timeout_s",
        "power",
        "idle_s",
        "root",
        "cache_dir",
        "calib_data",
        "calib_images",
        "calib_algorithm",
        "lock_clocks",
        "no_transfers",
        "layers",
        "shared_profile",
        "workspace_mb",
    )
    DEFAULTS = {
        "weights": None,
        "backend": "auto",
        "precisions": ["fp32"],
        "batch_sizes": list(DEFAULT_BATCHES),
        "iterations": 10,
        "duration_s": 3.0,
        "max_duration_s": 60.0,
        "warmup_s": 0.2,
        "memory_limit_mb": None,
        "threads": None,
        "providers": None,
        "point_timeout_s": 1800.0,
        "power": "none",
        "idle_s": 10.0,
        "root": None,
        "cache_dir": None,
        "calib_data": None,
        "calib_images": 500,
        "calib_algorithm": "minmax",
        "lock_clocks": False,
        "no_transfers": False,
        "layers": False,
        "shared_profile": False,
        "workspace_mb": None,
    }

    def __init__(self, **kwargs):
        unknown = set(kwargs) - set(self.FIELDS)
        if unknown:
            raise UsageError("unknown plan fields: {}".format(", ".join(sorted(unknown))))
        for name in self.FIELDS:
            default = self.DEFAULTS.get(name)
            value = kwargs.get(name, default)
            if value is None and name in self.DEFAULTS:
                value = default
            setattr(self, name, list(value) if isinstance(value, (list, tuple)) else value)

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
        for name in ("duration_s", "warmup_s", "idle_s"):
            if not _non_negative(getattr(self, name)):
                raise UsageError("{} must be zero or positive".format(name))
        if not isinstance(self.iterations, int) or isinstance(self.iterations, bool) or self.iterations < 1:
            raise UsageError("--iterations must be at least 1")
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
        if self.weights and len(self.models) != 1:
            raise UsageError("--weights applies to exactly one model; pass a single --models NAME")
        if self.weights and not os.path.isfile(self.weights):
            raise UsageError("weights file {} does not exist".format(self.weights))
        return self

    def points(self):
        """(model, precision, batch) in measuring order: model, then precision, then rising batch."""
        return [(m, p, b) for m in self.models for p in self.precisions for b in self.batch_sizes]

    def to_dict(self):
        return dict((name, getattr(self, name)) for name in self.FIELDS)

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise UsageError("a sweep plan must be a JSON object")
        return cls(**data).validate()


def _non_negative(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and value == value
