"""The status snapshot: what ``edgebench status --json`` prints and what the monitor renders.

This module is the contract between the agent, which builds snapshots, and the monitor, which
renders them (and builds its own in standalone mode). When no agent answers, the clients build the
same shape from the spool and the store on disk (``agent.running`` is false).

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
* ``sensors``: ``board`` (see :mod:`edgebench.platform.sensors`) and ``power`` (see
  :mod:`edgebench.power.feed`), each null when not read.
"""
import os

from edgebench import __version__
from edgebench._helpers import utc_now

PROTOCOL_VERSION = 1
RESULT_KEYS = ("run_id", "point_key", "model", "backend", "precision", "batch_size", "status", "error",
               "per_image_ms", "images_per_s", "latency_median_ms", "latency_cv", "stable", "peak_rss_mb",
               "system_used_peak_mb", "gross_power_w", "net_power_w", "energy_per_image_j",
               "net_energy_per_image_j", "simulated", "temperature_max_c", "finished_at")


def result_summary(row):
    return dict((key, row.get(key)) for key in RESULT_KEYS)


def empty_snapshot(state_dir, socket_path):
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
