"""Talking to the agent: over its socket when it answers, else straight from the state directory.

``submit`` queues through the socket (the agent validates the plan with its own view of the files
and backends); when no agent runs it writes into the spool itself, and the job starts when the agent
does. ``status`` and ``jobs`` fall back to reading the spool and the results store. ``cancel``
falls back to moving the job only when no agent holds the state directory's lock, so a job an agent
is measuring is never moved behind its back.
"""
import errno
import fcntl
import os

from edgebench._files import default_state_dir  # noqa: F401 - the clients' default, re-exported
from edgebench.agent import protocol
from edgebench.errors import EdgebenchError, UsageError

UNREACHABLE = "unreachable"  # snapshot agent.state: an agent holds the lock but did not answer


def agent_lock_held(state_dir):
    """True while an agent holds ``<state_dir>/agent.lock``."""
    path = os.path.join(os.path.abspath(state_dir), "agent.lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)
    return False


def agent_lock_pid(state_dir):
    """The pid an agent wrote into ``<state_dir>/agent.lock`` (None if unreadable)."""
    try:
        with open(os.path.join(os.path.abspath(state_dir), "agent.lock"), "rb") as fh:
            return int(fh.read(32).decode("ascii").strip())
    except (OSError, ValueError):
        return None


class AgentClient(object):
    def __init__(self, state_dir=None, socket_path=None, timeout_s=10.0):
        self.state_dir = os.path.abspath(state_dir or default_state_dir())
        self.socket_path = socket_path or os.path.join(self.state_dir, "agent.sock")
        self.timeout_s = timeout_s

    def call(self, cmd, **fields):
        """One request; the reply's payload dict. AgentUnavailable if nothing answers."""
        message = dict(fields)
        message["cmd"] = cmd
        reply = protocol.request(self.socket_path, message, self.timeout_s)
        if not reply.get("ok"):
            error = reply.get("error") or "the agent refused the request"
            if reply.get("kind") == "usage":
                raise UsageError(error)
            raise EdgebenchError("agent: {}".format(error))
        return reply

    def status(self):
        """The status snapshot (from the agent, or read from disk with ``agent.running`` false)."""
        from edgebench.agent.status import offline_snapshot

        try:
            return self.call("status")["status"]
        except protocol.AgentUnavailable as exc:
            snap = offline_snapshot(self.state_dir, self.socket_path, exc)
            if agent_lock_held(self.state_dir):  # it runs, but did not answer: busy, hung or no permission
                snap["agent"].update(state=UNREACHABLE, pid=agent_lock_pid(self.state_dir))
            return snap

    def jobs(self, limit=20):
        from edgebench.agent.spool import Spool

        try:
            return self.call("jobs", limit=limit)["jobs"], True
        except protocol.AgentUnavailable as exc:
            spool = Spool(self.state_dir)
            if not spool.exists():
                raise UsageError("{} (and {} has no job spool)".format(exc, self.state_dir))
            return spool.records(limit=limit), False

    def submit(self, plan_dict):
        """Queue a validated plan dict; ``(job dict, via, note)``."""
        from edgebench.agent.spool import QUEUED, Spool, plan_points

        try:
            return self.call("submit", plan=plan_dict)["job"], "socket", None
        except protocol.AgentUnavailable as exc:
            if agent_lock_held(self.state_dir):
                raise  # an agent runs but we cannot talk to it (permissions): writing behind it would not help
            spool = Spool(self.state_dir)
            if not spool.exists():
                raise UsageError("{}; and {} has no job spool yet (start the agent once with --state-dir {})".format(
                    exc, self.state_dir, self.state_dir))
            try:
                job_id = spool.submit(plan_dict, via="spool")
            except OSError as err:
                raise UsageError("{}; writing the job into {} failed too: {}".format(
                    exc, spool.root, err.strerror or err))
            note = "no agent is running: the job waits in {} until one starts".format(spool.path("incoming"))
            job = {"id": job_id, "position": len(spool.ids("incoming")), "points_total": plan_points(plan_dict),
                   "status": QUEUED}
            return job, "spool", note

    def cancel(self, ref):
        from edgebench.agent.spool import CANCELLED, Spool

        try:
            return self.call("cancel", id=ref)["job"], "socket"
        except protocol.AgentUnavailable as exc:
            if agent_lock_held(self.state_dir):
                raise
            spool = Spool(self.state_dir)
            if not spool.exists():
                raise UsageError("{}; and {} has no job spool, so there is no job {} to cancel".format(
                    exc, self.state_dir, ref))
            state, job_id = spool.find(ref)
            if state not in ("incoming", "active"):
                record = spool.record(state, job_id)
                raise UsageError("job {} already ended ({}); nothing to cancel".format(job_id, record["status"]))
            try:
                spool.cancel_queued(state, job_id, by=_user_name())
            except OSError as err:
                raise UsageError("cannot cancel job {} in {}: {}".format(job_id, spool.root, err.strerror or err))
            return {"id": job_id, "status": CANCELLED}, "spool"


def _user_name():
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return "uid {}".format(os.getuid())
