"""What the agent answers on its socket: ping, status, jobs, submit, cancel.

Each request is a JSON object (see :mod:`edgebench.agent.protocol` for framing and limits); a
request a client got wrong raises UsageError, which the server sends back as ``{"ok": false,
"error": ...}``. Submitted plans are validated here, as the socket user, before they reach the spool.
"""
import logging
import os

from edgebench.agent import spool as spoolmod
from edgebench.agent.job import check_trusted_weights
from edgebench.errors import UsageError

logger = logging.getLogger("edgebench.agent")


class RequestHandler(object):
    """Answers socket requests from the agent's state: ``current_job()`` is the running JobRun or None,
    ``snapshot()`` the status snapshot, ``on_submitted()`` wakes the scheduler."""

    def __init__(self, config, spool, current_job, snapshot, on_submitted):
        self.config = config
        self.spool = spool
        self.current_job = current_job
        self.snapshot = snapshot
        self.on_submitted = on_submitted

    def __call__(self, request, peer):
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
            job = self.current_job()
            if job is not None:
                for record in records:
                    if record["id"] == job.job_id:
                        record.update(job.progress())
            return {"jobs": records}
        if cmd == "submit":
            return {"job": self._submit(request.get("plan"), user)}
        if cmd == "cancel":
            return {"job": self._cancel(request.get("id"), user)}
        raise UsageError("unknown command {!r}; this agent knows: ping, status, jobs, submit, cancel".format(cmd))

    def _submit(self, plan_dict, user):
        from edgebench.sweep.preflight import check_backend

        plan = spoolmod.validate_plan(plan_dict)
        check_backend(plan)
        check_trusted_weights(plan.weights)
        if plan.calib_data and "int8" in plan.precisions:
            from edgebench.calibration.sources import check_calibration_ref

            check_calibration_ref(plan.calib_data)  # as the agent sees it, before the job is queued
        from edgebench.models.prepare import is_onnx_reference

        for ref in plan.models:
            if is_onnx_reference(ref) and not os.access(ref, os.R_OK):
                raise UsageError("the agent cannot read model file {} (it runs as {}); put it where the agent can "
                                 "read it, e.g. under {}".format(ref, _uid_name(os.getuid()), self.config.state_path))
        data = plan.to_dict()
        data["cache_dir"] = None
        try:
            job_id = self.spool.submit(data, via="socket", user=user)
        except OSError as exc:  # a full or read-only state directory: say so, the agent goes on
            raise UsageError("the agent cannot queue the job in {}: {}; free space there and submit again".format(
                self.spool.root, exc.strerror or exc))
        self.on_submitted()
        logger.info("job %s submitted by %s: %d points", job_id, user, len(plan.points()))
        position = len(self.spool.ids("incoming")) + (1 if self.current_job() is not None else 0)
        return {"id": job_id, "position": position, "points_total": len(plan.points()), "status": spoolmod.QUEUED}

    def _cancel(self, ref, user):
        if not ref:
            raise UsageError("cancel needs a job id: see `edgebench jobs`")
        state, job_id = self.spool.find(ref)
        reason = "cancelled by {}".format(user)
        job = self.current_job()
        if job is not None and job.job_id == job_id:
            job.request_stop("cancel", reason)
            logger.info("job %s: %s; stopping its point", job_id, reason)
            return {"id": job_id, "status": "cancelling"}
        if state in ("incoming", "active"):
            self.spool.cancel_queued(state, job_id, by=user)
            logger.info("job %s %s", job_id, reason)
            return {"id": job_id, "status": spoolmod.CANCELLED}
        record = self.spool.record(state, job_id)
        raise UsageError("job {} already ended ({}); nothing to cancel".format(job_id, record["status"]))


def _uid_name(uid):
    if uid is None:
        return "unknown"
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return "uid {}".format(uid)
