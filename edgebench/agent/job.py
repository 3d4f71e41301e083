"""One attempt at one agent job, in its own thread: validate, prepare, measure, record.

:class:`JobRun` drives the shared :class:`edgebench.sweep.runner.Sweep` (a worker process per point,
each point committed before the next) with the sweep's own power session, clock lock and
environment checks. The agent's main thread reads its progress and may stop it: it then kills the
point's worker, and :class:`_GuardedStore` drops that point's "killed" result, so the point is
measured again at the next start rather than stored as a crash.
"""
import errno
import logging
import os
import signal
import threading
import time

from edgebench._helpers import first_line
from edgebench.agent import spool as spoolmod
from edgebench.errors import EdgebenchError, UsageError
from edgebench.results import schema
from edgebench.sweep.runner import WORKER_MODULE
from edgebench.sweep.session import SweepStopped

logger = logging.getLogger("edgebench.agent")


# Seconds before a job stopped by a full disk is tried again (the n-th retry waits the n-th; then the last)
DISK_FULL_RETRY_S = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)


def is_disk_full(exc):
    """True for a full filesystem: the store's DiskFullError, ENOSPC/EDQUOT, or a child that said so."""
    from edgebench.results.store import DiskFullError

    if isinstance(exc, DiskFullError) or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left on device" in text or "database or disk is full" in text


class JobAborted(SweepStopped):
    """Raised inside the job thread when the job was asked to stop (shutdown or cancel)."""


def child_pids(pid=None):
    """Direct children of ``pid`` (default: this process)."""
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _cmdline_has(pid, text):
    import psutil

    try:
        return text in " ".join(psutil.Process(int(pid)).cmdline())
    except (psutil.Error, ValueError, TypeError):
        return False


def is_worker(pid):
    """True when ``pid`` is an edgebench worker process (``-m edgebench.sweep.worker``)."""
    return _cmdline_has(pid, WORKER_MODULE)


