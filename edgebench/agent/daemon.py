"""The agent: a foreground process (systemd supervises it) that runs queued sweeps one at a time.

Threads and who does what:

* the **main thread** runs a ``selectors`` loop: the signal self-pipe, the Unix socket (JSON
  requests from ``edgebench submit/status/jobs/cancel/monitor``), and a tick every half second that
  beats the heartbeat, notices a finished job, claims the next one and updates ``STATUS=``;
* the **job thread** runs one attempt of one job (:class:`edgebench.agent.job.JobRun`): validate,
  prepare models (in a child process), then the shared :class:`edgebench.agent.runner.Sweep`, which
  measures each point in a worker process and commits it to the store before the next starts;
* the **sensor thread** reads the board (and the live power feed) every ``sensor_interval_s``;
* the **watchdog thread** sends ``WATCHDOG=1`` while the heartbeat is fresh; the optional
  **metrics thread** serves ``/metrics``.

Signals become bytes on a socketpair (a signal handler only writes) and then control-flow
exceptions in the main loop: SIGTERM/SIGINT -> :class:`TerminateRequest` (abort the point in flight
by killing its worker, keep the job in active/ as interrupted, exit 0); SIGHUP ->
:class:`ReloadRequest` (re-read the config layers). The job thread wakes the loop through the same
pipe when it ends.

Crash safety: a job's ``state.json`` records its ``run_id``; on every start the job reuses that run
and skips the points already in the store, so nothing is lost or measured twice. Before each start
``attempts`` is incremented atomically; a job whose previous start ended without a word (crash,
SIGKILL, power loss) and without a new point counts as stalled, and after ``max_attempts`` such
starts in a row it moves to failed/ with the point it was on.
"""
import fcntl
import logging
import os
import selectors
import signal
import socket
import threading
import time

from edgebench import __version__
from edgebench.agent import spool as spoolmod
from edgebench.agent.job import JobRun, check_trusted_weights, kill_orphan_worker
from edgebench.agent.status import empty_snapshot, last_results, recent_jobs
from edgebench.errors import EdgebenchError, UsageError

logger = logging.getLogger("edgebench.agent")

TICK_S = 0.5
SNAPSHOT_MAX_AGE_S = 0.5
WAKE = 0  # byte written by the job thread; signals write their number (1..64)


class TerminateRequest(Exception):
    def __init__(self, signum=None, returncode=0):
        Exception.__init__(self, signum)
        self.signum = signum
        self.returncode = returncode


class ReloadRequest(Exception):
    pass


def _signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal {}".format(signum)


