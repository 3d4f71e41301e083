"""The monitor screen as a pure function of a status snapshot: ``render(snapshot) -> renderable``.

Nothing here reads a sensor, a file or the clock: the same snapshot always gives the same screen,
which is what the tests check with a fixed-size capture console. The snapshot's shape is documented
in :mod:`edgebench.monitor.snapshot`; every part may be missing or null (an idle agent, an agent that
is not running, the standalone monitor with sensors only).

rich has no sparkline widget; :func:`sparkline` draws one with the eight block characters.
"""
import math

from edgebench.results.schema import STATUS_OK

BLOCKS = u"\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
MISSING = "-"


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def sparkline(values, width=None, lo=None, hi=None):
    """Block characters for ``values`` (last ``width`` of them); gaps (None/NaN) are spaces.

    >>> sparkline([0, 1, 2, 3, 4, 5, 6, 7])
    '▁▂▃▄▅▆▇█'
    """
    values = list(values or [])
    if width is not None:
        values = values[-width:] if width > 0 else []
    finite = [v for v in values if _finite(v)]
    if not finite:
        return " " * len(values)
    lo = min(finite) if lo is None else lo
    hi = max(finite) if hi is None else hi
    span = hi - lo
    out = []
    for v in values:
        if not _finite(v):
            out.append(" ")
        elif span <= 1e-12:
            out.append(BLOCKS[3])
        else:
            level = int(round((min(max(v, lo), hi) - lo) / span * (len(BLOCKS) - 1)))
            out.append(BLOCKS[level])
    return "".join(out)


