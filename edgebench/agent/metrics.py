"""Prometheus metrics in the text exposition format (0.0.4), over ``http.server``; no dependency.

Off by default; ``--metrics-port PORT`` serves ``GET /metrics`` on ``127.0.0.1:PORT`` (the address
is configurable, but a benchmark rig rarely wants it on the network). The page is rendered from the
agent's latest status snapshot and two counters the daemon feeds once a second, so a scrape never
touches a sensor or the results store. The server answers each connection in its own thread and
drops a connection idle for ``idle_timeout_s``, so a client that connects and sends nothing never
holds up a scrape.

Names follow Prometheus' rules (https://prometheus.io/docs/practices/naming/ and the checks of
client_golang's promlint, prometheus/testutil/promlint/validations): base units (bytes, volts,
amperes, joules, celsius, hertz, ratio), ``_total`` on counters only, no unit abbreviations, stable
labels (``source="ina3221"``, ``rail``, ``zone``) with long descriptions in ``*_info`` metrics.
Prometheus' target labels (``instance``, and ``board`` in deploy/prometheus.yml) tell boards apart.

Gauges: ``edgebench_agent_up``, ``edgebench_agent_info{version}``, ``edgebench_board_info{board,model,
jetpack,l4t}``, ``edgebench_queue_jobs``, ``edgebench_job_running``, ``edgebench_job_points``,
``edgebench_job_points_done``, ``edgebench_job_progress_ratio``, ``edgebench_job_images_per_second`` (last
point of the current job), ``edgebench_job_batch_size``; power from the agent's source:
``edgebench_power_source_info{source,description,simulated}``, ``edgebench_power_board_watts{source}``,
``edgebench_power_rail_watts{rail,source}``, ``edgebench_power_idle_watts{source}``,
``edgebench_power_net_watts{source}``; the board's INA3221/INA238 rails read from sysfs:
``edgebench_rail_voltage_volts{rail}``, ``edgebench_rail_current_amperes{rail}``,
``edgebench_rail_power_watts{rail}``; ``edgebench_temperature_celsius{zone}``,
``edgebench_memory_{used,available,total}_bytes``, ``edgebench_memory_nvmap_used_bytes``,
``edgebench_swap_{used,total}_bytes``, ``edgebench_{cpu,gpu,emc}_frequency_hertz``,
``edgebench_{cpu,gpu,emc}_frequency_max_hertz``, ``edgebench_{cpu,gpu}_load_ratio``.

Counters (since the agent started): ``edgebench_energy_joules_total{source}`` (board power integrated
over the live readings) and ``edgebench_points_measured_total``.
"""
import logging
import math
import threading
import time

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_GAP_S = 10.0  # readings further apart than this are not integrated (the counter undercounts)
MIB = 1024 * 1024
BOARD_POWER_HELP = ("board input power now, by the source's board rule; on AGX Orin this is VDD_GPU_SOC + "
                    "VDD_CPU_CV + VIN_SYS_5V0: VDDQ_VDD2_1V8AO is inside VIN_SYS_5V0, so jetson-stats' total, "
                    "which adds it, reads higher (13.23 W vs 12.62 W on the same board)")


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


def _scaled(value, factor):
    value = _number(value)
    return None if value is None else value * factor


def _bytes(mb):
    value = _number(mb)
    return None if value is None else float(int(round(value * MIB)))  # whole bytes


def source_kind(power):
    """A stable ``source`` label: ``ina3221``, ``ppk2``, ``rapl``, ``sim``... never the long description."""
    url = str(power.get("url") or "")
    if url.startswith("serial://") and "protocol=" in url:
        return url.split("protocol=", 1)[1].split("&", 1)[0] or "serial"
    label = str(power.get("source") or "")
    head = url if url and url != "auto" else label
    for sep in (" ", ":", "?", "("):
        head = head.split(sep, 1)[0]
    return head or "unknown"


class _Page(object):
    def __init__(self):
        self.lines = []

    def family(self, kind, name, help_text, samples):
        """``samples``: [(labels dict, value)]; samples whose value is None are skipped."""
        kept = [(labels, _number(v)) for labels, v in samples]
        kept = [(labels, v) for labels, v in kept if v is not None]
        if not kept:
            return
        self.lines.append("# HELP {} {}".format(name, help_text.replace("\\", "\\\\").replace("\n", " ")))
        self.lines.append("# TYPE {} {}".format(name, kind))
        for labels, value in kept:
            label_text = ""
            if labels:
                pairs = ('{}="{}"'.format(k, escape_label(v)) for k, v in sorted(labels.items()))
                label_text = "{" + ",".join(pairs) + "}"
            self.lines.append("{}{} {}".format(name, label_text, repr(float(value))))

    def gauge(self, name, help_text, samples):
        self.family("gauge", name, help_text, samples)

    def text(self):
        return "\n".join(self.lines) + "\n"


