"""``edgebench power``: list, read, record, analyze, calibrate, emulate.

JSON keys (``--json``):

* ``list``: ``root``, ``auto`` (what ``--power auto`` picks, or null), ``sources`` (one object per
  on-board source: ``source``, ``available``, ``detail``), ``ina3221`` (``rails``: rail, driver,
  device, channel, voltage_mv, current_ma, power_mw, warn_ma, crit_ma; ``board_rule``,
  ``board_rails``, ``board_input_w``, ``skipped``), ``serial_ports``.
* ``read``: ``source``, ``simulated``, ``sampling``, ``samples``, ``duration_s``, ``rate_hz``,
  ``mean_w``, ``min_w``, ``max_w``, ``std_w``, ``energy_j``, ``rails`` (rail -> mean W),
  ``board_rule``, ``bandwidth_hz``, ``nyquist_ok``, ``verdict``, ``flags``.
* ``calibrate``: ``gain``, ``gain_se``, ``offset_w``, ``offset_se_w``, ``residual_rms_w``,
  ``source``, ``reference``, ``board_serial``, ``board_rule``, ``steps`` (``level``, ``board_w``,
  ``reference_w``, ``board_samples``, ``reference_samples``), ``created_utc``, ``simulated``,
  ``schema``, ``path`` (the file written).
* ``analyze``: ``trace``, ``simulated``, ``samples``, ``duration_s``, ``sample_rate_hz``,
  ``bandwidth_hz``, ``nyquist_rate_hz``, ``threshold``, ``aliasing_risk``, ``verdict``, ``detail``,
  ``mean_w``, ``energy_j``.

Heavy imports (numpy, scipy, pyserial) happen inside the run functions only.
"""
from edgebench.cliutil import add_json_argument, add_root_argument, positive_float

SAMPLING_CHOICES = ("instantaneous", "integrating")


def register(subparsers):
    power = subparsers.add_parser(
        "power",
        help="power sources: list, read, record, analyze traces, emulate probes",
        description="Power sources are URLs: auto, none, ina3221[:RAIL], tegrastats, rapl, nvml, "
        "serial://PORT?protocol=csv|scpi|ppk2|powersensor3, trace://FILE.csv, sim://?idle_w=..&active_w=..",
    )
    sub = power.add_subparsers(dest="power_command", metavar="ACTION")

    p = sub.add_parser("list", help="power sources found here, rails with current readings, board input")
    add_root_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run_list)

    p = sub.add_parser("read", help="sample a power source for a while and summarise")
    _source_arguments(p)
    add_json_argument(p)
    p.set_defaults(func=run_read)

    p = sub.add_parser("record", help="sample a power source and write a trace CSV (t_s,power_w[,<rail>_w])")
    _source_arguments(p)
    p.add_argument("--out", required=True, metavar="FILE", help="trace CSV to write")
    p.set_defaults(func=run_record)

    p = sub.add_parser("analyze", help="spectrum, bandwidth and Nyquist verdict of a trace CSV")
    p.add_argument("trace", metavar="TRACE.csv")
    p.add_argument("--threshold", type=_fraction, default=0.99,
                   help="share of AC power below the bandwidth (default 0.99)")
    p.add_argument("--sampling", choices=SAMPLING_CHOICES, default="instantaneous",
                   help="what one sample is: a point sample or the mean since the previous one")
    add_root_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run_analyze)

    p = sub.add_parser("calibrate", help="fit the on-board sensor's gain and offset against a reference meter "
                       "over a load ladder, stored per board")
    p.add_argument("--power", required=True, metavar="URL", help="the on-board source to calibrate (e.g. ina3221)")
    p.add_argument("--reference", required=True, metavar="URL",
                   help="the reference meter (e.g. serial:///dev/ttyUSB0?protocol=scpi&dialect=wt310)")
    p.add_argument("--levels", type=_levels, default=None, metavar="L,L,..",
                   help="CPU duty cycles of the ladder, 0..1 (default 0,0.25,0.5,0.75,1; at least 3)")
    p.add_argument("--step-seconds", type=positive_float, default=5.0, help="measured seconds per step (default 5)")
    p.add_argument("--settle-seconds", type=float, default=1.0, help="seconds before each step is measured "
                   "(default 1)")
    p.add_argument("--state-dir", default=None, metavar="DIR",
                   help="store under DIR/calibration/<board-serial>.json (default $EDGEBENCH_STATE_DIR or "
                   "/var/lib/edgebench)")
    p.add_argument("--out", default=None, metavar="FILE", help="store the calibration in FILE instead")
    add_root_argument(p)
    add_json_argument(p)
    p.set_defaults(func=run_calibrate)

    p = sub.add_parser("emulate", help="serve a probe protocol on a pseudo-terminal (prints its path)")
    p.add_argument("--protocol", required=True, choices=("csv", "scpi", "ppk2", "powersensor3"))
    p.add_argument("--watts", type=positive_float, default=None, help="mean power of the waveform")
    p.add_argument("--ripple", type=float, default=0.3, help="square-wave amplitude as a fraction (default 0.3)")
    p.add_argument("--freq-hz", type=float, default=10.0, help="square-wave frequency (default 10 Hz)")
    p.add_argument("--rate-hz", type=positive_float, default=None, help="samples per second (csv, powersensor3)")
    p.add_argument("--dialect", choices=("wt310", "keysight", "rigol", "generic"), default="wt310",
                   help="SCPI dialect (scpi only)")
    p.add_argument("--vdd-mv", type=positive_float, default=3300.0, help="PPK2 source voltage (ppk2 only)")
    p.add_argument("--seconds", type=positive_float, default=None, help="stop after this long (default: Ctrl-C)")
    add_root_argument(p)
    p.set_defaults(func=run_emulate)

    power.set_defaults(func=lambda args: _help(power))


