"""On-board power sensors calibrated against a reference meter: gain and offset, stored per board.

``edgebench power calibrate --power ina3221 --reference serial://...`` runs a load ladder (idle,
then the CPUs at several duty cycles), samples both sources on the same clock (each in its own
:class:`~edgebench.power.sampler.Sampler`; every timestamp is ``time.perf_counter()``, one
system-wide monotonic clock), takes the mean of each source over the settled part of every step,
and fits ``reference_w = gain x board_w + offset_w`` by least squares over the steps, with the
standard errors of both parameters from the residuals (needs at least three steps).

The result is a JSON file per board, ``<state-dir>/calibration/<board-serial>.json`` (state dir:
``--state-dir``, else ``$EDGEBENCH_STATE_DIR``, else ``/var/lib/edgebench``; ``--out`` overrides
the path). The board serial is the device tree's ``serial-number`` (Jetson), else
``/etc/machine-id``, under ``--root``.

Applying it (what a sweep calls, see :func:`calibrated_figures`): gross power ``gain x raw +
offset``; an idle-subtracted (net) power or energy only ``x gain`` (the offset cancels). A
calibration applies only to the source it was made for (:meth:`Calibration.matches`).
"""
import json
import logging
import os
import time

from edgebench._files import default_state_dir
from edgebench.errors import UsageError

logger = logging.getLogger(__name__)

SCHEMA = 1
DEFAULT_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
MIN_SPAN = 0.05  # the ladder must move the board power by 5% of its mean, or the fit means nothing
SERIAL_FILES = ("/proc/device-tree/serial-number", "/sys/firmware/devicetree/base/serial-number",
                "/etc/machine-id")


class CalibrationError(UsageError):
    """Calibration could not be made or read; the text says what to do."""


# -- where it lives ---------------------------------------------------------------------------------
def board_serial(root=None):
    """The board's serial number (device tree), else the machine id, else ``unknown``."""
    from edgebench.platform.root import under

    for path in SERIAL_FILES:
        try:
            with open(under(root, path), "rb") as handle:
                text = handle.read().decode("ascii", "replace").strip().strip("\x00").strip()
        except (OSError, IOError):
            continue
        safe = "".join(c for c in text if c.isalnum() or c in "-_.")
        if safe:
            return safe
    return "unknown"


def calibration_path(state_dir=None, serial=None, root=None):
    """``<state-dir>/calibration/<board-serial>.json``."""
    state_dir = state_dir or default_state_dir()
    return os.path.join(state_dir, "calibration", "{}.json".format(serial or board_serial(root)))


# -- the fit ----------------------------------------------------------------------------------------
def fit_gain_offset(board_w, reference_w):
    """``(gain, offset_w, gain_se, offset_se_w, residual_rms_w)`` of ``reference = gain x board + offset``."""
    import numpy as np

    x = np.asarray(board_w, dtype=float)
    y = np.asarray(reference_w, dtype=float)
    if x.size < 3:
        raise CalibrationError("a gain and offset fit needs at least 3 load steps, got {}".format(x.size))
    if np.ptp(x) <= MIN_SPAN * np.mean(np.abs(x)):
        raise CalibrationError(
            "the load ladder moved the board power by only {:.3g} W ({:.3g}-{:.3g} W): something else keeps the "
            "machine busy, or the source does not measure the loaded CPUs; stop other work and retry".format(
                float(np.ptp(x)), float(np.min(x)), float(np.max(x))))
    design = np.column_stack([x, np.ones_like(x)])
    (gain, offset), _, _, _ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - (gain * x + offset)
    dof = x.size - 2
    sigma2 = float(np.sum(residuals ** 2)) / dof if dof > 0 else 0.0
    covariance = sigma2 * np.linalg.inv(design.T.dot(design))
    return (float(gain), float(offset), float(np.sqrt(covariance[0, 0])), float(np.sqrt(covariance[1, 1])),
            float(np.sqrt(np.mean(residuals ** 2))))