def kill_orphan_worker(pid, timeout_s=5.0):
    """Kill a worker that outlived a killed agent (it would steal CPU from the resumed point)."""
    if not pid or not is_worker(pid):
        return False
    logger.warning("killing worker %s left behind by the previous agent", pid)
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            break
        except OSError:
            continue
    deadline = time.monotonic() + timeout_s
    while is_worker(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def check_trusted_weights(path):
    """Refuse a ``--weights`` file the agent's own user or root does not control.

    Loading weights unpickles them (``torch.load``), which can run code: a file anyone else could
    have written would let a socket user run code as the agent. UsageError with the way out.
    """
    if not path:
        return
    try:
        st = os.stat(path)
        parent = os.stat(os.path.dirname(os.path.abspath(path)))
    except OSError as exc:
        raise UsageError("weights file {}: {}".format(path, exc.strerror or exc))
    owners = (0, os.getuid())
    parent_open = parent.st_mode & 0o022 and not parent.st_mode & 0o1000
    if st.st_uid not in owners or st.st_mode & 0o022 or parent.st_uid not in owners or parent_open:
        raise UsageError(
            "the agent loads --weights only from files that root or its own user owns and nobody else can write "
            "(loading weights unpickles them, which can run code); ask an admin to copy {} to {} and submit that "
            "path".format(path, "/var/lib/edgebench/weights"))


class _GuardedStore(object):
    """The store as the Sweep sees it: a row for a job that is being stopped is not stored.

    When the agent kills a worker to stop, the Sweep gets a "died from SIGKILL" result for that
    point; storing it would record a point that was never really measured, so it is dropped and
    the point is measured on the next start.
    """

    def __init__(self, store, job_run):
        self._store = store
        self._job_run = job_run

    def add_point(self, run_id, row):
        self._job_run._check_stop()
        return self._store.add_point(run_id, row)

    def __getattr__(self, name):
        return getattr(self._store, name)


class JobRun(object):
    """One attempt at one job, in its own thread. The main thread reads its progress and may stop it."""

    def __init__(self, job_id, job, state, spool, config, power, on_done):
        self.spool = spool
        self.config = config
        self.power = power  # the agent's LivePower: hands out the job's power session and shows it
        self.on_done = on_done
        self.job_id = job_id
        self.job = job
        self.state = state
        self.lock = threading.Lock()
        self.stop_reason = None
        self.stop_kind = None  # "shutdown" | "cancel"
        self.stop_event = threading.Event()
        self.detached = False  # set by the main thread when it gave up waiting: no more writes
        self.session = None
        self.outcome = None  # (status, reason) once the thread is done
        self.phase = "starting"
        self.started_monotonic = time.monotonic()
        self.current = None  # (key, index, started_monotonic)
        self.durations = []
        self.last_point = None
        self.notes = []
        self.thread = None

    # -- main-thread side --------------------------------------------------------------------------
    def start(self):
        self.thread = threading.Thread(target=self._run, name="edgebench-job-" + self.job_id, daemon=True)
        self.thread.start()
        return self

    def alive(self):
        return self.thread is not None and self.thread.is_alive()

    def request_stop(self, kind, reason):
        if self.stop_reason is None:
            self.stop_kind, self.stop_reason = kind, reason
            self.stop_event.set()
        self.kill_processes()

    def kill_processes(self):
        """Kill the point's worker (its whole session) and any other child (model preparation)."""
        sweep = self.session.sweep if self.session is not None else None
        proc = sweep.current_process if sweep is not None else None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker leads its own session
            except OSError:
                try:
                    proc.kill()
                except OSError:
                    pass
        for pid in child_pids():
            if _cmdline_has(pid, "edgebench"):  # model preparation; a power helper (tegrastats) is left alone
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    # -- state, written atomically -----------------------------------------------------------------
    def save(self, **fields):
        with self.lock:
            self.state.update(fields)
            if not self.detached:
                self.spool.write_state("active", self.job_id, self.state)

    # -- job-thread side ---------------------------------------------------------------------------
    def _run(self):
        outcome = None
        try:
            plan, backend, prepared = self._prepare()
            outcome = self._measure(plan, backend, prepared)
        except JobAborted:
            outcome = None
        except EdgebenchError as exc:
            if not self.stop_reason:
                outcome = self._disk_full(exc) or (spoolmod.FAILED, str(exc))
        except Exception as exc:  # a bug in one job must not take the agent down
            if not self.stop_reason:
                outcome = self._disk_full(exc)
                if outcome is None:
                    logger.exception("job %s failed", self.job_id)
                    outcome = (spoolmod.FAILED, "internal error: {}: {} (see the agent's log)".format(
                        type(exc).__name__, exc))
        finally:
            if outcome is None:
                status = spoolmod.CANCELLED if self.stop_kind == "cancel" else spoolmod.INTERRUPTED
                outcome = (status, self.stop_reason or "stopped")
            if self.session is None or self.session.run_id is None:
                self._close_earlier_run(outcome)
            self.power.release_job(reopen=self.stop_kind != "shutdown")
            self.outcome = outcome
            self.on_done()

    def _disk_full(self, exc):
        """For a job stopped by a full disk: ``(INTERRUPTED, reason)`` with a retry time in its state (the
        scheduler resumes it then, into the same run, keeping every stored point); None for other errors."""
        if not is_disk_full(exc):
            return None
        with self.lock:
            retries = self.state.get("disk_full_retries") or 0
            delay_s = DISK_FULL_RETRY_S[min(retries, len(DISK_FULL_RETRY_S) - 1)]
            self.state.update(disk_full_retries=retries + 1, retry_after=time.time() + delay_s)
            done = self.state.get("points_done") or 0
        reason = "disk full ({}); the job resumes in {:g} s and keeps its {} stored point{}".format(
            first_line(exc, 200), delay_s, done, "" if done == 1 else "s")
        logger.warning("job %s: %s", self.job_id, reason)
        return spoolmod.INTERRUPTED, reason

    def _stop_note(self, reason):
        """The run's note when this job stops before its last point."""
        if self.stop_kind == "cancel":
            return "job {} {}".format(self.job_id, reason)
        return "agent stopped ({}); job {} resumes this run when the agent starts".format(reason, self.job_id)

    def _close_earlier_run(self, outcome):
        """Stopped or failed before measuring: the run of an earlier start of this job still closes."""
        from edgebench.results.store import ResultStore

        run_id = self.state.get("run_id")
        if not run_id:
            return
        status, reason = outcome
        run_status = {spoolmod.COMPLETE: schema.RUN_COMPLETE, spoolmod.INTERRUPTED: schema.RUN_INTERRUPTED,
                      spoolmod.CANCELLED: schema.RUN_INTERRUPTED}.get(status, schema.RUN_FAILED)
        note = self._stop_note(reason) if status in (spoolmod.INTERRUPTED, spoolmod.CANCELLED) else reason
        try:
            with ResultStore(self.config.store_path) as store:
                if store.run(run_id):
                    store.finish_run(run_id, run_status, note)
        except Exception as exc:
            logger.warning("job %s: could not close run %s in the store: %s", self.job_id, run_id, exc)

    def _check_stop(self):
        if self.stop_reason:
            raise JobAborted(self.stop_reason, self._stop_note(self.stop_reason))

    def _prepare(self):
        from edgebench.sweep.preflight import check_backend, power_mode_for, prepare_models

        self.phase = "checking the plan"
        plan = spoolmod.validate_plan(self.job.get("plan"))
        check_trusted_weights(plan.weights)
        plan.cache_dir = self.config.cache_path  # the agent builds in its own cache, whoever submitted
        os.makedirs(plan.cache_dir, exist_ok=True)
        backend = check_backend(plan)
        power_mode_for(plan)  # a power mode nothing here can switch fails the job before it measures
        self.save(backend=backend)
        self.phase = "preparing models"
        prepared = prepare_models(plan, lambda msg: logger.info("job %s: %s", self.job_id, msg))
        self._check_stop()
        return plan, backend, prepared

    def _measure(self, plan, backend, prepared):
        from edgebench.results.store import ResultStore
        from edgebench.sweep.session import SweepSession

        def say(msg):
            logger.info("job %s: %s", self.job_id, msg)

        def on_run(run_id, total, done):
            if run_id != self.state.get("run_id"):
                self.save(run_id=run_id)
                logger.info("job %s: run %s started, %d points", self.job_id, run_id, total)
            else:
                logger.info("job %s: resuming run %s, %d of %d points already stored", self.job_id, run_id,
                            done, total)
            self.save(points_total=total, points_done=done)

        def on_power_started(power):
            self.power.show_job(power)
            self._check_stop()
            self.phase = "measuring"

        with ResultStore(self.config.store_path) as store:
            # The agent's store is the board's history: a changed environment is noted, not refused
            # (every row carries its env_key, so analyses can still tell the runs apart).
            session = SweepSession(
                # A power source that cannot open fails the job (and its run) with the source's next step.
                plan, backend, prepared, store, open_power=lambda: self.power.for_job(plan),
                refuse_other_environment=False, say=say,
                on_note=self._note, export_dir=self.config.state_path,
                run_fields={"agent_job": self.job_id, "resume_note": "resumed by the agent (job {}, start {})".format(
                    self.job_id, self.state.get("attempts"))})
            self.session = session  # once it has begun a run, the session finishes it, however it ends
            with session:
                self.phase = "measuring idle power" if plan.power not in (None, "", "none") else "measuring"
                session.measure(on_start=self._on_start, on_point=self._on_point,
                                resume_run_id=self.state.get("run_id"), on_run=on_run,
                                on_power_started=on_power_started, store_guard=lambda st: _GuardedStore(st, self))
                if self.stop_reason:  # every point is stored; a stop from here on does not undo that
                    session.final_idle = False
                elif session.power is not None:
                    self.phase = "measuring idle power again"
        self.save(current_point=None)
        return spoolmod.COMPLETE, None

    def _note(self, text):
        """A remark about this job: logged, kept in its history and in the run's note."""
        logger.warning("job %s: %s", self.job_id, text)
        self.notes.append(text)
        with self.lock:
            spoolmod.add_history(self.state, "note", text)

    def _on_start(self, key, index, total):
        self._check_stop()
        self.current = (key, index, time.monotonic())
        self.save(current_point=key)
        logger.info("job %s: point %d/%d %s", self.job_id, index + 1, total, key)

    def _on_point(self, row):
        from edgebench.monitor.snapshot import result_summary

        key, index, started = self.current or (row.get("point_key"), None, time.monotonic())
        self.durations.append(time.monotonic() - started)
        self.current = None
        self.last_point = result_summary(row)
        self.save(points_done=(self.state.get("points_done") or 0) + 1, current_point=None)
        if row.get("status") == schema.STATUS_OK:
            logger.info("job %s: %s %.3f ms/image, %.1f images/s", self.job_id, key, row.get("per_image_ms") or 0,
                        row.get("images_per_s") or 0)
        else:
            logger.warning("job %s: %s %s: %s", self.job_id, key, row.get("status"), row.get("error"))

    def progress(self):
        """The live part of the job snapshot."""
        now = time.monotonic()
        current = self.current
        total = self.state.get("points_total") or 0
        done = self.state.get("points_done") or 0
        eta = None
        if self.durations and total:
            eta = sum(self.durations) / len(self.durations) * max(total - done, 0)
            if current is not None:
                eta = max(eta - (now - current[2]), 0.0)
        return {
            "phase": "stopping" if self.stop_reason else self.phase,
            "current_point": current[0] if current else None,
            "current_point_index": current[1] if current else None,
            "current_point_elapsed_s": round(now - current[2], 1) if current else None,
            "elapsed_s": round(now - self.started_monotonic, 1),
            "eta_s": round(eta, 1) if eta is not None else None,
            "last_point": self.last_point,
        }
