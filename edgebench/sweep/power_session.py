"""Power measurement around a sweep: idle before and after, and one window per measured point.

The sweep's parent process owns the power source (workers only time their loops): it opens the
source by URL, checks with a short burst that the source samples fast enough for the signal, starts
the background sampler, measures idle with nothing loaded, hands each point's timed window to
``summarize`` and, at the end, measures idle again to detect drift.
"""
import logging

from edgebench.power.energy import IdleBaseline

LOG = logging.getLogger(__name__)
IDLE_DRIFT_LIMIT = 0.05  # the paper's 1.30 W idle is only subtractable if it holds through the sweep


class PowerSession(object):
    def __init__(self, url, root=None, idle_s=10.0, calibration=None):
        from edgebench.power.url import open_source

        self.url = url
        self.calibration = calibration  # a power.calibration.Calibration of this board, or None
        self.idle_s = float(idle_s)
        self.source = open_source(url, root=root)
        self.sampler = None
        self.idle = None
        self.idle_after = None
        self.burst = None
        self.warnings = []

    @property
    def has_data(self):
        return bool(self.source.has_data)

    @property
    def label(self):
        return self.source.label

    def start(self, say=None):
        """Burst check, start sampling, measure idle. ``say`` prints progress lines."""
        from edgebench.power.nyquist import burst_check
        from edgebench.power.sampler import Sampler

        if not self.has_data:
            return self
        if say:
            say("power: {} - checking its sample rate against the signal ...".format(self.label))
        try:
            self.burst = burst_check(self.source, seconds=1.0)
        except Exception as exc:  # the check informs; it must not stop a sweep
            LOG.info("burst check failed: %s", exc)
            self.burst = None
        if self.burst and self.burst.get("warning"):
            self.warnings.append(self.burst["warning"])
        self.sampler = Sampler(self.source)
        self.sampler.start()
        if self.idle_s > 0:
            if say:
                say("power: measuring idle for {:g} s (nothing loaded) ...".format(self.idle_s))
            self.idle = self.sampler.measure_idle(self.idle_s)
            if say:
                say("power: idle {:.3f} W (95% interval +/- {:.3f} W)".format(
                    self.idle.mean_w, self.idle.ci_w or 0.0) if self.idle.mean_w is not None else
                    "power: no idle figure ({})".format(", ".join(self.idle.flags) or "no samples"))
        else:
            self.warnings.append("--idle-seconds 0: no idle baseline, so no net power or net energy")
        return self

    def summarize(self, start_s, end_s, images):
        """The 13 power columns of one point."""
        if self.sampler is None:
            from edgebench.power.energy import SUMMARY_KEYS

            row = dict.fromkeys(SUMMARY_KEYS)
            row["power_source"] = self.label
            row["power_flags"] = "no power data"
            return row
        row = self.sampler.summary(start_s, end_s, images, self.idle)
        if self.calibration is not None:
            from edgebench.power.calibration import calibrated_figures

            row.update(calibrated_figures(self.calibration, self.url, row.get("gross_power_w"), row.get("net_power_w"),
                                          row.get("energy_per_image_j"), row.get("net_energy_per_image_j")))
        return row

    def finish(self, say=None, measure_idle=True):
        """Idle again (drift check) and stop sampling; returns the warnings of the session."""
        try:
            if self.sampler is not None and measure_idle and self.idle_s > 0 and self.idle is not None:
                if say:
                    say("power: measuring idle again for {:g} s ...".format(self.idle_s))
                self.idle_after = self.sampler.measure_idle(self.idle_s)
                drift = idle_drift(self.idle, self.idle_after)
                if drift is not None and drift > IDLE_DRIFT_LIMIT:
                    self.warnings.append(
                        "idle power drifted {:.1%} during the sweep ({:.3f} W before, {:.3f} W after): net power "
                        "figures are less trustworthy; let the board reach a steady temperature and rerun".format(
                            drift, self.idle.mean_w, self.idle_after.mean_w))
        finally:
            if self.sampler is not None:
                self.sampler.stop()
            self.source.close()
        return list(self.warnings)

    def metadata(self):
        """What the run records about its power measurement."""
        def idle_dict(idle):
            return idle.as_dict() if isinstance(idle, IdleBaseline) else None

        return {
            "source": self.label,
            "url": self.url,
            "simulated": bool(getattr(self.source, "simulated", False)),
            "idle_before": idle_dict(self.idle),
            "idle_after": idle_dict(self.idle_after),
            "burst": dict((k, v) for k, v in (self.burst or {}).items() if not hasattr(v, "shape")),
            "warnings": list(self.warnings),
            "calibration": self.calibration.provenance if self.calibration is not None else None,
        }


def idle_drift(before, after):
    """Relative change of idle power, or None when either figure is missing."""
    if before is None or after is None or not before.mean_w or after.mean_w is None:
        return None
    return abs(after.mean_w - before.mean_w) / abs(before.mean_w)