def fmt_duration(seconds):
    if not _finite(seconds):
        return MISSING
    seconds = int(round(seconds))
    if seconds < 60:
        return "{} s".format(seconds)
    if seconds < 3600:
        return "{} m {:02d} s".format(seconds // 60, seconds % 60)
    return "{} h {:02d} m".format(seconds // 3600, seconds % 3600 // 60)


def fmt_num(value, spec="{:.2f}", unit=""):
    if not _finite(value):
        return MISSING
    text = spec.format(value)
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]  # -0.00 -> 0.00
    return text + (" " + unit if unit else "")


def bar(done, total, width=30):
    """A progress bar that reads the same with and without colour: ``█████░░░░░``."""
    if not total or total <= 0 or width <= 0:
        return u"\u2591" * max(width, 0)
    filled = int(round(width * min(max(done, 0), total) / float(total)))
    return u"\u2588" * filled + u"\u2591" * (width - filled)


def _is_sensor(name):
    from edgebench.platform.thermal import NOT_A_SENSOR_PREFIXES

    return not str(name).lower().startswith(NOT_A_SENSOR_PREFIXES)


def _batches(values):
    return ",".join(str(b) for b in values) if values else MISSING


def header(snapshot):
    from rich.text import Text

    agent = snapshot.get("agent") or {}
    state = agent.get("state") or "offline"
    text = Text()
    text.append("edgebench ", style="bold")
    if state == "standalone":
        text.append("monitor", style="bold")
        text.append("  standalone: sensors read here, no agent attached")
        return text
    text.append("agent ", style="bold")
    style = {"running": "bold green", "idle": "green", "stopping": "yellow"}.get(state, "red")
    text.append(state, style=style)
    if agent.get("running"):
        text.append("  pid {}  up {}".format(agent.get("pid"), fmt_duration(agent.get("uptime_s"))))
    elif agent.get("reason"):
        text.append("  " + str(agent.get("reason")), style="dim")
    if agent.get("state_dir"):
        text.append("  " + str(agent.get("state_dir")), style="dim")
    return text


def job_panel(snapshot):
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    job = snapshot.get("job")
    queue = snapshot.get("queue") or []
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    if job:
        what = "{}  {}  {}  batches {}".format(
            ", ".join(job.get("models") or []) or MISSING, job.get("backend") or MISSING,
            ",".join(job.get("precisions") or []) or MISSING, _batches(job.get("batch_sizes")))
        grid.add_row("job", Text("{}  {}".format(job.get("id"), what)))
        total = job.get("points_total") or 0
        done = job.get("points_done") or 0
        pct = 100.0 * done / total if total else 0.0
        progress = Text(bar(done, total), style="green")
        progress.append("  {}/{} points {:3.0f}%  elapsed {}  ETA {}".format(
            done, total or "?", pct, fmt_duration(job.get("elapsed_s")), fmt_duration(job.get("eta_s"))), style="")
        grid.add_row("progress", progress)
        point = job.get("current_point")
        phase = job.get("phase") or job.get("status") or MISSING
        if point:
            now = "{}  ({} in, point {} of {})".format(point, fmt_duration(job.get("current_point_elapsed_s")),
                                                      (job.get("current_point_index") or 0) + 1, total or "?")
        else:
            now = phase
        grid.add_row("now", Text(now))
        if point and phase not in ("measuring", None):
            grid.add_row("phase", Text(phase))
        attempts = job.get("attempts") or 0
        if attempts > 1:
            grid.add_row("start", Text("{} (resumed run {})".format(attempts, job.get("run_id"))))
        if job.get("reason"):
            grid.add_row("note", Text(str(job.get("reason")), style="yellow"))
    else:
        recent = (snapshot.get("recent_jobs") or [])[-1:]
        if recent:
            last = recent[0]
            grid.add_row("job", Text("none running; last: {} {} ({}/{} points{})".format(
                last.get("id"), last.get("status"), last.get("points_done") or 0, last.get("points_total") or "?",
                ", " + str(last.get("reason")) if last.get("reason") else "")))
        else:
            grid.add_row("job", Text("none running"))
    if queue:
        ids = ", ".join(q.get("id", "?") for q in queue[:3]) + (", ..." if len(queue) > 3 else "")
        grid.add_row("queue", Text("{} job{}: {}".format(len(queue), "" if len(queue) == 1 else "s", ids)))
    else:
        grid.add_row("queue", Text("empty"))
    return Panel(grid, title="sweep", title_align="left")


def power_panel(power, spark_width=24):
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    if not power:
        return Panel(Text("no power source (agent: power = URL in agent.toml; standalone: --power URL)",
                          style="dim"), title="power", title_align="left")
    title = "power  " + str(power.get("source") or "")
    if power.get("error"):
        return Panel(Text(str(power.get("error")), style="red"), title=title, title_align="left")
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    histories = [power.get("board_history_w") or []] + [r.get("history_w") or [] for r in power.get("rails") or []]
    finite = [v for h in histories for v in h if _finite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (None, None)
    for rail in power.get("rails") or []:
        table.add_row(str(rail.get("name")), fmt_num(rail.get("power_w"), unit="W"),
                      sparkline(rail.get("history_w"), spark_width, lo, hi))
    table.add_row(Text("board", style="bold"), Text(fmt_num(power.get("board_w"), unit="W"), style="bold"),
                  sparkline(power.get("board_history_w"), spark_width, lo, hi))
    if _finite(power.get("idle_w")):
        table.add_row("idle", fmt_num(power.get("idle_w"), unit="W"), Text(str(power.get("idle_from") or ""),
                                                                           style="dim"))
        table.add_row(Text("net", style="bold"), Text(fmt_num(power.get("net_w"), unit="W"), style="bold"), "")
    else:
        table.add_row("net", MISSING, Text("no idle baseline yet", style="dim"))
    if power.get("simulated"):
        table.add_row(Text("SIMULATED", style="bold magenta"), "", "")
    return Panel(table, title=title, title_align="left")


def board_panel(board):
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    if not board:
        return Panel(Text("no board readings", style="dim"), title="board", title_align="left")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    mem = board.get("memory") or {}
    if _finite(mem.get("used_mb")):
        text = "{} / {} MB".format(fmt_num(mem.get("used_mb"), "{:.0f}"), fmt_num(mem.get("total_mb"), "{:.0f}"))
        if _finite(mem.get("nvmap_used_mb")):
            text += "  (GPU nvmap {} MB)".format(fmt_num(mem.get("nvmap_used_mb"), "{:.0f}"))
        grid.add_row("memory", text)
    temps = board.get("temperatures_c") or {}
    if temps:
        shown = sorted(((v, k) for k, v in temps.items() if _finite(v) and _is_sensor(k)), reverse=True)[:4]
        grid.add_row("temp", "max {}  {}".format(
            fmt_num(board.get("max_temp_c"), "{:.1f}", "C"), "  ".join("{} {:.0f}".format(k, v) for v, k in shown)))
    cpu = board.get("cpu")
    if cpu:
        grid.add_row("CPU", "{} cores  {} MHz (max {}){}".format(
            cpu.get("cores"), fmt_num(cpu.get("cur_mhz_mean"), "{:.0f}"), fmt_num(cpu.get("max_mhz"), "{:.0f}"),
            "  " + cpu["governor"] if cpu.get("governor") else ""))
    gpu = board.get("gpu")
    if gpu:
        grid.add_row("GPU", "{} MHz (max {})  load {}".format(
            fmt_num(gpu.get("cur_mhz"), "{:.0f}"), fmt_num(gpu.get("max_mhz"), "{:.0f}"),
            fmt_num(gpu.get("load_pct"), "{:.0f}", "%")))
    if not grid.rows:
        grid.add_row("", Text("no sensors readable here", style="dim"))
    return Panel(grid, title="board", title_align="left")


def results_table(rows, limit=8):
    from rich.table import Table
    from rich.text import Text

    rows = list(rows or [])[-limit:] if limit else []
    has_power = any(_finite(r.get("net_power_w")) or _finite(r.get("gross_power_w")) for r in rows)
    table = Table(title="last measurements", title_justify="left", expand=False)
    table.add_column("point", no_wrap=True)
    table.add_column("status")
    table.add_column("ms/image", justify="right")
    table.add_column("images/s", justify="right")
    table.add_column("peak RSS MB", justify="right")
    if has_power:
        table.add_column("net W", justify="right")
        table.add_column("mJ/image", justify="right")
    if not rows:
        table.add_row(Text("no measurements yet", style="dim"), "", "", "", "", *([""] * (2 if has_power else 0)))
        return table
    for r in rows:
        status = r.get("status") or MISSING
        if status == STATUS_OK and r.get("stable") == 0:
            status = "unstable"
        cells = [str(r.get("point_key")), Text(status, style="green" if status == STATUS_OK else "yellow"),
                 fmt_num(r.get("per_image_ms"), "{:.3f}"), fmt_num(r.get("images_per_s"), "{:.1f}"),
                 fmt_num(r.get("peak_rss_mb"), "{:.0f}")]
        if has_power:
            energy = r.get("net_energy_per_image_j")
            cells += [fmt_num(r.get("net_power_w"), "{:.2f}"),
                      fmt_num(energy * 1000.0 if _finite(energy) else None, "{:.2f}")]
        table.add_row(*cells)
    return table


def render(snapshot, max_results=8, spark_width=24, footer=None):
    """The whole screen for one snapshot (a rich renderable)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    snapshot = snapshot or {}
    agent = snapshot.get("agent") or {}
    sensors = snapshot.get("sensors") or {}
    parts = [header(snapshot)]
    standalone = agent.get("state") == "standalone"
    if not standalone:
        parts.append(job_panel(snapshot))
    side = Table.grid(expand=True, padding=(0, 1))
    side.add_column(ratio=1)
    side.add_column(ratio=1)
    side.add_row(power_panel(sensors.get("power"), spark_width), board_panel(sensors.get("board")))
    parts.append(side)
    if not standalone:
        parts.append(results_table(snapshot.get("last_results"), max_results))
    notes = list(agent.get("config_warnings") or []) + list(agent.get("notes") or [])
    for note in notes[:3]:
        parts.append(Text("note: " + str(note), style="yellow"))
    if footer:
        parts.append(Text(footer, style="dim"))
    return Group(*parts)