class Calibration(object):
    """A stored gain/offset for one board's power source, with where it came from."""

    # optional fields and their defaults (the JSON file carries the same names)
    FIELDS = (("gain_se", None), ("offset_se_w", None), ("residual_rms_w", None), ("source", ""),
              ("reference", ""), ("board_serial", ""), ("board_rule", ""), ("steps", ()), ("created_utc", ""),
              ("simulated", False))

    def __init__(self, gain, offset_w, path=None, **fields):
        unknown = set(fields) - set(name for name, _ in self.FIELDS)
        if unknown:
            raise TypeError("unknown calibration fields: {}".format(", ".join(sorted(unknown))))
        self.gain = float(gain)
        self.offset_w = float(offset_w)
        self.path = path
        for name, default in self.FIELDS:
            setattr(self, name, fields.get(name, default))
        self.steps = list(self.steps)
        self.simulated = bool(self.simulated)

    def apply_w(self, raw_w):
        """Calibrated gross power (W) for a raw reading (None stays None)."""
        return None if raw_w is None else self.gain * raw_w + self.offset_w

    def apply_net_w(self, net_w):
        """Calibrated idle-subtracted power or energy: the offset cancels, only the gain applies."""
        return None if net_w is None else self.gain * net_w

    def matches(self, source_url):
        """True when this calibration was made for ``source_url`` (its URL text, before any detail)."""
        return str(source_url).split(" (")[0] == self.source.split(" (")[0]

    @property
    def provenance(self):
        text = "gain {:.4f}{} offset {:+.3f}{} W against {} ({}, board {})".format(
            self.gain, "" if self.gain_se is None else " +- {:.4f}".format(self.gain_se), self.offset_w,
            "" if self.offset_se_w is None else " +- {:.3f}".format(self.offset_se_w), self.reference,
            self.created_utc, self.board_serial)
        return ("SIMULATED " if self.simulated else "") + text

    def to_json(self):
        out = {"schema": SCHEMA, "gain": self.gain, "offset_w": self.offset_w}
        out.update((name, getattr(self, name)) for name, _ in self.FIELDS)
        return out

    @classmethod
    def from_json(cls, obj, path=None):
        if not isinstance(obj, dict) or obj.get("schema") != SCHEMA or "gain" not in obj or "offset_w" not in obj:
            raise CalibrationError("{} is not an edgebench calibration (schema {}): run edgebench power calibrate "
                                   "again".format(path, SCHEMA))
        return cls(obj["gain"], obj["offset_w"], path=path, **{k: obj[k] for k, _ in cls.FIELDS if k in obj})


def save_calibration(calibration, path):
    from edgebench._files import atomic_write_json

    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write_json(path, calibration.to_json())
    except (OSError, IOError) as err:
        raise CalibrationError("cannot write the calibration to {}: {} (pass --out FILE or --state-dir DIR)".format(
            path, err.strerror or err))
    calibration.path = path
    return path


def load_calibration(path=None, state_dir=None, root=None):
    """The stored :class:`Calibration` for this board (or at ``path``); None when there is none."""
    path = path or calibration_path(state_dir, root=root)
    try:
        with open(path) as handle:
            obj = json.load(handle)
    except (OSError, IOError):
        return None
    except ValueError as err:
        raise CalibrationError("{} is not valid JSON ({}): run edgebench power calibrate again".format(path, err))
    return Calibration.from_json(obj, path=path)


def calibrated_figures(calibration, source_url, gross_power_w=None, net_power_w=None, energy_per_image_j=None,
                       net_energy_per_image_j=None):
    """What a sweep adds next to its raw power columns: calibrated values and the provenance.

    Returns a dict with ``power_calibration`` (provenance text, or None) and
    ``gross_power_cal_w``, ``net_power_cal_w``, ``energy_per_image_cal_j``,
    ``net_energy_per_image_cal_j`` (None without a matching calibration). Gross power gets
    ``gain x raw + offset``, gross energy per image the calibrated power x the time per image
    (``energy / power``); net power and net energy ``x gain``.
    """
    out = {"power_calibration": None, "gross_power_cal_w": None, "net_power_cal_w": None,
           "energy_per_image_cal_j": None, "net_energy_per_image_cal_j": None}
    if calibration is None or not calibration.matches(source_url):
        return out
    out["power_calibration"] = calibration.provenance
    out["gross_power_cal_w"] = calibration.apply_w(gross_power_w)
    out["net_power_cal_w"] = calibration.apply_net_w(net_power_w)
    if energy_per_image_j is not None and gross_power_w:
        seconds_per_image = energy_per_image_j / gross_power_w
        out["energy_per_image_cal_j"] = calibration.apply_w(gross_power_w) * seconds_per_image
    out["net_energy_per_image_cal_j"] = calibration.apply_net_w(net_energy_per_image_j)
    return out


