"""The status snapshot: what ``edgebench status --json`` prints and what the monitor renders.

The agent builds it from memory, the spool and its results store; when no agent answers, the
clients build the same shape from the spool and the store on disk (``agent.running`` is false).

Top-level keys: ``protocol``, ``generated_at``, ``agent``, ``job``, ``queue``, ``recent_jobs``,
``last_results``, ``sensors``.

* ``agent``: ``running``, ``pid``, ``version``, ``state`` (idle | running | stopping | offline),
  ``started_at``, ``uptime_s``, ``state_dir``, ``store``, ``socket``, ``metrics``, ``max_attempts``,
  ``config_warnings``, ``notes``, ``reason`` (why offline).
* ``job`` (null when idle): the ``jobs`` record (``id``, ``state``, ``status``, ``submitted_at``,
  ``user``, ``via``, ``models``, ``backend``, ``precisions``, ``batch_sizes``, ``points_total``,
  ``points_done``, ``run_id``, ``attempts``, ``started_at``, ``finished_at``, ``current_point``,
  ``reason``) plus ``phase``, ``current_point_index``, ``current_point_elapsed_s``, ``elapsed_s``,
  ``eta_s``, ``last_point``.
* ``queue``: job records waiting in incoming/, oldest first. ``recent_jobs``: the last finished ones.
* ``last_results``: the newest measurements in the store (see :data:`RESULT_KEYS`), oldest first.
* ``sensors``: ``board`` and ``power`` (see :mod:`edgebench.agent.sensors`), each null when not read.
"""
import os

from edgebench import __version__

PROTOCOL_VERSION = 1
RESULT_KEYS = ("run_id", "point_key", "model", "backend", "precision", "batch_size", "status", "error",
               "per_image_ms", "images_per_s", "latency_median_ms", "latency_cv", "stable", "peak_rss_mb",
               "system_used_peak_mb", "gross_power_w", "net_power_w", "energy_per_image_j",
               "net_energy_per_image_j", "simulated", "temperature_max_c", "finished_at")


def result_summary(row):
    return dict((key, row.get(key)) for key in RESULT_KEYS)


def last_results(store, limit=10):
    """The newest ``limit`` measurements of ``store`` (oldest first), as result summaries."""
    rows = store.last_measurements(RESULT_KEYS, limit)
    rows.reverse()
    return rows


def empty_snapshot(state_dir, socket_path):
    from edgebench.agent.spool import utc_now

    state_dir = os.path.abspath(state_dir)
    return {
        "protocol": PROTOCOL_VERSION,
        "generated_at": utc_now(),
        "agent": {
            "running": False, "pid": None, "version": __version__, "state": "offline", "started_at": None,
            "uptime_s": None, "state_dir": state_dir, "store": os.path.join(state_dir, "results.db"),
            "socket": socket_path, "metrics": None, "max_attempts": None, "config_warnings": [], "notes": [],
            "reason": None,
        },
        "job": None,
        "queue": [],
        "recent_jobs": [],
        "last_results": [],
        "sensors": {"board": None, "power": None},
    }


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
            from edgebench.agent.store import ResultStore

            with ResultStore(store_path, create=False) as store:
                snap["last_results"] = last_results(store)
        except Exception as exc:  # unreadable store: say so, show the rest
            snap["agent"]["notes"].append("cannot read {}: {}".format(store_path, exc))
    return snap


def recent_jobs(spool, limit=5):
    finished = spool.records(("done", "failed"))
    finished.sort(key=lambda r: (r.get("finished_at") or "", r["id"]))
    return finished[-limit:]
