"""The agent's scheduler: which job runs next, how a start is counted, how a finished job is filed.

Jobs live in the spool (incoming/ -> active/ -> done/ | failed/). :meth:`Scheduler.next_job`
resumes the job left in active/ before claiming the oldest queued one; before each start it counts
the attempt atomically, and a job whose previous start ended without a word (crash, SIGKILL, power
loss) and without a new stored point counts as stalled - after ``max_attempts`` such starts in a
row it moves to failed/ with the point it was on. :meth:`Scheduler.file` writes a finished job's
outcome and moves it.
"""
import logging
import time

from edgebench._helpers import utc_now
from edgebench.agent import spool as spoolmod
from edgebench.agent.job import DISK_FULL_RETRY_S, is_disk_full, kill_orphan_worker
from edgebench.errors import UsageError

logger = logging.getLogger("edgebench.agent")


class Scheduler(object):
    """Picks, counts and files jobs; ``start(job_id, job, state)`` starts the chosen one (a JobRun)."""

    def __init__(self, spool, store, max_attempts, start):
        self.spool = spool
        self.store = store
        self.max_attempts = max_attempts
        self.start = start
        self.retry_after = {}  # job id -> time.time() of its retry after a full disk (state.json may not say)

    def close_orphan_runs(self):
        """Mark interrupted the runs left running that no active job will resume."""
        from edgebench.results import schema

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

    def next_job(self):
        """Start the next job; return its JobRun, or None when nothing is waiting."""
        for job_id, reason in self.spool.adopt_dropped():
            if reason:
                logger.warning("job file rejected (failed/%s): %s", job_id, reason)
            else:
                logger.info("job %s adopted from a plan file", job_id)
        while True:
            active = self.spool.ids("active")
            if active:
                job_id = active[0]
                if self._waiting_for_space(job_id):
                    return None  # the queue waits too: it would need the same space
            else:
                queued = self.spool.ids("incoming")
                if not queued:
                    return None
                job_id = queued[0]
                if not self.spool.claim(job_id):
                    continue
            job = self._begin(job_id)
            if job is not None:
                return job

    def _waiting_for_space(self, job_id):
        """True while a job stopped by a full disk waits for its retry time."""
        retry_after = (self.spool.read_state("active", job_id) or {}).get("retry_after")
        retry_after = self.retry_after.get(job_id, retry_after)
        return isinstance(retry_after, (int, float)) and time.time() < retry_after

    def _fail_now(self, job_id, state, reason, event="rejected"):
        state.update(status=spoolmod.FAILED, reason=reason, finished_at=utc_now(), current_point=None)
        spoolmod.add_history(state, event, reason)
        self.spool.write_state("active", job_id, state)
        self.spool.move(job_id, "active", "failed")
        logger.warning("job %s failed: %s", job_id, reason)

    def _begin(self, job_id):
        """Start (or resume) the job in active/; return its JobRun, or None if it was filed instead."""
        state = self.spool.read_state("active", job_id) or spoolmod.new_state({})
        status = state.get("status")
        if status == spoolmod.COMPLETE:
            self.spool.move(job_id, "active", "done")
            return None
        if status in (spoolmod.FAILED, spoolmod.CANCELLED):
            self.spool.move(job_id, "active", "failed")
            return None
        job = self.spool.read_job("active", job_id)
        if job is None:
            self._fail_now(job_id, state, "job.json is missing or not a JSON object")
            return None
        try:
            spoolmod.validate_plan(job.get("plan"))
        except UsageError as exc:
            self._fail_now(job_id, state, "invalid sweep plan: {}".format(exc))
            return None
        kill_orphan_worker(state.get("worker_pid"))
        stored = len(self.store.point_keys(state["run_id"])) if state.get("run_id") else 0
        stalled = state.get("stalled") or 0
        if status == spoolmod.RUNNING and self.retry_after.pop(job_id, None) is not None:
            spoolmod.add_history(state, "retried", "disk space")  # stopped by a full disk, not a crash
        elif status == spoolmod.RUNNING:
            # The previous start ended without the agent saying so: crash, SIGKILL, OOM or power loss.
            progressed = stored > (state.get("points_at_start") or 0)
            stalled = 0 if progressed else stalled + 1
            where = state.get("current_point") or "its preparation"
            spoolmod.add_history(state, "agent stopped unexpectedly", "during {}".format(where))
            logger.warning("job %s: the agent stopped unexpectedly during %s (%d stored points so far)", job_id,
                           where, stored)
            if stalled >= self.max_attempts:
                self._fail_now(job_id, state, (
                    "the agent stopped {} time{} in a row during {} without storing a point (crash, kill, out of "
                    "memory or power loss); the {} point{} measured are in run {}; check dmesg/journalctl, then "
                    "submit the rest again").format(
                        stalled, "" if stalled == 1 else "s", where, stored, "" if stored == 1 else "s",
                        state.get("run_id")), event="gave up")
                return None
        state.update(status=spoolmod.RUNNING, attempts=(state.get("attempts") or 0) + 1, stalled=stalled,
                     points_at_start=stored, started_at=state.get("started_at") or utc_now(),
                     reason=None, finished_at=None, retry_after=None)
        spoolmod.add_history(state, "started" if state["attempts"] == 1 else "resumed",
                             "start {}".format(state["attempts"]))
        try:
            self.spool.write_state("active", job_id, state)  # counted before anything can go wrong
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            retries = state.get("disk_full_retries") or 0
            delay_s = DISK_FULL_RETRY_S[min(retries, len(DISK_FULL_RETRY_S) - 1)]
            self.retry_after[job_id] = time.time() + delay_s
            logger.warning("job %s: disk still full (%s); next try in %g s", job_id, exc.strerror or exc, delay_s)
            return None
        logger.info("job %s: %s (start %d)", job_id, "starting" if state["attempts"] == 1 else "resuming",
                    state["attempts"])
        return self.start(job_id, job, state)

    def file(self, job):
        """Write a finished job's outcome into its state and move it to done/ or failed/."""
        if job is None or job.outcome is None:
            return
        status, reason = job.outcome
        with job.lock:
            state = dict(job.state)
        state.update(status=status, reason=reason, current_point=None)
        if status in (spoolmod.COMPLETE, spoolmod.FAILED, spoolmod.CANCELLED):
            state["finished_at"] = utc_now()
        spoolmod.add_history(state, status, reason)
        if state.get("retry_after"):
            self.retry_after[job.job_id] = state["retry_after"]
        try:
            self.spool.write_state("active", job.job_id, state)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            # the disk is full: the job stays in active/ (a retry time is kept in memory); never crash over it
            logger.warning("job %s: cannot record that it is %s (%s); it stays in active/", job.job_id, status,
                           exc.strerror or exc)
            return
        if status == spoolmod.COMPLETE:
            self.spool.move(job.job_id, "active", "done")
            logger.info("job %s complete: %s points in run %s", job.job_id, state.get("points_done"),
                        state.get("run_id"))
        elif status in (spoolmod.FAILED, spoolmod.CANCELLED):
            self.spool.move(job.job_id, "active", "failed")
            logger.warning("job %s %s: %s", job.job_id, status, reason)
        elif state.get("retry_after"):
            logger.warning("job %s waits for disk space: %s", job.job_id, reason)
        else:
            logger.info("job %s interrupted; it resumes at the next start", job.job_id)
