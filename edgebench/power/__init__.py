"""Power sources, background sampling, energy, idle baseline and Nyquist checks.

Importing this package is cheap (no numpy, scipy or pyserial); each module imports what it needs.

Sources are URLs (:mod:`edgebench.power.url`)
-----------------------------------------------
``auto`` | ``none`` | ``ina3221`` | ``ina3221:RAIL`` | ``tegrastats`` | ``rapl`` | ``nvml`` |
``serial://PORT?protocol=csv|scpi|ppk2|powersensor3`` | ``trace://FILE.csv`` |
``sim://?idle_w=1.3&active_w=13.1``. Bad URLs and sensors that cannot be opened raise
:class:`edgebench.errors.PowerSourceError` (a UsageError: exit 2) with the next step to take.
``none`` (and ``auto`` when nothing is found) is a null source: ``source.has_data`` is False and
every summary says "no power data"; no None checks are needed.

Sweep integration (what the runner does)
----------------------------------------
::

    from edgebench.power.url import open_source
    from edgebench.power.sampler import Sampler

    source = open_source(args.power, root=args.root)    # (a) in the parent; auto says which it took
    sampler = Sampler(source)                            # rate = source.max_rate_hz; buffer_s=120
    sampler.start()                                      # (b) background thread (imports scipy now)
    idle = sampler.measure_idle(seconds=10.0)            # (c) nothing running -> IdleBaseline(mean_w, ci_w)
    for point in plan:
        # (d) the worker (a child process) times its loop with time.perf_counter() and reports
        #     start_s, end_s and images = batch_size * iterations
        row.update(sampler.summary(start_s, end_s, images, idle))   # (e) the 13 power columns
    idle_after = sampler.measure_idle(10.0)              # optional: drift check against ``idle``
    sampler.stop(); source.close()

``Sampler.summary(start_s, end_s, images, idle)`` returns an OrderedDict with exactly the keys of
the store's power columns (:data:`edgebench.power.energy.SUMMARY_KEYS`): ``power_source``,
``simulated`` (0/1), ``power_rate_hz``, ``power_samples``, ``gross_power_w``, ``idle_power_w``,
``net_power_w``, ``net_power_ci_w``, ``energy_per_image_j``, ``net_energy_per_image_j``,
``bandwidth_hz``, ``nyquist_ok``, ``power_flags`` (text or None). It waits briefly (about 3 sample
periods, at most 5 s) for samples past ``end_s`` to arrive, so call it after the point ends.
``idle`` may be an :class:`edgebench.power.energy.IdleBaseline`, plain watts, or None (then net
columns are None and a flag says so). Lower-level: ``Sampler.window(start_s, end_s)`` ->
:class:`edgebench.power.sampler.WindowData`, then :func:`edgebench.power.energy.summarize_window`.

**Clock.** Windows are marked with ``time.perf_counter()`` seconds, in any process: on Linux
CPython's perf_counter is ``clock_gettime(CLOCK_MONOTONIC)``, one system-wide clock, so the
worker's timestamps compare directly with the sampler's (checked by
:func:`edgebench.power.clock.host_clock_is_system_wide`; tested with a child process). Device
clocks (PPK2 sample index, CSV ``millis``) are mapped onto it by
:class:`edgebench.power.clock.ClockMapper`.

**Statistics.** Energy is the trapezoid rule over instantaneous samples and rectangles over
integrating ones; gaps (longer than 5x the median spacing) are not bridged and the coverage is
flagged below 90%. ``net_power_ci_w`` is the 95% half-width from batch means (up to 16 batches,
merged while neighbouring batch means are correlated) combined with the idle interval in
quadrature; when ``|net| <= ci`` the flags say the net power is inside its own uncertainty.
Fewer than 8 samples in a window: figures are kept, no interval, and a flag says so.

**Nyquist.** Every summary runs :func:`edgebench.power.nyquist.analyze` (Welch spectrum, 99% AC
bandwidth, verdict adequate / aliasing risk / not enough samples);
:func:`edgebench.power.nyquist.burst_check` samples a source at its fastest rate for a moment and
returns a warning with the remedy when the source cannot keep up.

**Probe loss.** A serial probe that disappears ends its window with a ``probe lost`` flag (the
figures cover what arrived); the sampler reopens it with back-off for the next window.

**Calibration.** ``edgebench power calibrate --power ina3221 --reference serial://...`` fits
``reference = gain x board + offset`` over a CPU load ladder and stores it per board
(:mod:`edgebench.power.calibration`). A sweep reports calibrated figures next to the raw ones with::

    from edgebench.power.calibration import load_calibration, calibrated_figures
    cal = load_calibration(state_dir=args.state_dir, root=args.root)   # None when never calibrated
    row.update(calibrated_figures(cal, source.url, row["gross_power_w"], row["net_power_w"],
                                  row["energy_per_image_j"], row["net_energy_per_image_j"]))

Modules: ``url`` (parse, registry, auto), ``source`` (interface, null source), ``rails`` (board
input rules), ``clock``, ``ina3221``, ``tegrastats``, ``rapl``, ``nvml``, ``serialport``,
``serial_csv``, ``scpi``, ``ppk2``, ``powersensor3``, ``trace``, ``sim``, ``sampler``, ``energy``,
``nyquist``, ``calibration`` (gain/offset against a reference meter), ``emulators`` (pty probe
emulators), ``cli`` (``edgebench power ...``).
"""
