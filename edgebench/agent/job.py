"""One attempt at one agent job, in its own thread: validate, prepare, measure, record.

:class:`JobRun` drives the shared :class:`edgebench.agent.runner.Sweep` (a worker process per point,
each point committed before the next) with the sweep's own power session, clock lock and
environment checks. The agent's main thread reads its progress and may stop it: it then kills the
point's worker, and :class:`_GuardedStore` drops that point's "killed" result, so the point is
measured again at the next start rather than stored as a crash.
"""
import logging
import os
import signal
import threading
import time

from edgebench.agent import spool as spoolmod
from edgebench.errors import EdgebenchError, UsageError

logger = logging.getLogger("edgebench.agent")


class JobAborted(Exception):
    """Raised inside the job thread when the job was asked to stop (shutdown or cancel)."""


def child_pids(pid=None):
    """Direct children of ``pid`` (default: this process), from /proc."""
    pid = os.getpid() if pid is None else pid
    children = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return children
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/{}/stat".format(name), "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            children.append(int(name))
    return children


def _cmdline_has(pid, text):
    try:
        with open("/proc/{}/cmdline".format(int(pid)), "rb") as fh:
            return text in fh.read()
    except (OSError, ValueError, TypeError):
        return False


def is_worker(pid):
    """True when ``pid`` is an edgebench worker process (``-m edgebench.agent.worker``)."""
    return _cmdline_has(pid, b"edgebench.agent.worker")


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
        if self._job_run.stop_reason:
            raise JobAborted(self._job_run.stop_reason)
        return self._store.add_point(run_id, row)

    def __getattr__(self, name):
        return getattr(self._store, name)


