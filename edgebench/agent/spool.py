"""The agent's job spool: directories a job moves through by atomic renames.

Layout under ``<state_dir>/spool/``::

    incoming/<id>/job.json        queued, oldest id first (ids sort by submission time)
    active/<id>/job.json          the job being measured (at most one), and its state.json
    done/<id>/                    finished: every point is in the results store
    failed/<id>/                  invalid plan, failed preparation, stopped the agent too often,
                                  or cancelled; state.json says why
    incoming/NAME.json            a plan file dropped in by hand: adopted into incoming/<id>/

A job is a directory, so its plan and its state move together in one ``rename``. ``job.json`` is
written once (``id``, ``submitted_at``, ``via``, ``user``, ``plan``); ``state.json`` is rewritten
atomically (temporary file, fsync, rename, fsync of the directory) whenever the job changes:
``status``, ``attempts``, ``stalled``, ``run_id``, ``backend``, ``points_total``, ``points_done``,
``points_at_start``, ``current_point``, ``started_at``, ``finished_at``, ``reason``, ``history``.

Statuses: ``queued`` (incoming/), ``starting`` (claimed, not started yet), ``running``,
``interrupted`` (the agent stopped cleanly; resumes at its next start), ``complete`` (done/),
``failed`` and ``cancelled`` (failed/).

Clients submit by writing ``.tmp-*/job.json`` and renaming the directory into ``incoming/``, so the
agent never sees half a job. Only JSON is read; nothing here executes or unpickles job content.
"""
import datetime
import errno
import os
import shutil
import stat
import time

from edgebench._files import TMP_PREFIX, atomic_write_json, fsync_dir, loads_bounded
from edgebench._helpers import utc_now
from edgebench.errors import UsageError

STATES = ("incoming", "active", "done", "failed")

QUEUED = "queued"
STARTING = "starting"
RUNNING = "running"
INTERRUPTED = "interrupted"
COMPLETE = "complete"
FAILED = "failed"
CANCELLED = "cancelled"

MAX_JOB_FILE_BYTES = 1 << 20
_TMP_PREFIX = TMP_PREFIX  # half-written files (older than STALE_TMP_S they are removed)
_ADOPT_PREFIX = ".adopt-"
STALE_TMP_S = 600.0


def new_job_id(now=None):
    """``YYYYmmdd-HHMMSS-uuuuuu`` (UTC): unique per microsecond and sorted by submission time."""
    now = now or datetime.datetime.utcnow()
    return now.strftime("%Y%m%d-%H%M%S-") + "{:06d}".format(now.microsecond)


def write_json_atomic(path, obj):
    """Write ``obj`` as JSON to ``path`` so that a crash or power loss leaves the old file or the new one."""
    atomic_write_json(path, obj, file_mode=0o640, sync_dir=True)  # the spool is the agent's and its group's


class _NotAJobFile(Exception):
    """A spool entry that is not what it seems (link, FIFO, device, oversized): refused unread."""

    def __init__(self, reason, too_large=False):
        Exception.__init__(self, reason)
        self.too_large = too_large


def entry_kind(mode):
    """What a non-regular spool entry is, in words (None for a regular file or a directory)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    for test, words in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def _read_regular(path, limit):
    """The bytes of ``path`` if it is a regular file (never following a symbolic link) of at most ``limit``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _NotAJobFile("it is a symbolic link; the agent reads only regular files")
        raise
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        kind = entry_kind(info.st_mode) or ("a directory" if stat.S_ISDIR(info.st_mode) else None)
        if kind:
            raise _NotAJobFile("it is {}; the agent reads only regular files".format(kind))
        if info.st_size > limit:
            raise _NotAJobFile("it is {} bytes, more than the {} a job file may have".format(info.st_size, limit),
                               too_large=True)
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew while we read it
        raise _NotAJobFile("it is more than the {} bytes a job file may have".format(limit), too_large=True)
    return data


