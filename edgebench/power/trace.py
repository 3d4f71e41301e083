"""Power traces on disk: reading, writing, and replaying one as a source.

Format (what ``edgebench power record`` writes): a CSV file whose first non-comment line is a
header naming ``t_s`` (seconds, strictly increasing) and ``power_w``, optionally ``<rail>_w``
columns and a ``label`` column (``SIMULATED`` on every row of synthetic data). ``#`` lines are
comments; an empty or ``nan`` power is a gap. Anything else that is wrong (no header, a
non-numeric value, unsorted or duplicate timestamps, fewer than 8 samples) is a
:class:`PowerSourceError` naming the file and line.

Replay URL: ``trace://FILE.csv[?loop=1&sampling=instantaneous]`` plays the samples against the host
clock from the moment the source opens (``loop=1``, the default, starts over at the end).
"""
import csv
import logging
import math
import time

import numpy as np

from edgebench.errors import PowerSourceError
from edgebench.power.source import INSTANTANEOUS, SIMULATED_LABEL, Block, PowerSource, check_sampling

logger = logging.getLogger(__name__)

MIN_SAMPLES = 8


class Trace(object):
    """A loaded trace: ``t_s``, ``power_w``, ``rails`` (name -> array), ``simulated``."""

    def __init__(self, path, t_s, power_w, rails, simulated):
        self.path = path
        self.t_s = t_s
        self.power_w = power_w
        self.rails = rails
        self.simulated = simulated

    def __len__(self):
        return len(self.t_s)

    @property
    def duration_s(self):
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) else 0.0


def _number(text, path, line_no, column):
    text = text.strip()
    if text == "" or text.lower() in ("nan", "-nan"):
        return float("nan")
    try:
        value = float(text)
    except ValueError:
        raise PowerSourceError("{} line {}: {} value {!r} is not a number".format(path, line_no, column, text))
    if math.isinf(value):
        raise PowerSourceError("{} line {}: {} value {!r} is infinite".format(path, line_no, column, text))
    return value


def load_trace(path):
    """Read and validate a trace CSV."""
    try:
        handle = open(str(path), "r", newline="")
    except (OSError, IOError) as err:
        raise PowerSourceError("cannot read trace {}: {}".format(path, err.strerror or err))
    with handle:
        rows = csv.reader(line for line in handle if not line.lstrip().startswith("#"))
        header = None
        for fields in rows:
            if any(f.strip() for f in fields):
                header = [f.strip() for f in fields]
                break
        if header is None:
            raise PowerSourceError("trace {} is empty: it needs a header line t_s,power_w and samples".format(path))
        lowered = [h.lower() for h in header]
        if "t_s" not in lowered or "power_w" not in lowered:
            raise PowerSourceError(
                "trace {} has no header naming t_s and power_w (first line: {!r}): add one, e.g. t_s,power_w".format(
                    path, ",".join(header)[:60]
                )
            )
        t_col = lowered.index("t_s")
        p_col = lowered.index("power_w")
        label_col = lowered.index("label") if "label" in lowered else None
        rail_cols = [(i, header[i][:-2]) for i, h in enumerate(lowered)
                     if h.endswith("_w") and i not in (t_col, p_col)]
        t_vals, p_vals = [], []
        rail_vals = [[] for _ in rail_cols]
        simulated = False
        previous = None
        for fields in rows:
            line_no = rows.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise PowerSourceError("{} line {}: {} fields, the header has {}".format(
                    path, line_no, len(fields), len(header)))
            t = _number(fields[t_col], path, line_no, "t_s")
            if math.isnan(t):
                raise PowerSourceError("{} line {}: t_s is empty".format(path, line_no))
            if previous is not None and t <= previous:
                raise PowerSourceError(
                    "{} line {}: t_s {} is not after the previous {} (timestamps must be sorted and unique)".format(
                        path, line_no, fields[t_col].strip(), previous
                    )
                )
            previous = t
            t_vals.append(t)
            p_vals.append(_number(fields[p_col], path, line_no, "power_w"))
            for k, (i, name) in enumerate(rail_cols):
                rail_vals[k].append(_number(fields[i], path, line_no, name + "_w"))
            if label_col is not None and SIMULATED_LABEL in fields[label_col].upper():
                simulated = True
    if len(t_vals) < MIN_SAMPLES:
        raise PowerSourceError(
            "trace {} has {} sample{}; at least {} are needed".format(
                path, len(t_vals), "" if len(t_vals) == 1 else "s", MIN_SAMPLES
            )
        )
    rails = {name: np.array(vals) for (_, name), vals in zip(rail_cols, rail_vals)}
    return Trace(str(path), np.array(t_vals), np.array(p_vals), rails, simulated)