def _help(parser):
    import sys

    parser.print_help(sys.stderr)
    return 2


def _fraction(text):
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("{!r} is not a number".format(text))
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("{!r} must be between 0 and 1 (e.g. 0.99)".format(text))
    return value


def _levels(text):
    import argparse

    try:
        levels = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("{!r} is not a comma-separated list of numbers".format(text))
    if len(levels) < 3 or not all(0 <= v <= 1 for v in levels):
        raise argparse.ArgumentTypeError("{!r}: give at least 3 duty cycles between 0 and 1, e.g. 0,0.5,1".format(text))
    return levels


def _source_arguments(parser):
    parser.add_argument("--power", required=True, metavar="URL",
                        help="power source URL (auto, ina3221, serial://PORT?protocol=ppk2, sim://, ...)")
    parser.add_argument("--seconds", type=positive_float, default=2.0, help="how long to sample (default 2)")
    parser.add_argument("--rate-hz", type=positive_float, default=None,
                        help="sample rate for polled sources (default: the source's fastest)")
    add_root_argument(parser)


def _fmt(value, digits=4, unit=""):
    import math

    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return "{:.{}g}{}".format(value, digits, unit)


# -- list ----------------------------------------------------------------------------------------
def collect_list(root):
    from edgebench.platform.root import resolve_root
    from edgebench.platform.sysfs import glob_board
    from edgebench.power.ina3221 import INA3221Source
    from edgebench.power.url import AUTO_ORDER, create_source, parse_url

    sources = []
    auto = None
    for scheme in AUTO_ORDER:
        entry = {"source": scheme, "available": False, "detail": ""}
        try:
            src = create_source(parse_url(scheme), root=root)
            src.open()
        except Exception as err:  # every failure is a reason to show, never a traceback
            entry["detail"] = str(err)
        else:
            entry["available"] = True
            entry["detail"] = src.detail
            entry["max_rate_hz"] = src.max_rate_hz
            src.close()
            if auto is None:
                auto = scheme
        sources.append(entry)
    ports = glob_board(root, "/dev/ttyACM*") + glob_board(root, "/dev/ttyUSB*")
    return {
        "root": resolve_root(root),
        "auto": auto,
        "sources": sources,
        "ina3221": INA3221Source.list_rails(root),
        "serial_ports": ports,
    }