def read_json_file(path, limit=MAX_JOB_FILE_BYTES):
    """``(object, None)`` or ``(None, reason)`` for a JSON object file (a regular file, never a link)."""
    data, reason, _ = _read_json_object(path, limit)
    return data, reason


def _read_json_object(path, limit):
    """``(object, reason, too_large)``."""
    try:
        text = _read_regular(path, limit).decode("utf-8")
    except _NotAJobFile as exc:
        return None, str(exc), exc.too_large
    except (OSError, UnicodeDecodeError) as exc:
        return None, "cannot read it: {}".format(getattr(exc, "strerror", None) or exc), False
    try:
        data = loads_bounded(text)
    except ValueError as exc:
        return None, "not valid JSON ({})".format(exc), False
    if not isinstance(data, dict):
        return None, "not a JSON object", False
    return data, None, False


def plan_points(plan):
    """Number of points a plan dict asks for (0 if it cannot be counted)."""
    try:
        return len(plan["models"]) * len(plan.get("precisions") or ["fp32"]) * len(plan["batch_sizes"])
    except (KeyError, TypeError):
        return 0


def validate_plan(plan):
    """A plan dict -> validated SweepPlan; UsageError with one line if it cannot run."""
    from edgebench.sweep.plan import SweepPlan

    if not isinstance(plan, dict):
        raise UsageError("the job has no plan object")
    return SweepPlan.from_dict(dict(plan))