def write_trace(path, t_s, power_w, rail_names=(), rails_w=None, simulated=False):
    """Write a trace CSV (``t_s`` relative seconds; watts with 6 decimals)."""
    header = ["t_s", "power_w"] + ["{}_w".format(name) for name in rail_names]
    if simulated:
        header.append("label")
    t_s = np.asarray(t_s, dtype=float)
    power_w = np.asarray(power_w, dtype=float)
    columns = [t_s, power_w]
    if rail_names and rails_w is not None:
        rails_w = np.asarray(rails_w, dtype=float)
        columns.extend(rails_w[:, k] for k in range(len(rail_names)))

    def fmt(value, digits):
        return "" if value != value else "{:.{}f}".format(value, digits)

    suffix = "," + SIMULATED_LABEL if simulated else ""
    with open(str(path), "w") as handle:
        handle.write(",".join(header) + "\n")
        for row in zip(*[c.tolist() for c in columns]):
            handle.write(fmt(row[0], 7) + "," + ",".join(fmt(v, 6) for v in row[1:]) + suffix + "\n")


class TraceSource(PowerSource):
    """Replays a trace in real time (streaming, trace timestamps mapped onto the host clock)."""

    scheme = "trace"
    streaming = True
    device_timestamps = True

    def __init__(self, url, root=None):
        PowerSource.__init__(self, url, root)
        params = url.reader()
        self.loop = params.flag("loop", True)
        self.sampling = check_sampling(params.text("sampling", INSTANTANEOUS), url)
        params.finish()
        if not url.target:
            raise PowerSourceError("trace source {!r} names no file: write trace:///path/to/trace.csv".format(str(url)))
        self.path = url.target
        self.trace = None

    def open(self):
        trace = load_trace(self.path)
        self.trace = trace
        self.simulated = trace.simulated
        names = sorted(trace.rails)
        self.rails = tuple(names)
        self._rails = np.stack([trace.rails[n] for n in names], axis=1) if names else None
        dt = np.diff(trace.t_s)
        self._step = float(np.median(dt))
        self._period = trace.duration_s + self._step
        self.max_rate_hz = 1.0 / self._step if self._step > 0 else 1.0
        self.board_rule = "power_w column of {}".format(self.path)
        self.detail = "replay of {} ({} samples, {:.3f} s{})".format(
            self.path, len(trace), trace.duration_s, ", looped" if self.loop else "")
        self._origin = time.perf_counter() + 0.001 - trace.t_s[0]
        self._next = 0
        self._pass = 0
        self.is_open = True
        return self

    def read_block(self, timeout_s=0.1):
        trace = self.trace
        n = len(trace)
        deadline = time.perf_counter() + timeout_s
        while True:
            if self._next >= n:
                if not self.loop:
                    time.sleep(max(0.0, min(timeout_s, deadline - time.perf_counter())))
                    return Block.empty()
                self._pass += 1
                self._next = 0
            base = self._origin + self._pass * self._period
            now = time.perf_counter()
            end = int(np.searchsorted(trace.t_s, now - base, side="right"))
            if end > self._next:
                sl = slice(self._next, end)
                self._next = end
                rails = self._rails[sl] if self._rails is not None else None
                return Block(trace.t_s[sl] + base, trace.power_w[sl].copy(), rails)
            wait = trace.t_s[self._next] + base - now
            if now + wait > deadline:
                time.sleep(max(0.0, deadline - now))
                return Block.empty()
            time.sleep(max(wait, 0.0))
