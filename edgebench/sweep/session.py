"""One sweep, start to end: the sequence ``edgebench sweep`` and the agent's jobs both run.

::

    with SweepSession(plan, backend, models, store, power=power, say=say) as session:
        # entered: power mode set (--power-mode), environment collected and compared with the store's
        # last run, clock warning noted
        session.measure(on_start=..., on_point=...)
    # left: power finished (idle measured again after a complete run), clocks and power mode restored, the run
    # finished (complete, interrupted or failed, with its notes) and exported - whatever happened

``measure`` locks the clocks, creates the run (or reopens the run of an interrupted job, measuring
only its missing points), starts the power session (idle before) and runs every point through
:class:`edgebench.sweep.runner.Sweep`, one worker process per point, each row committed at once.
The callers differ only in how they show progress (callbacks) and where the plan came from; a
caller stops a sweep by raising from a callback - :class:`SweepStopped` for a deliberate stop,
KeyboardInterrupt for Ctrl-C - and the session records the run accordingly. The store stays the
caller's: the session never opens or closes it.
"""
from edgebench.errors import EdgebenchError, UsageError
from edgebench.results import schema
from edgebench.sweep import preflight


class SweepStopped(Exception):
    """Raised from a callback to stop a sweep on purpose; ``run_note`` becomes the run's note."""

    def __init__(self, reason, run_note=None):
        Exception.__init__(self, reason)
        self.reason = reason
        self.run_note = run_note or reason


