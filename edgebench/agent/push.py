"""The agent's push queue: finished runs go to ``push_to =`` (PostgreSQL) after each job.

The queue is not a second copy of anything: it is every finished run of the board's store whose
last successful push (kept in ``<state_dir>/push.json``, by run UUID) no longer matches the run
(never pushed, or resumed and finished again since). So a run measured while the server is down,
or while the agent was stopped, is pushed at the next attempt; nothing is queued twice. A thread
tries after each job and every ``push_retry_s`` while anything is queued; the reason of the last
failure is in ``edgebench status`` (``agent.push``), with the URL's password masked.
"""
import logging
import os
import threading

from edgebench._files import atomic_write_json, read_json
from edgebench._helpers import first_line, utc_now
from edgebench.results import schema

logger = logging.getLogger(__name__)

LEDGER_NAME = "push.json"


def run_signature(run, points, latencies=0):
    """What a push of ``run`` covered: a resumed run that finished again no longer matches, nor does a run
    pushed by an edgebench that pushed no raw samples (its signature has no sample count)."""
    return "{}|{}|{}|{}|{}".format(run.get("status"), run.get("finished_at"), points, run.get("note"), latencies)


class Pusher(object):
    """Pushes the store's finished runs to ``url`` from a daemon thread; ``status()`` for the snapshot."""

    def __init__(self, url, store_path, state_path, retry_s=60.0):
        from edgebench.results.postgres import redact

        self.url = url
        self.shown_url = redact(url)
        self.store_path = store_path
        self.ledger_path = os.path.join(state_path, LEDGER_NAME)
        self.retry_s = float(retry_s)
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self.queued = 0
        self.last_error = None
        self.last_error_at = None
        self.last_push_at = None
        self.pushed_runs = 0

    # -- the queue --------------------------------------------------------------------------------
    def _ledger(self):
        return dict((read_json(self.ledger_path) or {}).get("pushed") or {})

    def pending(self, store):
        """{run_uuid: signature} of the finished runs not pushed as they are now."""
        ledger = self._ledger()
        counts = dict(store.conn.execute("SELECT run_id, count(*) FROM measurements GROUP BY run_id").fetchall())
        samples = dict(store.conn.execute("SELECT run_id, count(*) FROM latencies GROUP BY run_id").fetchall())
        out = {}
        for run in store.runs():
            if run.get("status") == schema.RUN_RUNNING or not run.get("run_uuid"):
                continue
            signature = run_signature(run, counts.get(run["id"], 0), samples.get(run["id"], 0))
            if ledger.get(run["run_uuid"]) != signature:
                out[run["run_uuid"]] = signature
        return out

    def push_once(self):
        """One attempt: push what is queued. Returns True when nothing is left queued."""
        from edgebench.results.postgres import push_store
        from edgebench.results.store import ResultStore

        try:
            with ResultStore(self.store_path) as store:
                pending = self.pending(store)
                with self.lock:
                    self.queued = len(pending)
                if not pending:
                    return True
                result = push_store(store, self.url, run_uuids=set(pending))
        except Exception as exc:  # unreachable, refused, or the store is busy: stays queued
            with self.lock:
                self.last_error = first_line(exc, default=type(exc).__name__)
                self.last_error_at = utc_now()
            logger.warning("push to %s failed, %d run(s) stay queued: %s", self.shown_url, self.queued,
                           self.last_error)
            return False
        ledger = self._ledger()
        for run_uuid in result.pushed_uuids:
            ledger[run_uuid] = pending[run_uuid]
        atomic_write_json(self.ledger_path, {"url": self.shown_url, "pushed": ledger})
        with self.lock:
            self.queued = len(set(pending) - set(result.pushed_uuids))
            self.last_error = self.last_error_at = None
            self.last_push_at = utc_now()
            self.pushed_runs += len(result.pushed_uuids)
        logger.info("pushed %d run(s) to %s (%d point(s) added, %d updated; raw samples of %d added, %d replaced)",
                    len(result.pushed_uuids), self.shown_url, result.points_added, result.points_updated,
                    result.latencies_added, result.latencies_updated)
        return self.queued == 0

    # -- the thread -------------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._loop, name="edgebench-push", daemon=True)
        self._thread.start()
        return self

    def wake(self):
        """A job ended: try now."""
        self._wake.set()

    def _loop(self):
        while not self._stop.is_set():
            self._wake.clear()
            done = self.push_once()
            # Nothing queued: sleep until the next job ends (or a long while); else retry after retry_s.
            self._wake.wait(3600.0 if done else self.retry_s)

    def stop(self, timeout_s=5.0):
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def status(self):
        with self.lock:
            return {"to": self.shown_url, "queued": self.queued, "pushed_runs": self.pushed_runs,
                    "last_push_at": self.last_push_at, "last_error": self.last_error,
                    "last_error_at": self.last_error_at, "retry_s": self.retry_s}

