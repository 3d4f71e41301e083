"""The fits behind the analysis: straight lines, the memory knee, upper bounds and frontiers.

Pure functions on sequences of numbers; numpy only (1.19 API), so they run on the boards.
"""

import math

import numpy as np


def linear_fit(x, y):
    """Least-squares line y = intercept + slope * x.

    Returns a dict with ``slope``, ``intercept``, ``r2`` (None when y does not vary or n < 3),
    ``rmse`` and ``n``; None when fewer than 2 points or x does not vary.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    if n < 2 or np.ptp(x) == 0:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    sse = float(np.sum(residual**2))
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = None if (n < 3 or sst == 0) else 1.0 - sse / sst
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "r2": r2,
        "rmse": math.sqrt(sse / n),
        "n": n,
    }


# ---------------------------------------------------------------------------------------------
# memory knee: flat at s up to k, then s + r * (b - k)


class Hinge(object):
    def __init__(self, static, slope, knee, sse):
        self.static = float(static)
        self.slope = float(slope)
        self.knee = float(knee)
        self.sse = float(sse)

    def predict(self, b):
        return self.static + self.slope * np.maximum(0.0, np.asarray(b, dtype=float) - self.knee)


def _fixed_knee(b, v, k):
    z = np.maximum(0.0, b - k)
    if not np.any(z > 0):
        s = float(v.mean())
        return Hinge(s, 0.0, k, float(np.sum((v - s) ** 2)))
    design = np.column_stack([np.ones_like(b), z])
    (s, r), _, _, _ = np.linalg.lstsq(design, v, rcond=None)
    if r < 0:
        return None
    return Hinge(s, r, k, float(np.sum((v - s - r * z) ** 2)))


def best_hinge(b, v):
    """Least-squares two-segment fit with a continuous knee and a non-negative slope."""
    b = np.asarray(b, dtype=float)
    v = np.asarray(v, dtype=float)
    levels = np.unique(b)
    scale = max(1.0, float(np.sum(v**2)))
    # Flat first: on a tie the simpler curve wins.
    candidates = [_fixed_knee(b, v, levels[-1])]
    for k in levels[:-1]:
        candidates.append(_fixed_knee(b, v, k))
    # A knee strictly between two measured batch sizes: the flat mean of the points below and a
    # free line through the points above meet inside the interval.
    for i in range(len(levels) - 2):
        lo, hi = levels[i], levels[i + 1]
        below, above = b <= lo, b >= hi
        if len(np.unique(b[above])) < 2:
            continue
        s = float(v[below].mean())
        r, c = np.polyfit(b[above], v[above], 1)
        if r <= 0:
            continue
        k = (s - c) / r
        if lo < k < hi:
            sse = float(np.sum((v[below] - s) ** 2) + np.sum((v[above] - c - r * b[above]) ** 2))
            candidates.append(Hinge(s, r, k, sse))
    best = None
    for cand in candidates:
        if cand is None:
            continue
        if best is None or cand.sse < best.sse - 1e-12 * scale:
            best = cand
    return best


def fit_knee(batches, values, min_points=4):
    """Fit memory vs batch with a flat part then a linear part, robust to one outlier.

    Returns a dict: ``status`` ("ok", "flat" or "too_few_points"), ``static``, ``knee``,
    ``slope`` (per extra image), ``r2``, ``rmse``, ``n``, ``outliers`` (batch sizes left out).
    """
    b = np.asarray(batches, dtype=float)
    v = np.asarray(values, dtype=float)
    order = np.argsort(b, kind="mergesort")
    b, v = b[order], v[order]
    n = len(b)
    if n < min_points or len(np.unique(b)) < 3:
        return {"status": "too_few_points", "n": n}
    typical = float(np.median(np.abs(v)))
    tolerance = max(1.0, 0.01 * typical)  # growth smaller than this is no growth
    outlier_tolerance = max(2.0, 0.05 * typical)  # a point this far off is an outlier, not noise
    fit = best_hinge(b, v)
    keep = np.ones(n, dtype=bool)
    # Leaving one point out needs enough points left to judge it: 3 parameters and 2 to spare.
    if n >= 6:
        best_j, best_loo = None, None
        for j in range(n):
            mask = np.arange(n) != j
            if len(np.unique(b[mask])) < 3:
                continue
            loo = best_hinge(b[mask], v[mask])
            if best_loo is None or loo.sse < best_loo.sse:
                best_j, best_loo = j, loo
        if best_loo is not None:
            sigma = math.sqrt(best_loo.sse / max(n - 1 - 3, 1))
            miss = abs(float(v[best_j] - best_loo.predict(b[best_j])))
            if miss > max(outlier_tolerance, 5.0 * sigma) and best_loo.sse < 0.25 * fit.sse:
                fit = best_loo
                keep[best_j] = False
    bk, vk = b[keep], v[keep]
    residual = vk - fit.predict(bk)
    sse = float(np.sum(residual**2))
    sst = float(np.sum((vk - vk.mean()) ** 2))
    rmse = math.sqrt(sse / len(bk))
    out = {
        "status": "ok",
        "static": fit.static,
        "knee": fit.knee,
        "slope": fit.slope,
        "r2": None if sst == 0 else 1.0 - sse / sst,
        "rmse": rmse,
        "n": int(keep.sum()),
        "outliers": [float(x) for x in b[~keep]],
    }
    rise = fit.slope * max(0.0, float(bk.max()) - fit.knee)
    if fit.slope == 0 or rise < max(tolerance, 3.0 * rmse):
        flat = float(vk.mean())
        out.update(
            status="flat",
            static=flat,
            knee=None,
            slope=None,
            rmse=math.sqrt(float(np.sum((vk - flat) ** 2)) / len(bk)),
        )
    return out


# ---------------------------------------------------------------------------------------------
# frontiers and upper bounds


def pareto_max_max(points):
    """Indices of points not dominated when both coordinates are better larger: (x, y) pairs."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    frontier, best_y = [], -math.inf
    for i in order:
        if points[i][1] > best_y:
            frontier.append(i)
            best_y = points[i][1]
    return sorted(frontier, key=lambda i: points[i][0])