class SweepSession(object):
    """Run one validated plan whose models are prepared into an open store.

    ``refuse_other_environment``: True (the CLI) refuses a store whose last run comes from another
    environment (UsageError, nothing written); False (the agent: the store is the board's history)
    notes the difference. Notes (environment differences, the clock warning, power warnings) go to
    ``on_note`` as they arise and into the run's note.
    """

    def __init__(self, plan, backend, models, store, power=None, open_power=None, refuse_other_environment=True,
                 say=None, on_note=None, run_fields=None, export_dir=None):
        self.plan = plan
        self.backend = backend
        self.models = models
        self.store = store
        self.power = power
        self.open_power = open_power  # or a callable opening it once the run exists (a failure fails the run)
        self.refuse_other_environment = refuse_other_environment
        self.say = say or (lambda msg: None)
        self.on_note = on_note or (lambda text: None)
        self.run_fields = dict(run_fields or {})
        self.export_dir = export_dir
        self.environment = None
        self.notes = []
        self.power_warnings = []
        self.run_id = None
        self.status = None
        self.sweep = None
        self.clock_lock = None
        self.power_mode = None
        self.completed = False
        self.final_idle = True  # a caller stopping after the last point may skip the idle measured after

    # -- the sequence ------------------------------------------------------------------------------
    def __enter__(self):
        from edgebench.sweep.runner import collect_environment

        try:
            self._apply_power_mode()  # first: the environment recorded is the one measured in
            self.environment = collect_environment(self.plan.root)
            differences = preflight.check_comparable(self.store, self.environment,
                                                     force=not self.refuse_other_environment)
        except BaseException:
            if self.power is not None:
                self.power.finish(measure_idle=False)
            self._restore_power_mode()
            raise
        for line in differences:
            self._note("environment changed: " + line)
        warning = preflight.clock_warning(self.environment, self.plan)
        if warning:
            self._note(warning)
        self.clock_lock = preflight.clock_lock_for(self.plan)
        return self

    def point_keys(self):
        """The key of every point of the plan, in measuring order."""
        return [schema.point_key(self.models[m].name, self.backend, p, b) for m, p, b in self.plan.points()]

    def measure(self, on_start=None, on_point=None, resume_run_id=None, on_run=None, on_power_started=None,
                store_guard=None):
        """Lock clocks, create (or resume) the run, start power, measure every missing point.

        ``on_run(run_id, keys_total, keys_done)`` is called once the run exists; ``store_guard(store)``
        may wrap the store the points are added through (the agent drops a killed point's row).
        Returns the rows measured by this call.
        """
        from edgebench.sweep.runner import Sweep

        if self.clock_lock is not None:
            self.clock_lock.lock()
        skip = self._begin_run(resume_run_id)
        keys = self.point_keys()
        if on_run is not None:
            on_run(self.run_id, len(keys), len(skip & set(keys)))
        if self.power is None and self.open_power is not None:
            self.power = self.open_power()
        if self.power is not None:
            self.power.start(self.say)
            if on_power_started is not None:
                on_power_started(self.power)
        store = store_guard(self.store) if store_guard is not None else self.store
        self.sweep = Sweep(self.plan, self.models, store, self.run_id, self.environment, self.backend,
                           power=self.power)
        rows = self.sweep.run(on_start=on_start, on_point=on_point, skip=skip)
        self.completed = True
        return rows

    def _begin_run(self, resume_run_id):
        if resume_run_id and self.store.run(resume_run_id):
            self.run_id = resume_run_id
            self.store.reopen_run(resume_run_id, self.run_fields.get("resume_note"))
            return self.store.point_keys(resume_run_id)
        plan_dict = self.plan.to_dict()
        plan_dict["backend_resolved"] = self.backend
        plan_dict.update((k, v) for k, v in self.run_fields.items() if k != "resume_note")
        self.run_id = self.store.create_run(plan_dict, self.environment)
        return set()

    def __exit__(self, exc_type, exc, tb):
        status, note = self._status_of(exc_type, exc)
        self.status = status
        measure_idle = status == schema.RUN_COMPLETE and self.final_idle
        try:
            self._finish_power(measure_idle)
        finally:
            try:
                if self.clock_lock is not None and self.clock_lock.locked:
                    self.clock_lock.restore()
            finally:
                self._restore_power_mode()
        if self.run_id is None:  # stopped before the run began: nothing to record
            return False
        if self.power is not None:
            self.store.set_run_power(self.run_id, self.power.metadata())
        notes = [n for n in [note] + self.notes if n]
        self.store.finish_run(self.run_id, status, "; ".join(notes) or None)
        if self.export_dir:
            from edgebench.results.export import export_run

            export_run(self.store, self.export_dir, self.run_id)
        return False

    # -- helpers -----------------------------------------------------------------------------------
    def _apply_power_mode(self):
        from edgebench.platform.clocks import PowerModeError

        mode = preflight.power_mode_for(self.plan)
        if mode is None:
            return
        try:
            mode.apply()
        except PowerModeError as exc:
            raise UsageError(str(exc))
        self.power_mode = mode
        self.say("power mode {} (via {}; the previous mode is put back after the sweep)".format(
            self.plan.power_mode, mode.via))

    def _restore_power_mode(self):
        if self.power_mode is not None:
            mode, self.power_mode = self.power_mode, None
            try:
                mode.restore()
            except Exception as exc:  # never lose the run over it: say what to do
                self._note("power mode not put back: {}".format(exc))

    def _status_of(self, exc_type, exc):
        if exc_type is None:
            return schema.RUN_COMPLETE, None
        if issubclass(exc_type, KeyboardInterrupt):
            return schema.RUN_INTERRUPTED, getattr(exc, "run_note", "interrupted by the user (Ctrl-C)")
        if isinstance(exc, SweepStopped):
            return schema.RUN_INTERRUPTED, exc.run_note
        if isinstance(exc, EdgebenchError):
            return schema.RUN_FAILED, str(exc)
        return schema.RUN_FAILED, "{}: {}".format(exc_type.__name__, exc)

    def _finish_power(self, measure_idle):
        if self.power is None:
            return
        try:
            self.power_warnings = self.power.finish(self.say, measure_idle=measure_idle)
        except KeyboardInterrupt:
            self.power_warnings = self.power.warnings
        for line in self.power_warnings:
            self._note(line)

    def _note(self, text):
        self.notes.append(text)
        self.on_note(text)