class Counters(object):
    """Energy and points since the agent started, fed with each snapshot the daemon builds (about 1/s)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.energy_j = {}  # source kind -> joules
        self.points = 0
        self._last_power = None  # (source, monotonic, watts)
        self._job = None  # (job id, points done at the last look)

    def observe(self, snapshot, now=None):
        now = time.monotonic() if now is None else now
        power = (snapshot.get("sensors") or {}).get("power") or {}
        watts = _number(power.get("board_w")) if not power.get("error") else None
        job = snapshot.get("job") or {}
        with self.lock:
            if watts is not None:
                source = source_kind(power)
                last = self._last_power
                if last is not None and last[0] == source and 0 < now - last[1] <= MAX_GAP_S:
                    joules = (last[2] + watts) / 2.0 * (now - last[1])  # trapezoid between readings
                    self.energy_j[source] = self.energy_j.get(source, 0.0) + joules
                self.energy_j.setdefault(source, 0.0)
                self._last_power = (source, now, watts)
            else:
                self._last_power = None
            done = job.get("points_done")
            if job.get("id") and isinstance(done, int):
                if self._job is not None and self._job[0] == job["id"] and done > self._job[1]:
                    self.points += done - self._job[1]
                self._job = (job["id"], done)

    def values(self):
        with self.lock:
            return dict(self.energy_j), self.points


def render_metrics(snapshot, counters=None, board_info=None):
    """The exposition text for one status snapshot (see :mod:`edgebench.agent.daemon`)."""
    page = _Page()
    agent = snapshot.get("agent") or {}
    page.gauge("edgebench_agent_up", "1 while the edgebench agent answers", [({}, 1)])
    page.gauge("edgebench_agent_info", "edgebench version of the agent", [({"version": agent.get("version", "")}, 1)])
    if board_info:
        page.gauge("edgebench_board_info", "the board the agent runs on (host name, device-tree model, JetPack, L4T)",
                   [(dict((k, v or "") for k, v in board_info.items()), 1)])
    page.gauge("edgebench_queue_jobs", "jobs waiting in the spool", [({}, len(snapshot.get("queue") or []))])
    job = snapshot.get("job")
    page.gauge("edgebench_job_running", "1 while a job is being measured", [({}, 1 if job else 0)])
    if job:
        total, done = job.get("points_total"), job.get("points_done")
        page.gauge("edgebench_job_points", "points planned in the current job", [({}, total)])
        page.gauge("edgebench_job_points_done", "points of the current job in the results store", [({}, done)])
        ratio = done / float(total) if total and done is not None else None
        page.gauge("edgebench_job_progress_ratio", "points done / points planned (0..1)", [({}, ratio)])
        last = job.get("last_point") or {}
        page.gauge("edgebench_job_images_per_second", "images/s of the last point measured in the current job",
                   [({}, last.get("images_per_s"))])
        page.gauge("edgebench_job_batch_size", "batch size of the last point measured in the current job",
                   [({}, last.get("batch_size"))])
    if counters is not None:
        energy, points = counters.values()
        page.family("counter", "edgebench_energy_joules_total",
                    "board energy since the agent started, from the live board power (use rate() for watts)",
                    [({"source": s}, j) for s, j in sorted(energy.items())])
        page.family("counter", "edgebench_points_measured_total", "points measured since the agent started",
                    [({}, points)])
    _power(page, (snapshot.get("sensors") or {}).get("power") or {})
    _board(page, (snapshot.get("sensors") or {}).get("board") or {})
    return page.text()


def _power(page, power):
    if not power or power.get("error"):
        return
    src = {"source": source_kind(power)}
    page.gauge("edgebench_power_source_info", "the power source's full description (board rule, sensor)",
               [(dict(src, description=power.get("source") or "", simulated="1" if power.get("simulated") else "0"),
                 1)])
    page.gauge("edgebench_power_board_watts", BOARD_POWER_HELP, [(src, power.get("board_w"))])
    page.gauge("edgebench_power_rail_watts", "power per rail of the agent's power source now",
               [(dict(src, rail=r.get("name", "")), r.get("power_w")) for r in power.get("rails") or []])
    page.gauge("edgebench_power_idle_watts", "idle baseline of the board power", [(src, power.get("idle_w"))])
    page.gauge("edgebench_power_net_watts", "board power minus the idle baseline", [(src, power.get("net_w"))])


def _board(page, board):
    rails = board.get("rails") or []
    for key, name, help_text in (
            ("voltage_v", "edgebench_rail_voltage_volts", "bus voltage of the rail (INA3221/INA238 in sysfs)"),
            ("current_a", "edgebench_rail_current_amperes", "current of the rail (INA3221/INA238 in sysfs)"),
            ("power_w", "edgebench_rail_power_watts", "power of the rail (INA3221/INA238 in sysfs; rails overlap, "
                                                      "do not sum them: see edgebench_power_board_watts)")):
        page.gauge(name, help_text, [({"rail": r.get("name", "")}, r.get(key)) for r in rails])
    temps = board.get("temperatures_c") or {}
    page.gauge("edgebench_temperature_celsius", "thermal zone temperature",
               [({"zone": zone}, value) for zone, value in sorted(temps.items())])
    memory = board.get("memory") or {}
    for key, name, help_text in (
            ("used_mb", "edgebench_memory_used_bytes", "MemTotal - MemAvailable (the GPU shares this memory)"),
            ("available_mb", "edgebench_memory_available_bytes", "MemAvailable"),
            ("total_mb", "edgebench_memory_total_bytes", "MemTotal"),
            ("nvmap_used_mb", "edgebench_memory_nvmap_used_bytes", "NvMapMemUsed: GPU allocations (Jetson)"),
            ("swap_used_mb", "edgebench_swap_used_bytes", "SwapTotal - SwapFree"),
            ("swap_total_mb", "edgebench_swap_total_bytes", "SwapTotal")):
        page.gauge(name, help_text, [({}, _bytes(memory.get(key)))])
    cpu, gpu, emc = board.get("cpu") or {}, board.get("gpu") or {}, board.get("emc") or {}
    for unit, name, help_text, value in (
            (cpu, "edgebench_cpu_frequency_hertz", "mean current frequency of the online CPUs", "cur_mhz_mean"),
            (cpu, "edgebench_cpu_frequency_max_hertz", "highest frequency the CPUs may run at now", "max_mhz"),
            (gpu, "edgebench_gpu_frequency_hertz", "current GPU frequency", "cur_mhz"),
            (gpu, "edgebench_gpu_frequency_max_hertz", "highest GPU frequency allowed now", "max_mhz"),
            (emc, "edgebench_emc_frequency_hertz", "current memory controller (EMC) frequency", "cur_mhz"),
            (emc, "edgebench_emc_frequency_max_hertz", "highest EMC frequency allowed now", "max_mhz")):
        page.gauge(name, help_text, [({}, _scaled(unit.get(value), 1e6))])
    page.gauge("edgebench_cpu_load_ratio", "busy share of all CPUs between two readings (0..1)",
               [({}, _scaled(cpu.get("load_pct"), 0.01))])
    page.gauge("edgebench_gpu_load_ratio", "GPU load (0..1)", [({}, _scaled(gpu.get("load_pct"), 0.01))])


def read_board_info(root=None):
    """Labels of ``edgebench_board_info``, read once when the server starts (never during a scrape)."""
    from edgebench.platform.board import detect_board
    from edgebench.platform.environment import describe_host

    info = {"board": None, "model": None, "jetpack": None, "l4t": None}
    try:
        info["board"] = describe_host(root).get("host")
        board = detect_board(root) or {}
        info.update(model=board.get("model") or board.get("name"), jetpack=board.get("jetpack"), l4t=board.get("l4t"))
    except Exception as exc:  # the labels are a convenience; the metrics work without them
        logger.debug("board info: %s", exc)
    return dict((k, str(v) if v is not None else "") for k, v in info.items())


class MetricsServer(object):
    """Serves ``GET /metrics`` from ``get_snapshot()``: one thread per connection, idle ones dropped."""

    def __init__(self, get_snapshot, port, address="127.0.0.1", root=None, idle_timeout_s=5.0):
        self.get_snapshot = get_snapshot
        self.port = int(port)
        self.address = address
        self.root = root
        self.idle_timeout_s = idle_timeout_s
        self.counters = Counters()
        self.board_info = None
        self.httpd = None
        self._thread = None

    def observe(self, snapshot):
        """Feed the counters (the daemon calls this with each snapshot it builds)."""
        self.counters.observe(snapshot)

    def render(self):
        return render_metrics(self.get_snapshot(), self.counters, self.board_info)

    def start(self):
        import socketserver
        from http.server import BaseHTTPRequestHandler, HTTPServer

        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = self.idle_timeout_s  # StreamRequestHandler.setup(): socket timeout per connection

            def do_GET(self):  # noqa: N802 (http.server's name)
                if self.path.split("?", 1)[0] not in ("/metrics", "/"):
                    self.send_error(404, "only /metrics is served here")
                    return
                try:
                    body = owner.render().encode("utf-8")
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

        class Server(socketserver.ThreadingMixIn, HTTPServer):  # ThreadingHTTPServer is 3.7+
            daemon_threads = True
            allow_reuse_address = True

        self.board_info = read_board_info(self.root)
        try:
            self.httpd = Server((self.address, self.port), Handler)
        except OSError as exc:
            from edgebench.errors import UsageError

            raise UsageError("cannot serve metrics on {}:{}: {}; choose another --metrics-port".format(
                self.address, self.port, exc.strerror or exc))
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
