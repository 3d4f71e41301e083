"""Prometheus metrics in the text exposition format (0.0.4), over ``http.server``; no dependency.

Off by default; ``--metrics-port PORT`` serves ``GET /metrics`` on ``127.0.0.1:PORT`` (the address
is configurable, but a benchmark rig rarely wants it on the network). The page is rendered from the
agent's latest status snapshot, so a scrape never touches a sensor or the results store.

Gauges (all from the snapshot; absent values are simply not exported):

* ``edgebench_agent_up`` 1, ``edgebench_agent_info{version}`` 1
* ``edgebench_queue_jobs`` jobs waiting in incoming/
* ``edgebench_job_running`` 1 while a job is measured
* ``edgebench_job_points_total`` / ``edgebench_job_points_done`` / ``edgebench_job_progress_ratio``
* ``edgebench_point_images_per_second`` images/s of the last point measured in the current job
* ``edgebench_power_board_watts{source}``, ``edgebench_power_rail_watts{rail,source}``,
  ``edgebench_power_net_watts{source}``, ``edgebench_power_idle_watts{source}``
* ``edgebench_temperature_celsius{zone}``, ``edgebench_memory_used_bytes``
"""
import logging
import math
import threading

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class _Page(object):
    def __init__(self):
        self.lines = []

    def gauge(self, name, help_text, samples):
        """``samples``: [(labels dict, value)]; samples whose value is None are skipped."""
        kept = [(labels, _number(v)) for labels, v in samples]
        kept = [(labels, v) for labels, v in kept if v is not None]
        if not kept:
            return
        self.lines.append("# HELP {} {}".format(name, help_text.replace("\\", "\\\\").replace("\n", " ")))
        self.lines.append("# TYPE {} gauge".format(name))
        for labels, value in kept:
            label_text = ""
            if labels:
                pairs = ('{}="{}"'.format(k, escape_label(v)) for k, v in sorted(labels.items()))
                label_text = "{" + ",".join(pairs) + "}"
            self.lines.append("{}{} {}".format(name, label_text, repr(float(value))))

    def text(self):
        return "\n".join(self.lines) + "\n"


def render_metrics(snapshot):
    """The exposition text for one status snapshot (see :mod:`edgebench.agent.daemon`)."""
    page = _Page()
    agent = snapshot.get("agent") or {}
    page.gauge("edgebench_agent_up", "1 while the edgebench agent answers", [({}, 1)])
    page.gauge("edgebench_agent_info", "edgebench version of the agent", [({"version": agent.get("version", "")}, 1)])
    page.gauge("edgebench_queue_jobs", "jobs waiting in the spool", [({}, len(snapshot.get("queue") or []))])
    job = snapshot.get("job")
    page.gauge("edgebench_job_running", "1 while a job is being measured", [({}, 1 if job else 0)])
    if job:
        total, done = job.get("points_total"), job.get("points_done")
        page.gauge("edgebench_job_points_total", "points in the current job", [({}, total)])
        page.gauge("edgebench_job_points_done", "points of the current job in the results store", [({}, done)])
        ratio = done / float(total) if total else None
        page.gauge("edgebench_job_progress_ratio", "points done / points total (0..1)", [({}, ratio)])
        last = job.get("last_point") or {}
        page.gauge("edgebench_point_images_per_second", "images/s of the last point measured in the current job",
                   [({"point": last.get("point_key", "")}, last.get("images_per_s"))])
    sensors = snapshot.get("sensors") or {}
    power = sensors.get("power") or {}
    if power and not power.get("error"):
        src = {"source": power.get("source", "")}
        page.gauge("edgebench_power_board_watts", "board power now (the source's board rule)",
                   [(src, power.get("board_w"))])
        page.gauge("edgebench_power_rail_watts", "power per rail now",
                   [(dict(src, rail=r.get("name", "")), r.get("power_w")) for r in power.get("rails") or []])
        page.gauge("edgebench_power_idle_watts", "idle baseline of the board power", [(src, power.get("idle_w"))])
        page.gauge("edgebench_power_net_watts", "board power minus the idle baseline", [(src, power.get("net_w"))])
    board = sensors.get("board") or {}
    temps = board.get("temperatures_c") or {}
    page.gauge("edgebench_temperature_celsius", "thermal zone temperature",
               [({"zone": zone}, value) for zone, value in sorted(temps.items())])
    used = (board.get("memory") or {}).get("used_mb")
    page.gauge("edgebench_memory_used_bytes", "MemTotal - MemAvailable",
               [({}, used * 1024 * 1024 if used is not None else None)])
    return page.text()


class MetricsServer(object):
    """Serves ``GET /metrics`` from ``get_snapshot()`` in a daemon thread."""

    def __init__(self, get_snapshot, port, address="127.0.0.1"):
        self.get_snapshot = get_snapshot
        self.port = int(port)
        self.address = address
        self.httpd = None
        self._thread = None

    def start(self):
        from http.server import BaseHTTPRequestHandler, HTTPServer

        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path.split("?", 1)[0] not in ("/metrics", "/"):
                    self.send_error(404, "only /metrics is served here")
                    return
                try:
                    body = render_metrics(owner.get_snapshot()).encode("utf-8")
                except Exception as exc:
                    logger.exception("rendering metrics failed")
                    self.send_error(500, "metrics failed: {}".format(exc))
                    return
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                logger.debug("metrics request from %s: %s", self.address_string(), fmt % args)

        try:
            self.httpd = HTTPServer((self.address, self.port), Handler)
        except OSError as exc:
            from edgebench.errors import UsageError

            raise UsageError("cannot serve metrics on {}:{}: {}; choose another --metrics-port".format(
                self.address, self.port, exc.strerror or exc))
        self.httpd.timeout = 1.0
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="edgebench-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