def run_list(args):
    from edgebench.cliutil import emit_json

    info = collect_list(args.root)
    if args.json:
        emit_json(info)
        return 0
    print("root: {}".format(info["root"]))
    print("auto picks: {}".format(info["auto"] or "none (no power source found)"))
    print("")
    print("{:<12} {:<10} {}".format("SOURCE", "AVAILABLE", "DETAIL"))
    for entry in info["sources"]:
        print("{:<12} {:<10} {}".format(entry["source"], "yes" if entry["available"] else "no", entry["detail"]))
    ina = info["ina3221"]
    if ina["found"]:
        print("")
        print("{:<18} {:<9} {:>3} {:>9} {:>9} {:>9}  {}".format(
            "RAIL", "DEVICE", "CH", "VOLTAGE_V", "CURRENT_A", "POWER_W", "DRIVER"))
        for rail in ina["rails"]:
            print("{:<18} {:<9} {:>3} {:>9} {:>9} {:>9}  {}".format(
                rail["rail"], rail["device"], rail["channel"],
                _fmt(None if rail["voltage_mv"] is None else rail["voltage_mv"] / 1000.0),
                _fmt(None if rail["current_ma"] is None else rail["current_ma"] / 1000.0),
                _fmt(None if rail["power_mw"] is None else rail["power_mw"] / 1000.0),
                rail["driver"]))
        print("")
        print("board input: {} W  [{}]".format(_fmt(ina["board_input_w"]), ina["board_rule"]))
        for note in ina["skipped"]:
            print("  {}".format(note))
    if info["serial_ports"]:
        print("")
        print("serial ports: {}".format(", ".join(info["serial_ports"])))
    return 0


# -- read / record -------------------------------------------------------------------------------
def _sample(args):
    """Open the source, sample ``args.seconds``, return (source, WindowData)."""
    import time

    import scipy.signal  # noqa: F401  (the sampler needs it: import it before a probe's input piles up)

    from edgebench.power.sampler import Sampler
    from edgebench.power.url import open_source

    source = open_source(args.power, root=args.root)
    try:
        sampler = Sampler(source, rate_hz=args.rate_hz, buffer_s=args.seconds + 10.0)
        with sampler:
            start = time.perf_counter()
            time.sleep(args.seconds)
            end = time.perf_counter()
            data = sampler.window(start, end)
    finally:
        source.close()
    return source, data


def read_summary(source, data, threshold=0.99):
    import numpy as np

    from edgebench.power import nyquist
    from edgebench.power.energy import integrate, window_flags, window_stats

    out = {"source": source.label, "simulated": bool(source.simulated), "sampling": source.sampling,
           "board_rule": source.board_rule}
    if not data.has_data:
        out.update({"samples": 0, "duration_s": data.end_s - data.start_s, "flags": "no power data"})
        return out
    stats = window_stats(data.t_s, data.power_w, data.start_s, data.end_s, data.sampling)
    rails = {}
    if data.rails_w is not None:
        for k, name in enumerate(data.rails):
            energy, covered = integrate(data.t_s, data.rails_w[:, k], data.start_s, data.end_s, data.sampling)
            rails[name] = energy / covered if covered > 0 else None
    inside = data.inside
    spectrum = nyquist.analyze(data.t_s[inside], data.power_w[inside], data.sampling, threshold=threshold)
    flags = window_flags(data, stats)
    if spectrum["verdict"] != nyquist.ADEQUATE:
        flags.append(spectrum["detail"])
    out.update({
        "samples": stats["samples"],
        "duration_s": stats["duration_s"],
        "rate_hz": stats["rate_hz"],
        "mean_w": stats["mean_w"],
        "min_w": stats["min_w"],
        "max_w": stats["max_w"],
        "std_w": stats["std_w"],
        "energy_j": stats["energy_j"],
        "rails": rails,
        "bandwidth_hz": spectrum["bandwidth_hz"],
        "nyquist_ok": spectrum["nyquist_ok"],
        "verdict": spectrum["verdict"],
        "flags": "; ".join(flags) or None,
    })
    out["samples"] = int(np.asarray(out["samples"]))
    return out


