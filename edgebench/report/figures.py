"""PNG figures in the spirit of the seed paper's, drawn with matplotlib's Agg backend.

matplotlib is an optional extra (``pip install 'edgebench[report]'``) and is imported only inside
:func:`draw_figures`; :func:`matplotlib_available` is the cheap probe. Colours follow the network
family (the ``family`` column) and are the same in every figure; within a family, networks differ
by marker. Figures with power or energy carry a SIMULATED watermark when the power source was
simulated.
"""

import math
import os
from collections import OrderedDict

from edgebench.analysis.fits import pareto_min_max
from edgebench.analysis.paper import MEMORY_LABEL, PAPER, POWER_LABEL
from edgebench.analysis.points import (
    accuracy_of,
    engine_key,
    images_per_s_of,
    memory_of,
    net_energy_of,
    per_image_ms_of,
    precision_label,
)
from edgebench.results.schema import STATUS_OK, STATUS_OOM

PAPER_LOW_W = PAPER["net_power_w"] - PAPER["net_power_std_w"]
PAPER_HIGH_W = PAPER["net_power_w"] + PAPER["net_power_std_w"]

INSTALL_HINT = "pip install 'edgebench[report]'"

# Colour-blind-friendly palette (Okabe & Ito) followed by further distinct colours.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#9467BD",
    "#AEC7E8",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
LINESTYLES = ("-", "--", ":", "-.")
OTHER_FAMILY = "other"

DPI = 110


def matplotlib_available():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


class Style(object):
    """Family -> colour and model -> marker, fixed for a whole report."""

    def __init__(self, rows):
        families = OrderedDict()
        for r in sorted(rows, key=lambda r: ((r.get("family") or OTHER_FAMILY), r["model"])):
            families.setdefault(r.get("family") or OTHER_FAMILY, [])
            if r["model"] not in families[r.get("family") or OTHER_FAMILY]:
                families[r.get("family") or OTHER_FAMILY].append(r["model"])
        self.family_colour = OrderedDict()
        self.model_family = {}
        self.model_marker = {}
        self.model_linestyle = {}
        for i, (family, models) in enumerate(families.items()):
            self.family_colour[family] = PALETTE[i % len(PALETTE)]
            for j, model in enumerate(models):
                self.model_family[model] = family
                self.model_marker[model] = MARKERS[j % len(MARKERS)]
                self.model_linestyle[model] = LINESTYLES[j % len(LINESTYLES)]

    def colour(self, model):
        return self.family_colour.get(self.model_family.get(model, OTHER_FAMILY), "#7F7F7F")

    def marker(self, model):
        return self.model_marker.get(model, "o")

    def linestyle(self, model):
        return self.model_linestyle.get(model, "-")


PRECISION_ORDER = {"fp32": 0, "fp16": 1, "int8": 2}
# Line styles and hatches by what ran: a request that fell back to fp32 is drawn as fp32 is.
PRECISION_LINESTYLE = {"fp32": "-", "fp16": "--", "int8": ":"}
PRECISION_MARKER = {"fp32": "o", "fp16": "s", "int8": "^"}


def _label_order(label):
    """fp32, fp16→fp32, fp16, int8→fp32, int8: requested precision first, then what ran."""
    requested = label.split("→")[0]
    return (PRECISION_ORDER.get(requested, 3), "→" not in label, label)


def _engines(rows):
    """(backend, precision label) pairs by number of ok points, fp32 first on ties; at most 4."""
    counts = OrderedDict()
    for r in rows:
        if r["status"] == STATUS_OK:
            key = engine_key(r)
            counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts, key=lambda k: (_label_order(k[1]), k[0], -counts[k]))
    return keys[:4]


def _effective_of_label(label):
    return label.split("→")[-1]


def _engine_title(engine):
    return "{} {}".format(engine[0], engine[1])


