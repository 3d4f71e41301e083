"""The worker's contract: the job the parent sends and the result it gets back, as typed dataclasses.

Both cross a process boundary as JSON (never pickle) through :meth:`WorkerJob.to_json` /
:meth:`WorkerJob.from_json` and :meth:`WorkerResult.to_json` / :meth:`WorkerResult.from_json`, the
one place each is turned into and read from JSON.

A result carries measurement columns (names from :mod:`edgebench.results.schema`) plus fields
that are not columns: ``calibration_fingerprint`` (which calibration data built an int8
engine), ``window_start_s`` / ``window_end_s`` (``time.perf_counter()`` at the timed loop's ends:
CLOCK_MONOTONIC, comparable across processes on Linux) and ``images`` (images processed in that
window) - the parent uses these for the point's power window - and ``latencies_ms`` /
``warmup_latencies_ms``: the raw per-iteration samples (float32 values, ms), stored in the
``latencies`` side table; ``worker_reusable``: whether the worker can take another point (it can reset
its peak-RSS mark). A result key that is neither a column
nor one of these is a :class:`ProtocolError`: a column the worker measures but the schema does not
know would otherwise be dropped silently.
"""
import json
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

from edgebench.results import schema


class ProtocolError(ValueError):
    """A worker job or result that does not follow the contract."""


def _json_object(text, what):
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProtocolError("a worker {} is not JSON: {}".format(what, exc))
    if not isinstance(data, dict):
        raise ProtocolError("a worker {} must be a JSON object".format(what))
    return data


@dataclass
class WorkerJob(object):
    """One point to measure: the engine spec (``EngineSpec.to_dict()``) and how to time it."""

    engine: Dict[str, Any]
    backend: str
    iterations: int
    duration_s: float
    warmup_s: float = 0.2
    max_duration_s: Optional[float] = None
    memory_limit_mb: Optional[int] = None
    root: Optional[str] = None
    memory_interval_s: float = 0.05  # system memory is read between iterations about this often
    unstable_cv: float = 0.05  # a CV above this marks the point unstable (--unstable-cv)
    build_only: bool = False  # prepare the engine into the cache (Backend.prepare) and measure nothing

    def to_json(self):
        return json.dumps(dict((f.name, getattr(self, f.name)) for f in fields(self)))

    @classmethod
    def from_json(cls, text):
        data = _json_object(text, "job")
        known = set(f.name for f in fields(cls))
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProtocolError("unknown worker job keys: {}".format(", ".join(unknown)))
        try:
            return cls(**data)
        except TypeError as exc:
            raise ProtocolError("incomplete worker job: {}".format(exc))


RESULT_EXTRAS = ("calibration_fingerprint", "window_start_s", "window_end_s", "images", "latencies_ms",
                 "warmup_latencies_ms", "worker_reusable")


@dataclass
class WorkerResult(object):
    """What a worker measured: ``columns`` (measurement columns) and the non-column extras."""

    status: str
    columns: Dict[str, Any] = field(default_factory=dict)
    calibration_fingerprint: Optional[str] = None
    window_start_s: Optional[float] = None
    window_end_s: Optional[float] = None
    images: Optional[int] = None
    latencies_ms: Optional[List[float]] = None
    warmup_latencies_ms: Optional[List[float]] = None
    worker_reusable: Optional[bool] = None  # False: the worker could not reset its peak RSS and has left

    @classmethod
    def from_dict(cls, data):
        """Split a flat result into columns and extras; unknown keys are a ProtocolError."""
        if not isinstance(data, dict) or not data.get("status"):
            raise ProtocolError("a worker result must be a JSON object with a status")
        unknown = sorted(set(data) - set(schema.POINT_FIELDS) - set(RESULT_EXTRAS))
        if unknown:
            raise ProtocolError("the worker returned keys the results schema does not know: {}; add them to "
                                "edgebench/results/schema.py or stop returning them".format(", ".join(unknown)))
        columns = dict((k, v) for k, v in data.items() if k in schema.POINT_FIELDS)
        return cls(status=data["status"], columns=columns, **dict((k, data.get(k)) for k in RESULT_EXTRAS))

    @classmethod
    def failed(cls, status, error):
        return cls(status=status, columns={"status": status, "error": error})

    def to_dict(self):
        out = dict(self.columns)
        out["status"] = self.status
        for name in RESULT_EXTRAS:
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    def to_json(self):
        return json.dumps(self.to_dict(), allow_nan=True)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(_json_object(text, "result"))

    # Read like the flat result it came from: result["per_image_ms"], result.get("error").
    def __getitem__(self, name):
        flat = self.to_dict()
        if name not in flat:
            raise KeyError(name)
        return flat[name]

    def get(self, name, default=None):
        return self.to_dict().get(name, default)

    def __contains__(self, name):
        return name in self.to_dict()

    @property
    def window(self):
        """(start_s, end_s, images) of the timed loop, for the power window."""
        return self.window_start_s, self.window_end_s, self.images
