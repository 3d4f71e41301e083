"""``edgebench agent`` (the daemon) and its clients: ``submit``, ``status``, ``jobs``, ``cancel``, ``monitor``.

JSON keys (``--json``):

* ``submit``: ``job`` {``id``, ``position``, ``points_total``, ``status``}, ``via`` (socket | spool),
  ``state_dir``, ``note`` (null, or why the job waits).
* ``status``: the status snapshot: ``protocol``, ``generated_at``, ``agent``, ``job``, ``queue``,
  ``recent_jobs``, ``last_results``, ``sensors`` (see :mod:`edgebench.monitor.snapshot`).
* ``jobs``: ``agent_running``, ``state_dir``, ``jobs`` [{``id``, ``state``, ``status``,
  ``submitted_at``, ``user``, ``via``, ``models``, ``backend``, ``precisions``, ``batch_sizes``,
  ``points_total``, ``points_done``, ``run_id``, ``attempts``, ``started_at``, ``finished_at``,
  ``current_point``, ``reason``}].
* ``cancel``: ``job`` {``id``, ``status`` (cancelled | cancelling)}, ``via``.
"""
import os

from edgebench.cliutil import add_json_argument, non_negative_float, positive_float, positive_int


def _state_dir_arguments(parser):
    parser.add_argument("--state-dir", metavar="DIR",
                        help="the agent's state directory (default $EDGEBENCH_STATE_DIR or /var/lib/edgebench)")
    parser.add_argument("--socket", metavar="PATH", help="the agent's socket (default <state-dir>/agent.sock)")