def no_sample_message(source, summary, seconds):
    """The one line ``power read`` exits 2 with when a source with data gave no valid sample."""
    reason = source.no_data_reason()
    if reason:
        return "{}: {}".format(source.label, reason)
    return "{} gave no valid sample in {:g} s{}: check the URL's parameters and the device".format(
        source.label, seconds, " ({})".format(summary["flags"]) if summary.get("flags") else "")


def run_read(args):
    from edgebench.cliutil import emit_json
    from edgebench.errors import UsageError

    source, data = _sample(args)
    summary = read_summary(source, data)
    if data.has_data and not summary.get("samples"):
        raise UsageError(no_sample_message(source, summary, args.seconds))
    if args.json:
        emit_json(summary)
        return 0
    prefix = "SIMULATED " if summary["simulated"] else ""
    print("{}source:    {}".format(prefix, summary["source"]))
    if not data.has_data:
        print("{}no power data".format(prefix))
        return 0
    print("{}samples:   {} in {:.3f} s ({} Hz, {})".format(
        prefix, summary["samples"], summary["duration_s"], _fmt(summary["rate_hz"], 5), summary["sampling"]))
    print("{}power:     mean {} W  min {} W  max {} W  std {} W".format(
        prefix, _fmt(summary["mean_w"]), _fmt(summary["min_w"]), _fmt(summary["max_w"]), _fmt(summary["std_w"])))
    print("{}energy:    {} J".format(prefix, _fmt(summary["energy_j"])))
    for name, mean in sorted(summary["rails"].items()):
        print("{}  {:<18} {} W".format(prefix, name, _fmt(mean)))
    print("{}nyquist:   bandwidth {} Hz, {}".format(prefix, _fmt(summary["bandwidth_hz"]), summary["verdict"]))
    if summary["flags"]:
        print("{}flags:     {}".format(prefix, summary["flags"]))
    return 0


def run_record(args):
    from edgebench.errors import UsageError
    from edgebench.power.trace import write_trace

    source, data = _sample(args)
    if not data.has_data:
        raise UsageError("power source {} gives no power data: nothing to record".format(source.label))
    inside = data.inside
    t_s = data.t_s[inside] - data.start_s
    rails = data.rails if data.rails_w is not None else ()
    rails_w = data.rails_w[inside] if data.rails_w is not None else None
    try:
        write_trace(args.out, t_s, data.power_w[inside], rails, rails_w, simulated=source.simulated)
    except (OSError, IOError) as err:
        raise UsageError("cannot write {}: {}".format(args.out, err.strerror or err))
    print("{}wrote {} samples ({:.3f} s, {}) to {}".format(
        "SIMULATED " if source.simulated else "", int(inside.sum()), data.end_s - data.start_s, source.label, args.out))
    return 0


# -- analyze -------------------------------------------------------------------------------------
def analyze_trace(path, threshold=0.99, sampling="instantaneous"):
    import csv

    from edgebench.errors import UsageError
    from edgebench.power import nyquist
    from edgebench.power.energy import integrate
    from edgebench.power.trace import load_trace

    try:
        trace = load_trace(path)
    except (UnicodeDecodeError, csv.Error) as exc:  # a binary file: not a trace at all
        raise UsageError("{} is not a text trace CSV ({}); give the t_s,power_w CSV `power record` wrote".format(
            path, exc))
    result = nyquist.analyze(trace.t_s, trace.power_w, sampling, threshold=threshold)
    energy, covered = integrate(trace.t_s, trace.power_w, trace.t_s[0], trace.t_s[-1], sampling)
    out = {
        "trace": str(path),
        "simulated": bool(trace.simulated),
        "samples": len(trace),
        "duration_s": trace.duration_s,
        "sample_rate_hz": result["sample_rate_hz"],
        "bandwidth_hz": result["bandwidth_hz"],
        "nyquist_rate_hz": result["nyquist_rate_hz"],
        "threshold": threshold,
        "aliasing_risk": result["aliasing_risk"],
        "verdict": result["verdict"],
        "detail": result["detail"],
        "mean_w": energy / covered if covered > 0 else None,
        "energy_j": energy / covered * trace.duration_s if covered > 0 else None,
    }
    return out