def pareto_min_max(points):
    """Indices of points not dominated when x is better smaller and y better larger."""
    flipped = [(-x, y) for x, y in points]
    return sorted(pareto_max_max(flipped), key=lambda i: points[i][0])


def _upper_hull(xy):
    """Upper convex hull of points sorted by x (monotone chain)."""
    hull = []
    for p in xy:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def linear_upper_bound(x, y):
    """The tightest line y <= a + b * x (b <= 0) above every point, fitted on the upper envelope.

    The envelope is the set of points no other point beats on both x and y (more x, more y).
    Among lines above every point, the one returned has the least mean gap over the envelope
    points: the supporting line of their upper convex hull at their mean x. A line with b <= 0
    above the envelope is above every dominated point too. Returns a dict with ``intercept``,
    ``slope``, ``envelope`` (indices) and ``touching`` (indices on the line), or None without
    points.
    """
    pts = [(float(a), float(c)) for a, c in zip(x, y)]
    if not pts:
        return None
    env = pareto_max_max(pts)
    env_pts = sorted({pts[i] for i in env})
    if len(env_pts) == 1:
        slope, intercept = 0.0, env_pts[0][1]
    else:
        hull = _upper_hull(env_pts)
        mean_x = sum(p[0] for p in env_pts) / len(env_pts)
        # the hull edge over mean_x (the right-hand edge when mean_x is a vertex)
        edge = None
        for (x1, y1), (x2, y2) in zip(hull, hull[1:]):
            if x1 <= mean_x < x2:
                edge = ((x1, y1), (x2, y2))
                break
        if edge is None:
            edge = (hull[-2], hull[-1])
        (x1, y1), (x2, y2) = edge
        slope = (y2 - y1) / (x2 - x1)
        intercept = y1 - slope * x1
    tol = 1e-9 * max(1.0, max(abs(p[1]) for p in pts))
    touching = [i for i, (a, c) in enumerate(pts) if abs(intercept + slope * a - c) <= tol]
    return {"intercept": intercept, "slope": slope, "envelope": env, "touching": touching}