class Drawer(object):
    def __init__(self, summary, rows, out_dir):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self._figure_cls = Figure
        self._canvas_cls = FigureCanvasAgg
        self.summary = summary
        self.rows = rows
        self.ok = [r for r in rows if r["status"] == STATUS_OK]
        self.out_dir = out_dir
        self.style = Style(rows)
        self.simulated = bool(summary.get("power", {}).get("simulated"))
        self.engines = _engines(rows)
        self.captions = {}  # figure name -> caption generated from what was drawn

    # -- helpers --------------------------------------------------------------------------------

    def figure(self, panels=1, width=8.0, height=5.0):
        fig = self._figure_cls(figsize=(width if panels == 1 else max(width, 4.6 * panels), height), dpi=DPI)
        self._canvas_cls(fig)
        axes = [fig.add_subplot(1, panels, i + 1) for i in range(panels)]
        return fig, axes

    def save(self, fig, name, title, right=1.0, bottom=0.02):
        fig.suptitle(title, fontsize=12)
        fig.tight_layout(rect=(0, bottom, right, 0.95))
        path = os.path.join(self.out_dir, name)
        fig.savefig(path, dpi=DPI)
        return name

    def watermark(self, fig):
        if self.simulated:
            fig.text(
                0.5,
                0.5,
                "SIMULATED power",
                fontsize=40,
                color="#D55E00",
                alpha=0.18,
                ha="center",
                va="center",
                rotation=20,
                weight="bold",
            )

    def model_handles(self, models):
        from matplotlib.lines import Line2D

        handles = []
        for model in sorted(set(models), key=lambda m: (self.style.model_family.get(m, ""), m)):
            handles.append(
                Line2D(
                    [],
                    [],
                    color=self.style.colour(model),
                    marker=self.style.marker(model),
                    linestyle=self.style.linestyle(model),
                    label=model,
                )
            )
        return handles

    def log2_batch_axis(self, ax, batches):
        ax.set_xscale("log", base=2) if _mpl_new_log_api() else ax.set_xscale("log", basex=2)
        ticks = sorted(set(batches))
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlabel("batch size")

    # -- figures --------------------------------------------------------------------------------

    def top1_per_network(self):
        per_model = OrderedDict()
        measured = []
        for r in self.rows:
            if r.get("top1") is not None and r["model"] not in per_model:
                per_model[r["model"]] = r["top1"]
            if r.get("top1_measured") is not None:
                measured.append((r["model"], precision_label(r), r["top1_measured"]))
        for r in self.rows:
            if r["model"] not in per_model and r.get("top1_measured") is not None:
                per_model[r["model"]] = None
        if not per_model:
            return None, "no network has a top-1 accuracy (reference or measured)"
        models = sorted(per_model, key=lambda m: (per_model[m] is None, per_model[m] or 0))
        fig, (ax,) = self.figure(height=max(3.5, 0.38 * len(models) + 1.5))
        y = list(range(len(models)))
        ax.barh(
            y,
            [per_model[m] or 0 for m in models],
            color=[self.style.colour(m) for m in models],
            alpha=0.85,
            label="reference top-1",
        )
        prec_marker = PRECISION_MARKER
        shown = set()
        for model, precision, value in measured:
            label = "measured, {}".format(precision) if precision not in shown else None
            shown.add(precision)
            ax.plot(
                [value],
                [models.index(model)],
                marker=prec_marker.get(_effective_of_label(precision), "D"),
                color="black",
                linestyle="none",
                label=label,
                markersize=6,
                markerfacecolor="white",
            )
        for i, m in enumerate(models):
            if per_model[m] is not None:
                ax.text(per_model[m] + 0.5, i, "{:.1f}".format(per_model[m]), va="center", fontsize=8)
        ax.set_yticks(y)
        ax.set_yticklabels(models)
        low = min([v for v in per_model.values() if v is not None] + [v for _, _, v in measured] + [100])
        ax.set_xlim(max(0, math.floor(low / 10.0) * 10 - 10), 100)
        ax.set_xlabel("top-1 accuracy (%)")
        ax.grid(axis="x", alpha=0.3)
        legend_if_labelled(ax, loc="lower right", fontsize=8)
        return self.save(
            fig,
            "top1_per_network.png",
            "Top-1 accuracy per network (bars: reference; markers: measured on the engine)",
        ), None

    def top1_vs_gops(self):
        seen = OrderedDict()
        for r in self.rows:
            top1, _ = accuracy_of(r)
            if r.get("gops") and top1 is not None and r.get("params") and r["model"] not in seen:
                seen[r["model"]] = (
                    r["gops"],
                    r.get("top1") if r.get("top1") is not None else top1,
                    r["params"],
                )
        if not seen:
            return None, "no network has G-Ops, parameters and a top-1 accuracy"
        fig, (ax,) = self.figure()
        biggest = max(p for _, _, p in seen.values())
        for model, (gops, top1, params) in seen.items():
            ax.scatter(
                [gops],
                [top1],
                s=[40 + 1200.0 * params / biggest],
                color=self.style.colour(model),
                alpha=0.55,
                edgecolors="black",
                linewidths=0.5,
            )
            ax.annotate(model, (gops, top1), textcoords="offset points", xytext=(6, 6), fontsize=8)
        ax.set_xlabel("G-Ops per image (2 x MACs)")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3)
        ax.margins(0.12)
        fig.text(
            0.99,
            0.01,
            "marker area proportional to parameters (largest: {:.0f} M)".format(biggest / 1e6),
            ha="right",
            fontsize=8,
            color="#555555",
        )
        self._family_patches(ax, seen.keys(), loc="best")
        return self.save(fig, "top1_vs_gops.png", "Top-1 accuracy vs operations"), None

    def _family_patches(self, ax, models, loc="lower right", outside=False):
        from matplotlib.patches import Patch

        families = OrderedDict()
        for m in models:
            fam = self.style.model_family.get(m, OTHER_FAMILY)
            families[fam] = self.style.family_colour.get(fam, "#7F7F7F")
        handles = [Patch(color=c, label=f, alpha=0.7) for f, c in sorted(families.items())]
        if handles and outside:  # right of the axes, clear of the data
            ax.legend(handles=handles, loc=loc, bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=8,
                      title="family", title_fontsize=8)
        elif handles:
            ax.legend(handles=handles, loc=loc, fontsize=8, title="family", title_fontsize=8)

    def _per_engine(
        self, value_of, name, title, ylabel, logy=False, extra=None, need_power=False, decorate=None
    ):
        engines = [
            e
            for e in self.engines
            if any(value_of(r) is not None for r in self.ok if engine_key(r) == e)
        ]
        if not engines:
            return None
        fig, axes = self.figure(panels=len(engines), height=5.0, width=9.5)
        all_batches = [r["batch_size"] for r in self.rows]
        legend_models = set()
        for ax, engine in zip(axes, engines):
            rows = [r for r in self.rows if engine_key(r) == engine]
            models = sorted({r["model"] for r in rows})
            drawn = []
            for model in models:
                mine = sorted((r for r in rows if r["model"] == model), key=lambda r: r["batch_size"])
                pts = [
                    (r["batch_size"], value_of(r))
                    for r in mine
                    if r["status"] == STATUS_OK and value_of(r) is not None
                ]
                if not pts:
                    continue
                drawn.append(model)
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    color=self.style.colour(model),
                    marker=self.style.marker(model),
                    linestyle=self.style.linestyle(model),
                    markersize=5,
                    linewidth=1.4,
                )
                ooms = [r["batch_size"] for r in mine if r["status"] == STATUS_OOM]
                if ooms:
                    ax.plot(
                        ooms,
                        [pts[-1][1]] * len(ooms),
                        linestyle="none",
                        marker="x",
                        markersize=8,
                        color=self.style.colour(model),
                    )
                if extra is not None:
                    extra(ax, engine, model, pts)
            self.log2_batch_axis(ax, all_batches)
            if logy:
                ax.set_yscale("log")
                plain_log_ticks(ax)
            ax.set_title(_engine_title(engine), fontsize=10)
            ax.set_ylabel(ylabel)
            if decorate is not None:
                decorate(ax)
            ax.grid(alpha=0.3, which="both")
            legend_models.update(drawn)
        handles = self.model_handles(legend_models)
        fig.legend(
            handles=handles,
            loc="center right",
            fontsize=8,
            title="network",
            ncol=1 if len(handles) <= 20 else 2,
        )
        if any(r["status"] == STATUS_OOM for r in self.rows):
            fig.text(
                0.01, 0.01, "x = out of memory at that batch (no measurement)", fontsize=8, color="#555555"
            )
        if need_power:
            self.watermark(fig)
        return self.save(fig, name, title() if callable(title) else title,
                         right=0.86 if len(handles) <= 20 else 0.78)

    def time_vs_batch(self):
        name = self._per_engine(
            per_image_ms_of,
            "time_vs_batch.png",
            "Per-image time vs batch size",
            "time per image (ms)",
            logy=True,
        )
        return (name, None) if name else (None, "no ok point has a per-image time")

    def power_vs_batch(self):
        def paper_band(ax):
            ax.axhspan(PAPER_LOW_W, PAPER_HIGH_W, color="#D55E00", alpha=0.10, zorder=0)
            ax.text(
                0.99,
                0.01,
                "band: paper (TX1) " + POWER_LABEL,
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7,
                color="#D55E00",
            )

        name = self._per_engine(
            lambda r: r.get("net_power_w"),
            "power_vs_batch.png",
            "Net power (above idle) vs batch size" + self._sim_suffix(),
            "net power (W)",
            need_power=True,
            decorate=paper_band,
        )
        if not name:
            return None, "no power data (the sweep ran without a power source)"
        return name, None

    def _sim_suffix(self):
        return " - SIMULATED power" if self.simulated else ""

    def memory_vs_batch(self):
        knees = {(k["model"], k["backend"], k["precision_label"]): k for k in self.summary["memory_knee"]}

        def value_of(r):
            k = knees.get((r["model"],) + engine_key(r))
            if not k or not k.get("memory_column"):
                return None
            parts = k["memory_column"].split(" - ")
            return memory_of(r, (parts[0], parts[1] if len(parts) > 1 else None))

        fitted = []

        def draw_fit(ax, engine, model, pts):
            k = knees.get((model,) + engine)
            if not k or k.get("status") not in ("ok", "flat"):
                return
            fitted.append(k["status"])
            lo, hi = min(p[0] for p in pts), max(p[0] for p in pts)
            xs = [lo * (hi / float(lo)) ** (i / 60.0) for i in range(61)] if hi > lo else [lo]
            if k["status"] == "flat":
                ys = [k["static_mb"]] * len(xs)
            else:
                ys = [k["static_mb"] + k["mb_per_image"] * max(0.0, x - k["knee_batch"]) for x in xs]
                ax.plot([k["knee_batch"]], [k["static_mb"]], marker="|", markersize=14, color="black")
            ax.plot(xs, ys, color="black", linewidth=0.8, linestyle=":", alpha=0.8)

        name = self._per_engine(
            value_of,
            "memory_vs_batch.png",
            lambda: "Memory vs batch size" + (
                " (dotted: fitted knee{})".format("; |: knee" if "ok" in fitted else "") if fitted
                else " (no knee could be fitted)"),
            "memory (MB)",
            extra=draw_fit,
        )
        if not name:
            return None, "no ok point has a memory figure"
        self.captions["memory_vs_batch"] = "Memory vs batch size" + (
            " with the fitted knee" if fitted else "; no knee could be fitted")
        return name, None

    def memory_vs_params(self):
        mvp = self.summary["memory_vs_params"]
        fits_ = [f for f in mvp.get("fits", []) if f.get("points")]
        if not fits_:
            return None, mvp.get("reason") or "no model has a parameter count and a memory figure"
        fig, (ax,) = self.figure()
        top = 0
        for f in fits_:
            xs = [p["param_mb"] for p in f["points"]]
            top = max(top, max(xs))
            for p in f["points"]:
                ax.scatter(
                    [p["param_mb"]],
                    [p["static_mb"]],
                    color=self.style.colour(p["model"]),
                    marker=self.style.marker(p["model"]),
                    s=36,
                    edgecolors="black",
                    linewidths=0.4,
                )
            if f.get("available"):
                physical = fit_is_physical(f, "floor_mb")
                ax.plot(
                    [0, max(xs)],
                    [f["floor_mb"], f["floor_mb"] + f["slope_mb_per_param_mb"] * max(xs)],
                    color="#333333" if physical else "#999999",
                    linestyle=PRECISION_LINESTYLE.get(f["precision_effective"], "-") if physical else "--",
                    linewidth=1,
                    label="{} {}: {:.0f} MB + {:.2f} x params MB{}".format(
                        f["backend"], f["precision_label"], f["floor_mb"], f["slope_mb_per_param_mb"],
                        "" if physical else " (not physical: {})".format(_why_not_physical(f, "floor_mb")),
                    ),
                )
        ax.plot(
            [0, top],
            [PAPER["memory_floor_mb"], PAPER["memory_floor_mb"] + PAPER["memory_slope_per_param_mb"] * top],
            color="#D55E00",
            linewidth=1.2,
            alpha=0.7,
            label="paper (TX1): " + MEMORY_LABEL,
        )
        ax.set_xlabel("parameter size (MB, params x bytes per parameter)")
        ax.set_ylabel("static memory (MB, before the knee)")
        ax.grid(alpha=0.3)
        legend_if_labelled(ax, fontsize=8, loc="upper left")
        labelled = [f for f in fits_ if f["precision_label"] == "fp32"] or fits_
        for p in labelled[0]["points"]:
            ax.annotate(
                p["model"],
                (p["param_mb"], p["static_mb"]),
                textcoords="offset points",
                xytext=(5, -10),
                fontsize=7,
                color="#333333",
            )
        return self.save(fig, "memory_vs_params.png", "Static memory vs parameter size"), None

    def time_vs_gops(self):
        fits_ = self.summary["ops_vs_time"]
        batches = sorted({f["batch_size"] for f in fits_})
        chosen = [b for b in (1, 16) if b in batches]
        if batches and batches[-1] not in chosen and len(chosen) < 2:
            chosen.append(batches[-1])  # the smallest and the largest measured batch
        if not chosen:
            return None, "no ok point has both G-Ops and a per-image time"
        fig, axes = self.figure(panels=len(chosen))
        for ax, b in zip(axes, chosen):
            models = []
            for f in (f for f in fits_ if f["batch_size"] == b):
                for p in f["points"]:
                    models.append(p["model"])
                    ax.scatter(
                        [p["gops"]],
                        [p["per_image_ms"]],
                        color=self.style.colour(p["model"]),
                        marker=self.style.marker(p["model"]),
                        s=30,
                        edgecolors="black",
                        linewidths=0.3,
                    )
                if f.get("available"):
                    physical = fit_is_physical(f, "intercept_ms")
                    lo = 0 if physical else min(p["gops"] for p in f["points"])
                    xs = [lo, max(p["gops"] for p in f["points"])]  # never drawn below 0 ms
                    ax.plot(
                        xs,
                        [f["intercept_ms"] + f["ms_per_gop"] * x for x in xs],
                        color="#333333" if physical else "#999999",
                        linestyle=PRECISION_LINESTYLE.get(f["precision_effective"], "-") if physical else "--",
                        linewidth=1,
                        label="{} {}: {:.3g} ms/G-Op, R2 {}{}".format(
                            f["backend"],
                            f["precision_label"],
                            f["ms_per_gop"],
                            "-" if f["r2"] is None else "{:.3f}".format(f["r2"]),
                            "" if physical else " (not physical: {})".format(_why_not_physical(f, "intercept_ms")),
                        ),
                    )
            ax.set_title("batch {}".format(b), fontsize=10)
            ax.set_xlabel("G-Ops per image")
            ax.set_ylabel("time per image (ms)")
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
            legend_if_labelled(ax, fontsize=7, loc="upper left")
        self.captions["time_vs_gops"] = "Per-image time vs G-Ops at batch {}".format(
            " and ".join(str(b) for b in chosen))
        return self.save(fig, "time_vs_gops.png", "Per-image time vs operations"), None

    def gops_vs_power(self):
        p = self.summary["power"]
        if not p.get("available"):
            return None, p.get("reason")
        gops = {}
        for r in self.rows:
            if r.get("gops") is not None:
                gops[r["model"]] = r["gops"]
        pts = [(gops.get(e["model"]), e) for e in p["per_model"] if gops.get(e["model"]) is not None]
        if not pts:
            return None, "no network with power data has a G-Ops figure"
        fig, (ax,) = self.figure()
        for g, e in pts:
            ax.scatter(
                [g],
                [e["net_power_w"]],
                color=self.style.colour(e["model"]),
                marker=PRECISION_MARKER.get(e["precision_effective"], "D"),
                s=40,
                edgecolors="black",
                linewidths=0.4,
            )
            if e.get("net_power_ci_w"):
                ax.errorbar(
                    [g], [e["net_power_w"]], yerr=[e["net_power_ci_w"]], color="#555555", linewidth=0.8
                )
        for model in sorted({e["model"] for _, e in pts}):
            g = gops[model]
            ys = [e["net_power_w"] for gg, e in pts if e["model"] == model]
            ax.annotate(model, (g, max(ys)), textcoords="offset points", xytext=(5, 5), fontsize=7)
        agg = p["across_models"]
        ax.axhline(
            agg["mean_net_power_w"],
            color="#333333",
            linewidth=1,
            linestyle="--",
            label="mean {:.2f} W".format(agg["mean_net_power_w"]),
        )
        ax.axhspan(PAPER_LOW_W, PAPER_HIGH_W, color="#D55E00", alpha=0.12, label="paper (TX1): " + POWER_LABEL)
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        ax.set_xlabel("G-Ops per image (log)")
        ax.set_ylabel("net power at the largest feasible batch (W)")
        ax.grid(alpha=0.3, which="both")
        from matplotlib.lines import Line2D

        handles = ax.get_legend_handles_labels()[0]
        for prec in sorted({e["precision_label"] for _, e in pts}, key=_label_order):
            handles.append(
                Line2D(
                    [], [], marker=PRECISION_MARKER.get(_effective_of_label(prec), "D"), color="#555555",
                    linestyle="none", label=prec,
                )
            )
        ax.legend(handles=handles, fontsize=8, loc="best")
        self.watermark(fig)
        return self.save(fig, "gops_vs_power.png", "Operations vs net power" + self._sim_suffix()), None

    def top1_vs_throughput(self):
        b = self.summary["accuracy_throughput_bound"]
        if not b.get("available"):
            return None, b.get("reason")
        pts = [
            (images_per_s_of(r), accuracy_of(r)[0], r)
            for r in self.ok
            if images_per_s_of(r) and accuracy_of(r)[0] is not None
        ]
        fig, (ax,) = self.figure()
        for x, y, r in pts:
            ax.scatter(
                [x],
                [y],
                color=self.style.colour(r["model"]),
                marker=self.style.marker(r["model"]),
                s=22,
                alpha=0.75,
                edgecolors="none",
            )
        lin = b["images_per_s"]
        a, s = lin["intercept_top1"], lin["slope_top1_per_unit"]
        xmax = max(x for x, _, _ in pts) * 1.05
        xs = [0, xmax]
        ys = [a + s * x for x in xs]
        ax.plot(xs, ys, color="#D55E00", linewidth=1.5, label="upper bound: {}".format(lin["relation"]))
        ymax = max(max(ys), max(y for _, y, _ in pts)) + 3
        ax.fill_between(
            xs, ys, [ymax, ymax], color="#D55E00", alpha=0.10, label="not reached by any configuration"
        )
        env = lin["envelope"]
        ax.plot(
            [e["images_per_s"] for e in env],
            [e["top1"] for e in env],
            color="#333333",
            linewidth=0.8,
            linestyle=":",
            label="envelope",
        )
        ax.set_xlim(0, xmax)
        ax.set_ylim(min(y for _, y, _ in pts) - 3, ymax)
        ax.set_xlabel("images per second")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=len(handles), frameon=False)
        self._family_patches(ax, [r["model"] for _, _, r in pts], loc="upper left", outside=True)
        return self.save(
            fig, "top1_vs_throughput.png", "Accuracy vs throughput, with the linear upper bound", right=0.82,
            bottom=0.08,
        ), None

    def top1_per_param(self):
        dens = self.summary["information_density"]
        if not dens:
            return None, "no network has both a parameter count and a top-1 accuracy"
        dens = dens[:25]
        labels = [
            "{}{}".format(
                e["model"], "" if e["top1_source"] != "measured" else " ({} measured)".format(e["precision_label"])
            )
            for e in dens
        ]
        fig, (ax,) = self.figure(height=max(3.5, 0.32 * len(dens) + 1.5))
        y = list(range(len(dens)))[::-1]
        ax.barh(
            y,
            [e["top1_per_mparams"] for e in dens],
            color=[self.style.colour(e["model"]) for e in dens],
            alpha=0.85,
        )
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        ax.set_xlabel("top-1 % per million parameters (log)")
        ax.grid(axis="x", alpha=0.3, which="both")
        self._family_patches(ax, [e["model"] for e in dens])
        return self.save(fig, "top1_per_param.png", "Information density: accuracy per parameter"), None

    def precisions(self):
        precs = sorted({precision_label(r) for r in self.ok}, key=_label_order)
        if len(precs) < 2:
            return None, "only one precision was measured"
        fallen = [p for p in precs if "→" in p]
        models = sorted({r["model"] for r in self.ok}, key=lambda m: (self.style.model_family.get(m, ""), m))
        has_energy = any(net_energy_of(r)[0] is not None for r in self.ok)
        has_top1 = any(accuracy_of(r)[0] is not None for r in self.ok)
        fig, axes = self.figure(panels=2 if has_energy or has_top1 else 1, height=5.0)
        width = 0.8 / len(precs)
        hatches = {"fp32": "", "fp16": "//", "int8": ".."}
        for prec in fallen:
            hatches[prec] = "xx"
        for panel, ax in enumerate(axes):
            for i, prec in enumerate(precs):
                vals = []
                for m in models:
                    mine = [r for r in self.ok if r["model"] == m and precision_label(r) == prec]
                    if panel == 0:
                        v = max([images_per_s_of(r) or 0 for r in mine], default=0)
                    elif has_energy:
                        es = [net_energy_of(r)[0] for r in mine if net_energy_of(r)[0]]
                        v = min(es) * 1000.0 if es else 0
                    else:
                        accs = [accuracy_of(r)[0] for r in mine if accuracy_of(r)[0] is not None]
                        v = accs[0] if accs else 0
                    vals.append(v)
                xs = [j + (i - (len(precs) - 1) / 2.0) * width for j in range(len(models))]
                ax.bar(
                    xs,
                    vals,
                    width=width,
                    color=[self.style.colour(m) for m in models],
                    edgecolor="black",
                    linewidth=0.4,
                    hatch=hatches.get(prec, ""),
                    label=prec,
                )
            ax.set_xticks(list(range(len(models))))
            ax.set_xticklabels(models, rotation=45, ha="right", fontsize=8)
            ax.grid(axis="y", alpha=0.3)
            if panel == 0:
                ax.set_ylabel("best images per second (any batch)")
                ax.set_yscale("log")
                plain_log_ticks(ax)
            elif has_energy:
                ax.set_ylabel("lowest net energy per image (mJ)")
                ax.set_yscale("log")
                plain_log_ticks(ax)
            else:
                ax.set_ylabel("top-1 accuracy (%)")
            from matplotlib.patches import Patch

            ax.legend(
                handles=[
                    Patch(facecolor="white", edgecolor="black", hatch=hatches.get(p, ""), label=p)
                    for p in precs
                ],
                fontsize=8,
            )
        if fallen:
            fig.text(
                0.01, 0.01,
                "{}: requested, but the layers ran in {}; a difference from fp32 there is load or noise, "
                "not a precision effect".format(
                    ", ".join(fallen), "/".join(sorted({_effective_of_label(p) for p in fallen}))),
                fontsize=7, color="#555555",
            )
        if has_energy:
            self.watermark(fig)
        return self.save(
            fig,
            "precisions.png",
            " / ".join(precs) + " side by side" + (self._sim_suffix() if has_energy else ""),
        ), None

    def accuracy_vs_energy(self):
        par = self.summary["pareto"]
        if not par.get("available"):
            return None, par.get("reason")
        pts = [
            (net_energy_of(r)[0] * 1000.0, accuracy_of(r)[0], r)
            for r in self.ok
            if net_energy_of(r)[0] and accuracy_of(r)[0] is not None
        ]
        fig, (ax,) = self.figure()
        for x, y, r in pts:
            ax.scatter(
                [x],
                [y],
                color=self.style.colour(r["model"]),
                marker=self.style.marker(r["model"]),
                s=22,
                alpha=0.7,
                edgecolors="none",
            )
        front = [pts[i] for i in pareto_min_max([(x, y) for x, y, _ in pts])]
        xs, ys = [], []
        for x, y, _ in front:
            if xs:
                xs.append(x)
                ys.append(ys[-1])
            xs.append(x)
            ys.append(y)
        ax.plot(
            xs, ys, color="#D55E00", linewidth=1.5, label="frontier ({} configurations)".format(len(front))
        )
        for x, y, r in front:
            ax.annotate(
                "{} {} b{}".format(r["model"], precision_label(r), r["batch_size"]),
                (x, y),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
            )
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        ax.set_xlabel("net energy per image (mJ, log)")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.add_artist(ax.legend(fontsize=8, loc="lower right"))
        self._family_patches(ax, [r["model"] for _, _, r in pts], loc="upper left")
        self.watermark(fig)
        return self.save(
            fig, "accuracy_vs_energy.png", "Accuracy vs energy per image" + self._sim_suffix()
        ), None