# -- the load ladder --------------------------------------------------------------------------------
def _spin(duty, stop, period_s=0.01):
    """Busy for ``duty`` of every ``period_s``, sleep the rest, until ``stop`` is set."""
    clock = time.perf_counter
    while not stop.is_set():
        start = clock()
        while clock() - start < duty * period_s:
            pass
        rest = period_s - (clock() - start)
        if rest > 0:
            time.sleep(rest)


class CpuLoad(object):
    """Every CPU at a duty cycle (``set_level(0..1)``): one process per CPU, busy for that share of 10 ms."""

    def __init__(self, cpus=None):
        self.cpus = cpus or os.cpu_count() or 1
        self._procs = []
        self._stop = None

    def set_level(self, fraction):
        import multiprocessing

        self.stop()
        if fraction <= 0:
            return
        self._stop = multiprocessing.Event()
        for _ in range(self.cpus):
            proc = multiprocessing.Process(target=_spin, args=(min(fraction, 1.0), self._stop), daemon=True)
            proc.start()
            self._procs.append(proc)

    def stop(self):
        if self._stop is not None:
            self._stop.set()
        for proc in self._procs:
            proc.join(timeout=2.0)
            if proc.is_alive():
                proc.terminate()
        self._procs = []
        self._stop = None


def _window_mean_w(sampler, start_s, end_s):
    import numpy as np

    from edgebench.power.energy import integrate

    data = sampler.window(start_s, end_s)
    energy, covered = integrate(data.t_s, data.power_w, start_s, end_s, data.sampling)
    samples = int(np.sum(data.inside & np.isfinite(data.power_w)))
    return (energy / covered if covered > 0 else None), samples


def run_ladder(board, reference, load, levels=DEFAULT_LEVELS, step_s=5.0, settle_s=1.0, progress=None):
    """Drive ``load`` through ``levels``; per step the mean of both samplers over the settled part.

    ``board`` and ``reference`` are started :class:`Sampler` objects (same clock). Returns a list
    of dicts: ``level``, ``board_w``, ``reference_w``, ``board_samples``, ``reference_samples``.
    """
    steps = []
    try:
        for level in levels:
            load.set_level(level)
            time.sleep(settle_s)
            start = time.perf_counter()
            time.sleep(step_s)
            end = time.perf_counter()
            board_w, board_n = _window_mean_w(board, start, end)
            reference_w, reference_n = _window_mean_w(reference, start, end)
            step = {"level": level, "board_w": board_w, "reference_w": reference_w, "board_samples": board_n,
                    "reference_samples": reference_n, "start_s": start, "end_s": end}
            steps.append(step)
            if progress:
                progress(step)
    finally:
        load.set_level(0.0)
        load.stop()
    return steps


def calibrate(board_source, reference_source, load, levels=DEFAULT_LEVELS, step_s=5.0, settle_s=1.0,
              serial="unknown", progress=None):
    """Run the ladder on two open sources and fit; returns a :class:`Calibration` (not yet saved)."""
    from edgebench.power.sampler import Sampler

    board = Sampler(board_source, buffer_s=step_s + settle_s + 30.0)
    reference = Sampler(reference_source, buffer_s=step_s + settle_s + 30.0)
    with board, reference:
        steps = run_ladder(board, reference, load, levels, step_s, settle_s, progress)
    usable = [s for s in steps if s["board_w"] is not None and s["reference_w"] is not None]
    missing = [s["level"] for s in steps if s not in usable]
    if missing:
        silent = board_source if any(s["board_w"] is None for s in steps) else reference_source
        raise CalibrationError("no power data at load level{} {} from {}: check it with edgebench power read".format(
            "s" if len(missing) > 1 else "", ", ".join("{:g}".format(m) for m in missing), silent.label))
    gain, offset, gain_se, offset_se, rms = fit_gain_offset([s["board_w"] for s in usable],
                                                            [s["reference_w"] for s in usable])
    for step in steps:
        step.pop("start_s", None)
        step.pop("end_s", None)
    return Calibration(gain, offset, gain_se=gain_se, offset_se_w=offset_se, residual_rms_w=rms,
                       source=str(board_source.url),
                       reference=reference_source.label, board_serial=serial, board_rule=board_source.board_rule,
                       steps=steps, created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       simulated=bool(board_source.simulated or reference_source.simulated))