class Agent(object):
    """The daemon. ``serve()`` returns the exit status; tests drive it as a real process."""

    def __init__(self, config, reload_config=None, notifier=None):
        from edgebench.agent.systemd import Heartbeat, Notifier

        self.config = config
        self.reload_config = reload_config
        self.notifier = notifier or Notifier()
        self.heartbeat = Heartbeat()
        self.spool = spoolmod.Spool(config.state_path)
        self.selector = None
        self.server = None
        self.metrics = None
        self.watchdog = None
        self.store = None
        self.job = None
        self.stopping = False
        self.started_at = spoolmod.utc_now()
        self.started_monotonic = time.monotonic()
        self.notes = []
        self._lock_fd = None
        self._wake_r = self._wake_w = None
        self._old_handlers = {}
        self._next_scan = 0.0
        self.tick_s = TICK_S
        self._snapshot = None
        self._snapshot_at = -1e9
        self._status_line = None
        self._power_lock = threading.RLock()
        self.feed = None
        self.feed_owner = None
        self.feed_error = None
        self.board = None
        self._sensor_stop = threading.Event()
        self._sensor_thread = None
        self._last_idle = None

    # ------------------------------------------------------------------ life cycle

    def serve(self):
        try:
            self._setup()
        except BaseException:
            self._teardown()
            raise
        try:
            while True:
                try:
                    self._tick()
                except ReloadRequest:
                    self._reload()
        except TerminateRequest as req:
            logger.info("%s: stopping", _signal_name(req.signum) if req.signum else "stop requested")
            self._shutdown()
            return req.returncode
        except BaseException:
            logger.exception("the agent failed; stopping")
            self._shutdown()
            return 1
        finally:
            self._teardown()

    def _setup(self):
        config = self.config
        for warning in config.warnings:
            logger.warning("%s", warning)
        try:
            os.makedirs(config.state_path, exist_ok=True)
        except OSError as exc:
            raise UsageError("cannot create the state directory {}: {}; pass --state-dir DIR you can write "
                             "(systemd creates /var/lib/edgebench through StateDirectory=)".format(
                                 config.state_path, exc.strerror or exc))
        self._lock_state_dir()
        self.spool.ensure()
        self.spool.recover()
        from edgebench.agent.store import ResultStore

        self.store = ResultStore(config.store_path)
        self._close_orphan_runs()
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        from edgebench.agent.protocol import Server

        self.server = Server(config.socket_path, self.handle_request, self.selector, group=config.socket_group)
        self.server.bind()
        self.notes.extend(self.server.notes)
        for note in self.server.notes:
            logger.warning("%s", note)
        self._start_metrics()
        self._open_live_feed()
        self._sensor_thread = threading.Thread(target=self._sensor_loop, name="edgebench-sensors", daemon=True)
        self._sensor_thread.start()
        period = self.notifier.watchdog_period_s()
        if period:
            from edgebench.agent.systemd import Watchdog

            self.tick_s = min(TICK_S, period / 4.0)  # beat well inside the watchdog's patience
            self.heartbeat.beat()
            self.watchdog = Watchdog(self.notifier, self.heartbeat, period).start()
        logger.info("edgebench agent %s ready: state %s, socket %s%s", __version__, config.state_path,
                    config.socket_path, ", watchdog {:g} s".format(period) if period else "")
        self.heartbeat.beat()
        self.notifier.ready(self._status_text())

    def _lock_state_dir(self):
        path = os.path.join(self.config.state_path, "agent.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            raise UsageError("cannot write in the state directory {}: {}; run the agent as the user that owns it "
                             "(edgebench under systemd) or pass --state-dir DIR".format(
                                 self.config.state_path, exc.strerror or exc))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise UsageError("another edgebench agent is running on {} (lock {}); stop it first or use another "
                             "--state-dir".format(self.config.state_path, path))
        os.ftruncate(fd, 0)
        os.write(fd, "{}\n".format(os.getpid()).encode("ascii"))
        self._lock_fd = fd

    def _close_orphan_runs(self):
        from edgebench.agent import schema

        referenced = set()
        for job_id in self.spool.ids("active"):
            run_id = (self.spool.read_state("active", job_id) or {}).get("run_id")
            if run_id:
                referenced.add(run_id)
        for run in self.store.runs():
            if run["status"] == schema.RUN_RUNNING and run["id"] not in referenced:
                self.store.finish_run(run["id"], schema.RUN_INTERRUPTED,
                                      "the agent stopped during this run and no active job resumes it")
                logger.warning("run %s was left running by a stopped agent; marked interrupted", run["id"])

    def _shutdown(self):
        self.stopping = True
        self.notifier.stopping("stopping")
        job = self.job
        if job is None:
            return
        if not job.alive() and job.outcome is not None and job.outcome[0] == spoolmod.FAILED:
            # The job ended as the stop arrived; Ctrl-C may have killed its model preparation. Keep it:
            # a job that really fails fails again at the next start.
            job.outcome = (spoolmod.INTERRUPTED, "the agent was asked to stop as the job failed ({})".format(
                job.outcome[1]))
        job.request_stop("shutdown", "the agent was asked to stop")
        deadline = time.monotonic() + self.config.stop_timeout_s
        while job.alive() and time.monotonic() < deadline:
            self.heartbeat.beat()
            job.thread.join(0.1)
            job.kill_processes()
        if job.alive():
            logger.warning("job %s did not stop within %g s; leaving it interrupted", job.job_id,
                           self.config.stop_timeout_s)
            with job.lock:
                job.detached = True
                state = dict(job.state)
            state.update(status=spoolmod.INTERRUPTED, current_point=None)
            spoolmod.add_history(state, "interrupted", "agent stopped; the job thread did not finish in time")
            self.spool.write_state("active", job.job_id, state)
        else:
            self._finish_job()

    def _teardown(self):
        self._sensor_stop.set()
        if self._sensor_thread is not None:
            self._sensor_thread.join(timeout=3.0)
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self.server is not None:
            self.server.close()
            self.server = None
        with self._power_lock:
            if self.feed is not None:
                self.feed.close()
                self.feed = None
        if self.store is not None:
            self.store.close()
            self.store = None
        for signum, handler in self._old_handlers.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, TypeError):
                pass
        self._old_handlers = {}
        if self.selector is not None:
            self.selector.close()
            self.selector = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.notifier.close()

    # ------------------------------------------------------------------ signals and waking

    def _on_signal(self, signum, frame):
        try:
            self._wake_w.send(bytes([signum]))
        except (OSError, AttributeError):
            pass

    def wake(self):
        try:
            self._wake_w.send(bytes([WAKE]))
        except (OSError, AttributeError):
            pass

    def _on_wake(self, sock, mask):
        try:
            data = sock.recv(256)
        except (BlockingIOError, InterruptedError):
            return
        signals = [b for b in bytearray(data) if b != WAKE]
        for signum in signals:
            if signum in (signal.SIGTERM, signal.SIGINT):
                raise TerminateRequest(signum, 0)
        if signal.SIGHUP in signals:
            raise ReloadRequest()

    def _drain_signals(self):
        """Signals waiting in the pipe, read without blocking (the wake bytes are dropped)."""
        try:
            data = self._wake_r.recv(256)
        except (BlockingIOError, InterruptedError):
            return []
        return [b for b in bytearray(data) if b != WAKE]

    # ------------------------------------------------------------------ the loop

    def _tick(self):
        for key, mask in self.selector.select(self.tick_s):
            key.data(key.fileobj, mask)
        self.heartbeat.beat()
        now = time.monotonic()
        job = self.job
        if job is not None and not job.alive() and job.outcome is not None:
            if job.outcome[0] == spoolmod.FAILED:
                # Ctrl-C reaches the model-preparation child too; its death is not the job's fault.
                pending = self._drain_signals()
                stop = [sig for sig in pending if sig in (signal.SIGTERM, signal.SIGINT)]
                if stop:
                    job.outcome = (spoolmod.INTERRUPTED, "the agent was asked to stop")
                    raise TerminateRequest(stop[0], 0)
                if signal.SIGHUP in pending:
                    self._reload()
            self._finish_job()
        if self.job is not None:
            self._track_worker(self.job)
        if self.job is None and not self.stopping and now >= self._next_scan:
            self._next_scan = now + self.config.poll_interval_s
            self._start_next_job()
        self.server.close_idle(now)
        if self.metrics is not None:
            self.snapshot(max_age_s=1.0)  # the metrics thread serves the latest snapshot, never the store
        text = self._status_text()
        if text != self._status_line:
            self._status_line = text
            self.notifier.status(text)

    def _track_worker(self, job):
        """Record the worker's pid in the job state, so a restart can kill one the crash left behind."""
        sweep = job.sweep
        proc = sweep.current_process if sweep is not None else None
        pid = proc.pid if proc is not None else None
        if pid != job.state.get("worker_pid") and job.alive():
            job.save(worker_pid=pid)

    def _status_text(self):
        job = self.job
        queued = len(self.spool.ids("incoming"))
        if job is None:
            return "idle; {} job{} queued".format(queued, "" if queued == 1 else "s")
        prog = job.progress()
        where = prog["current_point"] or prog["phase"]
        return "job {}: {} ({}/{} points); {} queued".format(
            job.job_id, where, job.state.get("points_done") or 0, job.state.get("points_total") or "?", queued)

    # ------------------------------------------------------------------ jobs

    def _start_next_job(self):
        for job_id, reason in self.spool.adopt_dropped():
            if reason:
                logger.warning("job file rejected (failed/%s): %s", job_id, reason)
            else:
                logger.info("job %s adopted from a plan file", job_id)
        while True:
            active = self.spool.ids("active")
            if active:
                job_id = active[0]
            else:
                queued = self.spool.ids("incoming")
                if not queued:
                    return
                job_id = queued[0]
                if not self.spool.claim(job_id):
                    continue
            if self._begin(job_id):
                return

    def _fail_now(self, job_id, state, reason, event="rejected"):
        state.update(status=spoolmod.FAILED, reason=reason, finished_at=spoolmod.utc_now(), current_point=None)
        spoolmod.add_history(state, event, reason)
        self.spool.write_state("active", job_id, state)
        self.spool.move(job_id, "active", "failed")
        logger.warning("job %s failed: %s", job_id, reason)

    def _begin(self, job_id):
        """Start (or resume) the job in active/; return True if a job thread now runs."""
        state = self.spool.read_state("active", job_id) or spoolmod.new_state({})
        status = state.get("status")
        if status == spoolmod.COMPLETE:
            self.spool.move(job_id, "active", "done")
            return False
        if status in (spoolmod.FAILED, spoolmod.CANCELLED):
            self.spool.move(job_id, "active", "failed")
            return False
        job = self.spool.read_job("active", job_id)
        if job is None:
            self._fail_now(job_id, state, "job.json is missing or not a JSON object")
            return False
        try:
            spoolmod.validate_plan(job.get("plan"))
        except UsageError as exc:
            self._fail_now(job_id, state, "invalid sweep plan: {}".format(exc))
            return False
        kill_orphan_worker(state.get("worker_pid"))
        stored = len(self.store.point_keys(state["run_id"])) if state.get("run_id") else 0
        stalled = state.get("stalled") or 0
        if status == spoolmod.RUNNING:
            # The previous start ended without the agent saying so: crash, SIGKILL, OOM or power loss.
            progressed = stored > (state.get("points_at_start") or 0)
            stalled = 0 if progressed else stalled + 1
            where = state.get("current_point") or "its preparation"
            spoolmod.add_history(state, "agent stopped unexpectedly", "during {}".format(where))
            logger.warning("job %s: the agent stopped unexpectedly during %s (%d stored points so far)", job_id,
                           where, stored)
            if stalled >= self.config.max_attempts:
                self._fail_now(job_id, state, (
                    "the agent stopped {} time{} in a row during {} without storing a point (crash, kill, out of "
                    "memory or power loss); the {} point{} measured are in run {}; check dmesg/journalctl, then "
                    "submit the rest again").format(
                        stalled, "" if stalled == 1 else "s", where, stored, "" if stored == 1 else "s",
                        state.get("run_id")), event="gave up")
                return False
        state.update(status=spoolmod.RUNNING, attempts=(state.get("attempts") or 0) + 1, stalled=stalled,
                     points_at_start=stored, started_at=state.get("started_at") or spoolmod.utc_now(),
                     reason=None, finished_at=None)
        spoolmod.add_history(state, "started" if state["attempts"] == 1 else "resumed",
                             "start {}".format(state["attempts"]))
        self.spool.write_state("active", job_id, state)  # counted before anything can go wrong
        logger.info("job %s: %s (start %d)", job_id, "starting" if state["attempts"] == 1 else "resuming",
                    state["attempts"])
        self.job = JobRun(self, job_id, job, state).start()
        self._snapshot_at = -1e9
        return True

    def _finish_job(self):
        job = self.job
        self.job = None
        self._snapshot_at = -1e9
        if job is None or job.outcome is None:
            return
        status, reason = job.outcome
        with job.lock:
            state = dict(job.state)
        state.update(status=status, reason=reason, current_point=None)
        if status in (spoolmod.COMPLETE, spoolmod.FAILED, spoolmod.CANCELLED):
            state["finished_at"] = spoolmod.utc_now()
        spoolmod.add_history(state, status, reason)
        self.spool.write_state("active", job.job_id, state)
        if status == spoolmod.COMPLETE:
            self.spool.move(job.job_id, "active", "done")
            logger.info("job %s complete: %s points in run %s", job.job_id, state.get("points_done"),
                        state.get("run_id"))
        elif status in (spoolmod.FAILED, spoolmod.CANCELLED):
            self.spool.move(job.job_id, "active", "failed")
            logger.warning("job %s %s: %s", job.job_id, status, reason)
        else:
            logger.info("job %s interrupted; it resumes at the next start", job.job_id)
        self._next_scan = 0.0

    # ------------------------------------------------------------------ power and sensors

    def _open_live_feed(self):
        url = self.config.power
        with self._power_lock:
            if self.feed is not None or not url or url == "none":
                return
            from edgebench.agent.sensors import PowerFeed

            feed = PowerFeed(url, root=self.config.root_or_none, rate_hz=self.config.power_rate_hz,
                             history_points=self.config.history_points)
            try:
                feed.open()
            except Exception as exc:
                if self.feed_error != str(exc):
                    logger.warning("live power %s: %s", url, exc)
                self.feed_error = str(exc)
                return
            self.feed_error = None
            if self._last_idle and self._last_idle[0] == url:
                feed.set_idle(self._last_idle[1], self._last_idle[2], "measured before the last job")
            self.feed, self.feed_owner = feed, "live"

    def power_for_job(self, plan):
        """The sweep's PowerSession for ``plan.power`` (None for none). The live source is closed first,
        so a probe is never open twice; the session's own sampler feeds the live view meanwhile."""
        from edgebench.agent.sweep_cli import open_power

        if not plan.power or plan.power == "none":
            return None
        with self._power_lock:
            if self.feed is not None:
                self.feed.close()
            self.feed, self.feed_owner = None, "job"
        return open_power(plan)

    def show_job_power(self, session):
        from edgebench.agent.sensors import PowerFeed

        with self._power_lock:
            if self.feed_owner == "job" and session.sampler is not None:
                self.feed = PowerFeed.attached(session, history_points=self.config.history_points)

    def release_job_power(self):
        with self._power_lock:
            if self.feed_owner == "job":
                feed = self.feed
                idle = feed.idle if feed is not None else None
                if idle is not None and idle.ok:
                    self._last_idle = (feed.url, idle.mean_w, idle.ci_w)
                if feed is not None:
                    feed.close()
                self.feed, self.feed_owner = None, None
        if not self.stopping:
            self._open_live_feed()

    def _sensor_loop(self):
        from edgebench.agent.sensors import BoardReader

        reader = BoardReader(self.config.root_or_none)
        next_board = 0.0
        while not self._sensor_stop.is_set():
            now = time.monotonic()
            interval = self.config.sensor_interval_s
            if interval and now >= next_board:
                next_board = now + interval
                try:
                    self.board = reader.read()
                except Exception as exc:  # never let the sensor thread die
                    logger.debug("board sensors: %s", exc)
            with self._power_lock:
                feed = self.feed
                if feed is not None:
                    try:
                        feed.update()
                    except Exception as exc:
                        logger.debug("power feed: %s", exc)
            if self.feed is None and self.feed_owner != "job" and self.config.power not in ("", "none"):
                self._open_live_feed()  # retry a source that was missing (probe plugged in later)
            self._sensor_stop.wait(1.0)

    def _power_snapshot(self):
        with self._power_lock:
            if self.feed is not None:
                return self.feed.snapshot()
        if self.feed_error:
            from edgebench.agent.sensors import error_snapshot

            return error_snapshot(self.config.power, self.feed_error)
        return None

    # ------------------------------------------------------------------ snapshot and requests

    def snapshot(self, max_age_s=SNAPSHOT_MAX_AGE_S):
        """The status snapshot (rebuilt at most every ``max_age_s``; also read by the metrics thread)."""
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - self._snapshot_at < max_age_s:
            return snap
        snap = self._build_snapshot()
        self._snapshot, self._snapshot_at = snap, now
        return snap

    def cached_snapshot(self):
        return self._snapshot or empty_snapshot(self.config.state_path, self.config.socket_path)

    def _build_snapshot(self):
        config = self.config
        snap = empty_snapshot(config.state_path, config.socket_path)
        agent = snap["agent"]
        agent.update(
            running=True, pid=os.getpid(), state="stopping" if self.stopping else ("running" if self.job else "idle"),
            started_at=self.started_at, uptime_s=round(time.monotonic() - self.started_monotonic, 1),
            metrics="{}:{}".format(config.metrics_address, self.metrics.port) if self.metrics else None,
            max_attempts=config.max_attempts, config_warnings=list(config.warnings), notes=list(self.notes))
        snap["queue"] = self.spool.records(("incoming",))
        snap["recent_jobs"] = recent_jobs(self.spool)
        job = self.job
        if job is not None:
            record = self.spool.record("active", job.job_id)
            with job.lock:
                for key in ("points_total", "points_done", "run_id", "attempts", "backend", "current_point"):
                    record[key] = job.state.get(key)
            record.update(job.progress())
            snap["job"] = record
        try:
            snap["last_results"] = last_results(self.store)
        except Exception as exc:
            agent["notes"].append("cannot read the results store: {}".format(exc))
        snap["sensors"] = {"board": self.board, "power": self._power_snapshot()}
        return snap

    def handle_request(self, request, peer):
        cmd = request.get("cmd")
        user = _uid_name(peer.get("uid"))
        if cmd in ("ping", "hello"):
            return {"agent": {"pid": os.getpid(), "state_dir": self.config.state_path}}
        if cmd == "status":
            return {"status": self.snapshot()}
        if cmd == "jobs":
            limit = request.get("limit", 20)
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
                raise UsageError("jobs: limit must be a whole number or null")
            records = self.spool.records(limit=limit)
            if self.job is not None:
                for record in records:
                    if record["id"] == self.job.job_id:
                        record.update(self.job.progress())
            return {"jobs": records}
        if cmd == "submit":
            return {"job": self._submit(request.get("plan"), user)}
        if cmd == "cancel":
            return {"job": self._cancel(request.get("id"), user)}
        raise UsageError("unknown command {!r}; this agent knows: ping, status, jobs, submit, cancel".format(cmd))

    def _submit(self, plan_dict, user):
        from edgebench.agent.sweep_cli import check_backend

        plan = spoolmod.validate_plan(plan_dict)
        check_backend(plan)
        check_trusted_weights(plan.weights)
        from edgebench.agent.agent_cli import check_power_url

        check_power_url(plan.power)
        from edgebench.models.prepare import is_onnx_reference

        for ref in plan.models:
            if is_onnx_reference(ref) and not os.access(ref, os.R_OK):
                raise UsageError("the agent cannot read model file {} (it runs as {}); put it where the agent can "
                                 "read it, e.g. under {}".format(ref, _uid_name(os.getuid()), self.config.state_path))
        data = plan.to_dict()
        data["cache_dir"] = None
        job_id = self.spool.submit(data, via="socket", user=user)
        self._next_scan = 0.0
        logger.info("job %s submitted by %s: %d points", job_id, user, len(plan.points()))
        position = len(self.spool.ids("incoming")) + (1 if self.job is not None else 0)
        return {"id": job_id, "position": position, "points_total": len(plan.points()), "status": spoolmod.QUEUED}

    def _cancel(self, ref, user):
        if not ref:
            raise UsageError("cancel needs a job id: see `edgebench jobs`")
        state, job_id = self.spool.find(ref)
        reason = "cancelled by {}".format(user)
        if self.job is not None and self.job.job_id == job_id:
            self.job.request_stop("cancel", reason)
            logger.info("job %s: %s; stopping its point", job_id, reason)
            return {"id": job_id, "status": "cancelling"}
        if state in ("incoming", "active"):
            self.spool.cancel_queued(state, job_id, by=user)
            logger.info("job %s %s", job_id, reason)
            return {"id": job_id, "status": spoolmod.CANCELLED}
        record = self.spool.record(state, job_id)
        raise UsageError("job {} already ended ({}); nothing to cancel".format(job_id, record["status"]))

    # ------------------------------------------------------------------ reload and metrics

    def _start_metrics(self):
        if not self.config.metrics_port:
            return
        from edgebench.agent.metrics import MetricsServer

        self.metrics = MetricsServer(self.cached_snapshot, self.config.metrics_port,
                                     self.config.metrics_address).start()
        logger.info("metrics on http://%s:%d/metrics", self.config.metrics_address, self.metrics.port)

    def _reload(self):
        self.notifier.reloading()
        logger.info("SIGHUP: reloading the configuration")
        if self.reload_config is None:
            self.notifier.ready(self._status_text())
            return
        try:
            new = self.reload_config()
        except EdgebenchError as exc:
            logger.error("configuration not reloaded, keeping the old one: %s", exc)
            self.notifier.ready(self._status_text())
            return
        old = self.config
        for key in ("state_dir", "socket", "socket_group"):
            if getattr(new, key) != getattr(old, key):
                logger.warning("%s changed to %r: takes effect after a restart (systemctl restart edgebench-agent)",
                               key, getattr(new, key))
                setattr(new, key, getattr(old, key))
        for warning in new.warnings:
            logger.warning("%s", warning)
        self.config = new
        set_log_level(new.log_level)
        if (new.metrics_port, new.metrics_address) != (old.metrics_port, old.metrics_address):
            if self.metrics is not None:
                self.metrics.stop()
                self.metrics = None
            try:
                self._start_metrics()
            except UsageError as exc:
                logger.error("%s", exc)
        if (new.power, new.power_rate_hz, new.history_points, new.root) != (
                old.power, old.power_rate_hz, old.history_points, old.root):
            with self._power_lock:
                if self.feed is not None and self.feed_owner == "live":
                    self.feed.close()
                    self.feed = None
                self.feed_error = None
            self._open_live_feed()
        self._snapshot_at = -1e9
        self.notifier.ready(self._status_text())


def _uid_name(uid):
    if uid is None:
        return "unknown"
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return "uid {}".format(uid)


class _JournalFormatter(logging.Formatter):
    """``<N>message`` so journald files each line under its syslog priority."""

    PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def format(self, record):
        return "<{}>{}".format(self.PRIORITIES.get(record.levelno, 6), logging.Formatter.format(self, record))


def setup_logging(level="info", stream=None):
    import sys

    handler = logging.StreamHandler(stream or sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("edgebench")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.propagate = False
    set_log_level(level)


def set_log_level(level):
    logging.getLogger("edgebench").setLevel(getattr(logging, str(level).upper(), logging.INFO))