def plain_log_ticks(ax, axis="y"):
    """Log-axis ticks as plain numbers (``2``, ``0.5``, ``300``), never ``2.35×10⁰``."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _: "{:g}".format(v)))
    low, high = (ax.get_ylim() if axis == "y" else ax.get_xlim())
    if low > 0 and high / low < 100:  # fewer than two decades: label the minor ticks as well
        target.set_minor_formatter(FuncFormatter(lambda v, _: "{:g}".format(float("{:.2g}".format(v)))))
    else:
        target.set_minor_formatter(NullFormatter())


def _why_not_physical(fit, intercept_key):
    if (fit.get("n") or 0) < 3:
        return "only {} points".format(fit.get("n") or 0)
    return "negative intercept"


def legend_if_labelled(ax, **kwargs):
    """A legend only when something drawn has a label (matplotlib warns otherwise); returns it or None."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    return ax.legend(handles, labels, **kwargs)


def fit_is_physical(fit, intercept_key):
    """False for a line with a negative intercept or through fewer than 3 points."""
    return not ((fit.get(intercept_key) is not None and fit[intercept_key] < 0) or (fit.get("n") or 0) < 3)


def _mpl_new_log_api():
    import matplotlib

    parts = matplotlib.__version__.split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (3, 3)
    except ValueError:
        return True