def register(subparsers):
    p = subparsers.add_parser(
        "agent",
        help="run the benchmarking agent (foreground; systemd supervises it): queued sweeps, one at a time",
        description="Run queued sweep jobs one at a time, resuming after a crash or reboot without losing or "
        "repeating a point. Configuration: /etc/edgebench/agent.toml, then --config FILE, then these flags. "
        "SIGTERM stops cleanly (the job resumes at the next start); SIGHUP reloads the configuration.",
    )
    p.add_argument("--config", metavar="FILE", help="extra TOML config file, read after /etc/edgebench/agent.toml")
    p.add_argument("--state-dir", metavar="DIR",
                   help="results store, engine cache, job spool and socket (default /var/lib/edgebench)")
    p.add_argument("--socket", metavar="PATH", help="socket path (default <state-dir>/agent.sock)")
    p.add_argument("--max-attempts", type=positive_int, metavar="N",
                   help="starts without progress before a job that keeps stopping the agent fails (default 3)")
    p.add_argument("--poll-interval", type=positive_float, metavar="SECONDS",
                   help="how often the spool is scanned for jobs dropped in by hand (default 2)")
    p.add_argument("--sensor-interval", type=non_negative_float, metavar="SECONDS",
                   help="how often board sensors are read for status (default 2; 0 = never)")
    p.add_argument("--power", metavar="URL", help="power source shown live while idle (default none)")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve Prometheus metrics on 127.0.0.1:PORT/metrics (default off)")
    p.add_argument("--metrics-address", metavar="ADDR", help="address for --metrics-port (default 127.0.0.1)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), help="default info")
    p.add_argument("--root", metavar="DIR", default=None,
                   help="filesystem root board files and /etc/edgebench/agent.toml are read under "
                   "(default $EDGEBENCH_ROOT or /)")
    p.set_defaults(func=run_agent)

    p = subparsers.add_parser(
        "submit",
        help="queue a sweep for the agent (same flags as sweep, or --plan FILE.json)",
        description="Queue a sweep job for the agent: the sweep flags, or a plan file (--plan). The plan is "
        "validated first; the agent checks it again with its own view of files and backends.",
    )
    _state_dir_arguments(p)
    p.add_argument("--plan", metavar="FILE.json", help="a sweep plan as JSON (instead of the sweep flags)")
    from edgebench.sweep.cli import add_plan_arguments

    before = set(a.dest for a in p._actions)
    add_plan_arguments(p)
    plan_options = [(a.dest, a.default, a.option_strings[0]) for a in p._actions
                    if a.dest not in before and a.option_strings]
    add_json_argument(p)
    p.set_defaults(func=run_submit, plan_options=plan_options)

    p = subparsers.add_parser("status", help="the agent's state, current job and point, queue and last results")
    _state_dir_arguments(p)
    add_json_argument(p)
    p.set_defaults(func=run_status)

    p = subparsers.add_parser("jobs", help="list the agent's jobs: queued, active, done and failed")
    _state_dir_arguments(p)
    p.add_argument("--limit", type=positive_int, default=20, metavar="N",
                   help="newest N done and failed jobs (default 20)")
    p.add_argument("--all", action="store_true", help="every finished job")
    add_json_argument(p)
    p.set_defaults(func=run_jobs)

    p = subparsers.add_parser("cancel", help="cancel a queued job, or stop the running one (its points stay stored)")
    p.add_argument("id", metavar="ID", help="job id, or a unique end of it (see `edgebench jobs`)")
    _state_dir_arguments(p)
    add_json_argument(p)
    p.set_defaults(func=run_cancel)
    _register_monitor(subparsers)


# ---------------------------------------------------------------------- agent

def run_agent(args):
    from edgebench.agent.config import load_config
    from edgebench.agent.daemon import Agent, setup_logging

    flags = {
        "state_dir": args.state_dir, "socket": args.socket, "max_attempts": args.max_attempts,
        "poll_interval_s": args.poll_interval, "sensor_interval_s": args.sensor_interval, "power": args.power,
        "metrics_port": args.metrics_port, "metrics_address": args.metrics_address, "log_level": args.log_level,
    }
    root = args.root or os.environ.get("EDGEBENCH_ROOT") or None
    config_file = os.path.abspath(args.config) if args.config else None

    def load():
        return load_config(flags, config_file, root)

    config = load()
    setup_logging(config.log_level)
    return Agent(config, reload_config=load).serve()


# ---------------------------------------------------------------------- submit

def _client(args):
    from edgebench.agent.client import AgentClient

    return AgentClient(args.state_dir, args.socket)


def _absolute_refs(plan, base):
    from edgebench.models.prepare import is_onnx_reference

    plan.models = [os.path.abspath(os.path.join(base, m)) if is_onnx_reference(m) else m for m in plan.models]
    for name in ("weights", "calib_data"):
        value = getattr(plan, name, None)
        if value and "://" not in str(value):
            setattr(plan, name, os.path.abspath(os.path.join(base, value)))
    return plan


def plan_for_submit(args):
    """The validated plan dict ``submit`` sends, from --plan FILE or from the sweep flags."""
    from edgebench.agent.spool import read_json_file
    from edgebench.errors import UsageError
    from edgebench.sweep.cli import plan_from_args
    from edgebench.sweep.plan import SweepPlan

    if args.plan:
        given = [flag for dest, default, flag in args.plan_options if getattr(args, dest, default) != default]
        if given:
            raise UsageError("--plan {} already holds the sweep; drop {} (or drop --plan)".format(
                args.plan, ", ".join(given)))
        data, reason = read_json_file(args.plan)
        if data is None:
            raise UsageError("plan file {}: {}".format(args.plan, reason))
        if isinstance(data.get("plan"), dict):
            data = data["plan"]
        data = dict(data)
        data.pop("cache_dir", None)
        plan = SweepPlan.from_dict(data)
        _absolute_refs(plan, os.path.dirname(os.path.abspath(args.plan)))
    else:
        plan = plan_from_args(args)
        _absolute_refs(plan, os.getcwd())
    plan.validate()
    data = plan.to_dict()
    data["cache_dir"] = None  # the agent builds in its own cache
    return data


def run_submit(args):
    from edgebench.cliutil import console, emit_json

    plan = plan_for_submit(args)
    client = _client(args)
    job, via, note = client.submit(plan)
    if args.json:
        emit_json({"job": job, "via": via, "state_dir": client.state_dir, "note": note})
        return 0
    err = console(stderr=True)
    if args.cache_dir:
        err.print("note: --cache-dir is ignored: the agent builds in its own cache", style="yellow")
    con = console()
    con.print("job {} queued: {} points, position {} ({})".format(
        job["id"], job.get("points_total"), job.get("position"), "accepted by the agent" if via == "socket" else
        "written to the spool"), markup=False, highlight=False)
    if note:
        err.print("note: " + note, style="yellow", markup=False)
    con.print("follow it: edgebench monitor --state-dir {}".format(client.state_dir), markup=False,
              highlight=False, style="dim")
    return 0


# ---------------------------------------------------------------------- status, jobs, cancel

def run_status(args):
    from edgebench.agent.client import UNREACHABLE
    from edgebench.cliutil import console, emit_json

    snap = _client(args).status()
    # 1 when an agent runs but could not be asked: what was read from disk may be stale
    status = 1 if snap["agent"].get("state") == UNREACHABLE else 0
    if args.json:
        emit_json(snap)
        return status
    print_status(snap, console())
    return status


def print_status(snap, con):
    from edgebench.agent.client import UNREACHABLE
    from edgebench.monitor.render import fmt_duration, results_table

    agent = snap.get("agent") or {}
    if agent.get("running"):
        con.print("agent: {} (pid {}, up {}), state {}".format(
            agent.get("state"), agent.get("pid"), fmt_duration(agent.get("uptime_s")), agent.get("state_dir")),
            markup=False, highlight=False)
    elif agent.get("state") == UNREACHABLE:
        con.print("agent: running (pid {}) but busy or unreachable: {}".format(agent.get("pid"), agent.get("reason")),
                  markup=False, highlight=False)
        con.print("(read from disk, may be stale: {})".format(agent.get("state_dir")), markup=False,
                  highlight=False)
    else:
        con.print("agent: not running: {}".format(agent.get("reason")), markup=False, highlight=False)
        con.print("(read from disk: {})".format(agent.get("state_dir")), markup=False, highlight=False)
    job = snap.get("job")
    if job:
        where = job.get("current_point") or job.get("phase") or job.get("status")
        con.print("job {}: {} ({}/{} points, run {}, ETA {})".format(
            job.get("id"), where, job.get("points_done"), job.get("points_total"), job.get("run_id"),
            fmt_duration(job.get("eta_s"))), markup=False, highlight=False)
    else:
        con.print("job: none running", markup=False, highlight=False)
    queue = snap.get("queue") or []
    con.print("queue: {}".format(", ".join(q["id"] for q in queue) if queue else "empty"), markup=False,
              highlight=False)
    for rec in snap.get("recent_jobs") or []:
        con.print("  {} {} ({}/{} points{})".format(rec["id"], rec["status"], rec.get("points_done"),
                                                    rec.get("points_total"),
                                                    "; " + rec["reason"] if rec.get("reason") else ""),
                  markup=False, highlight=False)
    push = agent.get("push")
    if push:
        con.print("push: {} run(s) queued for {}{}".format(
            push.get("queued"), push.get("to"), "; last attempt failed: {}".format(push["last_error"])
            if push.get("last_error") else ""), markup=False, highlight=False)
    if snap.get("last_results"):
        con.print(results_table(snap["last_results"], limit=10))
    for note in (agent.get("config_warnings") or []) + (agent.get("notes") or []):
        con.print("note: " + note, style="yellow", markup=False)


def run_jobs(args):
    from rich.table import Table

    from edgebench.cliutil import console, emit_json

    client = _client(args)
    jobs, running = client.jobs(None if args.all else args.limit)
    if args.json:
        emit_json({"agent_running": running, "state_dir": client.state_dir, "jobs": jobs})
        return 0
    con = console()
    if not jobs:
        con.print("no jobs in {}".format(client.state_dir), markup=False, highlight=False)
        return 0
    table = Table(title="jobs in {}{}".format(client.state_dir, "" if running else " (agent not running)"),
                  title_justify="left")
    for col, justify in (("id", "left"), ("status", "left"), ("models", "left"), ("points", "right"),
                         ("run", "right"), ("submitted", "left"), ("reason", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for job in jobs:
        table.add_row(job["id"], job["status"], ", ".join(os.path.basename(m) for m in job.get("models") or []),
                      "{}/{}".format(job.get("points_done") or 0, job.get("points_total") or "?"),
                      str(job.get("run_id") or "-"), job.get("submitted_at") or "-", job.get("reason") or "")
    con.print(table)
    return 0


def run_cancel(args):
    from edgebench.cliutil import console, emit_json

    job, via = _client(args).cancel(args.id)
    if args.json:
        emit_json({"job": job, "via": via})
        return 0
    if job["status"] == "cancelling":
        msg = "job {}: cancelling; the agent stops its current point (measured points stay in the store)"
    else:
        msg = "job {} cancelled"
    console().print(msg.format(job["id"]), markup=False, highlight=False)
    return 0


# -- edgebench monitor: the live screen of this agent (or, with --power, of the board alone) -----------

def _register_monitor(subparsers):
    parser = subparsers.add_parser(
        "monitor",
        help="live screen: the agent's job, point, progress and ETA, board power, memory, temperatures",
        description="Show the agent's current job and point, progress and ETA, live board power per rail with "
        "a short history, net power against the idle baseline, memory, temperatures, clocks and the last "
        "measurements. With --power URL it runs without an agent and shows the board's sensors only.",
    )
    parser.add_argument("--state-dir", metavar="DIR",
                        help="the agent's state directory (default $EDGEBENCH_STATE_DIR or /var/lib/edgebench)")
    parser.add_argument("--socket", metavar="PATH", help="the agent's socket (default <state-dir>/agent.sock)")
    parser.add_argument("--power", metavar="URL",
                        help="standalone: sample this power source here (auto, ina3221, sim://..., none) "
                        "instead of attaching to an agent")
    parser.add_argument("--root", metavar="DIR", default=None,
                        help="standalone: filesystem root board sensors are read under (default $EDGEBENCH_ROOT or /)")
    parser.add_argument("--idle-w", type=non_negative_float, metavar="W",
                        help="standalone: idle board power to subtract for net power")
    parser.add_argument("--idle-seconds", type=positive_float, metavar="SECONDS",
                        help="standalone: measure the idle baseline for this long first (keep the board idle)")
    parser.add_argument("--refresh", type=positive_float, default=1.0, metavar="SECONDS",
                        help="seconds between frames (default 1)")
    parser.add_argument("--once", action="store_true", help="print one frame and exit")
    add_json_argument(parser)
    parser.set_defaults(func=run_monitor)


class AgentView(object):
    """Snapshots from the agent (or from disk when it is not running)."""

    def __init__(self, state_dir, socket_path):
        from edgebench.agent.client import AgentClient

        self.client = AgentClient(state_dir, socket_path, timeout_s=5.0)

    def snapshot(self):
        return self.client.status()

    def close(self):
        pass


def _monitor_view(args):
    from edgebench.errors import UsageError

    if args.power:
        if args.state_dir or args.socket:
            raise UsageError("--power runs the monitor without an agent; attached to an agent (--state-dir, "
                             "--socket) it shows the agent's own power readings: drop one of them")
        root = args.root or os.environ.get("EDGEBENCH_ROOT") or None
        from edgebench.monitor.live import StandaloneView

        view = StandaloneView(args.power, root=root, idle_w=args.idle_w)
        if args.idle_seconds:
            view.measure_idle(args.idle_seconds)
        return view
    if args.idle_w is not None or args.idle_seconds or args.root:
        raise UsageError("--idle-w, --idle-seconds and --root apply to the standalone monitor (--power URL); attached "
                         "to an agent the baseline comes from the agent")
    from edgebench.agent.client import default_state_dir

    return AgentView(args.state_dir or default_state_dir(), args.socket)


def run_monitor(args):
    from edgebench.monitor.live import show

    return show(_monitor_view(args), once=args.once, as_json=args.json, refresh_s=args.refresh)