def run_analyze(args):
    import os

    from edgebench.cliutil import emit_json

    path = args.trace
    if args.root and not os.path.isabs(path):
        path = os.path.join(args.root, path)
    out = analyze_trace(path, args.threshold, args.sampling)
    if args.json:
        emit_json(out)
        return 0
    prefix = "SIMULATED " if out["simulated"] else ""
    print("{}trace:        {} ({} samples, {:.3f} s)".format(prefix, out["trace"], out["samples"], out["duration_s"]))
    print("{}sample rate:  {} Hz".format(prefix, _fmt(out["sample_rate_hz"], 6)))
    print("{}bandwidth:    {} Hz ({:.0%} of AC power); needs {} Hz".format(
        prefix, _fmt(out["bandwidth_hz"]), out["threshold"], _fmt(out["nyquist_rate_hz"])))
    print("{}verdict:      {}".format(prefix, out["detail"]))
    print("{}mean power:   {} W   energy: {} J".format(prefix, _fmt(out["mean_w"]), _fmt(out["energy_j"])))
    return 0


# -- calibrate -----------------------------------------------------------------------------------
def run_calibrate(args):
    import sys

    import scipy.signal  # noqa: F401  (the samplers need it: import it before a probe's input piles up)

    from edgebench.cliutil import emit_json
    from edgebench.power import calibration
    from edgebench.power.url import open_source

    serial = calibration.board_serial(args.root)
    path = args.out or calibration.calibration_path(args.state_dir, serial)
    levels = args.levels or calibration.DEFAULT_LEVELS
    board = open_source(args.power, root=args.root)
    try:
        reference = open_source(args.reference, root=args.root)
        try:
            def progress(step):
                print("  load {:>4.0%}: board {} W, reference {} W".format(
                    step["level"], _fmt(step["board_w"]), _fmt(step["reference_w"])), file=sys.stderr, flush=True)

            print("calibrating {} against {}: {} steps of {:g} s (+{:g} s settle)".format(
                board.label, reference.label, len(levels), args.step_seconds, args.settle_seconds),
                file=sys.stderr, flush=True)
            cal = calibration.calibrate(board, reference, calibration.CpuLoad(), levels, args.step_seconds,
                                        max(args.settle_seconds, 0.0), serial=serial,
                                        progress=None if args.json else progress)
        finally:
            reference.close()
    finally:
        board.close()
    calibration.save_calibration(cal, path)
    out = cal.to_json()
    out["path"] = path
    if args.json:
        emit_json(out)
        return 0
    print("{}gain:      {:.4f} +- {:.4f}".format("SIMULATED " if cal.simulated else "", cal.gain, cal.gain_se))
    print("offset:    {:+.3f} +- {:.3f} W   (residual rms {:.3f} W)".format(cal.offset_w, cal.offset_se_w,
                                                                               cal.residual_rms_w))
    print("stored:    {}".format(path))
    return 0


# -- emulate -------------------------------------------------------------------------------------
def run_emulate(args):
    import signal
    import sys

    from edgebench.power.emulators import emulator_class

    options = {"ripple": args.ripple, "freq_hz": args.freq_hz}
    if args.watts is not None:
        options["watts"] = args.watts
    if args.protocol in ("csv", "powersensor3") and args.rate_hz:
        options["rate_hz"] = args.rate_hz
    if args.protocol == "scpi":
        options["dialect"] = args.dialect
    if args.protocol == "ppk2":
        options["vdd_mv"] = args.vdd_mv
    try:
        emulator = emulator_class(args.protocol)(**options)
    except ValueError as err:
        from edgebench.errors import UsageError

        raise UsageError("bad emulator option: {}".format(err))
    emulator.open()

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    print(emulator.path, flush=True)
    print("{} emulator ({} W mean) on {}; read it with --power \"{}\"".format(
        args.protocol, emulator.waveform.watts, emulator.path, emulator.url), file=sys.stderr, flush=True)
    try:
        emulator.serve(seconds=args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        emulator.stop()
    return 0