FIGURES = (
    ("top1_per_network", "Top-1 accuracy per network"),
    ("top1_vs_gops", "Top-1 vs G-Ops (marker area: parameters)"),
    ("time_vs_batch", "Per-image time vs batch size"),
    ("power_vs_batch", "Net power vs batch size"),
    ("memory_vs_batch", "Memory vs batch size with the fitted knee"),
    ("memory_vs_params", "Static memory vs parameter size"),
    ("time_vs_gops", "Per-image time vs G-Ops"),
    ("gops_vs_power", "G-Ops vs net power"),
    ("top1_vs_throughput", "Top-1 vs images/s with the upper bound"),
    ("top1_per_param", "Top-1 per parameter"),
    ("precisions", "fp32 / fp16 / int8 side by side"),
    ("accuracy_vs_energy", "Accuracy vs energy per image with the frontier"),
)


def draw_figures(summary, rows, out_dir):
    """Draw every figure the data allows into ``out_dir``.

    Returns a list of dicts: ``name`` (figure id), ``title``, ``file`` (PNG file name relative to
    ``out_dir``, or None) and ``skipped`` (why it was not drawn, or None).
    """
    drawer = Drawer(summary, rows, out_dir)
    out = []
    for name, title in FIGURES:
        file_name, reason = getattr(drawer, name)()
        title = drawer.captions.get(name, title) if file_name else title
        out.append(OrderedDict([("name", name), ("title", title), ("file", file_name), ("skipped", reason)]))
    return out
