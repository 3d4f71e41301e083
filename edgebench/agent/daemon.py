"""The agent: a foreground process (systemd supervises it) that runs queued sweeps one at a time.

Threads and who does what:

* the **main thread** runs a ``selectors`` loop: the signal self-pipe, the Unix socket (JSON
  requests from ``edgebench submit/status/jobs/cancel/monitor``), and a tick every half second that
  beats the heartbeat, notices a finished job, claims the next one and updates ``STATUS=``;
* the **job thread** runs one attempt of one job (:class:`edgebench.agent.job.JobRun`): validate,
  prepare models (in a child process), then the sweep's own :class:`edgebench.sweep.session.SweepSession`
  (the same sequence as ``edgebench sweep``), which measures each point in a worker process and
  commits it to the store before the next starts;
* the **sensor thread** (:class:`edgebench.agent.live_power.SensorThread`) reads the board every
  ``sensor_interval_s`` and the live power feed (:class:`~edgebench.agent.live_power.LivePower`);
* the **watchdog thread** sends ``WATCHDOG=1`` while the heartbeat is fresh; the optional
  **metrics thread** serves ``/metrics``.

Signals become bytes on a socketpair (a signal handler only writes) and then control-flow
exceptions in the main loop: SIGTERM/SIGINT -> :class:`TerminateRequest` (abort the point in flight
by killing its worker, keep the job in active/ as interrupted, exit 0); SIGHUP ->
:class:`ReloadRequest` (re-read the config layers). The job thread wakes the loop through the same
pipe when it ends.

Which job runs next and how starts are counted is :mod:`edgebench.agent.scheduler`; what the
socket answers is :mod:`edgebench.agent.requests`. Crash safety: a job's ``state.json`` records
its ``run_id``; on every start the job reuses that run and skips the points already in the store,
so nothing is lost or measured twice.
"""
import fcntl
import logging
import os
import selectors
import signal
import socket
import time

from edgebench import __version__
from edgebench._helpers import signal_name, utc_now
from edgebench.agent import spool as spoolmod
from edgebench.agent.job import JobRun, is_disk_full
from edgebench.agent.live_power import LivePower, SensorThread
from edgebench.agent.requests import RequestHandler
from edgebench.agent.scheduler import Scheduler
from edgebench.agent.status import last_results, recent_jobs
from edgebench.errors import EdgebenchError, UsageError
from edgebench.monitor.snapshot import empty_snapshot

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
        self.pusher = None
        self.watchdog = None
        self.store = None
        self.job = None
        self.stopping = False
        self.started_at = utc_now()
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
        self.power = LivePower(config.power, root=config.root_or_none, rate_hz=config.power_rate_hz,
                               history_points=config.history_points)
        self.sensors = SensorThread(self.power, root=config.root_or_none, interval_s=config.sensor_interval_s)
        self.scheduler = None
        self.requests = RequestHandler(config, self.spool, lambda: self.job, self.snapshot, self._scan_soon)

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
            logger.info("%s: stopping", signal_name(req.signum) if req.signum else "stop requested")
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
        from edgebench.results.store import ResultStore

        self.store = ResultStore(config.store_path)
        self.scheduler = Scheduler(self.spool, self.store, config.max_attempts, self._start_job)
        self.scheduler.close_orphan_runs()
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        from edgebench.agent.protocol import Server

        self.server = Server(config.socket_path, self.requests, self.selector, group=config.socket_group)
        self.server.bind()
        self.notes.extend(self.server.notes)
        for note in self.server.notes:
            logger.warning("%s", note)
        self._start_metrics()
        if config.push_to:
            from edgebench.agent.push import Pusher

            self.pusher = Pusher(config.push_to, config.store_path, config.state_path, config.push_retry_s).start()
        self.power.open_live()
        self.sensors.start()
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
        self.sensors.stop()
        if self.pusher is not None:
            self.pusher.stop()
            self.pusher = None
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self.server is not None:
            self.server.close()
            self.server = None
        self.power.close()
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
            job = self.scheduler.next_job()
            if job is not None:
                self.job = job
                self._snapshot_at = -1e9
        self.server.close_idle(now)
        if self.metrics is not None:
            # the metrics thread serves the latest snapshot, never the store; its counters integrate each one
            self.metrics.observe(self.snapshot(max_age_s=1.0))
        text = self._status_text()
        if text != self._status_line:
            self._status_line = text
            self.notifier.status(text)

    def _track_worker(self, job):
        """Record the worker's pid in the job state, so a restart can kill one the crash left behind."""
        sweep = job.session.sweep if job.session is not None else None
        proc = sweep.current_process if sweep is not None else None
        pid = proc.pid if proc is not None else None
        if pid != job.state.get("worker_pid") and job.alive():
            try:
                job.save(worker_pid=pid)
            except OSError as exc:  # a full disk stops the job (its own thread sees it), never the agent
                if not is_disk_full(exc):
                    raise
                logger.warning("job %s: cannot record its worker's pid: %s", job.job_id, exc.strerror or exc)

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

    def _start_job(self, job_id, job, state):
        """The scheduler's way to start a job: a JobRun given only what it needs."""
        return JobRun(job_id, job, state, spool=self.spool, config=self.config, power=self.power,
                      on_done=self.wake).start()

    def _finish_job(self):
        job, self.job = self.job, None
        self._snapshot_at = -1e9
        self.scheduler.file(job)
        self._next_scan = 0.0
        if self.pusher is not None:
            self.pusher.wake()

    def _scan_soon(self):
        self._next_scan = 0.0

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
            max_attempts=config.max_attempts, config_warnings=list(config.warnings), notes=list(self.notes),
            push=self.pusher.status() if self.pusher is not None else None)
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
        snap["sensors"] = {"board": self.sensors.board, "power": self.power.snapshot()}
        return snap

    # ------------------------------------------------------------------ reload and metrics

    def _start_metrics(self):
        if not self.config.metrics_port:
            return
        from edgebench.agent.metrics import MetricsServer

        self.metrics = MetricsServer(self.cached_snapshot, self.config.metrics_port,
                                     self.config.metrics_address, root=self.config.root_or_none).start()
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
        self.config = self.requests.config = new
        self.scheduler.max_attempts = new.max_attempts
        self.sensors.interval_s = new.sensor_interval_s
        set_log_level(new.log_level)
        if (new.metrics_port, new.metrics_address) != (old.metrics_port, old.metrics_address):
            if self.metrics is not None:
                self.metrics.stop()
                self.metrics = None
            try:
                self._start_metrics()
            except UsageError as exc:
                logger.error("%s", exc)
        self.power.configure(new.power, root=new.root_or_none, rate_hz=new.power_rate_hz,
                             history_points=new.history_points)
        self._snapshot_at = -1e9
        self.notifier.ready(self._status_text())


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