class Spool(object):
    def __init__(self, state_dir):
        self.root = os.path.join(os.path.abspath(state_dir), "spool")

    def path(self, state, job_id=None):
        base = os.path.join(self.root, state)
        return os.path.join(base, job_id) if job_id else base

    def ensure(self):
        for state in STATES:
            os.makedirs(self.path(state), exist_ok=True)
        return self

    def exists(self):
        return all(os.path.isdir(self.path(s)) for s in STATES)

    # ------------------------------------------------------------------ submitting

    def submit(self, plan, via="spool", user=None):
        """Queue a (validated) plan dict; return the new job id."""
        incoming = self.path("incoming")
        if not os.path.isdir(incoming):
            raise UsageError("{} is not a job spool (no incoming/ directory): start the agent once with "
                             "this --state-dir, or pass the right one".format(self.root))
        for _ in range(100):
            job_id = new_job_id()
            tmp = os.path.join(incoming, "{}{}-{}".format(_TMP_PREFIX, job_id, os.getpid()))
            os.mkdir(tmp)
            try:
                write_json_atomic(os.path.join(tmp, "job.json"), {
                    "id": job_id, "submitted_at": utc_now(), "via": via, "user": user or _user_name(),
                    "plan": plan})
                write_json_atomic(os.path.join(tmp, "state.json"), new_state(plan))
                os.rename(tmp, os.path.join(incoming, job_id))
            except OSError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    time.sleep(0.000001)
                    continue
                raise
            fsync_dir(incoming)
            return job_id
        raise UsageError("could not find a free job id in {}".format(incoming))

    def adopt_dropped(self):
        """Turn plan files dropped into incoming/ into jobs; return ``[(job_id, reason or None)]``.

        A malformed file becomes a job in failed/ whose state says why; it never stops the agent.
        """
        adopted = []
        incoming = self.path("incoming")
        try:
            names = sorted(os.listdir(incoming))
        except OSError:
            return adopted
        for name in names:
            path = os.path.join(incoming, name)
            if name.startswith("."):
                continue
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                continue  # a queued job
            kind = entry_kind(mode)
            job_id = new_job_id()
            tmp = os.path.join(incoming, _ADOPT_PREFIX + job_id)
            try:
                os.mkdir(tmp)
                if kind:  # a link, FIFO or device is removed unread (unlink never follows a link)
                    os.unlink(path)
                else:
                    os.rename(path, os.path.join(tmp, "submitted.json"))
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            if kind:
                adopted.append(self._reject_entry(tmp, job_id, name, "{}: it is {}; put the plan file itself "
                                                                     "in incoming/".format(name, kind)))
            else:
                adopted.append(self._finish_adoption(tmp, job_id, name))
        return adopted

    def _reject_entry(self, tmp, job_id, name, reason):
        write_json_atomic(os.path.join(tmp, "job.json"), {
            "id": job_id, "submitted_at": utc_now(), "via": "file", "source_file": name, "user": None,
            "plan": None})
        return self._file_adoption(tmp, job_id, new_state({}), reason)

    def _finish_adoption(self, tmp, job_id, name=None):
        submitted = os.path.join(tmp, "submitted.json")
        name = name or "submitted.json"
        data, reason, too_large = _read_json_object(submitted, MAX_JOB_FILE_BYTES)
        plan = None
        if data is not None:
            plan = data.get("plan") if isinstance(data.get("plan"), dict) else data
            try:
                plan = validate_plan(plan).to_dict()
            except UsageError as exc:
                reason = "invalid sweep plan: {}".format(exc)
        if reason and data is None:
            reason = "{}: {}".format(name, reason)
        user = _file_owner(submitted)
        if too_large:
            os.unlink(submitted)  # a refused file is not kept whole: its size would fill failed/
            reason += " (deleted)"
        write_json_atomic(os.path.join(tmp, "job.json"), {
            "id": job_id, "submitted_at": utc_now(), "via": "file", "source_file": name,
            "user": user, "plan": plan})
        return self._file_adoption(tmp, job_id, new_state(plan or {}), reason)

    def _file_adoption(self, tmp, job_id, state, reason):
        if reason:
            state.update(status=FAILED, reason=reason, finished_at=utc_now())
            add_history(state, "rejected", reason)
        write_json_atomic(os.path.join(tmp, "state.json"), state)
        target = "failed" if reason else "incoming"
        os.rename(tmp, self.path(target, job_id))
        fsync_dir(self.path(target))
        return job_id, reason

    def recover(self):
        """After a crash: finish adoptions cut short, drop stale half-written submissions."""
        incoming = self.path("incoming")
        for name in sorted(os.listdir(incoming)):
            path = os.path.join(incoming, name)
            if name.startswith(_ADOPT_PREFIX) and os.path.isdir(path):
                if os.path.exists(os.path.join(path, "submitted.json")):
                    self._finish_adoption(path, name[len(_ADOPT_PREFIX):])
                else:
                    shutil.rmtree(path, ignore_errors=True)
            elif name.startswith(_TMP_PREFIX):
                try:
                    age = time.time() - os.path.getmtime(path)
                except OSError:
                    continue
                if age > STALE_TMP_S and os.path.isdir(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif age > STALE_TMP_S:
                    os.unlink(path)
        # A job that reached done/ or failed/ but whose active/ copy survived a crash mid-move
        for job_id in self.ids("active"):
            for final in ("done", "failed"):
                if os.path.isdir(self.path(final, job_id)):
                    shutil.rmtree(self.path("active", job_id), ignore_errors=True)

    # ------------------------------------------------------------------ reading

    def ids(self, state):
        try:
            names = os.listdir(self.path(state))
        except OSError:
            return []
        return sorted(n for n in names if not n.startswith(".") and _is_real_dir(self.path(state, n)))

    def read_job(self, state, job_id):
        data, _ = read_json_file(os.path.join(self.path(state, job_id), "job.json"))
        return data

    def read_state(self, state, job_id):
        data, _ = read_json_file(os.path.join(self.path(state, job_id), "state.json"))
        return data

    def write_state(self, state, job_id, job_state):
        write_json_atomic(os.path.join(self.path(state, job_id), "state.json"), job_state)

    def find(self, ref):
        """``(state, job_id)`` for a full id or a unique suffix/prefix; UsageError otherwise."""
        ref = str(ref).strip()
        if not ref or "/" in ref or ref.startswith("."):
            raise UsageError("{!r} is not a job id: see `edgebench jobs`".format(ref))
        matches = []
        for state in STATES:
            for job_id in self.ids(state):
                if job_id == ref:
                    return state, job_id
                if job_id.endswith(ref) or job_id.startswith(ref):
                    matches.append((state, job_id))
        if not matches:
            raise UsageError("no job {} in {}: see `edgebench jobs`".format(ref, self.root))
        if len(matches) > 1:
            raise UsageError("{} matches {} jobs ({}); give more of the id".format(
                ref, len(matches), ", ".join(j for _, j in matches[:5])))
        return matches[0]

    def record(self, state, job_id):
        """One job as a JSON-safe dict (the ``jobs`` list entries)."""
        job = self.read_job(state, job_id) or {}
        st = self.read_state(state, job_id) or {}
        plan = job.get("plan") if isinstance(job.get("plan"), dict) else {}
        status = st.get("status") or {"incoming": QUEUED, "active": RUNNING, "done": COMPLETE,
                                      "failed": FAILED}[state]
        if state == "incoming":
            status = QUEUED
        elif state == "active" and status == QUEUED:
            status = STARTING  # claimed; its first start has not been recorded yet
        return {
            "id": job_id,
            "state": state,
            "status": status,
            "submitted_at": job.get("submitted_at"),
            "user": job.get("user"),
            "via": job.get("via"),
            "models": plan.get("models"),
            "backend": st.get("backend") or plan.get("backend"),
            "precisions": plan.get("precisions"),
            "batch_sizes": plan.get("batch_sizes"),
            "points_total": st.get("points_total") or plan_points(plan),
            "points_done": st.get("points_done") or 0,
            "run_id": st.get("run_id"),
            "attempts": st.get("attempts") or 0,
            "started_at": st.get("started_at"),
            "finished_at": st.get("finished_at"),
            "current_point": st.get("current_point"),
            "reason": st.get("reason"),
        }

    def records(self, states=STATES, limit=None):
        """Job records: finished (done and failed, oldest first; ``limit`` keeps the newest N), then the
        active job, then the queue in the order it will run."""
        finished = sorted((job_id, state) for state in ("done", "failed") if state in states
                          for job_id in self.ids(state))
        if limit is not None:
            finished = finished[-limit:] if limit else []
        out = [self.record(state, job_id) for job_id, state in finished]
        for state in ("active", "incoming"):
            if state in states:
                out.extend(self.record(state, job_id) for job_id in self.ids(state))
        return out

    # ------------------------------------------------------------------ moving

    def move(self, job_id, source, target):
        os.rename(self.path(source, job_id), self.path(target, job_id))
        fsync_dir(self.path(target))
        fsync_dir(self.path(source))

    def claim(self, job_id):
        """incoming -> active; False if someone else (a cancel) moved it first."""
        try:
            self.move(job_id, "incoming", "active")
        except FileNotFoundError:
            return False
        return True

    def cancel_queued(self, state, job_id, by="user"):
        """Move a job that is not being measured to failed/ as cancelled."""
        st = self.read_state(state, job_id) or new_state({})
        reason = "cancelled by {}".format(by)
        st.update(status=CANCELLED, reason=reason, finished_at=utc_now(), current_point=None)
        add_history(st, "cancelled", reason)
        self.write_state(state, job_id, st)
        self.move(job_id, state, "failed")


def new_state(plan):
    return {
        "status": QUEUED, "attempts": 0, "stalled": 0, "run_id": None, "backend": None,
        "points_total": plan_points(plan), "points_done": 0, "points_at_start": 0, "current_point": None,
        "started_at": None, "finished_at": None, "reason": None, "history": [],
    }


def add_history(state, event, detail=None, keep=50):
    history = state.setdefault("history", [])
    history.append({"at": utc_now(), "event": event, "detail": detail})
    del history[:-keep]


def _user_name():
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def _is_real_dir(path):
    """A directory, not a symbolic link to one (a linked job would make the agent write outside its spool)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _file_owner(path):
    try:
        import pwd

        return pwd.getpwuid(os.lstat(path).st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return None
