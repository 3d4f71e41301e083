"""Status snapshots built by the agent's side: the newest results of its store, its recent jobs, and
the snapshot read from disk when no agent answers. The snapshot's shape is defined in
:mod:`edgebench.monitor.snapshot`, which the monitor renders.
"""
import os

from edgebench.monitor.snapshot import RESULT_KEYS, empty_snapshot


def last_results(store, limit=10):
    """The newest ``limit`` measurements of ``store`` (oldest first), as result summaries."""
    rows = store.last_measurements(RESULT_KEYS, limit)
    rows.reverse()
    return rows


def offline_snapshot(state_dir, socket_path, reason):
    """The snapshot read from disk when no agent answers (read-only; never creates anything)."""
    from edgebench.agent.spool import Spool

    snap = empty_snapshot(state_dir, socket_path)
    snap["agent"]["reason"] = str(reason)
    spool = Spool(state_dir)
    if spool.exists():
        snap["queue"] = spool.records(("incoming",))
        active = spool.records(("active",))
        if active:
            job = active[0]
            job.update(phase=None, current_point_index=None, current_point_elapsed_s=None, elapsed_s=None,
                       eta_s=None, last_point=None)
            snap["job"] = job
        snap["recent_jobs"] = recent_jobs(spool)
    else:
        snap["agent"]["notes"].append("no job spool in {}".format(spool.root))
    store_path = snap["agent"]["store"]
    if os.path.isfile(store_path):
        try:
            from edgebench.results.store import ResultStore

            with ResultStore(store_path, create=False) as store:
                snap["last_results"] = last_results(store)
        except Exception as exc:  # unreadable store: say so, show the rest
            snap["agent"]["notes"].append("cannot read {}: {}".format(store_path, exc))
    return snap


def recent_jobs(spool, limit=5):
    finished = spool.records(("done", "failed"))
    finished.sort(key=lambda r: (r.get("finished_at") or "", r["id"]))
    return finished[-limit:]