class JobRun(object):
    """One attempt at one job, in its own thread. The main thread reads its progress and may stop it."""

    def __init__(self, agent, job_id, job, state):
        self.agent = agent
        self.job_id = job_id
        self.job = job
        self.state = state
        self.lock = threading.Lock()
        self.stop_reason = None
        self.stop_kind = None  # "shutdown" | "cancel"
        self.stop_event = threading.Event()
        self.detached = False  # set by the main thread when it gave up waiting: no more writes
        self.sweep = None
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
        sweep = self.sweep
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
            if _cmdline_has(pid, b"edgebench"):  # model preparation; a power helper (tegrastats) is left alone
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    # -- state, written atomically -----------------------------------------------------------------
    def save(self, **fields):
        with self.lock:
            self.state.update(fields)
            if not self.detached:
                self.agent.spool.write_state("active", self.job_id, self.state)

    # -- job-thread side ---------------------------------------------------------------------------
    def _run(self):
        store = None
        outcome = None
        try:
            plan, backend, prepared = self._prepare()
            from edgebench.agent.store import ResultStore

            store = ResultStore(self.agent.config.store_path)
            outcome = self._measure(store, plan, backend, prepared)
        except JobAborted:
            outcome = None
        except EdgebenchError as exc:
            if not self.stop_reason:
                outcome = (spoolmod.FAILED, str(exc))
        except Exception as exc:  # a bug in one job must not take the agent down
            if not self.stop_reason:
                logger.exception("job %s failed", self.job_id)
                outcome = (spoolmod.FAILED, "internal error: {}: {} (see the agent's log)".format(
                    type(exc).__name__, exc))
        finally:
            if outcome is None:
                status = spoolmod.CANCELLED if self.stop_kind == "cancel" else spoolmod.INTERRUPTED
                outcome = (status, self.stop_reason or "stopped")
            self._finish_run(store, outcome)
            self.agent.release_job_power()
            self.outcome = outcome
            self.agent.wake()

    def _finish_run(self, store, outcome):
        from edgebench.agent import schema

        run_id = self.state.get("run_id")
        if not run_id:
            if store is not None:
                store.close()
            return
        status, reason = outcome
        try:
            if store is None:  # stopped or failed before measuring: the run of an earlier start still closes
                from edgebench.agent.store import ResultStore

                store = ResultStore(self.agent.config.store_path)
            if status == spoolmod.COMPLETE:
                store.finish_run(run_id, schema.RUN_COMPLETE, "; ".join(self.notes) or None)
            elif status == spoolmod.INTERRUPTED:
                store.finish_run(run_id, schema.RUN_INTERRUPTED,
                                 "agent stopped ({}); job {} resumes this run when the agent starts".format(
                                     reason, self.job_id))
            elif status == spoolmod.CANCELLED:
                store.finish_run(run_id, schema.RUN_INTERRUPTED, "job {} {}".format(self.job_id, reason))
            else:
                store.finish_run(run_id, schema.RUN_FAILED, reason)
            if status == spoolmod.COMPLETE:
                store.export_all(self.agent.config.state_path)
        except Exception as exc:
            logger.warning("job %s: could not close run %s in the store: %s", self.job_id, run_id, exc)
        finally:
            if store is not None:
                store.close()

    def _check_stop(self):
        if self.stop_reason:
            raise JobAborted(self.stop_reason)

    def _prepare(self):
        from edgebench.agent.sweep_cli import check_backend, prepare_models

        self.phase = "checking the plan"
        plan = spoolmod.validate_plan(self.job.get("plan"))
        check_trusted_weights(plan.weights)
        plan.cache_dir = self.agent.config.cache_path  # the agent builds in its own cache, whoever submitted
        os.makedirs(plan.cache_dir, exist_ok=True)
        backend = check_backend(plan)
        self.save(backend=backend)
        self.phase = "preparing models"
        prepared = prepare_models(plan, lambda msg: logger.info("job %s: %s", self.job_id, msg))
        self._check_stop()
        return plan, backend, prepared

    def _measure(self, store, plan, backend, prepared):
        from edgebench.agent import schema
        from edgebench.agent.runner import Sweep, collect_environment
        from edgebench.agent.sweep_cli import check_comparable, clock_lock_for, clock_warning

        environment = collect_environment(plan.root)
        # The agent's store is the board's history: a changed environment is noted, not refused
        # (every row carries its env_key, so analyses can still tell the runs apart).
        for line in check_comparable(store, environment, force=True):
            self._note("environment changed: " + line)
        warning = clock_warning(environment, plan)
        if warning:
            self._note(warning)
        keys = [schema.point_key(prepared[m].name, backend, p, b) for m, p, b in plan.points()]
        run_id = self.state.get("run_id")
        if run_id and store.run(run_id):
            skip = store.point_keys(run_id)
            store.reopen_run(run_id, "resumed by the agent (job {}, start {})".format(
                self.job_id, self.state.get("attempts")))
            logger.info("job %s: resuming run %s, %d of %d points already stored", self.job_id, run_id,
                        len(skip & set(keys)), len(keys))
        else:
            plan_dict = plan.to_dict()
            plan_dict["backend_resolved"] = backend
            plan_dict["agent_job"] = self.job_id
            run_id = store.create_run(plan_dict, environment)
            skip = set()
            self.save(run_id=run_id)
            logger.info("job %s: run %s started, %d points", self.job_id, run_id, len(keys))
        self.save(points_total=len(keys), points_done=len(skip & set(keys)))

        def say(msg):
            logger.info("job %s: %s", self.job_id, msg)

        power = self.agent.power_for_job(plan)  # PowerSourceError fails the job with the source's next step
        clock_lock = None
        completed = False
        try:
            clock_lock = clock_lock_for(plan)
            if clock_lock is not None:
                clock_lock.lock()
            if power is not None:
                self.phase = "measuring idle power"
                power.start(say)
                self.agent.show_job_power(power)
                self._check_stop()
            self.phase = "measuring"
            sweep = Sweep(plan, prepared, _GuardedStore(store, self), run_id, environment, backend, power=power)
            self.sweep = sweep
            sweep.run(on_start=self._on_start, on_point=self._on_point, skip=skip)
            completed = True  # every point is stored: a stop from here on does not undo that
        finally:
            if power is not None:
                if completed and not self.stop_reason:
                    self.phase = "measuring idle power again"
                warnings = power.finish(say, measure_idle=completed and not self.stop_reason)
                try:
                    store.set_run_power(run_id, power.metadata())
                except Exception as exc:
                    logger.warning("job %s: power metadata not stored: %s", self.job_id, exc)
                for line in warnings:
                    self._note(line)
            if clock_lock is not None and clock_lock.locked:
                clock_lock.restore()
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
        from edgebench.agent.status import result_summary

        key, index, started = self.current or (row.get("point_key"), None, time.monotonic())
        self.durations.append(time.monotonic() - started)
        self.current = None
        self.last_point = result_summary(row)
        self.save(points_done=(self.state.get("points_done") or 0) + 1, current_point=None)
        if row.get("status") == "ok":
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
