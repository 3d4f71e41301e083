"""The sweep's remaining time, from the measured time of similar points (pure; no I/O, no clock).

A point's wall time is its worker start, engine load, warm-up and a timed loop of at least
``--duration`` seconds: mostly fixed, growing with the batch once the per-call time times
``--iterations`` passes ``--duration``. So a point still to come is estimated from the measured
points of the same model and precision at the neighbouring batch, between two bounds: the same
time (duration-bound, the low end) and that time scaled by the batch ratio (compute-bound, the high
end). A model not measured yet borrows from the measured models, scaled by its MACs for the high
end; a model x precision whose engine is still to be built adds the builds seen so far. The answer
is a range (low, high) in seconds; it narrows as similar points are measured, and is None only
before the first point finishes.
"""


class EtaEstimator(object):
    def __init__(self, points, macs=None, builds_ahead=()):
        """``points``: the plan's (model, precision, batch) in order; ``macs``: model -> MACs per image;
        ``builds_ahead``: precisions whose engine is built once per model before its first point."""
        self.points = list(points)
        self.macs = dict(macs or {})
        self.builds_ahead = set(builds_ahead)
        self.done = {}  # (model, precision, batch) -> seconds the point took
        self.build_s = []  # build times seen (inside the first point of each model x precision)

    def record(self, point, seconds, build_s=None):
        self.done[tuple(point)] = float(seconds)
        if build_s:
            self.build_s.append(float(build_s))

    def _estimate(self, model, precision, batch):
        same = [(b, s) for (m, p, b), s in self.done.items() if m == model and p == precision]
        if not same:
            same = [(b, s) for (m, p, b), s in self.done.items() if m == model]
        if same:
            b0, s0 = min(same, key=lambda bs: (abs(bs[0] - batch), -bs[0]))
            return s0, s0 * max(1.0, float(batch) / b0)
        others = list(self.done.items())
        if not others:
            return None
        times = sorted(s for _, s in others)
        low = times[len(times) // 2]
        high = max(times)
        ratios = [self.macs[model] / float(self.macs[m]) for (m, _, _), _ in others
                  if self.macs.get(model) and self.macs.get(m)]
        if ratios:
            high *= max(1.0, max(ratios))
        return low, high

    def remaining(self, current=None, current_elapsed_s=0.0):
        """(low_s, high_s) to finish every point not recorded; ``current`` has run ``current_elapsed_s``."""
        low = high = 0.0
        if not self.done:
            return None
        started = set((m, p) for (m, p, _) in self.done)
        if current is not None:
            started.add(tuple(current)[:2])
        build_low = min(self.build_s) if self.build_s else 0.0
        build_high = max(self.build_s) if self.build_s else 0.0
        for point in self.points:
            point = tuple(point)
            if point in self.done:
                continue
            estimate = self._estimate(*point)
            if estimate is None:
                return None
            lo, hi = estimate
            if point == (tuple(current) if current is not None else None):
                lo, hi = max(0.0, lo - current_elapsed_s), max(0.0, hi - current_elapsed_s)
            elif point[1] in self.builds_ahead and point[:2] not in started:
                lo, hi = lo + build_low, hi + build_high
                started.add(point[:2])
            low += lo
            high += hi
        return low, high


def format_eta(span):
    """``ETA 5:41`` when the bounds agree within 25%, ``ETA 4:10-7:30`` otherwise; ``ETA estimating``."""
    if span is None:
        return "ETA estimating"
    low, high = span

    def clock(seconds):
        seconds = int(round(seconds))
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        return "{}:{:02d}:{:02d}".format(h, m, s) if h else "{}:{:02d}".format(m, s)

    if high <= low * 1.25 or high - low < 5:
        return "ETA " + clock((low + high) / 2.0)
    return "ETA {}-{}".format(clock(low), clock(high))
